//! `addheader` and `deleteheader` (RFC 5293): the header as the script has changed it so
//! far, which later tests see, and the changes themselves, which the caller applies to the
//! message it stores or forwards ([`apply_header_edits`]).

use std::collections::HashMap;

use crate::message::Message;

/// A change a script made to the message's header (RFC 5293), reported in
/// [`crate::Action::EditHeader`] in the order the script made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderEdit {
    /// Add the field `name: value`: first in the header, or last with `last`.
    Add {
        /// The field name, as the script wrote it.
        name: String,
        /// The value, unfolded and not encoded (non-ASCII text is encoded as an RFC 2047
        /// word when written).
        value: String,
        /// At the end of the header (`:last`), not at its start.
        last: bool,
    },
    /// Delete one field: the `occurrence`-th (from 0, counted from the top) of those named
    /// `name` (any case), as the header stands after the edits before this one.
    Delete {
        /// The field name.
        name: String,
        /// Which of the fields with that name.
        occurrence: usize,
    },
}

/// Fields a script may neither add nor delete (Pigeonhole's default
/// `sieve_editheader_protected`, after RFC 5293 §6): the trace of the message's path and
/// the mark that keeps automatic replies from looping. Edits of them are ignored.
pub(crate) const PROTECTED: &[&str] = &["received", "auto-submitted"];

/// Whether `name` is a valid header field name (RFC 5322 §3.6.8: printable ASCII but `:`).
pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| (33..=126).contains(&b) && b != b':')
}

/// Whether `value` can be a field's value: anything but NUL (line breaks are unfolded,
/// other control characters are let through, as Pigeonhole does).
pub(crate) fn valid_value(value: &str) -> bool {
    !value.contains('\0')
}

/// A value with its line breaks undone: a break before a blank is dropped, one before
/// anything else becomes a space, and breaks at the end go.
pub(crate) fn unfold(value: &str) -> String {
    let value = value.trim_end_matches(['\r', '\n']);
    if !value.contains(['\r', '\n']) {
        return value.to_owned();
    }
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {}
            '\n' => {
                if !matches!(chars.peek(), Some(' ' | '\t')) {
                    out.push(' ');
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// The header fields the script has changed, by lowercase name, and how much the message
/// has grown or shrunk.
#[derive(Debug, Default)]
pub(crate) struct Edited {
    fields: HashMap<String, Vec<String>>,
    size_delta: i64,
}

impl Edited {
    /// The values of the fields named `name`, edits included.
    pub(crate) fn header(&self, message: &dyn Message, name: &str) -> Vec<String> {
        // Most runs edit nothing: no lowercase copy of the name for them.
        if self.fields.is_empty() {
            return message.header(name);
        }
        match self.fields.get(&name.to_ascii_lowercase()) {
            Some(values) => values.clone(),
            None => message.header(name),
        }
    }

    /// The message's size, edits included.
    pub(crate) fn size(&self, message: &dyn Message) -> u64 {
        let size = i64::try_from(message.size()).unwrap_or(i64::MAX);
        u64::try_from(size.saturating_add(self.size_delta)).unwrap_or(0)
    }

    /// Adds a field; `None` when the name is protected (nothing changes).
    pub(crate) fn add(
        &mut self,
        message: &dyn Message,
        name: &str,
        value: String,
        last: bool,
    ) -> Option<HeaderEdit> {
        let key = name.to_ascii_lowercase();
        if PROTECTED.contains(&key.as_str()) {
            return None;
        }
        self.size_delta += field_size(name, &value);
        let values = self.values(message, key);
        match last {
            true => values.push(value.clone()),
            false => values.insert(0, value.clone()),
        }
        Some(HeaderEdit::Add {
            name: name.to_owned(),
            value,
            last,
        })
    }

    /// Deletes the fields named `name` at `occurrences` (from 0); the edits, last occurrence
    /// first so that each one's position holds when it is applied. Nothing for a protected
    /// name.
    pub(crate) fn delete(
        &mut self,
        message: &dyn Message,
        name: &str,
        occurrences: &[usize],
    ) -> Vec<HeaderEdit> {
        let key = name.to_ascii_lowercase();
        if PROTECTED.contains(&key.as_str()) || occurrences.is_empty() {
            return Vec::new();
        }
        let mut occurrences = occurrences.to_vec();
        occurrences.sort_unstable_by(|a, b| b.cmp(a));
        occurrences.dedup();
        let values = self.values(message, key);
        let mut edits = Vec::new();
        let mut delta = 0;
        for occurrence in occurrences {
            if occurrence < values.len() {
                let value = values.remove(occurrence);
                delta -= field_size(name, &value);
                edits.push(HeaderEdit::Delete {
                    name: name.to_owned(),
                    occurrence,
                });
            }
        }
        self.size_delta += delta;
        edits
    }

    fn values(&mut self, message: &dyn Message, key: String) -> &mut Vec<String> {
        self.fields
            .entry(key)
            .or_insert_with_key(|k| message.header(k))
    }
}

/// The octets `name: value` CRLF takes.
fn field_size(name: &str, value: &str) -> i64 {
    i64::try_from(name.len() + value.len() + 4).unwrap_or(i64::MAX)
}

/// `raw` with `edits` applied in order: added fields written as `Name: value` (a non-ASCII
/// value as an RFC 2047 UTF-8 word) with the message's own line ending, deleted fields
/// removed with their continuation lines. The body is untouched.
pub fn apply_header_edits(raw: &[u8], edits: &[HeaderEdit]) -> Vec<u8> {
    let end = header_end(raw);
    let crlf = raw[..end].windows(2).any(|w| w == b"\r\n") || end == 0;
    let newline: &[u8] = if crlf { b"\r\n" } else { b"\n" };
    // Each field with its continuation lines and line end.
    let mut fields: Vec<&[u8]> = Vec::new();
    let mut start = 0;
    for (i, &b) in raw[..end].iter().enumerate() {
        if b == b'\n' && !matches!(raw.get(i + 1), Some(b' ' | b'\t')) {
            fields.push(&raw[start..=i]);
            start = i + 1;
        }
    }
    if start < end {
        fields.push(&raw[start..end]);
    }
    let mut owned: Vec<Vec<u8>> = fields.into_iter().map(<[u8]>::to_vec).collect();
    for edit in edits {
        match edit {
            HeaderEdit::Add { name, value, last } => {
                let mut line = format!("{name}: {}", crate::mime::encode_word(value)).into_bytes();
                line.extend_from_slice(newline);
                match last {
                    true => owned.push(line),
                    false => owned.insert(0, line),
                }
            }
            HeaderEdit::Delete { name, occurrence } => {
                let at = owned
                    .iter()
                    .enumerate()
                    .filter(|(_, f)| named(f, name))
                    .nth(*occurrence)
                    .map(|(i, _)| i);
                if let Some(i) = at {
                    owned.remove(i);
                }
            }
        }
    }
    let mut out = owned.concat();
    out.extend_from_slice(&raw[end..]);
    out
}

/// Where the header ends: the offset of the empty line after it (the whole message when
/// there is none).
fn header_end(raw: &[u8]) -> usize {
    if raw.starts_with(b"\r\n") || raw.starts_with(b"\n") {
        return 0;
    }
    let mut at = 0;
    while let Some(i) = raw[at..].iter().position(|&b| b == b'\n') {
        let next = at + i + 1;
        if raw[next..].starts_with(b"\r\n") || raw[next..].starts_with(b"\n") {
            return next;
        }
        at = next;
    }
    raw.len()
}

/// Whether a field (its raw line) has the name `name`.
fn named(field: &[u8], name: &str) -> bool {
    field.iter().position(|&b| b == b':').is_some_and(|colon| {
        field[..colon]
            .trim_ascii_end()
            .eq_ignore_ascii_case(name.as_bytes())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_applied_to_the_raw_message() {
        let raw = b"Received: x\r\nX-A: 1\r\nSubject: hi\r\n there\r\nX-A: 2\r\n\r\nX-A: body\r\n";
        let edits = [
            HeaderEdit::Add {
                name: "X-New".into(),
                value: "top".into(),
                last: false,
            },
            HeaderEdit::Delete {
                name: "x-a".into(),
                occurrence: 1,
            },
            HeaderEdit::Delete {
                name: "subject".into(),
                occurrence: 0,
            },
            HeaderEdit::Add {
                name: "X-Last".into(),
                value: "café".into(),
                last: true,
            },
        ];
        assert_eq!(
            String::from_utf8(apply_header_edits(raw, &edits)).unwrap(),
            "X-New: top\r\nReceived: x\r\nX-A: 1\r\nX-Last: =?UTF-8?B?Y2Fmw6k=?=\r\n\r\nX-A: body\r\n"
        );
    }

    #[test]
    fn names_and_values_checked() {
        assert!(
            valid_name("X-Frop") && !valid_name("X Frop") && !valid_name("X:") && !valid_name("")
        );
        assert!(valid_value("a\r\nb\u{7}") && !valid_value("a\0"));
        assert_eq!(unfold("a\r\n b\nc\n"), "a b c");
    }
}
