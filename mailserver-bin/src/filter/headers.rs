//! A message's header section as the checks change it: where it ends, the
//! `Authentication-Results:` fields only we may write removed, and the additions, insertions
//! and changes a milter asks for.

use crate::message::{fields, name};

/// One change to the header section, as a milter asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    /// A field at the end of the header (`SMFIR_ADDHEADER`).
    Add { name: String, value: String },
    /// A field before the `index`-th field, 0 for the first (`SMFIR_INSHEADER`).
    Insert {
        index: usize,
        name: String,
        value: String,
    },
    /// The `occurrence`-th field called `name` (from 1) gets `value`; an empty value removes
    /// it (`SMFIR_CHGHEADER`).
    Change {
        name: String,
        occurrence: usize,
        value: String,
    },
}

/// Whether `field` is an `Authentication-Results:` field whose authserv-id is `id`: one only
/// we may write (RFC 8601 §5), so one a sender wrote is removed.
pub fn is_forged_result(field: &[u8], id: &str) -> bool {
    if !name(field).eq_ignore_ascii_case(b"authentication-results") {
        return false;
    }
    let colon = memchr::memchr(b':', field).unwrap_or(0);
    let value = skip_comments(&field[colon + 1..]);
    let end = value
        .iter()
        .position(|&b| matches!(b, b';' | b' ' | b'\t' | b'\r' | b'\n' | b'('))
        .unwrap_or(value.len());
    value[..end].eq_ignore_ascii_case(id.as_bytes())
}

/// `value` from its first octet that is neither white space nor in a comment.
fn skip_comments(value: &[u8]) -> &[u8] {
    let mut depth = 0u32;
    for (i, &b) in value.iter().enumerate() {
        match b {
            b'(' => depth += 1,
            b')' if depth > 0 => depth -= 1,
            b' ' | b'\t' | b'\r' | b'\n' => {}
            _ if depth == 0 => return &value[i..],
            _ => {}
        }
    }
    &[]
}

/// `section` without the forged results of `authserv_id`, with `edits` applied in order.
pub fn rewrite(section: &[u8], authserv_id: Option<&str>, edits: &[Edit]) -> Vec<u8> {
    let mut kept: Vec<Vec<u8>> = fields(section)
        .into_iter()
        .filter(|f| !authserv_id.is_some_and(|id| is_forged_result(f, id)))
        .map(<[u8]>::to_vec)
        .collect();
    let line = |name: &str, value: &str| {
        // A milter folds with LF alone; the message's lines end with CRLF.
        let value = value.replace("\r\n", "\n").replace('\n', "\r\n");
        format!("{name}: {value}\r\n").into_bytes()
    };
    for edit in edits {
        match edit {
            Edit::Add { name, value } => kept.push(line(name, value)),
            Edit::Insert { index, name, value } => {
                kept.insert((*index).min(kept.len()), line(name, value));
            }
            Edit::Change {
                name: wanted,
                occurrence,
                value,
            } => {
                let found = kept
                    .iter()
                    .enumerate()
                    .filter(|(_, f)| name(f).eq_ignore_ascii_case(wanted.as_bytes()))
                    .nth(occurrence.saturating_sub(1))
                    .map(|(i, _)| i);
                match (found, value.is_empty()) {
                    (Some(i), true) => {
                        kept.remove(i);
                    }
                    (Some(i), false) => kept[i] = line(wanted, value),
                    // sendmail's rule: changing a field that is not there adds it.
                    (None, false) => kept.push(line(wanted, value)),
                    (None, true) => {}
                }
            }
        }
    }
    kept.concat()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::header_len;

    #[test]
    fn only_our_own_results_are_removed_and_only_from_the_header() {
        let message = b"Received: from x\r\nAuthentication-Results: MX.example.com;\r\n\tspf=pass smtp.mailfrom=a@b\r\nAuthentication-Results: other.example; dkim=pass\r\nauthentication-results: (forged) mx.example.com; dmarc=pass\r\nSubject: hi\r\n\r\nAuthentication-Results: mx.example.com; in the body\r\n";
        let len = header_len(message);
        assert!(message[len..].starts_with(b"\r\nAuthentication-Results: mx"));
        let kept = rewrite(&message[..len], Some("mx.example.com"), &[]);
        assert_eq!(
            String::from_utf8(kept).unwrap(),
            "Received: from x\r\nAuthentication-Results: other.example; dkim=pass\r\nSubject: hi\r\n"
        );
        assert!(!is_forged_result(
            b"Authentication-Results: mx.example.comx; a\n",
            "mx.example.com"
        ));
        // A message that is all header, cut within a field.
        assert_eq!(header_len(b"Subject: a\r\nX: b"), 16);
    }

    #[test]
    fn milter_edits_add_insert_change_and_remove() {
        let section = b"Subject: hi\r\nX-Spam: old\r\nTo: a@b\r\nX-Spam: older\r\n";
        let edits = [
            Edit::Change {
                name: "x-spam".into(),
                occurrence: 2,
                value: String::new(),
            },
            Edit::Change {
                name: "X-Spam".into(),
                occurrence: 1,
                value: "Yes".into(),
            },
            Edit::Insert {
                index: 0,
                name: "X-First".into(),
                value: "1".into(),
            },
            Edit::Add {
                name: "X-Spamd-Result".into(),
                value: "default: False [0.5 / 15.0];\n\tR_DUMMY(0.50)".into(),
            },
            Edit::Change {
                name: "X-Missing".into(),
                occurrence: 1,
                value: String::new(),
            },
        ];
        assert_eq!(
            String::from_utf8(rewrite(section, None, &edits)).unwrap(),
            "X-First: 1\r\nSubject: hi\r\nX-Spam: Yes\r\nTo: a@b\r\nX-Spamd-Result: default: False [0.5 / 15.0];\r\n\tR_DUMMY(0.50)\r\n"
        );
    }
}
