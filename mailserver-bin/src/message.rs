//! Text in messages as mail-parser reads it: header values with RFC 2047 encoded words, and
//! bodies in any charset mail-parser knows (the ISO-8859 and Windows families, KOI8, the
//! Japanese, Chinese and Korean multi-byte ones, UTF-7/16), turned into UTF-8 so SEARCH and
//! SORT can compare them with what a client typed. At the bottom of the daemon: it uses no
//! other module of it.

use std::borrow::Cow;

use mail_parser::HeaderValue;
use mail_parser::decoders::charsets::map::charset_decoder;
use mail_parser::parsers::MessageStream;

/// A header field's value (unfolded or not) as text: encoded words decoded (RFC 2047, with
/// RFC 2231 languages); the bytes of a word in a charset mail-parser does not know are read
/// as UTF-8, so its ASCII text can still be searched.
pub fn decode_words(raw: &[u8]) -> String {
    if memchr::memmem::find(raw, b"=?").is_none() {
        return String::from_utf8_lossy(raw).trim().to_owned();
    }
    // The parser reads a value up to its line end.
    let mut line = Vec::with_capacity(raw.len() + 2);
    line.extend_from_slice(raw);
    line.extend_from_slice(b"\r\n");
    match MessageStream::new(&line).parse_unstructured() {
        HeaderValue::Text(text) => text.into_owned(),
        _ => String::new(),
    }
}

/// A whole header (every field) as text, each line's encoded words decoded: what SEARCH TEXT
/// compares with.
pub fn decode_header(raw: &[u8]) -> String {
    let mut out = String::with_capacity(raw.len());
    for line in raw.split(|&b| b == b'\n') {
        match memchr::memmem::find(line, b"=?") {
            Some(_) => out.push_str(&decode_words(line)),
            None => out.push_str(&String::from_utf8_lossy(line)),
        }
        out.push('\n');
    }
    out
}

/// `bytes` in `charset` (a MIME charset name, any case) as UTF-8; `None` for a charset
/// mail-parser does not know. UTF-8 and US-ASCII (and no charset) are taken as UTF-8.
pub fn decode_charset<'a>(charset: &str, bytes: &'a [u8]) -> Option<Cow<'a, str>> {
    if !is_foreign_charset(charset) {
        return Some(String::from_utf8_lossy(bytes));
    }
    let charset = charset.trim().trim_matches('"');
    charset_decoder(charset.as_bytes()).map(|decode| Cow::Owned(decode(bytes)))
}

/// Whether text in `charset` needs decoding before it can be compared with UTF-8.
pub fn is_foreign_charset(charset: &str) -> bool {
    let charset = charset.trim().trim_matches('"');
    !(charset.is_empty()
        || charset.eq_ignore_ascii_case("utf-8")
        || charset.eq_ignore_ascii_case("utf8")
        || charset.eq_ignore_ascii_case("us-ascii"))
}

/// The length of the header section at the start of `message`: up to and including the line
/// ending of its last field (not the empty line); all of `message` when it ends in the header.
pub fn header_len(message: &[u8]) -> usize {
    let mut at = 0;
    while at < message.len() {
        if message[at] == b'\n' || message[at..].starts_with(b"\r\n") {
            return at;
        }
        match memchr::memchr(b'\n', &message[at..]) {
            Some(i) => at += i + 1,
            None => return message.len(),
        }
    }
    at
}

/// The fields of a header section, each with its folded lines and line ending.
pub fn fields(section: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < section.len() {
        let mut end = at;
        loop {
            match memchr::memchr(b'\n', &section[end..]) {
                Some(i) => end += i + 1,
                None => {
                    end = section.len();
                    break;
                }
            }
            if end >= section.len() || !matches!(section[end], b' ' | b'\t') {
                break;
            }
        }
        out.push(&section[at..end]);
        at = end;
    }
    out
}

/// A field's name, as written.
pub fn name(field: &[u8]) -> &[u8] {
    let colon = memchr::memchr(b':', field).unwrap_or(0);
    field[..colon].trim_ascii()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_words() {
        assert_eq!(
            decode_words(b"=?utf-8?q?Gr=C3=BC=C3=9Fe?= aus =?UTF-8?B?S8O2bG4=?="),
            "Grüße aus Köln"
        );
        assert_eq!(decode_words(b"=?utf-8?q?a?= =?utf-8?q?b?="), "ab");
        // KOI8-R, as Russian mail clients send it: "Отчёт".
        assert_eq!(decode_words(b"=?koi8-r?b?79Teo9Q=?="), "Отчёт");
        assert_eq!(decode_words(b"plain text"), "plain text");
        // A word of a charset nobody knows: its bytes, read as UTF-8.
        assert_eq!(decode_words(b"plain =?x-unknown?q?z?="), "plain z");
        let header =
            decode_header(b"From: a@b\r\nSubject: =?koi8-r?b?79Teo9Q=?=\r\nX: =?utf-8?q?b?=\r\n");
        assert!(
            header.contains("Subject: Отчёт") && header.contains("X: b"),
            "{header}"
        );
    }

    #[test]
    fn charsets() {
        assert_eq!(decode_charset("windows-1252", b"10 \x80").unwrap(), "10 €");
        assert_eq!(decode_charset("ISO-8859-15", b"20 \xa4").unwrap(), "20 €");
        assert_eq!(
            decode_charset("koi8-r", b"\xf0\xd2\xc9\xd7\xc5\xd4").unwrap(),
            "Привет"
        );
        assert_eq!(
            decode_charset("Shift_JIS", b"\x93\xfa\x96\x7b").unwrap(),
            "日本"
        );
        assert_eq!(decode_charset("utf-8", "é".as_bytes()).unwrap(), "é");
        assert!(decode_charset("x-no-such-charset", b"a").is_none());
        assert!(is_foreign_charset("KOI8-R") && !is_foreign_charset("\"UTF-8\""));
    }
}
