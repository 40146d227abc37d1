//! The strings of responses (RFC 9051 §4.3): quoted when short 7-bit text, literals
//! otherwise, atoms where the grammar allows; shared by the response encoder and the body
//! structure's.

use bytes::{BufMut, BytesMut};

/// Whether UTF-8 text can go in a quoted string (RFC 6855 §3: no controls).
pub(super) fn quotable_utf8(s: &str) -> bool {
    s.len() <= 1024 && !s.chars().any(char::is_control)
}

fn quotable(s: &[u8]) -> bool {
    s.len() <= 1024 && s.iter().all(|&b| (0x20..0x7f).contains(&b))
}

/// `(key value key value ...)`, each a string: ID fields, body parameters.
pub(super) fn string_pairs(out: &mut BytesMut, pairs: &[(String, String)]) {
    out.put_u8(b'(');
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.put_u8(b' ');
        }
        string(out, k.as_bytes());
        out.put_u8(b' ');
        string(out, v.as_bytes());
    }
    out.put_u8(b')');
}

/// A string: quoted when it is short 7-bit text, a literal otherwise.
pub(super) fn string(out: &mut BytesMut, s: &[u8]) {
    if quotable(s) {
        out.put_u8(b'"');
        for &b in s {
            if b == b'"' || b == b'\\' {
                out.put_u8(b'\\');
            }
            out.put_u8(b);
        }
        out.put_u8(b'"');
    } else {
        out.put_slice(format!("{{{}}}\r\n", s.len()).as_bytes());
        out.put_slice(s);
    }
}

pub(super) fn astring(out: &mut BytesMut, s: &[u8]) {
    if !s.is_empty()
        && s.iter().all(|&b| crate::types::is_astring_char(b))
        && !s.eq_ignore_ascii_case(b"NIL")
    {
        out.put_slice(s);
    } else {
        string(out, s);
    }
}

pub(super) fn nstring(out: &mut BytesMut, s: Option<&[u8]>) {
    match s {
        Some(s) => string(out, s),
        None => out.put_slice(b"NIL"),
    }
}
