//! Values that appear in commands and responses, validated on construction so that the
//! encoder can never produce something a client would misparse.

use std::fmt;

use thiserror::Error;

/// Redacts credentials in `Debug` output.
pub use mailwright_sasl::Secret;

/// A value that cannot appear on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ValidationError {
    /// A tag must be 1 or more ASTRING-CHARs other than `+`.
    #[error("invalid tag")]
    Tag,
    /// An atom (keyword, capability, flag name) with a forbidden character.
    #[error("invalid atom {0:?}")]
    Atom(String),
    /// Human-readable text with CR, LF or NUL, or empty.
    #[error("invalid response text")]
    Text,
    /// A sequence number or UID of 0.
    #[error("sequence numbers and UIDs start at 1")]
    Zero,
}

pub(crate) fn is_atom_char(b: u8) -> bool {
    b > 0x20 && b < 0x7f && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b']')
}

pub(crate) fn is_astring_char(b: u8) -> bool {
    is_atom_char(b) || b == b']'
}

pub(crate) fn is_tag_char(b: u8) -> bool {
    is_astring_char(b) && b != b'+'
}

/// A command tag.
#[derive(Clone)]
pub struct Tag(TagText);

/// A tag's text: inline when it fits (nearly every tag does: `a1`, `A0042`), so parsing a
/// command allocates nothing for its tag. That allocation was a third of a NOOP's parse
/// (benches/parsers.sh). Tag characters are ASCII, so any prefix is a `str`.
#[derive(Clone)]
enum TagText {
    Inline { len: u8, bytes: [u8; TAG_INLINE] },
    Heap(Box<str>),
}

const TAG_INLINE: usize = 22;

impl Tag {
    /// A tag: one or more ASTRING-CHARs other than `+` (RFC 9051 §9).
    pub fn new(tag: impl Into<String>) -> Result<Self, ValidationError> {
        let tag = tag.into();
        if tag.len() > TAG_INLINE && Self::valid(tag.as_bytes()) {
            return Ok(Tag(TagText::Heap(tag.into_boxed_str())));
        }
        Self::parse(tag.as_bytes()).ok_or(ValidationError::Tag)
    }

    fn valid(text: &[u8]) -> bool {
        !text.is_empty() && text.iter().all(|&b| is_tag_char(b))
    }

    /// A tag from its octets, if they are one; copies only a tag too long to keep inline.
    pub(crate) fn parse(text: &[u8]) -> Option<Self> {
        if !Self::valid(text) {
            return None;
        }
        Self::from_tag_chars(text)
    }

    /// [`Tag::parse`] of octets already known to be tag characters (the parser took them
    /// with `is_tag_char`): each command's tag is not checked twice.
    pub(crate) fn from_tag_chars(text: &[u8]) -> Option<Self> {
        if text.is_empty() {
            return None;
        }
        let mut bytes = [0; TAG_INLINE];
        Some(match bytes.get_mut(..text.len()) {
            Some(inline) => {
                inline.copy_from_slice(text);
                Tag(TagText::Inline {
                    len: text.len() as u8,
                    bytes,
                })
            }
            None => Tag(TagText::Heap(
                std::str::from_utf8(text).ok()?.to_owned().into_boxed_str(),
            )),
        })
    }

    /// The tag text.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            // Tag characters are ASCII: this never fails.
            TagText::Inline { len, bytes } => {
                std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or_default()
            }
            TagText::Heap(text) => text,
        }
    }
}

impl PartialEq for Tag {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Tag {}

impl std::hash::Hash for Tag {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tag({})", self.as_str())
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An atom: a keyword, capability or extension name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Atom(String);

impl Atom {
    /// An atom: one or more ATOM-CHARs.
    pub fn new(atom: impl Into<String>) -> Result<Self, ValidationError> {
        let atom = atom.into();
        if !atom.is_empty() && atom.bytes().all(is_atom_char) {
            Ok(Self(atom))
        } else {
            Err(ValidationError::Atom(atom))
        }
    }

    /// The atom text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Atom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Human-readable text after a status or in a continuation request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text(String);

impl Text {
    /// Text: no CR, LF or NUL, not empty, and not starting with `[` (which would read as a
    /// response code).
    pub fn new(text: impl Into<String>) -> Result<Self, ValidationError> {
        let text = text.into();
        if text.is_empty()
            || text.starts_with('[')
            || text.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0))
        {
            Err(ValidationError::Text)
        } else {
            Ok(Self(text))
        }
    }

    /// Text known to be valid; anything invalid is replaced, never sent.
    pub fn lossy(text: &str) -> Self {
        Self::new(text).unwrap_or_else(|_| {
            let cleaned: String = text
                .chars()
                .map(|c| {
                    if matches!(c, '\r' | '\n' | '\0') {
                        ' '
                    } else {
                        c
                    }
                })
                .collect();
            let cleaned = cleaned.trim_start_matches('[').trim().to_owned();
            Self(if cleaned.is_empty() {
                "done".into()
            } else {
                cleaned
            })
        })
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A message flag or keyword.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Flag {
    /// `\Answered`
    Answered,
    /// `\Flagged`
    Flagged,
    /// `\Deleted`
    Deleted,
    /// `\Seen`
    Seen,
    /// `\Draft`
    Draft,
    /// `\Recent` (responses only; IMAP4rev1).
    Recent,
    /// A keyword such as `$Forwarded` or `Junk`.
    Keyword(Atom),
    /// A `\`-flag this server does not know (kept so it can be refused precisely).
    Extension(Atom),
}

impl Flag {
    /// Parses the text of a flag (`\Seen`, `$Junk`), case-insensitively for system flags.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        if let Some(name) = text.strip_prefix('\\') {
            Ok(match name.to_ascii_lowercase().as_str() {
                "answered" => Flag::Answered,
                "flagged" => Flag::Flagged,
                "deleted" => Flag::Deleted,
                "seen" => Flag::Seen,
                "draft" => Flag::Draft,
                "recent" => Flag::Recent,
                _ => Flag::Extension(Atom::new(name)?),
            })
        } else {
            Ok(Flag::Keyword(Atom::new(text)?))
        }
    }

    /// The system flags that can be stored.
    pub const SYSTEM: [Flag; 5] = [
        Flag::Answered,
        Flag::Flagged,
        Flag::Deleted,
        Flag::Seen,
        Flag::Draft,
    ];
}

impl fmt::Display for Flag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Flag::Answered => f.write_str("\\Answered"),
            Flag::Flagged => f.write_str("\\Flagged"),
            Flag::Deleted => f.write_str("\\Deleted"),
            Flag::Seen => f.write_str("\\Seen"),
            Flag::Draft => f.write_str("\\Draft"),
            Flag::Recent => f.write_str("\\Recent"),
            Flag::Keyword(k) => f.write_str(k.as_str()),
            Flag::Extension(k) => write!(f, "\\{k}"),
        }
    }
}

/// One end of a sequence range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqNumber {
    /// A number (from 1).
    Value(u32),
    /// `*`: the largest number in use.
    Largest,
}

impl SeqNumber {
    fn resolve(self, largest: u32) -> u32 {
        match self {
            SeqNumber::Value(v) => v,
            SeqNumber::Largest => largest,
        }
    }
}

/// A sequence set such as `1:4,7,9:*`, or `$`: the result a `SEARCH RETURN (SAVE)` saved
/// (RFC 5182), which only the server can resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SequenceSet(Vec<(SeqNumber, SeqNumber)>);

impl SequenceSet {
    /// A set from ranges (a single number is a range from itself to itself).
    pub fn new(ranges: Vec<(SeqNumber, SeqNumber)>) -> Result<Self, ValidationError> {
        let zero = |n: &SeqNumber| *n == SeqNumber::Value(0);
        if ranges.is_empty() || ranges.iter().any(|(a, b)| zero(a) || zero(b)) {
            return Err(ValidationError::Zero);
        }
        Ok(Self(ranges))
    }

    /// The set of the given numbers, compressed into ranges.
    pub fn from_numbers(numbers: &[u32]) -> Result<Self, ValidationError> {
        let mut sorted = numbers.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        let mut ranges: Vec<(SeqNumber, SeqNumber)> = Vec::new();
        for n in sorted {
            match ranges.last_mut() {
                Some((_, SeqNumber::Value(end))) if *end + 1 == n => *end = n,
                _ => ranges.push((SeqNumber::Value(n), SeqNumber::Value(n))),
            }
        }
        Self::new(ranges)
    }

    /// `$`, the saved search result.
    pub fn saved() -> Self {
        Self(Vec::new())
    }

    /// Whether this is `$` (its ranges are then empty: the server knows what it stands for).
    pub fn is_saved(&self) -> bool {
        self.0.is_empty()
    }

    /// The ranges as written.
    pub fn ranges(&self) -> &[(SeqNumber, SeqNumber)] {
        &self.0
    }

    /// The set as ascending, disjoint, non-adjacent ranges, `*` standing for `largest` and
    /// `a:b` the same as `b:a` (RFC 9051 §9): `5:3,1,2,9:*` with `largest` 7 is `1..=5,7..=9`.
    /// Numbers above `largest` stay (for sequence numbers they are the client's error; for UIDs
    /// they name nothing). Empty for `$`, which the caller must resolve.
    ///
    /// For UIDs, binary-search each range's ends in the mailbox's ascending UID list rather
    /// than testing every message with [`SequenceSet::contains`].
    pub fn to_ranges(&self, largest: u32) -> Vec<std::ops::RangeInclusive<u32>> {
        let mut ranges: Vec<(u32, u32)> = self
            .0
            .iter()
            .map(|(a, b)| {
                let (a, b) = (a.resolve(largest), b.resolve(largest));
                (a.min(b), a.max(b))
            })
            .collect();
        ranges.sort_unstable();
        let mut merged: Vec<(u32, u32)> = Vec::with_capacity(ranges.len());
        for (lo, hi) in ranges {
            match merged.last_mut() {
                Some((_, end)) if lo <= end.saturating_add(1) => *end = (*end).max(hi),
                _ => merged.push((lo, hi)),
            }
        }
        merged.into_iter().map(|(lo, hi)| lo..=hi).collect()
    }

    /// Each number of the set from 1 to `largest`, ascending and once: the sequence numbers a
    /// set names in a mailbox of `largest` messages (numbers beyond it are left out; check
    /// [`SequenceSet::to_ranges`] first to refuse them as RFC 9051 §6.4.5 wants).
    pub fn iter(&self, largest: u32) -> impl Iterator<Item = u32> {
        self.to_ranges(largest)
            .into_iter()
            .filter(move |r| *r.start() >= 1 && *r.start() <= largest)
            .flat_map(move |r| *r.start()..=(*r.end()).min(largest))
    }

    /// Whether `n` is in the set, `*` standing for `largest`. RFC 9051 §9: `a:b` is the same
    /// as `b:a`. Never for `$`, which the caller must resolve.
    pub fn contains(&self, n: u32, largest: u32) -> bool {
        self.0.iter().any(|(a, b)| {
            let (a, b) = (a.resolve(largest), b.resolve(largest));
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            (lo..=hi).contains(&n)
        })
    }
}

impl fmt::Display for SequenceSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_saved() {
            return f.write_str("$");
        }
        let one = |f: &mut fmt::Formatter<'_>, n: &SeqNumber| match n {
            SeqNumber::Value(v) => write!(f, "{v}"),
            SeqNumber::Largest => f.write_str("*"),
        };
        for (i, (a, b)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            one(f, a)?;
            if a != b {
                f.write_str(":")?;
                one(f, b)?;
            }
        }
        Ok(())
    }
}

/// A calendar date (SEARCH BEFORE/ON/SINCE...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    /// Year.
    pub year: u16,
    /// Month, 1-12.
    pub month: u8,
    /// Day, 1-31.
    pub day: u8,
}

/// A date and time with a zone (APPEND and INTERNALDATE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime {
    /// The date.
    pub date: Date,
    /// Hour, 0-23.
    pub hour: u8,
    /// Minute.
    pub minute: u8,
    /// Second (up to 60 for a leap second).
    pub second: u8,
    /// Offset from UTC in minutes.
    pub zone_minutes: i16,
}

pub(crate) const MONTHS: [&str; 12] = MONTH_NAMES;

/// English month abbreviations, as IMAP dates spell them.
pub(crate) const MONTH_NAMES: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

impl DateTime {
    /// From seconds since the Unix epoch, in UTC.
    pub fn from_unix(secs: i64) -> Self {
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        // Howard Hinnant's civil-from-days.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        let year = (yoe + era * 400 + i64::from(month <= 2)).clamp(0, 9999) as u16;
        Self {
            date: Date { year, month, day },
            hour: (rem / 3600) as u8,
            minute: (rem % 3600 / 60) as u8,
            second: (rem % 60) as u8,
            zone_minutes: 0,
        }
    }

    /// Seconds since the Unix epoch.
    pub fn to_unix(&self) -> i64 {
        let Date { year, month, day } = self.date;
        let (y, m) = if month <= 2 {
            (i64::from(year) - 1, i64::from(month) + 9)
        } else {
            (i64::from(year), i64::from(month) - 3)
        };
        let era = y.div_euclid(400);
        let yoe = y.rem_euclid(400);
        let doy = (153 * m + 2) / 5 + i64::from(day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        days * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
            - i64::from(self.zone_minutes) * 60
    }
}

impl Date {
    /// Seconds since the epoch at 00:00 UTC of this date.
    pub fn to_unix(&self) -> i64 {
        DateTime {
            date: *self,
            hour: 0,
            minute: 0,
            second: 0,
            zone_minutes: 0,
        }
        .to_unix()
    }
}

impl fmt::Display for DateTime {
    /// `"dd-Mon-yyyy hh:mm:ss +zzzz"` without the quotes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let zone = self.zone_minutes;
        let sign = if zone < 0 { '-' } else { '+' };
        let zone = zone.unsigned_abs();
        write!(
            f,
            "{:02}-{}-{:04} {:02}:{:02}:{:02} {sign}{:02}{:02}",
            self.date.day,
            MONTHS[usize::from(self.date.month.clamp(1, 12) - 1)],
            self.date.year,
            self.hour,
            self.minute,
            self.second,
            zone / 60,
            zone % 60
        )
    }
}

/// Encodes a mailbox name in modified UTF-7 (RFC 3501 §5.1.3).
pub fn encode_mutf7(name: &str) -> String {
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";
    let mut out = String::with_capacity(name.len());
    let mut pending: Vec<u16> = Vec::new();
    let flush = |out: &mut String, pending: &mut Vec<u16>| {
        if pending.is_empty() {
            return;
        }
        out.push('&');
        let bytes: Vec<u8> = pending.iter().flat_map(|u| u.to_be_bytes()).collect();
        for chunk in bytes.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            let chars = chunk.len() + 1;
            for i in 0..chars {
                out.push(char::from(B64[((n >> (18 - 6 * i)) & 63) as usize]));
            }
        }
        out.push('-');
        pending.clear();
    };
    for c in name.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut out, &mut pending);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut buf = [0u16; 2];
            pending.extend_from_slice(c.encode_utf16(&mut buf));
        }
    }
    flush(&mut out, &mut pending);
    out
}

/// Decodes a modified UTF-7 mailbox name; `None` if it is not valid modified UTF-7.
pub fn decode_mutf7(name: &str) -> Option<String> {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let end = after.find('-')?;
        let encoded = &after[..end];
        rest = &after[end + 1..];
        if encoded.is_empty() {
            out.push('&');
            continue;
        }
        let mut bits = 0u32;
        let mut nbits = 0;
        let mut units = Vec::new();
        let mut bytes = Vec::new();
        for b in encoded.bytes() {
            let v = match b {
                b'A'..=b'Z' => b - b'A',
                b'a'..=b'z' => b - b'a' + 26,
                b'0'..=b'9' => b - b'0' + 52,
                b'+' => 62,
                b',' => 63,
                _ => return None,
            };
            bits = (bits << 6) | u32::from(v);
            nbits += 6;
            if nbits >= 8 {
                nbits -= 8;
                bytes.push((bits >> nbits) as u8);
                bits &= (1 << nbits) - 1;
            }
        }
        if bytes.len() % 2 != 0 || bits != 0 {
            return None;
        }
        for pair in bytes.chunks(2) {
            units.push(u16::from_be_bytes([pair[0], pair[1]]));
        }
        let decoded = String::from_utf16(&units).ok()?;
        // Printable ASCII must not be encoded (RFC 3501 §5.1.3), so a name has one spelling.
        if decoded.chars().any(|c| (' '..='~').contains(&c)) {
            return None;
        }
        out.push_str(&decoded);
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_sets_resolve_to_ordered_merged_ranges() {
        let v = SeqNumber::Value;
        let set = SequenceSet::new(vec![
            (v(5), v(3)),
            (v(1), v(1)),
            (v(2), v(2)),
            (v(9), SeqNumber::Largest),
        ])
        .unwrap();
        assert_eq!(set.to_ranges(7), vec![1..=5, 7..=9]);
        assert_eq!(set.iter(7).collect::<Vec<_>>(), vec![1, 2, 3, 4, 5, 7]);
        // `*` in an empty mailbox, and `$`, name nothing.
        let star = SequenceSet::new(vec![(SeqNumber::Largest, SeqNumber::Largest)]).unwrap();
        assert_eq!(star.iter(0).count(), 0);
        assert!(SequenceSet::saved().to_ranges(9).is_empty());
        // Huge UIDs do not overflow.
        let top = SequenceSet::new(vec![(v(1), v(u32::MAX)), (v(u32::MAX), v(u32::MAX))]);
        assert_eq!(top.unwrap().to_ranges(3), vec![1..=u32::MAX]);
    }

    #[test]
    fn mutf7_rfc_examples() {
        assert_eq!(
            encode_mutf7("~peter/mail/台北/日本語"),
            "~peter/mail/&U,BTFw-/&ZeVnLIqe-"
        );
        assert_eq!(
            decode_mutf7("~peter/mail/&U,BTFw-/&ZeVnLIqe-").as_deref(),
            Some("~peter/mail/台北/日本語")
        );
        assert_eq!(encode_mutf7("A&B"), "A&-B");
        assert_eq!(decode_mutf7("A&-B").as_deref(), Some("A&B"));
        assert_eq!(decode_mutf7("&Jjo!"), None);
        assert_eq!(decode_mutf7("&AGE-"), None, "ASCII must not be encoded");
        for s in ["Entwürfe", "Отправленные", "😀 mail", "a&b&c"] {
            assert_eq!(decode_mutf7(&encode_mutf7(s)).as_deref(), Some(s));
        }
    }

    #[test]
    fn dates() {
        let t = DateTime::from_unix(1_700_000_000);
        assert_eq!(t.to_string(), "14-Nov-2023 22:13:20 +0000");
        assert_eq!(t.to_unix(), 1_700_000_000);
        let mut z = t;
        z.zone_minutes = -330;
        assert_eq!(z.to_unix(), 1_700_000_000 + 330 * 60);
    }

    #[test]
    fn sequence_sets() {
        let s = SequenceSet::from_numbers(&[1, 2, 3, 7, 9, 10]).unwrap();
        assert_eq!(s.to_string(), "1:3,7,9:10");
        let star = SequenceSet::new(vec![(SeqNumber::Value(5), SeqNumber::Largest)]).unwrap();
        assert!(star.contains(9, 9) && !star.contains(4, 9) && star.contains(3, 3));
    }
}
