//! Notifications by mail (RFC 5435 `notify` with the mailto method of RFC 5436): the
//! `mailto:` URI (RFC 6068) read into recipients and header fields.

/// A `mailto:` URI, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailto {
    /// The recipients: the path's addresses and any `to=` field's.
    pub to: Vec<String>,
    /// The other header fields the URI gives (`subject`, `cc`, …), lowercase names,
    /// percent-decoded; `body` among them when given.
    pub fields: Vec<(String, String)>,
}

/// Reads a `mailto:` URI; `None` when it is not one with at least one plausible address.
pub fn mailto(uri: &str) -> Option<Mailto> {
    let rest = uri
        .get(..7)
        .filter(|s| s.eq_ignore_ascii_case("mailto:"))
        .map(|_| &uri[7..])?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let mut to: Vec<String> = Vec::new();
    for a in decode(path)?.split(',') {
        let a = a.trim();
        if !a.is_empty() {
            to.push(a.to_owned());
        }
    }
    let mut fields = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = decode(name)?.to_ascii_lowercase();
        // A header field name (RFC 5322 §3.6.8): printable, no colon, no space.
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
            return None;
        }
        let value = decode(value)?;
        if name == "to" {
            to.extend(
                value
                    .split(',')
                    .map(|a| a.trim().to_owned())
                    .filter(|a| !a.is_empty()),
            );
        } else {
            fields.push((name, value));
        }
    }
    let plausible = |a: &String| {
        a.rsplit_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && !d.is_empty())
            && !a
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || "<>".contains(c))
    };
    (!to.is_empty() && to.iter().all(plausible)).then_some(Mailto { to, fields })
}

/// `%XX` decoded; `None` when a sequence is bad or the result is not UTF-8.
fn decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mailto_uris() {
        let m = mailto("mailto:alice@example.com,bob%40example.org?subject=Hi%20there&cc=c@x.org")
            .unwrap();
        assert_eq!(m.to, ["alice@example.com", "bob@example.org"]);
        assert_eq!(
            m.fields,
            [
                ("subject".into(), "Hi there".into()),
                ("cc".into(), "c@x.org".into())
            ]
        );
        assert!(mailto("xmpp:a@b").is_none());
        assert!(mailto("mailto:?subject=x").is_none());
        assert!(mailto("mailto:not an address").is_none());
        assert!(mailto("mailto:a@b%zz").is_none());
        assert!(mailto("mailto:a@b?sub%20ject=x").is_none());
    }
}
