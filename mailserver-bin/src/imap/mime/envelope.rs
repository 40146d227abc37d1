//! ENVELOPE (RFC 3501 §7.4.2): the header's addresses, subject and dates as IMAP lists them.

use bytes::Bytes;
use mailwright_imap::{Address, Envelope};

use crate::imap::mime::{field, fields, nstring, trim};

/// ENVELOPE of the message whose header is `header`.
pub fn envelope(header: &[u8]) -> Envelope {
    let f = fields(header);
    let get = |n: &str| field(&f, n);
    let list = |n: &str| get(n).map(addresses).unwrap_or_default();
    let from = list("From");
    let sender = match list("Sender") {
        s if s.is_empty() => from.clone(),
        s => s,
    };
    let reply_to = match list("Reply-To") {
        s if s.is_empty() => from.clone(),
        s => s,
    };
    Envelope {
        date: nstring(get("Date")),
        subject: nstring(get("Subject")),
        from,
        sender,
        reply_to,
        to: list("To"),
        cc: list("Cc"),
        bcc: list("Bcc"),
        in_reply_to: nstring(get("In-Reply-To")),
        message_id: nstring(get("Message-ID")),
    }
}

#[derive(Debug, PartialEq)]
enum Token {
    Word(Vec<u8>),
    Quoted(Vec<u8>),
    /// A comment's text, without its outer parentheses.
    Comment(Vec<u8>),
    Angle(Vec<u8>),
    Special(u8),
}

fn tokenize(v: &[u8]) -> Vec<Token> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < v.len() {
        match v[i] {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'(' => {
                let start = i + 1;
                let mut depth = 0;
                let mut end = v.len();
                while i < v.len() {
                    match v[i] {
                        b'\\' => i += 1,
                        b'(' => depth += 1,
                        b')' => {
                            depth -= 1;
                            if depth == 0 {
                                end = i;
                                i += 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                    i += 1;
                }
                out.push(Token::Comment(v[start.min(end)..end].to_vec()));
            }
            b'"' => {
                i += 1;
                let mut s = Vec::new();
                while i < v.len() && v[i] != b'"' {
                    if v[i] == b'\\' && i + 1 < v.len() {
                        i += 1;
                    }
                    s.push(v[i]);
                    i += 1;
                }
                i += 1;
                out.push(Token::Quoted(s));
            }
            b'<' => {
                let end = memchr::memchr(b'>', &v[i..]).map_or(v.len(), |e| i + e);
                let inner: Vec<u8> = v[i + 1..end]
                    .iter()
                    .copied()
                    .filter(|c| !c.is_ascii_whitespace())
                    .collect();
                out.push(Token::Angle(inner));
                i = end + 1;
            }
            c @ (b',' | b':' | b';') => {
                out.push(Token::Special(c));
                i += 1;
            }
            _ => {
                let start = i;
                while i < v.len()
                    && !matches!(
                        v[i],
                        b' ' | b'\t' | b'\r' | b'\n' | b'(' | b'"' | b'<' | b',' | b':' | b';'
                    )
                {
                    i += 1;
                }
                out.push(Token::Word(v[start..i].to_vec()));
            }
        }
    }
    out
}

fn mailbox(phrase: &[Token], angle: Option<&[u8]>) -> Address {
    let join = |toks: &[Token]| -> Vec<u8> {
        let mut s = Vec::new();
        for t in toks {
            let w = match t {
                Token::Word(w) | Token::Quoted(w) => w,
                Token::Special(c) => {
                    s.push(*c);
                    continue;
                }
                Token::Angle(_) | Token::Comment(_) => continue,
            };
            if !s.is_empty()
                && !s.ends_with(b"@")
                && !s.ends_with(b".")
                && !w.starts_with(b"@")
                && !w.starts_with(b".")
            {
                s.push(b' ');
            }
            s.extend_from_slice(w);
        }
        s
    };
    let (name, spec) = match angle {
        Some(a) => {
            let name = join(phrase);
            (if name.is_empty() { None } else { Some(name) }, a.to_vec())
        }
        None => {
            // `user@example.com (Real Name)`: the comment names the person, as Dovecot
            // reads it.
            let name = phrase.iter().rev().find_map(|t| match t {
                Token::Comment(c) if !c.iter().all(u8::is_ascii_whitespace) => {
                    Some(trim(c).to_vec())
                }
                _ => None,
            });
            let mut spec = Vec::new();
            for t in phrase {
                match t {
                    Token::Word(w) => spec.extend_from_slice(w),
                    Token::Quoted(w) => {
                        spec.push(b'"');
                        spec.extend_from_slice(w);
                        spec.push(b'"');
                    }
                    _ => {}
                }
            }
            (name, spec)
        }
    };
    // A source route: <@a,@b:user@host>.
    let (adl, spec) = match (spec.first(), memchr::memchr(b':', &spec)) {
        (Some(b'@'), Some(colon)) => (Some(spec[..colon].to_vec()), spec[colon + 1..].to_vec()),
        _ => (None, spec),
    };
    let (local, host) = match memchr::memrchr(b'@', &spec) {
        Some(at) => (spec[..at].to_vec(), spec[at + 1..].to_vec()),
        None => (spec, b"MISSING_DOMAIN".to_vec()),
    };
    let local = if local.is_empty() {
        b"MISSING_MAILBOX".to_vec()
    } else {
        local
    };
    let local = match local
        .strip_prefix(b"\"")
        .and_then(|l| l.strip_suffix(b"\""))
    {
        Some(inner) => inner.to_vec(),
        None => local,
    };
    Address {
        name: name.map(Bytes::from),
        adl: adl.map(Bytes::from),
        mailbox: Some(Bytes::from(local)),
        host: Some(Bytes::from(host)),
    }
}

/// An address list (RFC 5322 §3.4), groups included, as ENVELOPE addresses.
pub fn addresses(value: &[u8]) -> Vec<Address> {
    let tokens = tokenize(value);
    let mut out = Vec::new();
    let mut phrase: Vec<Token> = Vec::new();
    let mut angle: Option<Vec<u8>> = None;
    let mut in_group = false;
    let flush = |phrase: &mut Vec<Token>, angle: &mut Option<Vec<u8>>, out: &mut Vec<Address>| {
        if !phrase.is_empty() || angle.is_some() {
            out.push(mailbox(phrase, angle.as_deref()));
        }
        phrase.clear();
        *angle = None;
    };
    for t in tokens {
        match t {
            Token::Special(b',') => flush(&mut phrase, &mut angle, &mut out),
            Token::Special(b':') if !in_group && angle.is_none() => {
                let name = mailbox(&phrase, Some(b"")).name.unwrap_or_default();
                out.push(Address {
                    name: None,
                    adl: None,
                    mailbox: Some(name),
                    host: None,
                });
                phrase.clear();
                in_group = true;
            }
            Token::Special(b';') if in_group => {
                flush(&mut phrase, &mut angle, &mut out);
                out.push(Address::default());
                in_group = false;
            }
            Token::Angle(a) => angle = Some(a),
            other => phrase.push(other),
        }
    }
    flush(&mut phrase, &mut angle, &mut out);
    if in_group {
        out.push(Address::default());
    }
    out
}
