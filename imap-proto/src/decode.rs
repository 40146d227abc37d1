//! Reading BODYSTRUCTURE data (with its envelopes) back from the form the encoder writes, so
//! that a server can keep structures it worked out in that form (a cache file) and a client or
//! test can check what it was sent.

use bytes::{Bytes, BytesMut};
use thiserror::Error;

use crate::response::{
    Address, BodyExtension, BodyFields, BodyStructure, Disposition, Envelope, SinglePart,
};

/// Deepest nesting of parts (multiparts and enclosed messages) read back.
pub const MAX_STRUCTURE_DEPTH: usize = 100;

/// Why BODYSTRUCTURE data could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// The input stopped before the structure did.
    #[error("body structure ends early")]
    Incomplete,
    /// Something other than what the grammar allows at that point.
    #[error("body structure: {expected} expected at offset {offset}")]
    Unexpected {
        /// What the grammar wanted.
        expected: &'static str,
        /// Where in the input.
        offset: usize,
    },
    /// Parts nested deeper than [`MAX_STRUCTURE_DEPTH`].
    #[error("body structure nested deeper than {MAX_STRUCTURE_DEPTH}")]
    TooDeep,
    /// Bytes after the structure.
    #[error("body structure followed by {0} more octets")]
    Trailing(usize),
}

impl BodyStructure {
    /// The BODYSTRUCTURE form, extension data included, as a FETCH response carries it.
    pub fn encode(&self) -> Bytes {
        let mut out = BytesMut::new();
        crate::response::body_structure(&mut out, self, true);
        out.freeze()
    }

    /// Reads what [`BodyStructure::encode`] (or a server's `BODYSTRUCTURE` FETCH item) wrote.
    /// Whether a leaf part has text lines or an enclosed message is read from the data, not its
    /// media type, so every encoded value reads back equal.
    pub fn decode(input: &[u8]) -> Result<Self, DecodeError> {
        let mut reader = Reader { input, pos: 0 };
        let structure = reader.body(0)?;
        match input.len() - reader.pos {
            0 => Ok(structure),
            n => Err(DecodeError::Trailing(n)),
        }
    }
}

struct Reader<'a> {
    input: &'a [u8],
    pos: usize,
}

type R<T> = Result<T, DecodeError>;

impl Reader<'_> {
    fn peek(&self) -> R<u8> {
        self.input
            .get(self.pos)
            .copied()
            .ok_or(DecodeError::Incomplete)
    }

    fn unexpected<T>(&self, expected: &'static str) -> R<T> {
        Err(DecodeError::Unexpected {
            expected,
            offset: self.pos,
        })
    }

    fn byte(&mut self, b: u8, expected: &'static str) -> R<()> {
        if self.peek()? != b {
            return self.unexpected(expected);
        }
        self.pos += 1;
        Ok(())
    }

    fn space(&mut self) -> R<()> {
        self.byte(b' ', "space")
    }

    fn nil(&mut self) -> R<bool> {
        let rest = &self.input[self.pos..];
        if rest.len() >= 3 && rest[..3].eq_ignore_ascii_case(b"NIL") {
            self.pos += 3;
            return Ok(true);
        }
        Ok(false)
    }

    fn number(&mut self) -> R<u64> {
        let start = self.pos;
        let mut n: u64 = 0;
        while let Some(d) = self.input.get(self.pos).filter(|b| b.is_ascii_digit()) {
            n = n
                .checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(d - b'0')))
                .ok_or(DecodeError::Unexpected {
                    expected: "number below 2^64",
                    offset: start,
                })?;
            self.pos += 1;
        }
        if self.pos == start {
            return self.unexpected("number");
        }
        Ok(n)
    }

    /// A quoted string or a literal.
    fn string(&mut self) -> R<Bytes> {
        match self.peek()? {
            b'"' => {
                self.pos += 1;
                let mut out = Vec::new();
                loop {
                    match self.peek()? {
                        b'"' => break,
                        b'\\' => {
                            self.pos += 1;
                            out.push(self.peek()?);
                        }
                        b'\r' | b'\n' => return self.unexpected("closing quote"),
                        b => out.push(b),
                    }
                    self.pos += 1;
                }
                self.pos += 1;
                Ok(Bytes::from(out))
            }
            b'{' => {
                self.pos += 1;
                let len = self.number()?;
                self.byte(b'}', "'}'")?;
                self.byte(b'\r', "CRLF")?;
                self.byte(b'\n', "CRLF")?;
                let len = usize::try_from(len).map_err(|_| DecodeError::Incomplete)?;
                let end = self
                    .pos
                    .checked_add(len)
                    .filter(|&e| e <= self.input.len())
                    .ok_or(DecodeError::Incomplete)?;
                let s = Bytes::copy_from_slice(&self.input[self.pos..end]);
                self.pos = end;
                Ok(s)
            }
            _ => self.unexpected("string"),
        }
    }

    fn nstring(&mut self) -> R<Option<Bytes>> {
        if self.nil()? {
            return Ok(None);
        }
        self.string().map(Some)
    }

    fn text(&mut self) -> R<String> {
        let start = self.pos;
        let s = self.string()?;
        String::from_utf8(s.to_vec()).or(Err(DecodeError::Unexpected {
            expected: "UTF-8 text",
            offset: start,
        }))
    }

    /// `("name" "value" ...)` or NIL.
    fn params(&mut self) -> R<Vec<(String, String)>> {
        let mut params = Vec::new();
        if self.nil()? {
            return Ok(params);
        }
        self.byte(b'(', "'(' or NIL")?;
        loop {
            let key = self.text()?;
            self.space()?;
            params.push((key, self.text()?));
            if self.peek()? == b')' {
                self.pos += 1;
                return Ok(params);
            }
            self.space()?;
        }
    }

    fn addresses(&mut self) -> R<Vec<Address>> {
        let mut list = Vec::new();
        if self.nil()? {
            return Ok(list);
        }
        self.byte(b'(', "'(' or NIL")?;
        while self.peek()? == b'(' {
            self.pos += 1;
            let name = self.nstring()?;
            self.space()?;
            let adl = self.nstring()?;
            self.space()?;
            let mailbox = self.nstring()?;
            self.space()?;
            let host = self.nstring()?;
            self.byte(b')', "')'")?;
            list.push(Address {
                name,
                adl,
                mailbox,
                host,
            });
        }
        self.byte(b')', "')'")?;
        Ok(list)
    }

    fn envelope(&mut self) -> R<Envelope> {
        self.byte(b'(', "envelope")?;
        let date = self.nstring()?;
        self.space()?;
        let subject = self.nstring()?;
        let mut lists: [Vec<Address>; 6] = Default::default();
        for list in &mut lists {
            self.space()?;
            *list = self.addresses()?;
        }
        self.space()?;
        let in_reply_to = self.nstring()?;
        self.space()?;
        let message_id = self.nstring()?;
        self.byte(b')', "')'")?;
        let [from, sender, reply_to, to, cc, bcc] = lists;
        Ok(Envelope {
            date,
            subject,
            from,
            sender,
            reply_to,
            to,
            cc,
            bcc,
            in_reply_to,
            message_id,
        })
    }

    /// Disposition, language and location, after a part's MD5 or a multipart's parameters;
    /// each may be missing from the end (RFC 9051 §7.5.2).
    fn extension(&mut self, md5: Option<Bytes>) -> R<BodyExtension> {
        let mut ext = BodyExtension {
            md5,
            ..BodyExtension::default()
        };
        if self.peek()? != b' ' {
            return Ok(ext);
        }
        self.pos += 1;
        if !self.nil()? {
            self.byte(b'(', "disposition")?;
            let kind = self.text()?;
            self.space()?;
            let params = self.params()?;
            self.byte(b')', "')'")?;
            ext.disposition = Some(Disposition { kind, params });
        }
        if self.peek()? != b' ' {
            return Ok(ext);
        }
        self.pos += 1;
        if self.peek()? == b'(' {
            self.pos += 1;
            loop {
                ext.language.push(self.text()?);
                if self.peek()? == b')' {
                    self.pos += 1;
                    break;
                }
                self.space()?;
            }
        } else if !self.nil()? {
            ext.language.push(self.text()?);
        }
        if self.peek()? != b' ' {
            return Ok(ext);
        }
        self.pos += 1;
        ext.location = self.nstring()?;
        Ok(ext)
    }

    fn body(&mut self, depth: usize) -> R<BodyStructure> {
        if depth >= MAX_STRUCTURE_DEPTH {
            return Err(DecodeError::TooDeep);
        }
        self.byte(b'(', "'('")?;
        if self.peek()? == b'(' {
            let mut parts = Vec::new();
            while self.peek()? == b'(' {
                parts.push(self.body(depth + 1)?);
            }
            self.space()?;
            let subtype = self.text()?;
            let mut params = Vec::new();
            let mut extension = BodyExtension::default();
            if self.peek()? == b' ' {
                self.pos += 1;
                params = self.params()?;
                extension = self.extension(None)?;
            }
            self.byte(b')', "')'")?;
            return Ok(BodyStructure::Multi {
                parts,
                subtype,
                params,
                extension,
            });
        }
        let media_type = self.text()?;
        self.space()?;
        let subtype = self.text()?;
        self.space()?;
        let params = self.params()?;
        self.space()?;
        let id = self.nstring()?;
        self.space()?;
        let description = self.nstring()?;
        self.space()?;
        let encoding = self.text()?;
        self.space()?;
        let size = self.number()?;
        let mut specific = SinglePart::Basic;
        if self.peek()? == b' ' {
            match self.input.get(self.pos + 1) {
                Some(b'0'..=b'9') => {
                    self.pos += 1;
                    specific = SinglePart::Text {
                        lines: self.number()?,
                    };
                }
                Some(b'(') => {
                    self.pos += 1;
                    let envelope = Box::new(self.envelope()?);
                    self.space()?;
                    let body = Box::new(self.body(depth + 1)?);
                    self.space()?;
                    specific = SinglePart::Message {
                        envelope,
                        body,
                        lines: self.number()?,
                    };
                }
                _ => {}
            }
        }
        let mut extension = BodyExtension::default();
        if self.peek()? == b' ' {
            self.pos += 1;
            let md5 = self.nstring()?;
            extension = self.extension(md5)?;
        }
        self.byte(b')', "')'")?;
        Ok(BodyStructure::Single {
            media_type,
            subtype,
            fields: BodyFields {
                params,
                id,
                description,
                encoding,
                size,
            },
            specific,
            extension,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BufMut;

    #[test]
    fn reads_rfc_9051_example() {
        // RFC 9051 §7.5.2's BODYSTRUCTURE example (a multipart/mixed of two text parts).
        let wire = b"((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 1152 23)(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\" \"NAME\" \"cc.diff\") \"<960723163407.20117h@cac.washington.edu>\" \"Compiler diff\" \"BASE64\" 4554 73) \"MIXED\")";
        let b = BodyStructure::decode(wire).unwrap();
        let BodyStructure::Multi { parts, subtype, .. } = &b else {
            panic!("not multipart: {b:?}")
        };
        assert_eq!(subtype, "MIXED");
        assert_eq!(parts.len(), 2);
        let BodyStructure::Single {
            fields, specific, ..
        } = &parts[1]
        else {
            panic!("not single")
        };
        assert_eq!(fields.size, 4554);
        assert_eq!(fields.params[1], ("NAME".into(), "cc.diff".into()));
        assert_eq!(*specific, SinglePart::Text { lines: 73 });
    }

    #[test]
    fn literals_and_language_lists_read_back() {
        let mut wire = BytesMut::from(&b"(\"application\" \"pdf\" (\"name\" {4}\r\nr\xc3\xa9d) NIL NIL \"base64\" 10 NIL (\"attachment\" NIL) (\"en\" \"de\") \"x\")"[..]);
        let b = BodyStructure::decode(&wire).unwrap();
        let BodyStructure::Single { extension, .. } = &b else {
            panic!()
        };
        assert_eq!(extension.language, ["en", "de"]);
        assert_eq!(extension.location.as_deref(), Some(&b"x"[..]));
        assert_eq!(BodyStructure::decode(&b.encode()).unwrap(), b);
        wire.put_u8(b' ');
        assert_eq!(BodyStructure::decode(&wire), Err(DecodeError::Trailing(1)));
    }

    #[test]
    fn enclosed_messages_read_back() {
        let wire = b"(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 300 (\"Mon, 1 Jan 2024 00:00:00 +0000\" {3}\r\nh\xc3\xa9 ((\"A\" NIL \"a\" \"b.example\")) NIL NIL NIL NIL NIL NIL \"<id@x>\") (\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"8bit\" 10 1 NIL (\"inline\" NIL) (\"en\" \"de\") \"loc\") 12 NIL (\"attachment\" (\"filename\" \"m.eml\")) \"en\" NIL)";
        let b = BodyStructure::decode(wire).unwrap();
        let BodyStructure::Single {
            specific:
                SinglePart::Message {
                    envelope,
                    body,
                    lines,
                },
            extension,
            ..
        } = &b
        else {
            panic!("not a message: {b:?}")
        };
        assert_eq!(envelope.subject.as_deref(), Some("h\u{e9}".as_bytes()));
        assert_eq!(envelope.from[0].host.as_deref(), Some(&b"b.example"[..]));
        assert_eq!(envelope.message_id.as_deref(), Some(&b"<id@x>"[..]));
        assert!(matches!(
            **body,
            BodyStructure::Single {
                specific: SinglePart::Text { lines: 1 },
                ..
            }
        ));
        assert_eq!(*lines, 12);
        assert_eq!(extension.language, ["en"]);
        assert_eq!(BodyStructure::decode(&b.encode()).unwrap(), b);
    }

    #[test]
    fn bad_input_is_an_error() {
        for wire in [
            &b""[..],
            b"(",
            b"(\"text\" \"plain\" NIL NIL NIL \"7bit\" 99999999999999999999999 1)",
            b"(\"text\" \"plain\" NIL NIL NIL \"7bit\" {999}\r\n",
            b"(\"text\" \"plain\" NIL NIL NIL \"7bit\" 1 2 NIL NIL NIL NIL NIL)",
            b"((\"text\" \"plain\" NIL NIL NIL \"7bit\" 1 2) \"mixed\" (\"a\"))",
        ] {
            assert!(BodyStructure::decode(wire).is_err(), "{wire:?}");
        }
        let deep = format!("{}{}", "(".repeat(200), ")".repeat(200));
        assert_eq!(
            BodyStructure::decode(deep.as_bytes()),
            Err(DecodeError::TooDeep)
        );
    }
}
