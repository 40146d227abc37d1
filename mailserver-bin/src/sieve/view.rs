//! A message as Sieve tests read it: header fields unfolded with RFC 2047 words decoded (the
//! `message` module's decoder, the one SEARCH uses), bodies through mail-parser.

use mail_parser::{MessageParser, MimeHeaders, PartType};
use mailwright_sieve::BodyTransform;

/// One message, read once for all the scripts a delivery runs.
pub struct View<'a> {
    raw: &'a [u8],
    /// Each field's name and raw (folded) value.
    fields: Vec<(String, &'a [u8])>,
    body_start: Option<usize>,
}

impl<'a> View<'a> {
    pub fn new(raw: &'a [u8]) -> Self {
        let mut fields: Vec<(String, &'a [u8])> = Vec::new();
        let mut at = 0;
        let mut body_start = None;
        let mut current: Option<(String, usize)> = None;
        let close = |current: &mut Option<(String, usize)>,
                     end: usize,
                     fields: &mut Vec<(String, &'a [u8])>| {
            if let Some((name, start)) = current.take() {
                fields.push((name, &raw[start..end]));
            }
        };
        while at < raw.len() {
            let end = memchr::memchr(b'\n', &raw[at..]).map_or(raw.len(), |i| at + i + 1);
            let line = &raw[at..end];
            let content = line.strip_suffix(b"\n").unwrap_or(line);
            let content = content.strip_suffix(b"\r").unwrap_or(content);
            if content.is_empty() {
                close(&mut current, at, &mut fields);
                body_start = Some(end);
                break;
            }
            if !content.starts_with(b" ") && !content.starts_with(b"\t") {
                close(&mut current, at, &mut fields);
                if let Some(colon) = memchr::memchr(b':', content) {
                    let name = String::from_utf8_lossy(&content[..colon]).trim().to_owned();
                    current = Some((name, at + colon + 1));
                }
            }
            at = end;
        }
        close(&mut current, at.min(raw.len()), &mut fields);
        Self {
            raw,
            fields,
            body_start,
        }
    }
}

impl mailwright_sieve::Message for View<'_> {
    fn header(&self, name: &str) -> Vec<String> {
        self.fields
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, value)| {
                let unfolded: Vec<u8> = value
                    .iter()
                    .copied()
                    .filter(|&b| b != b'\r' && b != b'\n')
                    .collect();
                crate::message::decode_words(&unfolded)
            })
            .collect()
    }

    fn size(&self) -> u64 {
        self.raw.len() as u64
    }

    fn body(&self, transform: &BodyTransform) -> Vec<String> {
        let Some(start) = self.body_start else {
            return Vec::new();
        };
        if *transform == BodyTransform::Raw {
            return vec![String::from_utf8_lossy(&self.raw[start..]).into_owned()];
        }
        let Some(message) = MessageParser::default().parse(self.raw) else {
            return Vec::new();
        };
        message
            .parts
            .iter()
            .filter_map(|part| {
                let (kind, subtype) =
                    part.content_type()
                        .map_or(("text".into(), "plain".into()), |c| {
                            (
                                c.ctype().to_ascii_lowercase(),
                                c.subtype().unwrap_or("").to_ascii_lowercase(),
                            )
                        });
                if !transform.selects(&kind, &subtype) {
                    return None;
                }
                match &part.body {
                    PartType::Text(t) | PartType::Html(t) => Some(t.to_string()),
                    PartType::Binary(b) | PartType::InlineBinary(b) => {
                        Some(String::from_utf8_lossy(b).into_owned())
                    }
                    _ => None,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailwright_sieve::Message;

    #[test]
    fn fields_unfolded_and_decoded() {
        let raw =
            b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n and more\r\nX-A: 1\r\n\r\nbody text\r\n";
        let view = View::new(raw);
        assert_eq!(view.header("subject"), ["Grüße and more"]);
        assert_eq!(view.header("x-a"), ["1"]);
        assert_eq!(view.body(&BodyTransform::Raw), ["body text\r\n"]);
        assert!(view.body(&BodyTransform::Text)[0].contains("body text"));
    }
}
