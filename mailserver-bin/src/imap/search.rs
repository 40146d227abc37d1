//! SEARCH: evaluating search keys against the selected mailbox. Flag, size and UID keys use
//! the view alone; date keys stat the file; text keys read the message once, lazily.

use std::sync::Mutex;

use bytes::Bytes;
use mailwright_imap::{Date, DateTime, SearchKey};
use mailwright_maildir::read_message;

use super::headers::{self, FolderHeaders, lock_folder};
use super::mailbox::selected::Selected;
use super::mime;
use crate::message::{decode_header, decode_words, is_foreign_charset};

pub(super) struct Candidate<'a> {
    pub(super) seq: u32,
    pub(super) msg: &'a mailwright_maildir::Message,
    pub(super) recent: bool,
    pub(super) sel: &'a Selected,
    pub(super) content: Option<Vec<u8>>,
    pub(super) header_cache: Option<&'a Mutex<FolderHeaders>>,
    pub(super) cached: Option<Bytes>,
}

impl<'a> Candidate<'a> {
    pub(super) fn new(
        sel: &'a Selected,
        index: usize,
        header_cache: Option<&'a Mutex<FolderHeaders>>,
    ) -> Self {
        Candidate {
            seq: index as u32 + 1,
            msg: sel.msg(index),
            recent: sel.is_recent(index),
            sel,
            content: None,
            header_cache,
            cached: None,
        }
    }

    /// The cached header fields, from the cache or from the message's header.
    pub(super) fn cached_fields(&mut self, cache: &Mutex<FolderHeaders>) -> Bytes {
        if let Some(c) = &self.cached {
            return c.clone();
        }
        let base = &self.msg.base;
        let hit = lock_folder(cache).get(base);
        let fields = match hit {
            Some(f) => f,
            None => {
                let header = match &self.content {
                    Some(c) => c.clone(),
                    None => read_message(&self.sel.maildir.message_path(self.msg), true)
                        .unwrap_or_default(),
                };
                let f = headers::extract(&header);
                lock_folder(cache).insert(base, f.clone());
                f
            }
        };
        self.cached = Some(fields.clone());
        fields
    }

    pub(super) fn content(&mut self) -> &[u8] {
        if self.content.is_none() {
            let path = self.sel.maildir.message_path(self.msg);
            self.content = Some(read_message(&path, false).unwrap_or_default());
        }
        self.content.as_deref().unwrap_or(&[])
    }

    pub(super) fn header_end(&mut self) -> usize {
        let c = self.content();
        if c.starts_with(b"\r\n") {
            2
        } else {
            memchr::memmem::find(c, b"\r\n\r\n").map_or(c.len(), |i| i + 4)
        }
    }

    /// The unfolded, undecoded value of the first `name` field.
    pub(super) fn raw_header(&mut self, name: &str) -> Option<Vec<u8>> {
        match self.header_cache {
            Some(cache) if headers::covers_field(name) => {
                mime::first_field(&self.cached_fields(cache), name)
            }
            _ => {
                let end = self.header_end();
                mime::first_field(&self.content()[..end], name)
            }
        }
    }

    pub(super) fn header_values(&mut self, name: &str) -> Vec<String> {
        if let Some(cache) = self.header_cache
            && headers::covers_field(name)
        {
            let fields = self.cached_fields(cache);
            return mime::fields(&fields)
                .into_iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
                .map(|(_, v)| decode_words(&v))
                .collect();
        }
        let end = self.header_end();
        let header = &self.content()[..end];
        mime::fields(header)
            .into_iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| decode_words(&v))
            .collect()
    }

    pub(super) fn internal_date(&self) -> Date {
        DateTime::from_unix(self.internal_time()).date
    }

    pub(super) fn sent_date(&mut self) -> Option<Date> {
        let v = self.header_values("Date").into_iter().next()?;
        parse_header_date(&v)
    }

    pub(super) fn has_keyword(&self, keyword: &str) -> bool {
        self.sel
            .keywords
            .iter()
            .find(|(_, k)| k.eq_ignore_ascii_case(keyword))
            .is_some_and(|(i, _)| self.msg.has_flag(char::from(b'a' + *i as u8)))
    }

    pub(super) fn matches(&mut self, key: &SearchKey) -> bool {
        let flag = |c: char, m: &mailwright_maildir::Message| m.has_flag(c);
        match key {
            SearchKey::And(keys) => keys.iter().all(|k| self.matches(k)),
            SearchKey::All => true,
            SearchKey::Answered => flag('R', self.msg),
            SearchKey::Deleted => flag('T', self.msg),
            SearchKey::Draft => flag('D', self.msg),
            SearchKey::Flagged => flag('F', self.msg),
            SearchKey::Seen => flag('S', self.msg),
            SearchKey::Unanswered => !flag('R', self.msg),
            SearchKey::Undeleted => !flag('T', self.msg),
            SearchKey::Undraft => !flag('D', self.msg),
            SearchKey::Unflagged => !flag('F', self.msg),
            SearchKey::Unseen => !flag('S', self.msg),
            SearchKey::Recent => self.recent,
            SearchKey::New => self.recent && !flag('S', self.msg),
            SearchKey::Old => !self.recent,
            SearchKey::Keyword(k) => self.has_keyword(k.as_str()),
            SearchKey::Unkeyword(k) => !self.has_keyword(k.as_str()),
            SearchKey::Larger(n) => self.msg.vsize > *n,
            SearchKey::Smaller(n) => self.msg.vsize < *n,
            SearchKey::Uid(set) => {
                let largest = self.sel.last_uid();
                if set.is_saved() {
                    self.sel.is_saved(self.msg.uid)
                } else {
                    set.contains(self.msg.uid, largest)
                }
            }
            SearchKey::SequenceSet(set) if set.is_saved() => self.sel.is_saved(self.msg.uid),
            SearchKey::SequenceSet(set) => set.contains(self.seq, self.sel.len() as u32),
            // RFC 7162 §3.1.5: the message's MODSEQ stands for each of its flags'.
            SearchKey::ModSeq { modseq, .. } => self.msg.modseq >= *modseq,
            SearchKey::Not(k) => !self.matches(k),
            SearchKey::Or(a, b) => self.matches(a) || self.matches(b),
            SearchKey::Before(d) => self.internal_date() < *d,
            SearchKey::On(d) => self.internal_date() == *d,
            SearchKey::Since(d) => self.internal_date() >= *d,
            SearchKey::SentBefore(d) => self.sent_date().is_some_and(|s| s < *d),
            SearchKey::SentOn(d) => self.sent_date().is_some_and(|s| s == *d),
            SearchKey::SentSince(d) => self.sent_date().is_some_and(|s| s >= *d),
            SearchKey::From(s) => self.header_contains("From", s),
            SearchKey::To(s) => self.header_contains("To", s),
            SearchKey::Cc(s) => self.header_contains("Cc", s),
            SearchKey::Bcc(s) => self.header_contains("Bcc", s),
            SearchKey::Subject(s) => self.header_contains("Subject", s),
            SearchKey::Header(name, s) => self.header_contains(name, s),
            SearchKey::Body(s) => self.body_contains(s),
            SearchKey::Text(s) => {
                let end = self.header_end();
                contains_ci(&self.content()[..end], s)
                    || contains_ci(decode_header(&self.content()[..end]).as_bytes(), s)
                    || self.body_contains(s)
            }
        }
    }

    /// Whether the body holds `needle`: as stored, or once the text parts are decoded.
    pub(super) fn body_contains(&mut self, needle: &str) -> bool {
        let end = self.header_end();
        let content = self.content();
        if contains_ci(&content[end..], needle) {
            return true;
        }
        has_encoded_text(&content[..end])
            && mime::text_parts(content, &mime::parse(content))
                .iter()
                .any(|text| contains_ci(text, needle))
    }

    pub(super) fn header_contains(&mut self, name: &str, needle: &str) -> bool {
        let values = self.header_values(name);
        if needle.is_empty() {
            return !values.is_empty();
        }
        values.iter().any(|v| contains_ci(v.as_bytes(), needle))
    }

    /// The message's internal date (its arrival), in seconds since the epoch.
    pub(super) fn internal_time(&self) -> i64 {
        headers::internal_time(self.header_cache, &self.sel.maildir, self.msg)
    }
}

/// Case-insensitive substring (ASCII case folding; other text must match exactly).
/// Whether a message may have text that only decoding shows, judged from its header alone
/// (a multipart or enclosed message, a transfer encoding, a charset other than UTF-8), so plain
/// messages cost one raw pass.
fn has_encoded_text(header: &[u8]) -> bool {
    let field = |name: &str| {
        mime::first_field(header, name)
            .map(|v| String::from_utf8_lossy(&v).to_ascii_lowercase())
            .unwrap_or_default()
    };
    let content_type = field("Content-Type");
    let encoding = field("Content-Transfer-Encoding");
    let params = content_type
        .split_once(';')
        .map(|(_, params)| mime::parse_params(params))
        .unwrap_or_default();
    let charset = params
        .iter()
        .find(|(k, _)| k == "charset")
        .map(|(_, v)| v.as_str());
    content_type.starts_with("multipart/")
        || content_type.starts_with("message/")
        || is_foreign_charset(charset.unwrap_or_default())
        || matches!(encoding.trim(), "base64" | "quoted-printable")
}

fn contains_ci(hay: &[u8], needle: &str) -> bool {
    let n = needle.as_bytes();
    if n.is_empty() {
        return true;
    }
    if n.len() > hay.len() {
        return false;
    }
    let lower: Vec<u8> = n.iter().map(u8::to_ascii_lowercase).collect();
    let first = lower[0];
    let upper_first = first.to_ascii_uppercase();
    let mut i = 0;
    while i + n.len() <= hay.len() {
        let Some(pos) = memchr::memchr2(first, upper_first, &hay[i..=hay.len() - n.len()]) else {
            return false;
        };
        let at = i + pos;
        if hay[at..at + n.len()]
            .iter()
            .zip(&lower)
            .all(|(a, b)| a.to_ascii_lowercase() == *b)
        {
            return true;
        }
        i = at + 1;
    }
    false
}

/// Month names as RFC 5322 dates write them.
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// The date of an RFC 5322 Date: header (`[Day,] d Mon yyyy hh:mm[:ss] zone`), and the words
/// after it (the time and zone).
fn header_date_and_rest(v: &str) -> Option<(Date, std::str::SplitWhitespace<'_>)> {
    let v = v.split_once(',').map_or(v, |(_, r)| r);
    let mut words = v.split_whitespace();
    let day: u8 = words.next()?.parse().ok()?;
    let month = words.next()?.get(..3)?;
    let month = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(month))? as u8 + 1;
    let mut year: u16 = words.next()?.parse().ok()?;
    if year < 50 {
        year += 2000;
    } else if year < 1000 {
        year += 1900;
    }
    Some((Date { year, month, day }, words))
}

/// A Date header as seconds since the epoch (RFC 5322 §3.3, with the obsolete zone names);
/// `None` when it does not parse.
///
/// Ours rather than mail-parser's: mail-parser 0.11.9 reads `1 Jul 2003 08:52 GMT` (no
/// seconds, a zone name; valid RFC 5322) as no date at all, which would sort such mail as
/// undated (tried 2026-12-03; `tests::header_times` holds the case).
pub(super) fn parse_header_time(v: &str) -> Option<i64> {
    let (date, mut words) = header_date_and_rest(v)?;
    let mut hms = words.next()?.split(':').map(|p| p.parse::<u8>().ok());
    let (hour, minute) = (hms.next()??, hms.next()??);
    let second = hms.next().flatten().unwrap_or(0);
    let zone = words.next().unwrap_or("+0000");
    let zone_minutes = match zone.as_bytes() {
        [sign @ (b'+' | b'-'), ..] if zone.len() == 5 => {
            let n: i16 = zone[1..].parse().ok()?;
            let m = n / 100 * 60 + n % 100;
            if *sign == b'-' { -m } else { m }
        }
        _ => match zone.to_ascii_uppercase().as_str() {
            "EDT" => -4 * 60,
            "EST" | "CDT" => -5 * 60,
            "CST" | "MDT" => -6 * 60,
            "MST" | "PDT" => -7 * 60,
            "PST" => -8 * 60,
            _ => 0,
        },
    };
    let valid = (1..=31).contains(&date.day) && hour < 24 && minute < 60 && second <= 60;
    let t = DateTime {
        date,
        hour,
        minute,
        second,
        zone_minutes,
    };
    valid.then(|| t.to_unix())
}

/// The date of a Date header; the time and zone are not needed for SENT* keys (RFC 9051
/// §6.4.4).
fn parse_header_date(v: &str) -> Option<Date> {
    header_date_and_rest(v).map(|(date, _)| date)
}

/// The messages matching `key`, by index. Header keys use `header_cache` when given.
pub(super) fn run(
    sel: &Selected,
    key: &SearchKey,
    header_cache: Option<&Mutex<FolderHeaders>>,
) -> Vec<usize> {
    (0..sel.len())
        .filter(|&i| !sel.is_gone(i))
        .filter(|&i| Candidate::new(sel, i, header_cache).matches(key))
        .collect()
}

/// Whether `key` has a MODSEQ key (RFC 7162 §3.1.5), which makes SEARCH report a MODSEQ.
pub(super) fn uses_modseq(key: &SearchKey) -> bool {
    match key {
        SearchKey::And(keys) => keys.iter().any(uses_modseq),
        SearchKey::Not(k) => uses_modseq(k),
        SearchKey::Or(a, b) => uses_modseq(a) || uses_modseq(b),
        SearchKey::ModSeq { .. } => true,
        _ => false,
    }
}

/// Whether evaluating `key` may read what the folder cache keeps: header fields and internal
/// dates.
pub(super) fn uses_cache(key: &SearchKey) -> bool {
    match key {
        SearchKey::And(keys) => keys.iter().any(uses_cache),
        SearchKey::Not(k) => uses_cache(k),
        SearchKey::Or(a, b) => uses_cache(a) || uses_cache(b),
        SearchKey::Before(_) | SearchKey::On(_) | SearchKey::Since(_) => true,
        SearchKey::From(_)
        | SearchKey::To(_)
        | SearchKey::Cc(_)
        | SearchKey::Bcc(_)
        | SearchKey::Subject(_)
        | SearchKey::Header(..)
        | SearchKey::SentBefore(_)
        | SearchKey::SentOn(_)
        | SearchKey::SentSince(_) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imap::sort_thread::*;

    #[test]
    fn base_subjects() {
        for (subject, base) in [
            ("Re: hello", "hello"),
            ("RE:  Re: [list] Fwd: hello  world (fwd)", "hello world"),
            ("[fwd: Re: hello]", "hello"),
            ("Fw[x]: hello", "hello"),
            ("[list]", "[list]"),
            ("Reply all: the plan", "Reply all: the plan"),
            ("", ""),
        ] {
            assert_eq!(base_subject_and_refwd(subject).0, base, "{subject:?}");
        }
    }

    #[test]
    fn header_times() {
        assert_eq!(
            parse_header_time("Tue, 1 Jul 2003 10:52:37 +0200"),
            Some(1_057_049_557)
        );
        assert_eq!(
            parse_header_time("1 Jul 2003 08:52 GMT"),
            Some(1_057_049_520)
        );
        assert_eq!(parse_header_time("yesterday"), None);
    }

    #[test]
    fn a_foreign_charset_however_written_asks_for_decoding() {
        for ct in [
            "text/plain; charset=koi8-r",
            "text/plain; charset=\"KOI8-R\"",
            "text/plain;\r\n charset = windows-1252",
        ] {
            let header = format!("Content-Type: {ct}\r\n\r\n");
            assert!(has_encoded_text(header.as_bytes()), "{ct}");
        }
        assert!(!has_encoded_text(
            b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
        ));
        assert!(!has_encoded_text(b"Subject: plain\r\n\r\n"));
    }

    #[test]
    fn dates_and_ci() {
        assert_eq!(
            parse_header_date("Tue, 1 Jul 2003 10:52:37 +0200"),
            Some(Date {
                year: 2003,
                month: 7,
                day: 1
            })
        );
        assert!(contains_ci(b"Hello World", "WORLD"));
        assert!(!contains_ci(b"Hello", "hello!"));
    }
}
