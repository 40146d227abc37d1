//! FETCH attributes: sections (`BODY[1.2.HEADER.FIELDS (...)]`) and partials.

use crate::command::{FetchAttr, Section, SectionText};

use super::cursor::{Cursor, Fail, NAME_MAX, R, upper};

impl Cursor<'_> {
    pub(super) fn header_list(&mut self) -> R<Vec<String>> {
        self.expect(b'(', "Expected a header list")?;
        let mut names = vec![self.astring()?];
        while self.eat(b' ') {
            names.push(self.astring()?);
        }
        self.expect(b')', "Expected ) after header names")?;
        if names
            .iter()
            .any(|n| n.is_empty() || n.bytes().any(|b| b <= b' ' || b == b':' || b > 126))
        {
            return Err(Fail("Invalid header field name"));
        }
        Ok(names)
    }

    pub(super) fn section(&mut self) -> R<Section> {
        self.expect(b'[', "Expected [")?;
        let mut section = Section::default();
        if self.eat(b']') {
            return Ok(section);
        }
        loop {
            if matches!(self.peek(), Some(b'1'..=b'9')) {
                section.part.push(self.nz_number()?);
                if self.eat(b'.') {
                    continue;
                }
                break;
            }
            let mut buf = [0; NAME_MAX];
            let word = upper(
                self.take_while(|b| b.is_ascii_alphabetic() || b == b'.'),
                &mut buf,
            );
            section.text = Some(match word {
                b"HEADER" => SectionText::Header,
                b"TEXT" => SectionText::Text,
                b"MIME" if !section.part.is_empty() => SectionText::Mime,
                b"HEADER.FIELDS" => {
                    self.sp()?;
                    SectionText::HeaderFields(self.header_list()?)
                }
                b"HEADER.FIELDS.NOT" => {
                    self.sp()?;
                    SectionText::HeaderFieldsNot(self.header_list()?)
                }
                _ => return Err(Fail("Invalid section")),
            });
            break;
        }
        self.expect(b']', "Expected ] after section")?;
        Ok(section)
    }

    /// `<offset.length>` after a section, if there.
    pub(super) fn partial(&mut self) -> R<Option<(u32, u32)>> {
        if !self.eat(b'<') {
            return Ok(None);
        }
        let offset = self.number()?;
        self.expect(b'.', "Invalid partial")?;
        let len = self.nz_number()?;
        self.expect(b'>', "Invalid partial")?;
        Ok(Some((offset, len)))
    }

    pub(super) fn fetch_attr(&mut self, out: &mut Vec<FetchAttr>) -> R<()> {
        let mut buf = [0; NAME_MAX];
        let word = upper(
            self.take_while(|b| b.is_ascii_alphanumeric() || b == b'.'),
            &mut buf,
        );
        let attr = match word {
            b"ALL" | b"FAST" | b"FULL" => {
                out.extend([
                    FetchAttr::Flags,
                    FetchAttr::InternalDate,
                    FetchAttr::Rfc822Size,
                ]);
                if word != b"FAST" {
                    out.push(FetchAttr::Envelope);
                }
                if word == b"FULL" {
                    out.push(FetchAttr::Body);
                }
                return Ok(());
            }
            b"ENVELOPE" => FetchAttr::Envelope,
            b"FLAGS" => FetchAttr::Flags,
            b"INTERNALDATE" => FetchAttr::InternalDate,
            b"RFC822" => FetchAttr::Rfc822,
            b"RFC822.HEADER" => FetchAttr::Rfc822Header,
            b"RFC822.SIZE" => FetchAttr::Rfc822Size,
            b"RFC822.TEXT" => FetchAttr::Rfc822Text,
            b"UID" => FetchAttr::Uid,
            b"BODYSTRUCTURE" => FetchAttr::BodyStructure,
            b"MODSEQ" => FetchAttr::ModSeq,
            b"BODY" | b"BODY.PEEK" if self.peek() == Some(b'[') => {
                let section = self.section()?;
                let partial = self.partial()?;
                FetchAttr::BodySection {
                    peek: word == b"BODY.PEEK",
                    section,
                    partial,
                }
            }
            b"BODY" => FetchAttr::Body,
            b"BINARY" | b"BINARY.PEEK" | b"BINARY.SIZE" => {
                // RFC 3516: `[` part numbers `]`, no HEADER/TEXT.
                self.expect(b'[', "Expected [")?;
                let mut part = Vec::new();
                if !self.eat(b']') {
                    loop {
                        part.push(self.nz_number()?);
                        if self.eat(b']') {
                            break;
                        }
                        self.expect(b'.', "Invalid BINARY section")?;
                    }
                }
                if word == b"BINARY.SIZE" {
                    FetchAttr::BinarySize { part }
                } else {
                    let partial = self.partial()?;
                    FetchAttr::Binary {
                        peek: word == b"BINARY.PEEK",
                        part,
                        partial,
                    }
                }
            }
            _ => return Err(Fail("Unknown FETCH attribute")),
        };
        out.push(attr);
        Ok(())
    }
}
