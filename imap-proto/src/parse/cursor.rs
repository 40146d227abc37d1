//! The lexical layer: a cursor over one command's octets, and the IMAP tokens it reads
//! (atoms, numbers, strings and literals, mailbox names, flags, sequence sets, dates).

use crate::command::Mailbox;
use crate::types::{
    Date, DateTime, Flag, MONTHS, SeqNumber, SequenceSet, decode_mutf7, is_astring_char,
    is_atom_char,
};

/// Why a mailbox name is refused.
pub(super) const INVALID_NAME: &str = "Invalid modified UTF-7 in mailbox name";

#[derive(Debug)]
pub(super) struct Fail(pub(super) &'static str);

pub(super) type R<T> = Result<T, Fail>;

/// A position in one command's octets.
pub(super) struct Cursor<'a> {
    pub(super) input: &'a [u8],
    pub(super) pos: usize,
    /// Mailbox names are UTF-8 (UTF8=ACCEPT), not modified UTF-7.
    pub(super) utf8_names: bool,
}

impl<'a> Cursor<'a> {
    pub(super) fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    pub(super) fn rest(&self) -> &'a [u8] {
        &self.input[self.pos..]
    }

    pub(super) fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    pub(super) fn expect(&mut self, b: u8, why: &'static str) -> R<()> {
        if self.eat(b) { Ok(()) } else { Err(Fail(why)) }
    }

    pub(super) fn sp(&mut self) -> R<()> {
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
    pub(super) fn keyword(&mut self, word: &str) -> bool {
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

    pub(super) fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a [u8] {
        let start = self.pos;
        while self.peek().is_some_and(&f) {
            self.pos += 1;
        }
        &self.input[start..self.pos]
    }

    pub(super) fn atom(&mut self) -> R<&'a str> {
        let a = self.take_while(is_atom_char);
        if a.is_empty() {
            return Err(Fail("Expected an atom"));
        }
        std::str::from_utf8(a).map_err(|_| Fail("Invalid characters"))
    }

    /// An atom upper-cased into `buf`, for matching a name without an allocation (the
    /// `to_ascii_uppercase` it replaces was a third of a NOOP's parse); see [`upper`].
    pub(super) fn upper_atom<'b>(&mut self, buf: &'b mut [u8; NAME_MAX]) -> R<&'b str> {
        let atom = self.take_while(is_atom_char);
        if atom.is_empty() {
            return Err(Fail("Expected an atom"));
        }
        std::str::from_utf8(upper(atom, buf)).map_err(|_| Fail("Invalid characters"))
    }

    pub(super) fn number64(&mut self) -> R<u64> {
        let d = self.take_while(|b| b.is_ascii_digit());
        if d.is_empty() || d.len() > 19 {
            return Err(Fail("Expected a number"));
        }
        std::str::from_utf8(d)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or(Fail("Expected a number"))
    }

    pub(super) fn number(&mut self) -> R<u32> {
        u32::try_from(self.number64()?).map_err(|_| Fail("Number too large"))
    }

    pub(super) fn nz_number(&mut self) -> R<u32> {
        match self.number()? {
            0 => Err(Fail("Expected a non-zero number")),
            n => Ok(n),
        }
    }

    pub(super) fn quoted(&mut self) -> R<Vec<u8>> {
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
    pub(super) fn literal(&mut self) -> R<&'a [u8]> {
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

    pub(super) fn string_bytes(&mut self) -> R<Vec<u8>> {
        match self.peek() {
            Some(b'"') => self.quoted(),
            Some(b'{') => Ok(self.literal()?.to_vec()),
            _ => Err(Fail("Expected a string")),
        }
    }

    pub(super) fn astring_bytes(&mut self) -> R<Vec<u8>> {
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

    pub(super) fn astring(&mut self) -> R<String> {
        String::from_utf8(self.astring_bytes()?).map_err(|_| Fail("Invalid UTF-8 in string"))
    }

    pub(super) fn string(&mut self) -> R<String> {
        String::from_utf8(self.string_bytes()?).map_err(|_| Fail("Invalid UTF-8 in string"))
    }

    pub(super) fn mailbox(&mut self) -> R<Mailbox> {
        mailbox_name(self.astring()?, self.utf8_names)
    }

    /// A LIST pattern: list-chars (atom chars, `%`, `*`, `]`) or a string.
    pub(super) fn list_mailbox(&mut self) -> R<String> {
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

    pub(super) fn flag(&mut self) -> R<Flag> {
        let start = self.pos;
        self.eat(b'\\');
        self.take_while(is_atom_char);
        let text =
            std::str::from_utf8(&self.input[start..self.pos]).map_err(|_| Fail("Invalid flag"))?;
        Flag::parse(text).map_err(|_| Fail("Invalid flag"))
    }

    /// A flag a client may set (STORE, APPEND): `\Recent` is the server's alone (RFC 3501
    /// §6.4.6) and a `\`-flag this crate does not know is refused, as Dovecot does, so neither
    /// reaches the embedder.
    pub(super) fn settable_flag(&mut self) -> R<Flag> {
        match self.flag()? {
            Flag::Recent => Err(Fail("\\Recent cannot be set by a client")),
            Flag::Extension(_) => Err(Fail("Unknown system flag")),
            flag => Ok(flag),
        }
    }

    /// A parenthesised list of [`Cursor::settable_flag`]s.
    pub(super) fn settable_flag_list(&mut self) -> R<Vec<Flag>> {
        let flags = self.flag_list()?;
        if flags.contains(&Flag::Recent) {
            return Err(Fail("\\Recent cannot be set by a client"));
        }
        if flags.iter().any(|f| matches!(f, Flag::Extension(_))) {
            return Err(Fail("Unknown system flag"));
        }
        Ok(flags)
    }

    pub(super) fn flag_list(&mut self) -> R<Vec<Flag>> {
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

    pub(super) fn seq_number(&mut self) -> R<SeqNumber> {
        if self.eat(b'*') {
            Ok(SeqNumber::Largest)
        } else {
            Ok(SeqNumber::Value(self.nz_number()?))
        }
    }

    pub(super) fn sequence_set(&mut self) -> R<SequenceSet> {
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

    pub(super) fn month(&mut self) -> R<u8> {
        let rest = self.rest();
        let m = rest.get(..3).ok_or(Fail("Invalid date"))?;
        let i = MONTHS
            .iter()
            .position(|name| name.as_bytes().eq_ignore_ascii_case(m))
            .ok_or(Fail("Invalid month"))?;
        self.pos += 3;
        Ok(i as u8 + 1)
    }

    pub(super) fn date(&mut self) -> R<Date> {
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

    pub(super) fn two_digits(&mut self) -> R<u8> {
        let d = self.rest().get(..2).ok_or(Fail("Invalid time"))?;
        if !d.iter().all(u8::is_ascii_digit) {
            return Err(Fail("Invalid time"));
        }
        self.pos += 2;
        Ok((d[0] - b'0') * 10 + (d[1] - b'0'))
    }

    pub(super) fn date_time(&mut self) -> R<DateTime> {
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

    pub(super) fn end(&mut self) -> R<()> {
        self.eat(b'\r');
        if self.eat(b'\n') && self.pos == self.input.len() {
            Ok(())
        } else {
            Err(Fail("Unexpected characters at the end of the command"))
        }
    }
}

pub(super) fn valid_date(year: u32, month: u8, day: u32) -> R<Date> {
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

/// A mailbox name as sent: UTF-8 once the client enabled it, else modified UTF-7. A name
/// without `&` decodes to itself and is used as it came, without a copy.
pub(super) fn mailbox_name(raw: String, utf8_names: bool) -> R<Mailbox> {
    if utf8_names || !raw.contains('&') {
        return Ok(Mailbox::new(raw));
    }
    let decoded = decode_mutf7(&raw).ok_or(Fail(INVALID_NAME))?;
    Ok(Mailbox::new(decoded))
}

/// Room for the longest name the grammar matches (`HEADER.FIELDS.NOT` is 17).
pub(super) const NAME_MAX: usize = 24;

/// `word` upper-cased into `buf`; empty if it is longer than any name (so it matches none).
pub(super) fn upper<'b>(word: &[u8], buf: &'b mut [u8; NAME_MAX]) -> &'b [u8] {
    match buf.get_mut(..word.len()) {
        Some(name) => {
            name.copy_from_slice(word);
            name.make_ascii_uppercase();
            name
        }
        None => &[],
    }
}
