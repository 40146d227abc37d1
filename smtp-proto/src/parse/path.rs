//! Paths and mailboxes (RFC 5321 §4.1.2): `<local@domain>`, the null path, source routes,
//! quoted local parts and address literals.

use crate::types::{Mailbox, is_atext, validate_address_literal, validate_domain};

/// Splits `<path> params` into the path text and the parameter text.
pub(super) fn split_path(rest: &str) -> (&str, &str) {
    if rest.starts_with('<') {
        // A quoted local part may contain '>' and spaces; find the closing bracket outside quotes.
        // Skip '>' inside a quoted local part and inside an address literal, where
        // general-literal content may contain it (RFC 5321 §4.1.3 dcontent).
        let bytes = rest.as_bytes();
        let mut in_quote = false;
        let mut in_literal = false;
        let mut i = 1;
        while i < bytes.len() {
            match bytes[i] {
                b'\\' if in_quote => i += 1,
                b'"' if !in_literal => in_quote = !in_quote,
                b'[' if !in_quote => in_literal = true,
                b']' if !in_quote => in_literal = false,
                b'>' if !in_quote && !in_literal => return (&rest[..=i], &rest[i + 1..]),
                _ => {}
            }
            i += 1;
        }
        (rest, "")
    } else {
        match rest.find(' ') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        }
    }
}

/// Parses an address, `<local@domain>` or bare `local@domain` (as an admin types it).
pub fn parse_mailbox(s: &str) -> Option<Mailbox> {
    parse_path(s)
}

/// `Path = "<" [ A-d-l ":" ] Mailbox ">"`, also accepting a bare mailbox as lenient servers do.
pub(super) fn parse_path(s: &str) -> Option<Mailbox> {
    match s.strip_prefix('<') {
        Some(inner) => mailbox(skip_source_route(inner.strip_suffix('>')?)?),
        None => mailbox(s),
    }
}

/// `A-d-l = At-domain *( "," At-domain ) ":"`; the route is obsolete and ignored (RFC 5321
/// §4.1.2). Returns what follows it; `None` if a route is there but malformed.
fn skip_source_route(s: &str) -> Option<&str> {
    if !s.starts_with('@') {
        return Some(s);
    }
    let colon = s.find(':')?;
    let route_ok = s[..colon].split(',').all(|hop| {
        hop.strip_prefix('@')
            .is_some_and(|d| !d.is_empty() && d.bytes().all(is_domain_octet))
    });
    route_ok.then(|| &s[colon + 1..])
}

/// Octets of the text of a domain: letters, digits, `-`, `.`, and UTF-8 (U-labels).
fn is_domain_octet(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-' || c == b'.' || c >= 0x80
}

/// `Mailbox = Local-part "@" ( Domain / address-literal )`, the whole of `s`.
fn mailbox(s: &str) -> Option<Mailbox> {
    let (mut text, host) = if s.starts_with('"') {
        quoted_local_part(s)?
    } else {
        let at = s.find('@')?;
        let local = &s[..at];
        let dot_string = !local.is_empty()
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local.bytes().all(|c| c == b'.' || is_atext(c));
        if !dot_string {
            return None;
        }
        let mut text = String::with_capacity(s.len());
        text.push_str(local);
        (text, &s[at + 1..])
    };
    if text.is_empty() || text.len() > 64 || text.bytes().any(|c| c < 0x20 || c == 0x7f) {
        return None;
    }
    match host.strip_prefix('[') {
        Some(literal) => {
            let inner = literal.strip_suffix(']')?;
            if inner.contains(['[', ']']) {
                return None;
            }
            validate_address_literal(inner).ok()?;
        }
        None => {
            if !host.bytes().all(is_domain_octet) {
                return None;
            }
            validate_domain(host).ok()?;
        }
    }
    let at = text.len();
    text.push('@');
    text.push_str(host);
    Some(Mailbox::from_checked(text, at))
}

/// The path nearly every client sends, `<dot-string@domain>`, checked and copied in one pass:
/// the mailbox, and the text after its `>`. `None` for every other form (quoted local part,
/// address literal, source route, no `<`) and for anything malformed: the general path
/// ([`split_path`], [`parse_path`]) then reads or refuses it. What this accepts, that path
/// accepts the same way (a proptest holds them to it).
pub(super) fn plain_path(rest: &str) -> Option<(Mailbox, &str)> {
    let b = rest.as_bytes();
    if b.first() != Some(&b'<') {
        return None;
    }
    // Local part: atoms of atext joined by single dots.
    let mut i = 1;
    let mut after_dot = true;
    loop {
        match *b.get(i)? {
            b'@' => break,
            b'.' if !after_dot => after_dot = true,
            c if is_atext(c) => after_dot = false,
            _ => return None,
        }
        i += 1;
    }
    let at = i;
    if after_dot || at - 1 > 64 {
        return None;
    }
    // Domain: labels of letters, digits (and UTF-8) with inner hyphens, 1 to 63 octets.
    let let_dig = |c: u8| c.is_ascii_alphanumeric() || c >= 0x80;
    i += 1;
    let mut label = i;
    loop {
        match *b.get(i)? {
            c @ (b'.' | b'>') => {
                if i == label || i - label > 63 || !let_dig(b[i - 1]) {
                    return None;
                }
                if c == b'>' {
                    break;
                }
                label = i + 1;
            }
            b'-' if i > label => {}
            c if let_dig(c) => {}
            _ => return None,
        }
        i += 1;
    }
    if i - at - 1 > 255 {
        return None;
    }
    Some((
        Mailbox::from_checked(rest[1..i].to_owned(), at - 1),
        &rest[i + 1..],
    ))
}

/// `Quoted-string "@"` at the start of `s`: the local part's value (unescaped) and the text
/// after the `@`.
fn quoted_local_part(s: &str) -> Option<(String, &str)> {
    let mut value = String::new();
    let mut chars = s[1..].char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((value, s[1 + i + 1..].strip_prefix('@')?)),
            // quoted-pairSMTP: a backslash and any printable ASCII octet.
            '\\' => match chars.next() {
                Some((_, e @ ' '..='~')) => value.push(e),
                _ => return None,
            },
            // qtextSMTP: printable ASCII but `"` and `\`, space, and UTF-8.
            c if !c.is_ascii() || (' '..='~').contains(&c) => value.push(c),
            _ => return None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Host;

    fn mb(s: &str) -> Mailbox {
        parse_path(s).unwrap()
    }

    proptest::proptest! {
        /// The one-pass reader of `<local@domain>` accepts only what the general path
        /// accepts, and reads it the same: the same mailbox, the same parameters after it.
        #[test]
        fn plain_path_agrees_with_the_general_path(
            s in "<[a-z.\\-\"@\\[\\]>é:]{0,12}@?[a-z0-9.\\-\\[\\]>é]{0,12}>?( [A-Z=0-9]{0,6})?"
        ) {
            if let Some((mailbox, params)) = plain_path(&s) {
                let (path, rest) = split_path(&s);
                proptest::prop_assert_eq!(rest, params);
                proptest::prop_assert_eq!(parse_path(path), Some(mailbox));
            }
        }
    }

    #[test]
    fn plain_path_limits() {
        let local = "a".repeat(64);
        let label = "b".repeat(63);
        let ok = format!("<{local}@{label}.example>");
        let (m, rest) = plain_path(&ok).unwrap();
        assert_eq!((m.local_part(), rest), (&*local, ""));
        assert_eq!(m.domain(), Some(&*format!("{label}.example")));
        for bad in [
            format!("<a{local}@example.com>"),
            format!("<x@b{label}.example>"),
            "<.a@example.com>".into(),
            "<a.@example.com>".into(),
            "<a..b@example.com>".into(),
            "<a@-example.com>".into(),
            "<a@example-.com>".into(),
            "<a@example..com>".into(),
            "<a@example.com.>".into(),
            "<@example.com>".into(),
            "<a@>".into(),
            "<a@example.com".into(),
            "<Postmaster>".into(),
            "<a@[192.0.2.1]>".into(),
        ] {
            assert!(plain_path(&bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn mailboxes() {
        let m = mb("<\"john doe\"@example.com>");
        assert_eq!(m.local_part(), "john doe");
        let m = mb("<\"a\\\"b\"@[192.0.2.1]>");
        assert_eq!(m.local_part(), "a\"b");
        assert_eq!(m.host(), Host::Literal("192.0.2.1".into()));
        assert_eq!(m.address_literal(), Some("192.0.2.1"));
        let m = mb("<用户@例子.广告>");
        assert!(m.is_utf8());
        assert!(parse_path("<a.@example.com>").is_none());
        assert!(parse_path("<a@example.com").is_none());
        assert!(parse_path("<a@-example.com>").is_none());
        assert!(parse_path("<a@[1.2.3]>").is_none());
        assert!(parse_path("<a@[IPv6:::1]>").is_some());
    }
}
