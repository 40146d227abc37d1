//! Replies as a client reads them (RFC 5321 §4.2, RFC 2034 enhanced codes).

use thiserror::Error;

use crate::types::{EnhancedStatus, Reply};

/// Parses one complete reply from the start of `buf`; `Ok(None)` means more input is needed.
/// Returns the reply and the octets it used.
pub fn parse_reply(buf: &[u8]) -> Result<Option<(Reply, usize)>, ReplyParseError> {
    let mut pos = 0;
    let mut code = None;
    let mut lines: Vec<(Option<EnhancedStatus>, String)> = Vec::new();
    loop {
        let Some(nl) = memchr::memchr(b'\n', &buf[pos..]) else {
            return Ok(None);
        };
        let raw = &buf[pos..pos + nl];
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        pos += nl + 1;
        let line = std::str::from_utf8(raw).map_err(|_| ReplyParseError)?;
        let digits = line.get(..3).ok_or(ReplyParseError)?;
        if !digits.bytes().all(|c| c.is_ascii_digit()) {
            return Err(ReplyParseError);
        }
        let this: u16 = digits.parse().map_err(|_| ReplyParseError)?;
        if *code.get_or_insert(this) != this {
            return Err(ReplyParseError);
        }
        let (more, text) = match line.as_bytes().get(3) {
            None => (false, ""),
            Some(b' ') => (false, &line[4..]),
            Some(b'-') => (true, &line[4..]),
            Some(_) => return Err(ReplyParseError),
        };
        lines.push(split_enhanced(this, text));
        if !more {
            break;
        }
    }
    let code = code.ok_or(ReplyParseError)?;
    let first = lines[0].0;
    let enhanced = first.filter(|_| lines.iter().all(|(e, _)| *e == first));
    let texts = if enhanced.is_some() {
        lines.into_iter().map(|(_, t)| t).collect()
    } else {
        // Keep the text as sent when the codes are not uniform.
        lines
            .into_iter()
            .map(|(e, t)| match e {
                Some(e) if t.is_empty() => e.to_string(),
                Some(e) => format!("{e} {t}"),
                None => t,
            })
            .collect()
    };
    let reply = Reply::multiline(code, enhanced, texts).map_err(|_| ReplyParseError)?;
    Ok(Some((reply, pos)))
}

/// A reply that does not follow RFC 5321 §4.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("malformed SMTP reply")]
pub struct ReplyParseError;

fn split_enhanced(code: u16, text: &str) -> (Option<EnhancedStatus>, String) {
    let (head, tail) = match text.find(' ') {
        Some(i) => (&text[..i], &text[i + 1..]),
        None => (text, ""),
    };
    let mut parts = head.split('.');
    let parsed = (|| {
        let class: u8 = parts.next()?.parse().ok()?;
        let subject = parts.next()?;
        let detail = parts.next()?;
        let ok = |p: &str| !p.is_empty() && p.len() <= 3 && p.bytes().all(|c| c.is_ascii_digit());
        if parts.next().is_some() || !ok(subject) || !ok(detail) || head.starts_with('+') {
            return None;
        }
        if u16::from(class) != code / 100 {
            return None;
        }
        EnhancedStatus::new(class, subject.parse().ok()?, detail.parse().ok()?).ok()
    })();
    match parsed {
        Some(e) => (Some(e), tail.to_owned()),
        None => (None, text.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies() {
        let (r, n) = parse_reply(b"250-mx.example\r\n250-SIZE 100\r\n250 8BITMIME\r\nX")
            .unwrap()
            .unwrap();
        assert_eq!(n, 44);
        assert_eq!(r.lines(), ["mx.example", "SIZE 100", "8BITMIME"]);
        let (r, _) = parse_reply(b"550 5.1.1 No such user\r\n").unwrap().unwrap();
        assert_eq!(r.enhanced().unwrap().to_string(), "5.1.1");
        assert_eq!(parse_reply(b"250-a\r\n250 b"), Ok(None));
        assert!(parse_reply(b"250-a\r\n251 b\r\n").is_err());
    }
}
