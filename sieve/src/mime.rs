//! Just enough MIME (RFC 2045/2046) for [`crate::ParsedMessage`]'s `body` test: the header
//! split from the body, multipart bodies walked to their leaf parts (nested messages
//! included), and each leaf decoded from base64 or quoted-printable and from UTF-8 or
//! Latin-1 into text.

/// Header fields (names as written, values unfolded) and the body after the empty line
/// (`None` when there is none).
pub(crate) type Split<'a> = (Vec<(String, String)>, Option<&'a str>);

/// How deep multiparts and enclosed messages are followed.
const MAX_DEPTH: usize = 16;

/// Splits `text` (CRLF or LF line ends) into its header fields and its body.
pub(crate) fn split(text: &str) -> Split<'_> {
    let (header, body) = match (text.find("\r\n\r\n"), text.find("\n\n")) {
        (Some(a), Some(b)) if b + 1 < a => (&text[..b + 1], Some(&text[b + 2..])),
        (Some(a), _) => (&text[..a + 2], Some(&text[a + 4..])),
        (None, Some(b)) => (&text[..b + 1], Some(&text[b + 2..])),
        (None, None) => (text, None),
    };
    // A body that starts at once (no header at all) has the empty line first.
    let (header, body) = match text
        .strip_prefix("\r\n")
        .or_else(|| text.strip_prefix('\n'))
    {
        Some(rest) => ("", Some(rest)),
        None => (header, body),
    };
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in header.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = fields.last_mut() {
                value.push_str(line);
            }
        } else if let Some((name, value)) = line.split_once(':') {
            fields.push((name.trim().to_owned(), value.trim_start().to_owned()));
        }
    }
    for (_, value) in &mut fields {
        let trimmed = value.trim_end().len();
        value.truncate(trimmed);
    }
    (fields, body)
}

/// A leaf part: its content type (lowercase) and its decoded text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Part {
    pub(crate) kind: String,
    pub(crate) subtype: String,
    pub(crate) text: String,
}

/// The leaf parts of an entity with these header fields and body, in order.
pub(crate) fn leaves(fields: &[(String, String)], body: &str) -> Vec<Part> {
    let mut out = Vec::new();
    walk(fields, body, 0, &mut out);
    out
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// A parameter of a structured field value (`boundary`, `charset`), unquoted.
fn parameter<'a>(value: &'a str, name: &str) -> Option<&'a str> {
    value.split(';').skip(1).find_map(|p| {
        let (n, v) = p.split_once('=')?;
        n.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().trim_matches('"'))
    })
}

fn walk(fields: &[(String, String)], body: &str, depth: usize, out: &mut Vec<Part>) {
    let content_type = field(fields, "content-type").unwrap_or("text/plain");
    let media = content_type.split(';').next().unwrap_or("").trim();
    // An invalid type is text/plain (RFC 2045 §5.2).
    let (kind, subtype) = match media.split_once('/') {
        Some((k, s)) if !k.is_empty() && !s.is_empty() && !s.contains('/') => (k, s),
        _ => ("text", "plain"),
    };
    let (kind, subtype) = (kind.to_ascii_lowercase(), subtype.to_ascii_lowercase());
    if depth < MAX_DEPTH
        && kind == "multipart"
        && let Some(boundary) = parameter(content_type, "boundary")
    {
        // A multipart's own text is its preamble and epilogue (RFC 5173 §5.2).
        let (parts, outside) = multipart(body, boundary);
        out.push(Part {
            kind,
            subtype,
            text: outside,
        });
        for part in parts {
            let (fields, body) = split(part);
            walk(&fields, body.unwrap_or(""), depth + 1, out);
        }
        return;
    }
    if depth < MAX_DEPTH && kind == "message" && subtype == "rfc822" {
        // Its own text is the enclosed message as it is, header and all.
        out.push(Part {
            kind,
            subtype,
            text: body.to_owned(),
        });
        let (fields, body) = split(body);
        walk(&fields, body.unwrap_or(""), depth + 1, out);
        return;
    }
    let encoding = field(fields, "content-transfer-encoding").unwrap_or("7bit");
    let octets = match encoding.trim().to_ascii_lowercase().as_str() {
        "base64" => base64_decode(body),
        "quoted-printable" => quoted_printable(body),
        _ => body.as_bytes().to_vec(),
    };
    let text = text_in(
        parameter(content_type, "charset").unwrap_or("us-ascii"),
        &octets,
    );
    out.push(Part {
        kind,
        subtype,
        text,
    });
}

/// The body parts of a multipart body, and its preamble and epilogue joined by a line
/// break.
fn multipart<'a>(body: &'a str, boundary: &str) -> (Vec<&'a str>, String) {
    let delimiter = format!("--{boundary}");
    let mut parts = Vec::new();
    let mut start: Option<usize> = None;
    let mut offset = 0;
    // The line break before a delimiter belongs to it (RFC 2046 §5.1.1).
    let before = |text: &'a str| {
        let text = text.strip_suffix('\n').unwrap_or(text);
        text.strip_suffix('\r').unwrap_or(text)
    };
    let mut preamble = body;
    for line in body.split_inclusive('\n') {
        let bare = line.trim_end_matches(['\r', '\n']);
        if let Some(rest) = bare.strip_prefix(delimiter.as_str()) {
            match start {
                Some(from) => parts.push(before(&body[from..offset])),
                None => preamble = before(&body[..offset]),
            }
            if rest.starts_with("--") {
                let epilogue = &body[offset + line.len()..];
                return (parts, format!("{preamble}\n{epilogue}"));
            }
            start = Some(offset + line.len());
        }
        offset += line.len();
    }
    match start {
        Some(from) => parts.push(&body[from..]),
        None => preamble = body,
    }
    (parts, preamble.to_owned())
}

/// Base64 as decoders of bodies must read it (RFC 2045 §6.8): line breaks and stray
/// characters skipped, the end at the padding; what does not decode is empty.
fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::RequireNone)
            .with_decode_allow_trailing_bits(true),
    );
    let clean: Vec<u8> = text
        .bytes()
        .take_while(|&b| b != b'=')
        .filter(|&b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
        .collect();
    LENIENT.decode(clean).unwrap_or_default()
}

fn quoted_printable(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let (line, end) = match line.strip_suffix('\n') {
            Some(l) => (l.strip_suffix('\r').unwrap_or(l), "\n"),
            None => (line, ""),
        };
        let line = line.trim_end_matches([' ', '\t']);
        let (line, soft) = match line.strip_suffix('=') {
            Some(l) => (l, true),
            None => (line, false),
        };
        let bytes = line.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            match (bytes[i], hex) {
                (b'=', Some(v)) => {
                    out.push(v);
                    i += 3;
                }
                (b, _) => {
                    out.push(b);
                    i += 1;
                }
            }
        }
        if !soft {
            out.extend_from_slice(end.as_bytes());
        }
    }
    out
}

/// `text` as it can be written in a header field: ASCII as it is, anything else as one
/// RFC 2047 UTF-8 `B` encoded word (what replies and edited headers use).
pub fn encode_word(text: &str) -> String {
    if text.is_ascii() {
        return text.to_owned();
    }
    // Words of at most 45 octets of text (60 of base64, 72 with the markers: under the 75
    // of RFC 2047 §2), cut between characters, separated by a space.
    let mut words = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let mut cut = rest.len().min(45);
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let (word, tail) = rest.split_at(cut);
        let encoded = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, word);
        words.push(format!("=?UTF-8?B?{encoded}?="));
        rest = tail;
    }
    words.join(" ")
}

/// A header field's value with its RFC 2047 encoded words decoded (`B` and `Q`; UTF-8,
/// ASCII and Latin-1 charsets, others read as UTF-8), the blanks between two adjacent
/// words dropped (§6.2). A malformed word stays as written.
pub(crate) fn decode_words(value: &str) -> String {
    if !value.contains("=?") {
        return value.to_owned();
    }
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    let mut pending_blank = String::new();
    let mut after_word = false;
    while !rest.is_empty() {
        if let Some((text, used)) = rest.strip_prefix("=?").and_then(encoded_word) {
            if !after_word {
                out.push_str(&pending_blank);
            }
            pending_blank.clear();
            out.push_str(&text);
            rest = &rest[2 + used..];
            after_word = true;
            continue;
        }
        let c = rest.chars().next().unwrap_or(' ');
        if c == ' ' || c == '\t' {
            pending_blank.push(c);
        } else {
            out.push_str(&pending_blank);
            pending_blank.clear();
            out.push(c);
            after_word = false;
        }
        rest = &rest[c.len_utf8()..];
    }
    out.push_str(&pending_blank);
    out
}

/// `charset?enc?text?=` (after the `=?`): the decoded text and the octets it took.
fn encoded_word(word: &str) -> Option<(String, usize)> {
    let end = word.find("?=")?;
    let mut parts = word[..end].splitn(3, '?');
    let (charset, encoding, text) = (parts.next()?, parts.next()?, parts.next()?);
    if text.contains([' ', '\t']) {
        return None;
    }
    let octets = match encoding {
        "B" | "b" => base64_decode(text),
        "Q" | "q" => quoted_printable(&text.replace('_', " ")),
        _ => return None,
    };
    // RFC 2231's language suffix: "utf-8*en".
    let charset = charset.split('*').next().unwrap_or(charset);
    Some((text_in(charset, &octets), end + 2))
}

/// `octets` in `charset` as text: Latin-1 (and Windows-1252, read as Latin-1) by octet,
/// anything else as UTF-8 (ASCII included), invalid sequences replaced.
fn text_in(charset: &str, octets: &[u8]) -> String {
    if ["iso-8859-1", "latin1", "windows-1252"]
        .iter()
        .any(|c| charset.eq_ignore_ascii_case(c))
    {
        octets.iter().map(|&b| char::from(b)).collect()
    } else {
        String::from_utf8_lossy(octets).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_multipart_walked_to_decoded_leaves() {
        let message = "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\npreamble\r\n\
                       --b1\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\
                       Content-Transfer-Encoding: quoted-printable\r\n\r\ncaf=E9 =\r\nau lait\r\n\
                       --b1\r\nContent-Type: multipart/alternative; boundary=b2\r\n\r\n\
                       --b2\r\nContent-Type: text/html\r\n\r\n<p>hi</p>\r\n--b2--\r\n\
                       --b1\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\ninside\r\n\
                       --b1\r\nContent-Type: application/octet-stream\r\n\
                       Content-Transfer-Encoding: base64\r\n\r\naGVs\r\nbG8=\r\n--b1--\r\nepilogue\r\n";
        let (fields, body) = split(message);
        let parts = leaves(&fields, body.unwrap());
        let got: Vec<(&str, &str, &str)> = parts
            .iter()
            .map(|p| (p.kind.as_str(), p.subtype.as_str(), p.text.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("multipart", "mixed", "preamble\nepilogue\r\n"),
                ("text", "plain", "café au lait"),
                ("multipart", "alternative", "\n"),
                ("text", "html", "<p>hi</p>"),
                ("message", "rfc822", "Subject: inner\r\n\r\ninside"),
                ("text", "plain", "inside"),
                ("application", "octet-stream", "hello"),
            ]
        );
    }

    #[test]
    fn words_encoded_within_rfc_2047s_length() {
        assert_eq!(encode_word("plain"), "plain");
        assert_eq!(encode_word("café"), "=?UTF-8?B?Y2Fmw6k=?=");
        let long = "é".repeat(40);
        let encoded = encode_word(&long);
        let words: Vec<&str> = encoded.split(' ').collect();
        assert_eq!(words.len(), 2);
        assert!(words.iter().all(|w| w.len() <= 75), "{words:?}");
        let decoded: Vec<u8> = words
            .iter()
            .flat_map(|w| base64_decode(&w[10..w.len() - 2]))
            .collect();
        assert_eq!(String::from_utf8(decoded).unwrap(), long);
    }

    #[test]
    fn encoded_words_decoded() {
        assert_eq!(decode_words("=?UTF-8?B?Y2Fmw6k=?= au lait"), "café au lait");
        assert_eq!(
            decode_words("=?iso-8859-1?q?caf=E9?= =?utf-8?q?_cr=C3=A8me?="),
            "café crème"
        );
        assert_eq!(decode_words("a =?x?z?bad?= b"), "a =?x?z?bad?= b");
        assert_eq!(decode_words(&encode_word(&"é".repeat(40))), "é".repeat(40));
    }

    #[test]
    fn a_message_without_a_header_or_a_body() {
        assert_eq!(split("\r\nbody"), (vec![], Some("body")));
        let (fields, body) = split("Subject: x\r\n");
        assert_eq!(fields, [("Subject".to_owned(), "x".to_owned())]);
        assert_eq!(body, None);
    }
}
