//! Strings with variables (RFC 5229) and encoded characters (RFC 5228 §2.4.2.4): parsing
//! them once at compile time, expanding them at run time, and the modifiers of `set`.

use crate::program::{Modifier, Part};

/// Decodes `${hex:…}` and `${unicode:…}`; a sequence that is not one is left as written,
/// a code point outside Unicode or octets that are not UTF-8 make `None`.
pub(crate) fn decode_encoded(text: &str) -> Option<String> {
    if !text.contains("${") {
        return Some(text.to_owned());
    }
    let mut out: Vec<u8> = Vec::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.extend_from_slice(&rest.as_bytes()[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.extend_from_slice(&rest.as_bytes()[start..]);
            rest = "";
            break;
        };
        let body = &after[..end];
        match encoded(body) {
            Some(Ok(bytes)) => {
                out.extend_from_slice(&bytes);
                rest = &after[end + 1..];
            }
            Some(Err(())) => return None,
            None => {
                out.extend_from_slice(b"${");
                rest = after;
            }
        }
    }
    out.extend_from_slice(rest.as_bytes());
    String::from_utf8(out).ok()
}

/// The octets `body` (between `${` and `}`) stands for: `None` when it is no encoding,
/// `Err` when it is one with a value that cannot be.
fn encoded(body: &str) -> Option<Result<Vec<u8>, ()>> {
    let (kind, values) = body.split_once(':')?;
    let kind = kind.to_ascii_lowercase();
    if kind != "hex" && kind != "unicode" {
        return None;
    }
    let words: Vec<&str> = values
        .split([' ', '\t', '\r', '\n'])
        .filter(|w| !w.is_empty())
        .collect();
    if words
        .iter()
        .any(|w| !w.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return None;
    }
    let mut out = Vec::new();
    for word in words {
        if kind == "hex" {
            if word.len() % 2 != 0 {
                return None;
            }
            for pair in word.as_bytes().chunks(2) {
                let s = std::str::from_utf8(pair).ok()?;
                out.push(u8::from_str_radix(s, 16).ok()?);
            }
        } else {
            let value = u32::from_str_radix(word.trim_start_matches('0'), 16).or_else(|_| {
                if word.chars().all(|c| c == '0') {
                    Ok(0)
                } else {
                    Err(())
                }
            });
            let Ok(value) = value else {
                return Some(Err(()));
            };
            match char::from_u32(value) {
                Some(c) => out.extend_from_slice(c.to_string().as_bytes()),
                None => return Some(Err(())),
            }
        }
    }
    Some(Ok(out))
}

/// Splits `text` into literal text and `${…}` references; a reference that is not a
/// variable or match number (a namespace, a bad name) stays text.
pub(crate) fn template(text: &str) -> Vec<Part> {
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        literal.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let reference = after.find('}').and_then(|end| {
            let name = &after[..end];
            let part = if !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()) {
                Part::Match(name.parse().ok()?)
            } else if is_identifier(name) || is_global(name) {
                Part::Variable(name.to_ascii_lowercase())
            } else {
                return None;
            };
            Some((part, end))
        });
        match reference {
            Some((part, end)) => {
                if !literal.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut literal)));
                }
                parts.push(part);
                rest = &after[end + 1..];
            }
            None => {
                literal.push_str("${");
                rest = after;
            }
        }
    }
    literal.push_str(rest);
    if !literal.is_empty() {
        parts.push(Part::Text(literal));
    }
    parts
}

/// `global.name`: a variable of the `global` namespace (RFC 6609 §3.5).
pub(crate) fn is_global(name: &str) -> bool {
    name.get(..7)
        .is_some_and(|p| p.eq_ignore_ascii_case("global."))
        && is_identifier(&name[7..])
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `value` with `set`'s `modifiers` applied (already in their order).
pub(crate) fn modify(value: String, modifiers: &[Modifier]) -> String {
    let mut value = value;
    for m in modifiers {
        value = match m {
            Modifier::Lower => value.to_lowercase(),
            Modifier::Upper => value.to_uppercase(),
            Modifier::LowerFirst => first_char(&value, |c| c.to_lowercase().collect()),
            Modifier::UpperFirst => first_char(&value, |c| c.to_uppercase().collect()),
            Modifier::QuoteWildcard => {
                let mut out = String::with_capacity(value.len());
                for c in value.chars() {
                    if matches!(c, '*' | '?' | '\\') {
                        out.push('\\');
                    }
                    out.push(c);
                }
                out
            }
            Modifier::Length => value.chars().count().to_string(),
            Modifier::EncodeUrl => {
                let mut out = String::with_capacity(value.len());
                for b in value.bytes() {
                    match b {
                        b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                            out.push(char::from(b))
                        }
                        _ => out.push_str(&format!("%{b:02X}")),
                    }
                }
                out
            }
        };
    }
    value
}

fn first_char(value: &str, f: impl Fn(char) -> String) -> String {
    let mut chars = value.chars();
    match chars.next() {
        Some(c) => f(c) + chars.as_str(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_characters() {
        assert_eq!(decode_encoded("$${hex:24 24}{").as_deref(), Some("$$${"));
        assert_eq!(
            decode_encoded("${unicode:2200 0041}").as_deref(),
            Some("∀A")
        );
        assert_eq!(decode_encoded("${hex:}").as_deref(), Some(""));
        assert_eq!(
            decode_encoded("${other:41}").as_deref(),
            Some("${other:41}")
        );
        assert_eq!(decode_encoded("${unicode:D800}"), None);
        assert_eq!(decode_encoded("${hex:ff}"), None);
    }

    #[test]
    fn templates() {
        assert_eq!(
            template("a ${Name} ${1}${env.x}${"),
            [
                Part::Text("a ".into()),
                Part::Variable("name".into()),
                Part::Text(" ".into()),
                Part::Match(1),
                Part::Text("${env.x}${".into()),
            ]
        );
    }

    #[test]
    fn modifiers_of_rfc_5229() {
        let m = |v: &str, ms: &[Modifier]| modify(v.to_owned(), ms);
        assert_eq!(
            m("juMBlEd lETteRS", &[Modifier::Lower, Modifier::UpperFirst]),
            "Jumbled letters"
        );
        assert_eq!(m("Ya*?\\", &[Modifier::QuoteWildcard]), "Ya\\*\\?\\\\");
        assert_eq!(
            m("Ya*?\\", &[Modifier::QuoteWildcard, Modifier::Length]),
            "8"
        );
    }
}
