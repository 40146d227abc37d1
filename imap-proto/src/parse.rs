//! The command parser. It runs on one complete command (the framer has already collected the
//! line and any literals inside it), so it never asks for more input.
//!
//! Written as a recursive-descent cursor rather than with nom combinators: IMAP interleaves
//! literals with the line, nests SEARCH keys arbitrarily deep (bounded here), and needs the tag
//! even from a command that fails to parse, all of which a cursor states directly.

use bytes::Bytes;
use thiserror::Error;

use crate::command::{
    Command, FetchAttr, ListReturn, ListSelection, Mailbox, QResync, SearchKey, Section,
    SectionText, SelectParams, SortCriterion, SortKey, StatusItem, StoreMode,
};
use crate::types::{
    Atom, Date, DateTime, Flag, MONTHS, Secret, SeqNumber, SequenceSet, Tag, decode_mutf7,
    is_astring_char, is_atom_char, is_tag_char,
};

/// Deepest nesting of SEARCH key parentheses and NOT/OR accepted.
pub const MAX_NESTING: usize = 10;

/// Why a command was refused (answered `BAD`).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{reason}")]
pub struct ParseError {
    /// The tag, when the command got that far.
    pub tag: Option<Tag>,
    /// What was wrong, shown to the client.
    pub reason: &'static str,
    /// The command is well formed but names what cannot exist (a mailbox name that is not
    /// valid modified UTF-7): answer `NO`, not `BAD` (RFC 3501 §5.1.3 leaves the name to the
    /// server; clients treat `BAD` as their own bug).
    pub refusal: bool,
}

/// Why a mailbox name is refused.
const INVALID_NAME: &str = "Invalid modified UTF-7 in mailbox name";

#[derive(Debug)]
struct Fail(&'static str);

type R<T> = Result<T, Fail>;

/// The parts of an APPEND command before its message literal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendHead {
    /// The tag.
    pub tag: Tag,
    /// The destination.
    pub mailbox: Mailbox,
    /// Flags to set.
    pub flags: Vec<Flag>,
    /// Internal date to record.
    pub date: Option<DateTime>,
    /// The literal's length.
    pub size: u64,
    /// Whether the literal is synchronising (the client waits for `+`).
    pub synchronizing: bool,
    /// `UTF8 (~{n})` (RFC 6855 §4): a message that may have UTF-8 header fields; a `)`
    /// follows the literal.
    pub utf8: bool,
}

/// How to read mailbox names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParseOptions {
    /// Mailbox names are UTF-8 (UTF8=ACCEPT enabled, RFC 6855 §3), not modified UTF-7.
    pub utf8_names: bool,
}

struct Cursor<'a> {
    input: &'a [u8],
    pos: usize,
    utf8_names: bool,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn rest(&self) -> &'a [u8] {
        &self.input[self.pos..]
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, b: u8, why: &'static str) -> R<()> {
        if self.eat(b) { Ok(()) } else { Err(Fail(why)) }
    }

    fn sp(&mut self) -> R<()> {
        match self.peek() {
            Some(b' ') => {
                self.pos += 1;
                Ok(())
            }
            // An atom ends at the first octet it may not hold; an 8-bit one is the common
            // case (a UTF-8 user name sent bare), so say what to do instead.
            Some(b) if b >= 0x80 => Err(Fail("8-bit text must be a quoted string or a literal")),
            Some(b) if b < 0x20 || b == 0x7f => Err(Fail("Control character in command")),
            _ => Err(Fail("Missing space")),
        }
    }

    /// A case-insensitive keyword followed by a delimiter (not more atom characters).
    fn keyword(&mut self, word: &str) -> bool {
        let rest = self.rest();
        let n = word.len();
        if rest.len() >= n
            && rest[..n].eq_ignore_ascii_case(word.as_bytes())
            && !rest
                .get(n)
                .is_some_and(|&b| is_atom_char(b) && b != b'[' && b != b'<' && b != b'.')
        {
            self.pos += n;
            true
        } else {
            false
        }
    }

    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a [u8] {
        let start = self.pos;
        while self.peek().is_some_and(&f) {
            self.pos += 1;
        }
        &self.input[start..self.pos]
    }

    fn atom(&mut self) -> R<&'a str> {
        let a = self.take_while(is_atom_char);
        if a.is_empty() {
            return Err(Fail("Expected an atom"));
        }
        std::str::from_utf8(a).map_err(|_| Fail("Invalid characters"))
    }

    fn number64(&mut self) -> R<u64> {
        let d = self.take_while(|b| b.is_ascii_digit());
        if d.is_empty() || d.len() > 19 {
            return Err(Fail("Expected a number"));
        }
        std::str::from_utf8(d)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or(Fail("Expected a number"))
    }

    fn number(&mut self) -> R<u32> {
        u32::try_from(self.number64()?).map_err(|_| Fail("Number too large"))
    }

    fn nz_number(&mut self) -> R<u32> {
        match self.number()? {
            0 => Err(Fail("Expected a non-zero number")),
            n => Ok(n),
        }
    }

    fn quoted(&mut self) -> R<Vec<u8>> {
        self.expect(b'"', "Expected a quoted string")?;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None | Some(b'\r' | b'\n' | 0) => return Err(Fail("Unterminated quoted string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(c @ (b'"' | b'\\')) => {
                            out.push(c);
                            self.pos += 1;
                        }
                        _ => return Err(Fail("Invalid escape in quoted string")),
                    }
                }
                Some(_) => {
                    let run = self.take_while(|b| !matches!(b, b'"' | b'\\' | b'\r' | b'\n' | 0));
                    out.extend_from_slice(run);
                }
            }
        }
    }

    /// `{n}` or `{n+}`, the line end, and the n octets (the framer guaranteed they are there).
    fn literal(&mut self) -> R<&'a [u8]> {
        self.expect(b'{', "Expected a literal")?;
        let n = self.number64()?;
        self.eat(b'+');
        self.expect(b'}', "Invalid literal")?;
        self.eat(b'\r');
        self.expect(b'\n', "Expected a line end after a literal")?;
        let n = usize::try_from(n).map_err(|_| Fail("Literal too large"))?;
        if self.rest().len() < n {
            return Err(Fail("Literal shorter than announced"));
        }
        let data = &self.input[self.pos..self.pos + n];
        self.pos += n;
        Ok(data)
    }

    fn string_bytes(&mut self) -> R<Vec<u8>> {
        match self.peek() {
            Some(b'"') => self.quoted(),
            Some(b'{') => Ok(self.literal()?.to_vec()),
            _ => Err(Fail("Expected a string")),
        }
    }

    fn astring_bytes(&mut self) -> R<Vec<u8>> {
        match self.peek() {
            Some(b'"' | b'{') => self.string_bytes(),
            _ => {
                // With UTF-8 names, 8-bit octets in atoms too: clients such as Python's imaplib
                // send UTF-8 mailbox names unquoted.
                let utf8 = self.utf8_names;
                let a = self.take_while(|b| is_astring_char(b) || (utf8 && b >= 0x80));
                if a.is_empty() {
                    Err(Fail("Expected a string"))
                } else {
                    Ok(a.to_vec())
                }
            }
        }
    }

    fn astring(&mut self) -> R<String> {
        String::from_utf8(self.astring_bytes()?).map_err(|_| Fail("Invalid UTF-8 in string"))
    }

    fn string(&mut self) -> R<String> {
        String::from_utf8(self.string_bytes()?).map_err(|_| Fail("Invalid UTF-8 in string"))
    }

    fn mailbox(&mut self) -> R<Mailbox> {
        let raw = self.astring()?;
        if self.utf8_names {
            return Ok(Mailbox::new(raw));
        }
        mailbox_name(&raw)
    }

    /// A LIST pattern: list-chars (atom chars, `%`, `*`, `]`) or a string.
    fn list_mailbox(&mut self) -> R<String> {
        let raw = match self.peek() {
            Some(b'"' | b'{') => self.string()?,
            _ => {
                let utf8 = self.utf8_names;
                let a = self.take_while(|b| {
                    is_astring_char(b) || b == b'%' || b == b'*' || (utf8 && b >= 0x80)
                });
                if a.is_empty() {
                    return Err(Fail("Expected a mailbox pattern"));
                }
                String::from_utf8(a.to_vec()).map_err(|_| Fail("Invalid UTF-8"))?
            }
        };
        if self.utf8_names {
            return Ok(raw);
        }
        decode_mutf7(&raw).ok_or(Fail(INVALID_NAME))
    }

    fn flag(&mut self) -> R<Flag> {
        let start = self.pos;
        self.eat(b'\\');
        self.take_while(is_atom_char);
        let text =
            std::str::from_utf8(&self.input[start..self.pos]).map_err(|_| Fail("Invalid flag"))?;
        Flag::parse(text).map_err(|_| Fail("Invalid flag"))
    }

    fn flag_list(&mut self) -> R<Vec<Flag>> {
        self.expect(b'(', "Expected a flag list")?;
        let mut flags = Vec::new();
        if self.eat(b')') {
            return Ok(flags);
        }
        loop {
            flags.push(self.flag()?);
            if self.eat(b')') {
                return Ok(flags);
            }
            self.sp()?;
        }
    }

    fn seq_number(&mut self) -> R<SeqNumber> {
        if self.eat(b'*') {
            Ok(SeqNumber::Largest)
        } else {
            Ok(SeqNumber::Value(self.nz_number()?))
        }
    }

    fn sequence_set(&mut self) -> R<SequenceSet> {
        // RFC 5182 (and RFC 9051): `$` alone stands for the saved search result.
        if self.eat(b'$') {
            return Ok(SequenceSet::saved());
        }
        let mut ranges = Vec::new();
        loop {
            let a = self.seq_number()?;
            let b = if self.eat(b':') {
                self.seq_number()?
            } else {
                a
            };
            ranges.push((a, b));
            if !self.eat(b',') {
                break;
            }
        }
        SequenceSet::new(ranges).map_err(|_| Fail("Invalid sequence set"))
    }

    fn month(&mut self) -> R<u8> {
        let rest = self.rest();
        let m = rest.get(..3).ok_or(Fail("Invalid date"))?;
        let i = MONTHS
            .iter()
            .position(|name| name.as_bytes().eq_ignore_ascii_case(m))
            .ok_or(Fail("Invalid month"))?;
        self.pos += 3;
        Ok(i as u8 + 1)
    }

    fn date(&mut self) -> R<Date> {
        let quoted = self.eat(b'"');
        let day = self.number()?;
        self.expect(b'-', "Invalid date")?;
        let month = self.month()?;
        self.expect(b'-', "Invalid date")?;
        let year = self.number()?;
        if quoted {
            self.expect(b'"', "Invalid date")?;
        }
        valid_date(year, month, day)
    }

    fn two_digits(&mut self) -> R<u8> {
        let d = self.rest().get(..2).ok_or(Fail("Invalid time"))?;
        if !d.iter().all(u8::is_ascii_digit) {
            return Err(Fail("Invalid time"));
        }
        self.pos += 2;
        Ok((d[0] - b'0') * 10 + (d[1] - b'0'))
    }

    fn date_time(&mut self) -> R<DateTime> {
        self.expect(b'"', "Invalid date-time")?;
        self.eat(b' ');
        let day = self.number()?;
        self.expect(b'-', "Invalid date-time")?;
        let month = self.month()?;
        self.expect(b'-', "Invalid date-time")?;
        let year = self.number()?;
        self.sp()?;
        let hour = self.two_digits()?;
        self.expect(b':', "Invalid time")?;
        let minute = self.two_digits()?;
        self.expect(b':', "Invalid time")?;
        let second = self.two_digits()?;
        self.sp()?;
        let sign: i16 = match self.peek() {
            Some(b'+') => 1,
            Some(b'-') => -1,
            _ => return Err(Fail("Invalid zone")),
        };
        self.pos += 1;
        let zh = self.two_digits()?;
        let zm = self.two_digits()?;
        self.expect(b'"', "Invalid date-time")?;
        if hour > 23 || minute > 59 || second > 60 || zm > 59 {
            return Err(Fail("Invalid time"));
        }
        Ok(DateTime {
            date: valid_date(year, month, day)?,
            hour,
            minute,
            second,
            zone_minutes: sign * (i16::from(zh) * 60 + i16::from(zm)),
        })
    }

    fn end(&mut self) -> R<()> {
        self.eat(b'\r');
        if self.eat(b'\n') && self.pos == self.input.len() {
            Ok(())
        } else {
            Err(Fail("Unexpected characters at the end of the command"))
        }
    }

    fn search_key(&mut self, depth: usize) -> R<SearchKey> {
        if depth > MAX_NESTING {
            return Err(Fail("Search keys nested too deeply"));
        }
        if self.eat(b'(') {
            let mut keys = vec![self.search_key(depth + 1)?];
            while self.eat(b' ') {
                keys.push(self.search_key(depth + 1)?);
            }
            self.expect(b')', "Expected ) after search keys")?;
            return Ok(SearchKey::And(keys));
        }
        if matches!(self.peek(), Some(b'0'..=b'9' | b'*' | b'$')) {
            return Ok(SearchKey::SequenceSet(self.sequence_set()?));
        }
        let word = self.atom()?.to_ascii_uppercase();
        let arg_string = |c: &mut Self| -> R<String> {
            c.sp()?;
            c.astring()
        };
        Ok(match word.as_str() {
            "ALL" => SearchKey::All,
            "ANSWERED" => SearchKey::Answered,
            "DELETED" => SearchKey::Deleted,
            "DRAFT" => SearchKey::Draft,
            "FLAGGED" => SearchKey::Flagged,
            "NEW" => SearchKey::New,
            "OLD" => SearchKey::Old,
            "RECENT" => SearchKey::Recent,
            "SEEN" => SearchKey::Seen,
            "UNANSWERED" => SearchKey::Unanswered,
            "UNDELETED" => SearchKey::Undeleted,
            "UNDRAFT" => SearchKey::Undraft,
            "UNFLAGGED" => SearchKey::Unflagged,
            "UNSEEN" => SearchKey::Unseen,
            "BCC" => SearchKey::Bcc(arg_string(self)?),
            "BODY" => SearchKey::Body(arg_string(self)?),
            "CC" => SearchKey::Cc(arg_string(self)?),
            "FROM" => SearchKey::From(arg_string(self)?),
            "SUBJECT" => SearchKey::Subject(arg_string(self)?),
            "TEXT" => SearchKey::Text(arg_string(self)?),
            "TO" => SearchKey::To(arg_string(self)?),
            "HEADER" => {
                let name = arg_string(self)?;
                SearchKey::Header(name, arg_string(self)?)
            }
            "KEYWORD" | "UNKEYWORD" => {
                self.sp()?;
                let k = Atom::new(self.atom()?).map_err(|_| Fail("Invalid keyword"))?;
                if word == "KEYWORD" {
                    SearchKey::Keyword(k)
                } else {
                    SearchKey::Unkeyword(k)
                }
            }
            "LARGER" | "SMALLER" => {
                self.sp()?;
                let n = self.number64()?;
                if word == "LARGER" {
                    SearchKey::Larger(n)
                } else {
                    SearchKey::Smaller(n)
                }
            }
            "BEFORE" | "ON" | "SINCE" | "SENTBEFORE" | "SENTON" | "SENTSINCE" => {
                self.sp()?;
                let d = self.date()?;
                match word.as_str() {
                    "BEFORE" => SearchKey::Before(d),
                    "ON" => SearchKey::On(d),
                    "SINCE" => SearchKey::Since(d),
                    "SENTBEFORE" => SearchKey::SentBefore(d),
                    "SENTON" => SearchKey::SentOn(d),
                    _ => SearchKey::SentSince(d),
                }
            }
            "NOT" => {
                self.sp()?;
                SearchKey::Not(Box::new(self.search_key(depth + 1)?))
            }
            "OR" => {
                self.sp()?;
                let a = self.search_key(depth + 1)?;
                self.sp()?;
                let b = self.search_key(depth + 1)?;
                SearchKey::Or(Box::new(a), Box::new(b))
            }
            "UID" => {
                self.sp()?;
                SearchKey::Uid(self.sequence_set()?)
            }
            "MODSEQ" => {
                self.sp()?;
                let entry = if matches!(self.peek(), Some(b'"' | b'{')) {
                    let name = self.string()?;
                    self.sp()?;
                    let kind = self.atom()?.to_ascii_lowercase();
                    if !matches!(kind.as_str(), "priv" | "shared" | "all") {
                        return Err(Fail("Expected priv, shared or all"));
                    }
                    self.sp()?;
                    Some((
                        name,
                        Atom::new(kind).map_err(|_| Fail("Invalid entry type"))?,
                    ))
                } else {
                    None
                };
                SearchKey::ModSeq {
                    modseq: self.mod_sequence()?,
                    entry,
                }
            }
            _ => return Err(Fail("Unknown search key")),
        })
    }

    fn header_list(&mut self) -> R<Vec<String>> {
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

    fn section(&mut self) -> R<Section> {
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
            let word = self
                .take_while(|b| b.is_ascii_alphabetic() || b == b'.')
                .to_ascii_uppercase();
            section.text = Some(match word.as_slice() {
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
    fn partial(&mut self) -> R<Option<(u32, u32)>> {
        if !self.eat(b'<') {
            return Ok(None);
        }
        let offset = self.number()?;
        self.expect(b'.', "Invalid partial")?;
        let len = self.nz_number()?;
        self.expect(b'>', "Invalid partial")?;
        Ok(Some((offset, len)))
    }

    fn fetch_attr(&mut self, out: &mut Vec<FetchAttr>) -> R<()> {
        let word = self
            .take_while(|b| b.is_ascii_alphanumeric() || b == b'.')
            .to_ascii_uppercase();
        let attr = match word.as_slice() {
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

    /// APPEND's arguments before its message: ` mailbox [flags] [date-time] `.
    fn append_args(&mut self) -> R<(Mailbox, Vec<Flag>, Option<DateTime>)> {
        self.sp()?;
        let mailbox = self.mailbox()?;
        self.sp()?;
        let flags = if self.peek() == Some(b'(') {
            let f = self.flag_list()?;
            self.sp()?;
            f
        } else {
            Vec::new()
        };
        let date = if self.peek() == Some(b'"') {
            let d = self.date_time()?;
            self.sp()?;
            Some(d)
        } else {
            None
        };
        Ok((mailbox, flags, date))
    }

    /// `mod-sequence-value`: 1 to 2^63-1 (RFC 7162 §7); `zero_ok` for `mod-sequence-valzer`.
    fn mod_sequence_value(&mut self, zero_ok: bool) -> R<u64> {
        let n = self.number64()?;
        if n > i64::MAX as u64 || (n == 0 && !zero_ok) {
            return Err(Fail("MODSEQ out of range"));
        }
        Ok(n)
    }

    fn mod_sequence(&mut self) -> R<u64> {
        self.mod_sequence_value(true)
    }

    /// SELECT/EXAMINE parameters (RFC 7162 §3.1.8, §3.2.5).
    fn select_params(&mut self) -> R<SelectParams> {
        let mut params = SelectParams::default();
        if !self.eat(b' ') {
            return Ok(params);
        }
        self.expect(b'(', "Expected (")?;
        loop {
            match self.atom()?.to_ascii_uppercase().as_str() {
                "CONDSTORE" => params.condstore = true,
                "QRESYNC" if params.qresync.is_none() => {
                    self.sp()?;
                    self.expect(b'(', "Expected (")?;
                    let uid_validity = self.nz_number()?;
                    self.sp()?;
                    let modseq = self.mod_sequence_value(false)?;
                    let mut known_uids = None;
                    let mut seq_match = None;
                    if self.eat(b' ') {
                        if self.peek() != Some(b'(') {
                            known_uids = Some(self.sequence_set()?);
                            self.eat(b' ');
                        }
                        if self.eat(b'(') {
                            let seqs = self.sequence_set()?;
                            self.sp()?;
                            let uids = self.sequence_set()?;
                            self.expect(b')', "Expected )")?;
                            seq_match = Some((seqs, uids));
                        }
                    }
                    self.expect(b')', "Expected )")?;
                    params.qresync = Some(QResync {
                        uid_validity,
                        modseq,
                        known_uids,
                        seq_match,
                    });
                }
                _ => return Err(Fail("Unknown SELECT parameter")),
            }
            if self.eat(b')') {
                return Ok(params);
            }
            self.sp()?;
        }
    }

    fn status_items(&mut self) -> R<Vec<StatusItem>> {
        self.expect(b'(', "Expected status items")?;
        let mut items = Vec::new();
        loop {
            let item = match self.atom()?.to_ascii_uppercase().as_str() {
                "MESSAGES" => StatusItem::Messages,
                "RECENT" => StatusItem::Recent,
                "UIDNEXT" => StatusItem::UidNext,
                "UIDVALIDITY" => StatusItem::UidValidity,
                "UNSEEN" => StatusItem::Unseen,
                "DELETED" => StatusItem::Deleted,
                "SIZE" => StatusItem::Size,
                "HIGHESTMODSEQ" => StatusItem::HighestModSeq,
                _ => return Err(Fail("Unknown status item")),
            };
            items.push(item);
            if self.eat(b')') {
                return Ok(items);
            }
            self.sp()?;
        }
    }
}

fn valid_date(year: u32, month: u8, day: u32) -> R<Date> {
    let leap = (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
    let days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if !(1..=9999).contains(&year) || day == 0 || day > days {
        return Err(Fail("Invalid date"));
    }
    Ok(Date {
        year: year as u16,
        month,
        day: day as u8,
    })
}

fn mailbox_name(raw: &str) -> R<Mailbox> {
    let decoded = decode_mutf7(raw).ok_or(Fail(INVALID_NAME))?;
    Ok(Mailbox::new(decoded))
}

fn tag<'a>(c: &mut Cursor<'a>) -> Option<Tag> {
    let t = c.take_while(is_tag_char);
    std::str::from_utf8(t).ok().and_then(|t| Tag::new(t).ok())
}

/// Parses one complete command, literals included, ending with its CRLF (or bare LF), with
/// mailbox names in modified UTF-7.
pub fn parse_command(frame: &[u8]) -> Result<(Tag, Command), ParseError> {
    parse_command_with(frame, ParseOptions::default())
}

/// [`parse_command`], reading mailbox names as `options` say.
pub fn parse_command_with(
    frame: &[u8],
    options: ParseOptions,
) -> Result<(Tag, Command), ParseError> {
    let mut c = Cursor {
        input: frame,
        pos: 0,
        utf8_names: options.utf8_names,
    };
    let Some(tag) = tag(&mut c) else {
        return Err(ParseError {
            tag: None,
            reason: "Missing or invalid tag",
            refusal: false,
        });
    };
    match command(&mut c, &tag).and_then(|cmd| c.end().map(|()| cmd)) {
        Ok(cmd) => Ok((tag, cmd)),
        Err(Fail(reason)) => Err(ParseError {
            tag: Some(tag),
            reason,
            refusal: reason == INVALID_NAME,
        }),
    }
}

/// The tag of a frame, if it starts with one (used to answer a frame that cannot be parsed).
pub fn frame_tag(frame: &[u8]) -> Option<Tag> {
    let mut c = Cursor {
        input: frame,
        pos: 0,
        utf8_names: false,
    };
    let t = tag(&mut c)?;
    (c.peek() == Some(b' ')).then_some(t)
}

/// Parses the head of an APPEND up to and including its message literal's announcement
/// (`tag APPEND mailbox [flags] [date] {n}` and the line end). `None` if the frame is not an
/// APPEND; `Err` if it is one with bad syntax.
pub fn parse_append_head(
    frame: &[u8],
    options: ParseOptions,
) -> Option<Result<AppendHead, ParseError>> {
    let mut c = Cursor {
        input: frame,
        pos: 0,
        utf8_names: options.utf8_names,
    };
    let tag = tag(&mut c)?;
    if !(c.eat(b' ') && c.keyword("APPEND")) {
        return None;
    }
    let result = (|| -> R<AppendHead> {
        let (mailbox, flags, date) = c.append_args()?;
        // RFC 6855 §4: `UTF8 (~{n}...)`, only once the client enabled UTF8=ACCEPT.
        let utf8 = c.keyword("UTF8");
        if utf8 {
            if !options.utf8_names {
                return Err(Fail("APPEND UTF8 needs ENABLE UTF8=ACCEPT"));
            }
            c.sp()?;
            c.expect(b'(', "Expected (")?;
            c.expect(b'~', "Expected a literal8")?;
        } else {
            // RFC 3516 (IMAP4rev2): a literal8, which may hold NULs; stored as it comes.
            c.eat(b'~');
        }
        c.expect(b'{', "Expected the message literal")?;
        let size = c.number64()?;
        let synchronizing = !c.eat(b'+');
        c.expect(b'}', "Invalid literal")?;
        c.end()?;
        Ok(AppendHead {
            tag: tag.clone(),
            mailbox,
            flags,
            date,
            size,
            synchronizing,
            utf8,
        })
    })();
    Some(result.map_err(|Fail(reason)| ParseError {
        tag: Some(tag),
        reason,
        refusal: reason == INVALID_NAME,
    }))
}

fn no_args(c: &mut Cursor<'_>, cmd: Command) -> R<Command> {
    if matches!(c.peek(), Some(b'\r' | b'\n')) {
        Ok(cmd)
    } else {
        Err(Fail("This command takes no arguments"))
    }
}

fn command(c: &mut Cursor<'_>, _tag: &Tag) -> R<Command> {
    c.sp()?;
    let name = c.atom()?.to_ascii_uppercase();
    match name.as_str() {
        "CAPABILITY" => no_args(c, Command::Capability),
        "NOOP" => no_args(c, Command::Noop),
        "LOGOUT" => no_args(c, Command::Logout),
        "STARTTLS" => no_args(c, Command::StartTls),
        "NAMESPACE" => no_args(c, Command::Namespace),
        "IDLE" => no_args(c, Command::Idle),
        "CHECK" => no_args(c, Command::Check),
        "CLOSE" => no_args(c, Command::Close),
        "UNSELECT" => no_args(c, Command::Unselect),
        "EXPUNGE" => no_args(c, Command::Expunge),
        "AUTHENTICATE" => authenticate(c),
        "LOGIN" => {
            c.sp()?;
            let username = c.astring()?;
            c.sp()?;
            let password = Secret::new(c.astring()?);
            Ok(Command::Login { username, password })
        }
        "ENABLE" => enable(c),
        "ID" => id(c),
        "SELECT" | "EXAMINE" => {
            c.sp()?;
            let mailbox = c.mailbox()?;
            let params = c.select_params()?;
            Ok(if name == "SELECT" {
                Command::Select(mailbox, params)
            } else {
                Command::Examine(mailbox, params)
            })
        }
        "CREATE" => {
            c.sp()?;
            let mailbox = c.mailbox()?;
            let mut special_use = Vec::new();
            if c.eat(b' ') {
                c.expect(b'(', "Expected (")?;
                if !c.keyword("USE") {
                    return Err(Fail("Unknown CREATE parameter"));
                }
                c.sp()?;
                for flag in c.flag_list()? {
                    match flag {
                        Flag::Extension(a) => special_use.push(a),
                        _ => return Err(Fail("Invalid special-use attribute")),
                    }
                }
                c.expect(b')', "Expected )")?;
            }
            Ok(Command::Create {
                mailbox,
                special_use,
            })
        }
        "DELETE" | "SUBSCRIBE" | "UNSUBSCRIBE" => {
            c.sp()?;
            let mailbox = c.mailbox()?;
            Ok(match name.as_str() {
                "DELETE" => Command::Delete(mailbox),
                "SUBSCRIBE" => Command::Subscribe(mailbox),
                _ => Command::Unsubscribe(mailbox),
            })
        }
        "RENAME" => {
            c.sp()?;
            let from = c.mailbox()?;
            c.sp()?;
            let to = c.mailbox()?;
            Ok(Command::Rename { from, to })
        }
        "LSUB" => {
            c.sp()?;
            let reference = c.list_mailbox()?;
            c.sp()?;
            let pattern = c.list_mailbox()?;
            Ok(Command::List {
                reference,
                patterns: vec![pattern],
                selection: ListSelection {
                    subscribed: true,
                    ..ListSelection::default()
                },
                returns: ListReturn::default(),
                lsub: true,
            })
        }
        "LIST" => list(c),
        "STATUS" => {
            c.sp()?;
            let mailbox = c.mailbox()?;
            c.sp()?;
            let items = c.status_items()?;
            Ok(Command::Status { mailbox, items })
        }
        "APPEND" => {
            let (mailbox, flags, date) = c.append_args()?;
            let message = Bytes::copy_from_slice(c.literal()?);
            Ok(Command::Append {
                mailbox,
                flags,
                date,
                message,
            })
        }
        "SEARCH" | "FETCH" | "STORE" | "COPY" | "MOVE" => sequence_command(c, &name, false),
        "SORT" => sort(c, false),
        "THREAD" => thread(c, false),
        "GETQUOTA" => {
            c.sp()?;
            Ok(Command::GetQuota(c.astring()?))
        }
        "GETQUOTAROOT" => {
            c.sp()?;
            Ok(Command::GetQuotaRoot(c.mailbox()?))
        }
        "SETQUOTA" => set_quota(c),
        "UID" => {
            c.sp()?;
            let sub = c.atom()?.to_ascii_uppercase();
            match sub.as_str() {
                "SEARCH" | "FETCH" | "STORE" | "COPY" | "MOVE" => sequence_command(c, &sub, true),
                "SORT" => sort(c, true),
                "THREAD" => thread(c, true),
                "EXPUNGE" => {
                    c.sp()?;
                    Ok(Command::UidExpunge(c.sequence_set()?))
                }
                _ => Err(Fail("Unknown UID command")),
            }
        }
        _ => Err(Fail("Unknown command")),
    }
}

/// `AUTHENTICATE mechanism [initial-response]` (RFC 4959 SASL-IR).
fn authenticate(c: &mut Cursor<'_>) -> R<Command> {
    c.sp()?;
    let mechanism = c.atom()?.to_ascii_uppercase();
    let initial_response = if c.eat(b' ') {
        let ir = c.take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
        if ir.is_empty() {
            return Err(Fail("Invalid initial response"));
        }
        Some(Secret::new(String::from_utf8_lossy(ir).into_owned()))
    } else {
        None
    };
    Ok(Command::Authenticate {
        mechanism,
        initial_response,
    })
}

/// `ID ("key" "value" ...)` or `ID NIL` (RFC 2971).
fn id(c: &mut Cursor<'_>) -> R<Command> {
    c.sp()?;
    if c.keyword("NIL") {
        return Ok(Command::Id(None));
    }
    c.expect(b'(', "Expected ( or NIL")?;
    let mut fields = Vec::new();
    if !c.eat(b')') {
        loop {
            let key = c.string()?;
            c.sp()?;
            let value = if c.keyword("NIL") {
                None
            } else {
                Some(c.string()?)
            };
            fields.push((key, value));
            if fields.len() > 30 {
                return Err(Fail("Too many ID fields"));
            }
            if c.eat(b')') {
                break;
            }
            c.sp()?;
        }
    }
    Ok(Command::Id(Some(fields)))
}

/// `SETQUOTA root (resource limit ...)` (RFC 9208).
fn set_quota(c: &mut Cursor<'_>) -> R<Command> {
    c.sp()?;
    let root = c.astring()?;
    c.sp()?;
    c.expect(b'(', "Expected (")?;
    let mut limits = Vec::new();
    if !c.eat(b')') {
        loop {
            let resource = Atom::new(c.atom()?.to_ascii_uppercase())
                .map_err(|_| Fail("Invalid resource name"))?;
            c.sp()?;
            limits.push((resource, c.number64()?));
            if c.eat(b')') {
                break;
            }
            c.sp()?;
        }
    }
    Ok(Command::SetQuota { root, limits })
}

/// `ENABLE capability...` (RFC 5161).
fn enable(c: &mut Cursor<'_>) -> R<Command> {
    let mut caps = Vec::new();
    while c.eat(b' ') {
        caps.push(
            Atom::new(c.atom()?.to_ascii_uppercase()).map_err(|_| Fail("Invalid capability"))?,
        );
    }
    if caps.is_empty() {
        return Err(Fail("ENABLE needs at least one capability"));
    }
    Ok(Command::Enable(caps))
}

fn sort(c: &mut Cursor<'_>, uid: bool) -> R<Command> {
    c.sp()?;
    c.expect(b'(', "Expected sort criteria")?;
    let mut criteria = Vec::new();
    loop {
        let mut word = c.atom()?.to_ascii_uppercase();
        let reverse = word == "REVERSE";
        if reverse {
            c.sp()?;
            word = c.atom()?.to_ascii_uppercase();
        }
        let key = match word.as_str() {
            "ARRIVAL" => SortKey::Arrival,
            "CC" => SortKey::Cc,
            "DATE" => SortKey::Date,
            "FROM" => SortKey::From,
            "SIZE" => SortKey::Size,
            "SUBJECT" => SortKey::Subject,
            "TO" => SortKey::To,
            _ => return Err(Fail("Unknown sort criterion")),
        };
        criteria.push(SortCriterion { reverse, key });
        if c.eat(b')') {
            break;
        }
        c.sp()?;
    }
    c.sp()?;
    let charset = c.astring()?.to_ascii_uppercase();
    c.sp()?;
    Ok(Command::Sort {
        uid,
        criteria,
        charset,
        search: search_program(c)?,
    })
}

fn thread(c: &mut Cursor<'_>, uid: bool) -> R<Command> {
    c.sp()?;
    let algorithm =
        Atom::new(c.atom()?.to_ascii_uppercase()).map_err(|_| Fail("Invalid algorithm"))?;
    c.sp()?;
    let charset = c.astring()?.to_ascii_uppercase();
    c.sp()?;
    Ok(Command::Thread {
        uid,
        algorithm,
        charset,
        search: search_program(c)?,
    })
}

/// One or more search keys to the end of the command; several mean all of them.
fn search_program(c: &mut Cursor<'_>) -> R<SearchKey> {
    let mut keys = vec![c.search_key(1)?];
    while c.eat(b' ') {
        keys.push(c.search_key(1)?);
    }
    Ok(if keys.len() == 1 {
        keys.pop().unwrap_or(SearchKey::All)
    } else {
        SearchKey::And(keys)
    })
}

fn list(c: &mut Cursor<'_>) -> R<Command> {
    c.sp()?;
    let mut selection = ListSelection::default();
    if c.eat(b'(') {
        if !c.eat(b')') {
            loop {
                match c.atom()?.to_ascii_uppercase().as_str() {
                    "SUBSCRIBED" => selection.subscribed = true,
                    "REMOTE" => selection.remote = true,
                    "RECURSIVEMATCH" => selection.recursive_match = true,
                    "SPECIAL-USE" => selection.special_use = true,
                    _ => return Err(Fail("Unknown LIST selection option")),
                }
                if c.eat(b')') {
                    break;
                }
                c.sp()?;
            }
        }
        // RFC 5258 §3.1: RECURSIVEMATCH only refines another selection option.
        if selection.recursive_match && !selection.filters() {
            return Err(Fail("RECURSIVEMATCH needs another selection option"));
        }
        c.sp()?;
    }
    let reference = c.list_mailbox()?;
    c.sp()?;
    let mut patterns = Vec::new();
    if c.eat(b'(') {
        loop {
            patterns.push(c.list_mailbox()?);
            if c.eat(b')') {
                break;
            }
            c.sp()?;
        }
    } else {
        patterns.push(c.list_mailbox()?);
    }
    let mut returns = ListReturn::default();
    if c.eat(b' ') {
        if !c.keyword("RETURN") {
            return Err(Fail("Expected RETURN"));
        }
        c.sp()?;
        c.expect(b'(', "Expected (")?;
        if !c.eat(b')') {
            loop {
                match c.atom()?.to_ascii_uppercase().as_str() {
                    "SUBSCRIBED" => returns.subscribed = true,
                    "CHILDREN" => returns.children = true,
                    "SPECIAL-USE" => returns.special_use = true,
                    "STATUS" => {
                        c.sp()?;
                        returns.status = c.status_items()?;
                    }
                    _ => return Err(Fail("Unknown LIST return option")),
                }
                if c.eat(b')') {
                    break;
                }
                c.sp()?;
            }
        }
    }
    Ok(Command::List {
        reference,
        patterns,
        selection,
        returns,
        lsub: false,
    })
}

fn sequence_command(c: &mut Cursor<'_>, name: &str, uid: bool) -> R<Command> {
    c.sp()?;
    if name == "SEARCH" {
        let mut return_options = None;
        if c.keyword("RETURN") {
            c.sp()?;
            c.expect(b'(', "Expected (")?;
            let mut opts = Vec::new();
            if !c.eat(b')') {
                loop {
                    opts.push(
                        Atom::new(c.atom()?.to_ascii_uppercase())
                            .map_err(|_| Fail("Invalid option"))?,
                    );
                    if c.eat(b')') {
                        break;
                    }
                    c.sp()?;
                }
            }
            return_options = Some(opts);
            c.sp()?;
        }
        let mut charset = None;
        if c.keyword("CHARSET") {
            c.sp()?;
            charset = Some(c.astring()?.to_ascii_uppercase());
            c.sp()?;
        }
        let mut keys = vec![c.search_key(1)?];
        while c.eat(b' ') {
            keys.push(c.search_key(1)?);
        }
        let criteria = if keys.len() == 1 {
            keys.pop().unwrap_or(SearchKey::All)
        } else {
            SearchKey::And(keys)
        };
        return Ok(Command::Search {
            uid,
            charset,
            criteria,
            return_options,
        });
    }
    let set = c.sequence_set()?;
    c.sp()?;
    match name {
        "FETCH" => {
            let mut attributes = Vec::new();
            if c.eat(b'(') {
                loop {
                    c.fetch_attr(&mut attributes)?;
                    if c.eat(b')') {
                        break;
                    }
                    c.sp()?;
                }
            } else {
                c.fetch_attr(&mut attributes)?;
            }
            // RFC 7162 fetch modifiers.
            let (mut changed_since, mut vanished) = (None, false);
            if c.eat(b' ') {
                c.expect(b'(', "Expected (")?;
                loop {
                    match c.atom()?.to_ascii_uppercase().as_str() {
                        "CHANGEDSINCE" if changed_since.is_none() => {
                            c.sp()?;
                            changed_since = Some(c.mod_sequence_value(false)?);
                        }
                        "VANISHED" if uid && !vanished => vanished = true,
                        _ => return Err(Fail("Unknown FETCH modifier")),
                    }
                    if c.eat(b')') {
                        break;
                    }
                    c.sp()?;
                }
                // RFC 7162 §3.2.6: VANISHED only with CHANGEDSINCE.
                if vanished && changed_since.is_none() {
                    return Err(Fail("VANISHED needs CHANGEDSINCE"));
                }
            }
            Ok(Command::Fetch {
                uid,
                set,
                attributes,
                changed_since,
                vanished,
            })
        }
        "STORE" => {
            let mut unchanged_since = None;
            if c.eat(b'(') {
                if !c.keyword("UNCHANGEDSINCE") {
                    return Err(Fail("Unknown STORE modifier"));
                }
                c.sp()?;
                unchanged_since = Some(c.mod_sequence()?);
                c.expect(b')', "Expected )")?;
                c.sp()?;
            }
            let mode = if c.eat(b'+') {
                StoreMode::Add
            } else if c.eat(b'-') {
                StoreMode::Remove
            } else {
                StoreMode::Replace
            };
            let word = c
                .take_while(|b| b.is_ascii_alphabetic() || b == b'.')
                .to_ascii_uppercase();
            let silent = match word.as_slice() {
                b"FLAGS" => false,
                b"FLAGS.SILENT" => true,
                _ => return Err(Fail("Expected FLAGS or FLAGS.SILENT")),
            };
            c.sp()?;
            let flags = if c.peek() == Some(b'(') {
                c.flag_list()?
            } else {
                let mut flags = vec![c.flag()?];
                while c.eat(b' ') {
                    flags.push(c.flag()?);
                }
                flags
            };
            Ok(Command::Store {
                uid,
                set,
                mode,
                silent,
                flags,
                unchanged_since,
            })
        }
        "COPY" => Ok(Command::Copy {
            uid,
            set,
            mailbox: c.mailbox()?,
        }),
        _ => Ok(Command::Move {
            uid,
            set,
            mailbox: c.mailbox()?,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(s: &str) -> Command {
        parse_command(s.as_bytes())
            .map(|(_, c)| c)
            .unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    #[test]
    fn an_8bit_atom_is_refused_with_a_plain_reason_and_quoted_utf8_is_taken() {
        let e = parse_command("a LOGIN jürgen@example.com secret\r\n".as_bytes()).unwrap_err();
        assert_eq!(e.reason, "8-bit text must be a quoted string or a literal");
        assert_eq!(e.tag.as_ref().map(|t| t.as_str()), Some("a"));
        assert!(!e.refusal, "BAD: the client's mistake");
        assert_eq!(
            cmd("a LOGIN \"jürgen@example.com\" secret\r\n"),
            Command::Login {
                username: "jürgen@example.com".into(),
                password: Secret::new("secret".into())
            }
        );
        let e = parse_command(b"a LOGIN x\x01 y\r\n").unwrap_err();
        assert_eq!(e.reason, "Control character in command");
    }

    #[test]
    fn rfc_examples() {
        assert_eq!(
            cmd("a001 LOGIN SMITH SESAME\r\n"),
            Command::Login {
                username: "SMITH".into(),
                password: Secret::new("SESAME".into())
            }
        );
        assert!(matches!(cmd("A142 SELECT INBOX\r\n"), Command::Select(m, _) if m.is_inbox()));
        assert!(matches!(cmd("A142 select inbox\r\n"), Command::Select(m, _) if m.is_inbox()));
        let Command::Fetch { attributes, .. } =
            cmd("A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])\r\n")
        else {
            panic!()
        };
        assert_eq!(
            attributes[1],
            FetchAttr::BodySection {
                peek: false,
                section: Section {
                    part: vec![],
                    text: Some(SectionText::HeaderFields(vec![
                        "DATE".into(),
                        "FROM".into()
                    ]))
                },
                partial: None
            }
        );
        let Command::Fetch { attributes, .. } =
            cmd("a UID FETCH 1:* BODY.PEEK[1.2.HEADER.FIELDS (From To)]<0.1024>\r\n")
        else {
            panic!()
        };
        assert_eq!(
            attributes[0],
            FetchAttr::BodySection {
                peek: true,
                section: Section {
                    part: vec![1, 2],
                    text: Some(SectionText::HeaderFields(vec!["From".into(), "To".into()]))
                },
                partial: Some((0, 1024))
            }
        );
        assert!(matches!(
            cmd("A003 STORE 2:4 +FLAGS (\\Deleted)\r\n"),
            Command::Store {
                mode: StoreMode::Add,
                silent: false,
                ..
            }
        ));
        let Command::Search {
            criteria, charset, ..
        } = cmd("A282 SEARCH CHARSET UTF-8 FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n")
        else {
            panic!()
        };
        assert_eq!(charset.as_deref(), Some("UTF-8"));
        assert_eq!(
            criteria,
            SearchKey::And(vec![
                SearchKey::Flagged,
                SearchKey::Since(Date {
                    year: 1994,
                    month: 2,
                    day: 1
                }),
                SearchKey::Not(Box::new(SearchKey::From("Smith".into())))
            ])
        );
        assert!(matches!(
            cmd("A004 LIST \"\" \"%\"\r\n"),
            Command::List { .. }
        ));
        let Command::Append {
            message,
            date,
            flags,
            ..
        } = cmd(
            "A003 APPEND saved-messages (\\Seen) \" 7-Feb-1994 21:52:25 -0800\" {5}\r\nhello\r\n",
        )
        else {
            panic!()
        };
        assert_eq!(&message[..], b"hello");
        assert_eq!(flags, [Flag::Seen]);
        assert_eq!(date.map(|d| d.zone_minutes), Some(-480));
        assert!(
            matches!(cmd("a LOGIN {5}\r\nalice {6+}\r\nsecret\r\n"), Command::Login { username, .. } if username == "alice")
        );
        assert!(
            matches!(cmd("a CREATE &U,BTFw-\r\n"), Command::Create { mailbox, .. } if mailbox.as_str() == "台北")
        );
    }

    /// RFC 5258 §5 and RFC 5819 §3 command examples.
    #[test]
    fn list_extended() {
        let Command::List {
            patterns,
            selection,
            returns,
            ..
        } = cmd("A04 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" \"%\" RETURN (CHILDREN)\r\n")
        else {
            panic!()
        };
        assert_eq!(patterns, ["%"]);
        assert!(selection.subscribed && selection.recursive_match && !selection.special_use);
        assert!(returns.children && returns.marks_subscribed(&selection));
        let Command::List {
            patterns, returns, ..
        } = cmd("A02 LIST \"\" (\"INBOX\" \"Drafts\") RETURN (STATUS (MESSAGES UNSEEN))\r\n")
        else {
            panic!()
        };
        assert_eq!(patterns, ["INBOX", "Drafts"]);
        assert_eq!(returns.status, [StatusItem::Messages, StatusItem::Unseen]);
        let Command::List { selection, .. } = cmd("t1 LIST (SPECIAL-USE) \"\" \"*\"\r\n") else {
            panic!()
        };
        assert!(selection.special_use && selection.filters());
        // RECURSIVEMATCH alone, or with REMOTE only, is BAD (RFC 5258 §3.1).
        assert!(parse_command(b"A01 LIST (RECURSIVEMATCH) \"\" \"%\"\r\n").is_err());
        assert!(parse_command(b"A01 LIST (REMOTE RECURSIVEMATCH) \"\" \"%\"\r\n").is_err());
        assert!(parse_command(b"A01 LIST (BOGUS) \"\" \"%\"\r\n").is_err());
        assert!(parse_command(b"A01 LIST \"\" \"%\" RETURN (BOGUS)\r\n").is_err());
    }

    /// RFC 7162 command examples.
    #[test]
    fn condstore_and_qresync() {
        let Command::Select(_, params) = cmd("A142 SELECT INBOX (CONDSTORE)\r\n") else {
            panic!()
        };
        assert!(params.condstore && params.qresync.is_none());
        let Command::Select(_, params) =
            cmd("A02 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))\r\n")
        else {
            panic!()
        };
        let q = params.qresync.unwrap();
        assert_eq!((q.uid_validity, q.modseq), (67890007, 20050715194045000));
        assert_eq!(q.known_uids.unwrap().to_string(), "41,43:211,214:541");
        let Command::Examine(_, params) = cmd(
            "B02 EXAMINE INBOX (QRESYNC (67890007 90060115194045000 1:29997 (5000,7500,9000,9990:9999 15000,22500,27000,29970,29973,29976,29979,29982,29985,29988,29991,29994,29997)))\r\n",
        ) else {
            panic!()
        };
        let (seqs, uids) = params.qresync.unwrap().seq_match.unwrap();
        assert_eq!(seqs.to_string(), "5000,7500,9000,9990:9999");
        assert!(uids.to_string().starts_with("15000,22500"));
        let Command::Store {
            unchanged_since,
            silent,
            ..
        } = cmd("a103 UID STORE 6,4,8 (UNCHANGEDSINCE 12121230045) +FLAGS.SILENT (\\Deleted)\r\n")
        else {
            panic!()
        };
        assert_eq!((unchanged_since, silent), (Some(12121230045), true));
        let Command::Fetch {
            changed_since,
            vanished,
            ..
        } = cmd("s100 UID FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345 VANISHED)\r\n")
        else {
            panic!()
        };
        assert_eq!((changed_since, vanished), (Some(12345), true));
        let Command::Search { criteria, .. } =
            cmd("a SEARCH MODSEQ \"/flags/\\\\draft\" all 620162338\r\n")
        else {
            panic!()
        };
        assert_eq!(
            criteria,
            SearchKey::ModSeq {
                modseq: 620162338,
                entry: Some(("/flags/\\draft".into(), Atom::new("all").unwrap()))
            }
        );
        let Command::Status { items, .. } =
            cmd("A042 STATUS blurdybloop (UIDNEXT MESSAGES HIGHESTMODSEQ)\r\n")
        else {
            panic!()
        };
        assert_eq!(items[2], StatusItem::HighestModSeq);
        for bad in [
            "a FETCH 1 (FLAGS) (CHANGEDSINCE 5 VANISHED)\r\n",
            "a UID FETCH 1 (FLAGS) (VANISHED)\r\n",
            "a UID FETCH 1 (FLAGS) (CHANGEDSINCE 0)\r\n",
            "a SELECT INBOX (QRESYNC (1 0))\r\n",
            "a SELECT INBOX (BOGUS)\r\n",
            "a SEARCH MODSEQ \"/flags/x\" other 5\r\n",
            "a SEARCH MODSEQ 9223372036854775808\r\n",
        ] {
            assert!(parse_command(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn errors_keep_the_tag() {
        let e = parse_command(b"x1 FETCH 0 FLAGS\r\n").unwrap_err();
        assert_eq!(e.tag.as_ref().map(Tag::as_str), Some("x1"));
        assert_eq!(parse_command(b"+ NOOP\r\n").unwrap_err().tag, None);
        assert!(parse_command(b"a NOOP extra\r\n").is_err());
        let deep = format!("a SEARCH {}ALL{}\r\n", "(".repeat(20), ")".repeat(20));
        assert!(parse_command(deep.as_bytes()).is_err());
    }

    #[test]
    fn append_head() {
        let h = parse_append_head(
            b"A1 APPEND INBOX (\\Seen $Junk) {310}\r\n",
            ParseOptions::default(),
        )
        .unwrap()
        .unwrap();
        assert_eq!((h.size, h.synchronizing, h.flags.len()), (310, true, 2));
        let h = parse_append_head(
            b"A1 append \"Sent Items\" {3+}\r\n",
            ParseOptions::default(),
        )
        .unwrap()
        .unwrap();
        assert_eq!((h.mailbox.as_str(), h.synchronizing), ("Sent Items", false));
        assert!(parse_append_head(b"A1 LOGIN {3}\r\n", ParseOptions::default()).is_none());
        assert!(
            parse_append_head(b"A1 APPEND INBOX (\\Seen {3}\r\n", ParseOptions::default())
                .unwrap()
                .is_err()
        );
        // RFC 3516: a literal8 message.
        let h = parse_append_head(b"A1 APPEND INBOX ~{5}\r\n", ParseOptions::default())
            .unwrap()
            .unwrap();
        assert_eq!((h.size, h.utf8), (5, false));
        // RFC 6855 §4: UTF8 (~{n}) once UTF8=ACCEPT is on, and UTF-8 names as they are.
        let utf8 = ParseOptions { utf8_names: true };
        let h = parse_append_head("A1 APPEND \"Entwürfe&\" UTF8 (~{12}\r\n".as_bytes(), utf8)
            .unwrap()
            .unwrap();
        assert_eq!(
            (h.mailbox.as_str(), h.size, h.utf8),
            ("Entwürfe&", 12, true)
        );
        assert!(
            parse_append_head(b"A1 APPEND INBOX UTF8 (~{12}\r\n", ParseOptions::default())
                .unwrap()
                .is_err()
        );
        let (_, cmd) = parse_command_with("a SELECT \"Entwürfe&\"\r\n".as_bytes(), utf8).unwrap();
        assert_eq!(
            cmd,
            Command::Select(Mailbox::new("Entwürfe&"), SelectParams::default())
        );
        let (_, cmd) = parse_command(b"a SELECT Entw&APw-rfe&-\r\n").unwrap();
        assert_eq!(
            cmd,
            Command::Select(Mailbox::new("Entwürfe&"), SelectParams::default())
        );
    }
}
