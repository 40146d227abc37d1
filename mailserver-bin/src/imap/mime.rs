//! The MIME structure of a stored message, as IMAP needs it: part boundaries for
//! `BODY[1.2.MIME]`-style sections, and the data for ENVELOPE and BODYSTRUCTURE. Values are
//! the raw header octets (unfolded), never decoded: IMAP clients decode them themselves.
//!
//! Input is the message with CRLF line ends (as IMAP serves it).

use std::ops::Range;

use bytes::Bytes;
use imap_proto::{
    Address, BodyExtension, BodyFields, BodyStructure, Disposition, Envelope, Section, SectionText,
    SinglePart,
};

/// How much of a message's MIME structure is looked at (`[imap] max_mime_parts`,
/// `max_mime_depth`, `max_header_fields`): a message built to have a million parts or a
/// million header fields costs no more than one at these caps (Dovecot caps parts and depth
/// since CVE-2020-12100). Past a cap, the rest is one opaque leaf; the message is still served.
#[derive(Debug, Clone, Copy)]
pub struct MimeLimits {
    /// Parts in all (the message itself counts).
    pub parts: usize,
    /// Nesting of multiparts and enclosed messages.
    pub depth: usize,
    /// Header fields read per header.
    pub header_fields: usize,
}

impl Default for MimeLimits {
    fn default() -> Self {
        Self {
            parts: 10_000,
            depth: 24,
            header_fields: 1_000,
        }
    }
}

static LIMITS: std::sync::OnceLock<MimeLimits> = std::sync::OnceLock::new();

/// Sets the caps for this process (once, at start; later calls are ignored).
pub fn set_limits(limits: MimeLimits) {
    let _ = LIMITS.set(limits);
}

fn limits() -> MimeLimits {
    LIMITS.get().copied().unwrap_or_default()
}

/// One MIME entity: a header and a body, with what the body contains.
#[derive(Debug)]
pub struct Part {
    /// The header, through the blank line that ends it.
    pub header: Range<usize>,
    /// The body.
    pub body: Range<usize>,
    /// Media type and subtype, lower-case.
    pub media: (String, String),
    /// Content-Type parameters.
    pub params: Vec<(String, String)>,
    /// What the body holds.
    pub kind: Kind,
}

/// The content of a part.
#[derive(Debug)]
pub enum Kind {
    /// A leaf.
    Leaf,
    /// A multipart's children.
    Multi(Vec<Part>),
    /// The message a `message/rfc822` part encloses.
    Message(Box<Part>),
}

/// Where a header ends: the offset after the blank line (or the end when there is none).
fn header_end(data: &[u8], range: &Range<usize>) -> usize {
    let slice = &data[range.clone()];
    if slice.starts_with(b"\r\n") {
        return range.start + 2;
    }
    match memchr::memmem::find(slice, b"\r\n\r\n") {
        Some(i) => range.start + i + 4,
        None => range.end,
    }
}

/// The physical lines of a header, without their line ends, up to the blank line.
fn header_lines(header: &[u8]) -> impl Iterator<Item = &[u8]> {
    header
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .take_while(|l| !l.is_empty())
}

/// Whether a header line continues the field before it (folding, RFC 5322 §2.2.3).
fn is_continuation(line: &[u8]) -> bool {
    matches!(line[0], b' ' | b'\t')
}

/// The header fields of `header` as (name, unfolded value) pairs.
pub fn fields(header: &[u8]) -> Vec<(&[u8], Vec<u8>)> {
    let max = limits().header_fields;
    let mut out: Vec<(&[u8], Vec<u8>)> = Vec::new();
    for line in header_lines(header) {
        if is_continuation(line) {
            if let Some((_, value)) = out.last_mut() {
                value.extend_from_slice(line);
            }
        } else if let Some(colon) = memchr::memchr(b':', line) {
            if out.len() == max {
                break;
            }
            out.push((trim(&line[..colon]), trim(&line[colon + 1..]).to_vec()));
        }
    }
    out
}

/// The unfolded value of the first `name` field, as [`fields`] would give it, without
/// gathering the others.
pub fn first_field(header: &[u8], name: &str) -> Option<Vec<u8>> {
    let mut found: Option<Vec<u8>> = None;
    for line in header_lines(header) {
        match found.as_mut() {
            Some(value) if is_continuation(line) => value.extend_from_slice(line),
            Some(_) => break,
            None if is_continuation(line) => {}
            None => {
                if let Some(colon) = memchr::memchr(b':', line)
                    && trim(&line[..colon]).eq_ignore_ascii_case(name.as_bytes())
                {
                    found = Some(trim(&line[colon + 1..]).to_vec());
                }
            }
        }
    }
    found
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    &b[start..end.max(start)]
}

fn field<'a>(fields: &'a [(&[u8], Vec<u8>)], name: &str) -> Option<&'a [u8]> {
    fields
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
        .map(|(_, v)| v.as_slice())
}

/// `type/subtype; a=b; c="d"`: lower-cased type and subtype, and parameters.
fn content_type(
    value: Option<&[u8]>,
    default: (&str, &str),
) -> ((String, String), Vec<(String, String)>) {
    let fallback = || ((default.0.to_owned(), default.1.to_owned()), Vec::new());
    let Some(value) = value else {
        let mut d = fallback();
        if default.0 == "text" {
            d.1.push(("charset".into(), "us-ascii".into()));
        }
        return d;
    };
    let text = String::from_utf8_lossy(value);
    let (media, params) = text.split_once(';').unwrap_or((&text, ""));
    let media = strip_comments(media);
    let Some((t, s)) = media.split_once('/') else {
        return fallback();
    };
    let (t, s) = (t.trim().to_ascii_lowercase(), s.trim().to_ascii_lowercase());
    if t.is_empty() || s.is_empty() {
        return fallback();
    }
    ((t, s), parse_params(params))
}

fn strip_comments(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut depth = 0u32;
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' if depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// `; a=b; c="d e"` parameters (names as written, quoted values unquoted).
fn parse_params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        // name
        while i < bytes.len() && (bytes[i] == b';' || bytes[i].is_ascii_whitespace()) {
            i += 1;
        }
        let name_start = i;
        while i < bytes.len() && bytes[i] != b'=' && bytes[i] != b';' {
            i += 1;
        }
        let name = s[name_start..i].trim().to_owned();
        if i >= bytes.len() || bytes[i] == b';' {
            continue;
        }
        i += 1; // '='
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = String::new();
        if i < bytes.len() && bytes[i] == b'"' {
            i += 1;
            while i < bytes.len() && bytes[i] != b'"' {
                if bytes[i] == b'\\' && i + 1 < bytes.len() {
                    i += 1;
                }
                let c = s[i..].chars().next().unwrap_or(' ');
                value.push(c);
                i += c.len_utf8();
            }
            i += 1;
        } else {
            let start = i;
            while i < bytes.len() && bytes[i] != b';' {
                i += 1;
            }
            value = strip_comments(&s[start..i]).trim().to_owned();
        }
        if !name.is_empty() {
            out.push((name, value));
        }
    }
    out
}

/// Parses the entity in `range` of `data`.
pub fn parse(data: &[u8]) -> Part {
    parse_limited(data, limits())
}

/// [`parse`] with caps of its own.
pub fn parse_limited(data: &[u8], limits: MimeLimits) -> Part {
    let mut walk = Walk {
        data,
        parts_left: limits.parts.saturating_sub(1),
        max_depth: limits.depth,
    };
    walk.entity(0..data.len(), ("text", "plain"), 0)
}

/// One parse: the message and what is left of the part budget.
struct Walk<'a> {
    data: &'a [u8],
    parts_left: usize,
    max_depth: usize,
}

impl Walk<'_> {
    /// The parts of a multipart, as far as the budget goes; the part in which it runs out
    /// takes the rest of the body as one opaque leaf.
    fn children(&mut self, ranges: Vec<Range<usize>>, default: (&str, &str), depth: usize) -> Kind {
        let end = ranges.last().map(|r| r.end);
        let mut children = Vec::new();
        for range in ranges {
            if self.parts_left == 0 {
                break;
            }
            self.parts_left -= 1;
            if self.parts_left == 0 {
                let rest = range.start..end.unwrap_or(range.end);
                children.push(self.leaf(rest, default));
                break;
            }
            children.push(self.entity(range, default, depth + 1));
        }
        Kind::Multi(children)
    }

    /// A part whose content is not looked into.
    fn leaf(&self, range: Range<usize>, default: (&str, &str)) -> Part {
        let mut part = parse_entity_header(self.data, range, default);
        part.kind = Kind::Leaf;
        part
    }

    fn entity(&mut self, range: Range<usize>, default: (&str, &str), depth: usize) -> Part {
        let mut part = parse_entity_header(self.data, range, default);
        part.kind = self.kind(&part, depth);
        part
    }

    fn kind(&mut self, part: &Part, depth: usize) -> Kind {
        let (data, media, params, body) = (self.data, &part.media, &part.params, &part.body);
        if depth >= self.max_depth {
            return Kind::Leaf;
        }
        if media.0 == "multipart" {
            let boundary = params
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("boundary"))
                .map(|(_, v)| v.clone());
            return match boundary {
                Some(b) if !b.is_empty() => {
                    let child_default = if media.1 == "digest" {
                        ("message", "rfc822")
                    } else {
                        ("text", "plain")
                    };
                    let ranges = split_multipart(data, body, b.as_bytes(), self.parts_left.max(1));
                    self.children(ranges, child_default, depth)
                }
                _ => Kind::Leaf,
            };
        }
        let enclosed = media.0 == "message" && (media.1 == "rfc822" || media.1 == "global");
        if enclosed && self.parts_left > 0 {
            self.parts_left -= 1;
            return Kind::Message(Box::new(self.entity(
                body.clone(),
                ("text", "plain"),
                depth + 1,
            )));
        }
        Kind::Leaf
    }
}

/// A part's header, media type and parameters; its kind is left a leaf.
fn parse_entity_header(data: &[u8], range: Range<usize>, default: (&str, &str)) -> Part {
    let hend = header_end(data, &range);
    let header = range.start..hend;
    let body = hend..range.end;
    let f = fields(&data[header.clone()]);
    let (media, params) = content_type(field(&f, "Content-Type"), default);
    Part {
        header,
        body,
        media,
        params,
        kind: Kind::Leaf,
    }
}

/// The ranges of a multipart body's parts (RFC 2046 §5.1.1): the CRLF before a delimiter
/// belongs to the delimiter.
/// At most `max` ranges: the last takes the rest of the body.
fn split_multipart(
    data: &[u8],
    body: &Range<usize>,
    boundary: &[u8],
    max: usize,
) -> Vec<Range<usize>> {
    let mut delimiter = b"--".to_vec();
    delimiter.extend_from_slice(boundary);
    let slice = &data[body.clone()];
    let finder = memchr::memmem::Finder::new(&delimiter);
    let mut parts = Vec::new();
    let mut open: Option<usize> = None;
    let mut from = 0;
    while let Some(i) = finder.find(&slice[from..]).map(|i| from + i) {
        from = i + delimiter.len();
        if i > 0 && slice[i - 1] != b'\n' {
            continue;
        }
        let after = &slice[i + delimiter.len()..];
        let close = after.starts_with(b"--");
        let line_end =
            memchr::memchr(b'\n', after).map_or(slice.len(), |e| i + delimiter.len() + e + 1);
        let before = if i >= 2 && &slice[i - 2..i] == b"\r\n" {
            i - 2
        } else {
            i.saturating_sub(1)
        };
        if let Some(start) = open.take() {
            if parts.len() + 1 == max {
                parts.push(body.start + start..body.end);
                return parts;
            }
            parts.push(body.start + start..body.start + before.max(start));
        }
        if close {
            return parts;
        }
        open = Some(line_end);
        from = line_end;
    }
    if let Some(start) = open {
        parts.push(body.start + start..body.end);
    }
    parts
}

fn count_lines(b: &[u8]) -> u64 {
    let n = memchr::memchr_iter(b'\n', b).count() as u64;
    if !b.is_empty() && !b.ends_with(b"\n") {
        n + 1
    } else {
        n
    }
}

fn nstring(v: Option<&[u8]>) -> Option<Bytes> {
    v.map(Bytes::copy_from_slice)
}

/// ENVELOPE of the message whose header is `header`.
pub fn envelope(header: &[u8]) -> Envelope {
    let f = fields(header);
    let get = |n: &str| field(&f, n);
    let list = |n: &str| get(n).map(addresses).unwrap_or_default();
    let from = list("From");
    let sender = match list("Sender") {
        s if s.is_empty() => from.clone(),
        s => s,
    };
    let reply_to = match list("Reply-To") {
        s if s.is_empty() => from.clone(),
        s => s,
    };
    Envelope {
        date: nstring(get("Date")),
        subject: nstring(get("Subject")),
        from,
        sender,
        reply_to,
        to: list("To"),
        cc: list("Cc"),
        bcc: list("Bcc"),
        in_reply_to: nstring(get("In-Reply-To")),
        message_id: nstring(get("Message-ID")),
    }
}

#[derive(Debug, PartialEq)]
enum Token {
    Word(Vec<u8>),
    Quoted(Vec<u8>),
    /// A comment's text, without its outer parentheses.
    Comment(Vec<u8>),
    Angle(Vec<u8>),
    Special(u8),
}

fn tokenize(v: &[u8]) -> Vec<Token> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < v.len() {
        match v[i] {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'(' => {
                let start = i + 1;
                let mut depth = 0;
                let mut end = v.len();
                while i < v.len() {
                    match v[i] {
                        b'\\' => i += 1,
                        b'(' => depth += 1,
                        b')' => {
                            depth -= 1;
                            if depth == 0 {
                                end = i;
                                i += 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                    i += 1;
                }
                out.push(Token::Comment(v[start.min(end)..end].to_vec()));
            }
            b'"' => {
                i += 1;
                let mut s = Vec::new();
                while i < v.len() && v[i] != b'"' {
                    if v[i] == b'\\' && i + 1 < v.len() {
                        i += 1;
                    }
                    s.push(v[i]);
                    i += 1;
                }
                i += 1;
                out.push(Token::Quoted(s));
            }
            b'<' => {
                let end = memchr::memchr(b'>', &v[i..]).map_or(v.len(), |e| i + e);
                let inner: Vec<u8> = v[i + 1..end]
                    .iter()
                    .copied()
                    .filter(|c| !c.is_ascii_whitespace())
                    .collect();
                out.push(Token::Angle(inner));
                i = end + 1;
            }
            c @ (b',' | b':' | b';') => {
                out.push(Token::Special(c));
                i += 1;
            }
            _ => {
                let start = i;
                while i < v.len()
                    && !matches!(
                        v[i],
                        b' ' | b'\t' | b'\r' | b'\n' | b'(' | b'"' | b'<' | b',' | b':' | b';'
                    )
                {
                    i += 1;
                }
                out.push(Token::Word(v[start..i].to_vec()));
            }
        }
    }
    out
}

fn mailbox(phrase: &[Token], angle: Option<&[u8]>) -> Address {
    let join = |toks: &[Token]| -> Vec<u8> {
        let mut s = Vec::new();
        for t in toks {
            let w = match t {
                Token::Word(w) | Token::Quoted(w) => w,
                Token::Special(c) => {
                    s.push(*c);
                    continue;
                }
                Token::Angle(_) | Token::Comment(_) => continue,
            };
            if !s.is_empty()
                && !s.ends_with(b"@")
                && !s.ends_with(b".")
                && !w.starts_with(b"@")
                && !w.starts_with(b".")
            {
                s.push(b' ');
            }
            s.extend_from_slice(w);
        }
        s
    };
    let (name, spec) = match angle {
        Some(a) => {
            let name = join(phrase);
            (if name.is_empty() { None } else { Some(name) }, a.to_vec())
        }
        None => {
            // `user@example.com (Real Name)`: the comment names the person, as Dovecot
            // reads it.
            let name = phrase.iter().rev().find_map(|t| match t {
                Token::Comment(c) if !c.iter().all(u8::is_ascii_whitespace) => {
                    Some(trim(c).to_vec())
                }
                _ => None,
            });
            let mut spec = Vec::new();
            for t in phrase {
                match t {
                    Token::Word(w) => spec.extend_from_slice(w),
                    Token::Quoted(w) => {
                        spec.push(b'"');
                        spec.extend_from_slice(w);
                        spec.push(b'"');
                    }
                    _ => {}
                }
            }
            (name, spec)
        }
    };
    // A source route: <@a,@b:user@host>.
    let (adl, spec) = match (spec.first(), memchr::memchr(b':', &spec)) {
        (Some(b'@'), Some(colon)) => (Some(spec[..colon].to_vec()), spec[colon + 1..].to_vec()),
        _ => (None, spec),
    };
    let (local, host) = match memchr::memrchr(b'@', &spec) {
        Some(at) => (spec[..at].to_vec(), spec[at + 1..].to_vec()),
        None => (spec, b"MISSING_DOMAIN".to_vec()),
    };
    let local = if local.is_empty() {
        b"MISSING_MAILBOX".to_vec()
    } else {
        local
    };
    let local = match local
        .strip_prefix(b"\"")
        .and_then(|l| l.strip_suffix(b"\""))
    {
        Some(inner) => inner.to_vec(),
        None => local,
    };
    Address {
        name: name.map(Bytes::from),
        adl: adl.map(Bytes::from),
        mailbox: Some(Bytes::from(local)),
        host: Some(Bytes::from(host)),
    }
}

/// An address list (RFC 5322 §3.4), groups included, as ENVELOPE addresses.
pub fn addresses(value: &[u8]) -> Vec<Address> {
    let tokens = tokenize(value);
    let mut out = Vec::new();
    let mut phrase: Vec<Token> = Vec::new();
    let mut angle: Option<Vec<u8>> = None;
    let mut in_group = false;
    let flush = |phrase: &mut Vec<Token>, angle: &mut Option<Vec<u8>>, out: &mut Vec<Address>| {
        if !phrase.is_empty() || angle.is_some() {
            out.push(mailbox(phrase, angle.as_deref()));
        }
        phrase.clear();
        *angle = None;
    };
    for t in tokens {
        match t {
            Token::Special(b',') => flush(&mut phrase, &mut angle, &mut out),
            Token::Special(b':') if !in_group && angle.is_none() => {
                let name = mailbox(&phrase, Some(b"")).name.unwrap_or_default();
                out.push(Address {
                    name: None,
                    adl: None,
                    mailbox: Some(name),
                    host: None,
                });
                phrase.clear();
                in_group = true;
            }
            Token::Special(b';') if in_group => {
                flush(&mut phrase, &mut angle, &mut out);
                out.push(Address::default());
                in_group = false;
            }
            Token::Angle(a) => angle = Some(a),
            other => phrase.push(other),
        }
    }
    flush(&mut phrase, &mut angle, &mut out);
    if in_group {
        out.push(Address::default());
    }
    out
}

/// BODYSTRUCTURE of `part`.
pub fn body_structure(data: &[u8], part: &Part) -> BodyStructure {
    let f = fields(&data[part.header.clone()]);
    let get = |n: &str| field(&f, n);
    let disposition = get("Content-Disposition").map(|v| {
        let text = String::from_utf8_lossy(v);
        let (kind, params) = text.split_once(';').unwrap_or((&text, ""));
        Disposition {
            kind: strip_comments(kind).trim().to_owned(),
            params: parse_params(params),
        }
    });
    let language = get("Content-Language")
        .map(|v| {
            String::from_utf8_lossy(v)
                .split(',')
                .map(|l| strip_comments(l).trim().to_owned())
                .filter(|l| !l.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let extension = BodyExtension {
        md5: nstring(get("Content-MD5")),
        disposition: disposition.filter(|d| !d.kind.is_empty()),
        language,
        location: nstring(get("Content-Location")),
    };
    match &part.kind {
        Kind::Multi(children) => BodyStructure::Multi {
            parts: if children.is_empty() {
                // RFC 9051 requires at least one part; an empty multipart shows an empty text.
                vec![BodyStructure::Single {
                    media_type: "text".into(),
                    subtype: "plain".into(),
                    fields: BodyFields {
                        params: vec![("charset".into(), "us-ascii".into())],
                        id: None,
                        description: None,
                        encoding: "7bit".into(),
                        size: 0,
                    },
                    specific: SinglePart::Text { lines: 0 },
                    extension: BodyExtension::default(),
                }]
            } else {
                children.iter().map(|c| body_structure(data, c)).collect()
            },
            subtype: part.media.1.clone(),
            params: part.params.clone(),
            extension,
        },
        kind => {
            let body = &data[part.body.clone()];
            let fields = BodyFields {
                params: part.params.clone(),
                id: nstring(get("Content-ID")),
                description: nstring(get("Content-Description")),
                encoding: get("Content-Transfer-Encoding")
                    .map(|e| String::from_utf8_lossy(trim(e)).to_ascii_lowercase())
                    .filter(|e| !e.is_empty())
                    .unwrap_or_else(|| "7bit".into()),
                size: body.len() as u64,
            };
            let specific = match kind {
                Kind::Message(inner) => SinglePart::Message {
                    envelope: Box::new(envelope(&data[inner.header.clone()])),
                    body: Box::new(body_structure(data, inner)),
                    lines: count_lines(body),
                },
                _ if part.media.0 == "text" => SinglePart::Text {
                    lines: count_lines(body),
                },
                _ => SinglePart::Basic,
            };
            BodyStructure::Single {
                media_type: part.media.0.clone(),
                subtype: part.media.1.clone(),
                fields,
                specific,
                extension,
            }
        }
    }
}

/// The part a section's numbers name, and whether it is the top-level message.
fn resolve<'a>(top: &'a Part, numbers: &[u32]) -> Option<&'a Part> {
    let mut cur = top;
    for (i, &n) in numbers.iter().enumerate() {
        let idx = usize::try_from(n).ok()?.checked_sub(1)?;
        // Inside a message/rfc822 part, numbers address the enclosed message's parts.
        let container = match &cur.kind {
            Kind::Message(inner) if i > 0 || !std::ptr::eq(cur, top) => inner.as_ref(),
            _ => cur,
        };
        cur = match &container.kind {
            Kind::Multi(children) => children.get(idx)?,
            _ if idx == 0 => container,
            _ => return None,
        };
    }
    Some(cur)
}

/// The octets a FETCH section names, before any partial; `None` if the part does not exist.
pub fn section(data: &[u8], top: &Part, section: &Section) -> Option<Vec<u8>> {
    let part = resolve(top, &section.part)?;
    // HEADER, TEXT and HEADER.FIELDS of a part address the message it encloses.
    let message = if section.part.is_empty() {
        Some(top)
    } else {
        match &part.kind {
            Kind::Message(inner) => Some(inner.as_ref()),
            _ => None,
        }
    };
    match &section.text {
        None => Some(if section.part.is_empty() {
            data.to_vec()
        } else {
            data[part.body.clone()].to_vec()
        }),
        Some(SectionText::Mime) => Some(data[part.header.clone()].to_vec()),
        Some(SectionText::Header) => message.map(|m| data[m.header.clone()].to_vec()),
        Some(SectionText::Text) => message.map(|m| data[m.body.clone()].to_vec()),
        Some(SectionText::HeaderFields(names)) | Some(SectionText::HeaderFieldsNot(names)) => {
            let not = matches!(section.text, Some(SectionText::HeaderFieldsNot(_)));
            let m = message?;
            Some(header_fields(&data[m.header.clone()], names, not))
        }
    }
}

/// The text a person reads in each `text/*` part of a message (attached messages included):
/// transfer encoding undone and, for the Latin-1 family, converted to UTF-8, so SEARCH BODY
/// finds words that base64 or quoted-printable hid.
pub fn text_parts(data: &[u8], top: &Part) -> Vec<Vec<u8>> {
    fn walk<'a>(part: &'a Part, out: &mut Vec<&'a Part>) {
        match &part.kind {
            Kind::Leaf => out.push(part),
            Kind::Multi(children) => children.iter().for_each(|c| walk(c, out)),
            Kind::Message(inner) => walk(inner, out),
        }
    }
    let mut leaves = Vec::new();
    walk(top, &mut leaves);
    leaves
        .into_iter()
        .filter(|p| p.media.0 == "text")
        .map(|p| {
            let body = &data[p.body.clone()];
            let cte = first_field(&data[p.header.clone()], "Content-Transfer-Encoding")
                .map(|v| String::from_utf8_lossy(&v).trim().to_ascii_lowercase())
                .unwrap_or_default();
            let decoded = match cte.as_str() {
                "base64" => decode_base64(body),
                "quoted-printable" => decode_quoted_printable(body),
                _ => body.to_vec(),
            };
            let charset = p
                .params
                .iter()
                .find(|(k, _)| k == "charset")
                .map(|(_, v)| v.to_ascii_lowercase())
                .unwrap_or_default();
            // Any charset mail-parser knows, as UTF-8; one it does not, as it is.
            match crate::message::decode_charset(&charset, &decoded) {
                Some(text) => text.into_owned().into_bytes(),
                None => decoded,
            }
        })
        .collect()
}

/// A part's content transfer encoding is none this server undoes (RFC 3516 UNKNOWN-CTE).
#[derive(Debug, PartialEq, Eq)]
pub struct UnknownCte;

/// What FETCH BINARY returns for `part` (RFC 3516): a leaf's body with its content transfer
/// encoding undone, any other part as it is, the whole message for no part numbers; `None` if
/// the part does not exist.
pub fn binary(data: &[u8], top: &Part, part: &[u32]) -> Result<Option<Vec<u8>>, UnknownCte> {
    if part.is_empty() {
        return Ok(Some(data.to_vec()));
    }
    let Some(p) = resolve(top, part) else {
        return Ok(None);
    };
    let body = &data[p.body.clone()];
    if !matches!(p.kind, Kind::Leaf) {
        return Ok(Some(body.to_vec()));
    }
    let cte = first_field(&data[p.header.clone()], "Content-Transfer-Encoding")
        .map(|v| String::from_utf8_lossy(&v).trim().to_ascii_lowercase())
        .unwrap_or_default();
    match cte.as_str() {
        "" | "7bit" | "8bit" | "binary" => Ok(Some(body.to_vec())),
        "base64" => Ok(Some(decode_base64(body))),
        "quoted-printable" => Ok(Some(decode_quoted_printable(body))),
        _ => Err(UnknownCte),
    }
}

/// Base64 (RFC 2045 §6.8), stopping at padding. A body's line breaks and stray characters
/// are skipped, as decoders must; with `strict` (an encoded word, RFC 2047) any of them makes
/// the whole invalid.
pub fn decode_base64_with(data: &[u8], strict: bool) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(data.len() * 3 / 4);
    let (mut bits, mut n) = (0u32, 0);
    for &c in data {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            _ if strict => return None,
            _ => continue,
        };
        bits = (bits << 6) | u32::from(v);
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
            bits &= (1 << n) - 1;
        }
    }
    Some(out)
}

fn decode_base64(data: &[u8]) -> Vec<u8> {
    decode_base64_with(data, false).unwrap_or_default()
}

/// Quoted-printable (RFC 2045 §6.7): `=XX` octets, soft line breaks (`=` at a line end)
/// removed, anything malformed kept as it is.
fn decode_quoted_printable(data: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(data.len());
    let mut i = 0;
    while i < data.len() {
        if data[i] == b'=' {
            let rest = &data[i + 1..];
            if rest.starts_with(b"\r\n") {
                i += 3;
                continue;
            }
            if rest.starts_with(b"\n") {
                i += 2;
                continue;
            }
            if let (Some(&h), Some(&l)) = (rest.first(), rest.get(1))
                && let (Some(h), Some(l)) = (hex(h), hex(l))
            {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(data[i]);
        i += 1;
    }
    out
}

/// The header lines (with their continuations) whose names are (or, with `not`, are not) in
/// `names`, then the blank line.
pub fn header_fields(header: &[u8], names: &[String], not: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut keep = false;
    let mut rest = header;
    while !rest.is_empty() {
        let end = memchr::memchr(b'\n', rest).map_or(rest.len(), |i| i + 1);
        let line = &rest[..end];
        rest = &rest[end..];
        if line == b"\r\n" || line == b"\n" {
            break;
        }
        if !matches!(line[0], b' ' | b'\t') {
            let name = memchr::memchr(b':', line)
                .map(|c| trim(&line[..c]))
                .unwrap_or(b"");
            let listed = names
                .iter()
                .any(|n| n.as_bytes().eq_ignore_ascii_case(name));
            keep = listed != not && !name.is_empty();
        }
        if keep {
            out.extend_from_slice(line);
            if !line.ends_with(b"\n") {
                out.extend_from_slice(b"\r\n");
            }
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_past_the_cap_are_one_opaque_part_and_depth_is_bounded() {
        let mut m = b"Content-Type: multipart/mixed; boundary=a\r\n\r\n".to_vec();
        for i in 0..10 {
            m.extend_from_slice(format!("--a\r\n\r\npart {i}\r\n").as_bytes());
        }
        m.extend_from_slice(b"--a--\r\n");
        let limits = MimeLimits {
            parts: 5,
            ..MimeLimits::default()
        };
        let Kind::Multi(children) = parse_limited(&m, limits).kind else {
            panic!("not a multipart");
        };
        // The message and four parts; the fourth holds parts 3 to 9.
        assert_eq!(children.len(), 4);
        let last = &m[children[3].body.clone()];
        assert!(last.starts_with(b"part 3\r\n--a\r\n"), "{last:?}");
        assert!(last.ends_with(b"part 9\r\n--a--\r\n"), "{last:?}");
        let whole = parse_limited(&m, MimeLimits::default());
        assert!(matches!(whole.kind, Kind::Multi(ref c) if c.len() == 10));
        // Nesting: each level a multipart holding the next.
        let mut nested = Vec::new();
        for level in 0..50 {
            nested.extend_from_slice(
                format!("Content-Type: multipart/mixed; boundary=b{level}x\r\n\r\n--b{level}x\r\n")
                    .as_bytes(),
            );
        }
        let mut part = &parse_limited(&nested, MimeLimits::default());
        let mut depth = 0;
        while let Kind::Multi(children) = &part.kind {
            part = &children[0];
            depth += 1;
        }
        assert_eq!(depth, MimeLimits::default().depth);
    }

    #[test]
    fn a_comment_after_a_bare_address_is_its_name_as_dovecot_reads_it() {
        let name = |v: &[u8]| {
            addresses(v)
                .into_iter()
                .map(|a| a.name.map(|n| String::from_utf8_lossy(&n).into_owned()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            name(b"user@example.com (Real Name)"),
            [Some("Real Name".to_owned())]
        );
        assert_eq!(
            name(b"a@example.com (x (nested) y), b@example.com"),
            [Some("x (nested) y".to_owned()), None]
        );
        // A phrase wins over a comment; an empty comment is no name.
        assert_eq!(
            name(b"\"Quoted\" <q@example.com> (comment), c@example.com ( )"),
            [Some("Quoted".to_owned()), None]
        );
        let a = &addresses(b"user@example.com (Real Name)")[0];
        assert_eq!(a.mailbox.as_deref(), Some(&b"user"[..]));
        assert_eq!(a.host.as_deref(), Some(&b"example.com"[..]));
    }

    #[test]
    fn header_fields_past_the_cap_are_not_read() {
        let mut header = Vec::new();
        for i in 0..5_000 {
            header.extend_from_slice(format!("X-Field-{i}: value\r\n").as_bytes());
        }
        assert_eq!(fields(&header).len(), MimeLimits::default().header_fields);
    }

    #[test]
    fn first_field_unfolds_the_first_match_only() {
        let header =
            b"References: <a@x>\r\n\t<b@x>\r\nSubject: one\r\nsubject: two\r\n\r\nX: body\r\n";
        assert_eq!(
            first_field(header, "references").as_deref(),
            Some(&b"<a@x>\t<b@x>"[..])
        );
        assert_eq!(first_field(header, "Subject").as_deref(), Some(&b"one"[..]));
        assert_eq!(first_field(header, "X"), None);
        for name in ["References", "Subject"] {
            let all = fields(header);
            let via_fields = all
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()));
            assert_eq!(
                first_field(header, name).as_ref(),
                via_fields.map(|(_, v)| v)
            );
        }
    }

    #[test]
    fn text_parts_are_decoded_for_search() {
        let msg = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\nR3LDvMOfZSBhdXMgS8O2bG4=\r\n--b\r\nContent-Type: text/html; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<p>K=F6ln</p>\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nAAECAw==\r\n--b--\r\n";
        let texts = text_parts(msg, &parse(msg));
        assert_eq!(texts.len(), 2);
        assert_eq!(texts[0], "Grüße aus Köln".as_bytes());
        assert_eq!(texts[1], "<p>Köln</p>".as_bytes());
    }

    #[test]
    fn binary_undoes_transfer_encodings() {
        let msg = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC\r\nAw==\r\n--b\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGr=C3=BC=\r\n=C3=9Fe=3D\r\n--b\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin\r\n--b--\r\n";
        let top = parse(msg);
        assert_eq!(binary(msg, &top, &[1]), Ok(Some(vec![0, 1, 2, 3])));
        assert_eq!(
            binary(msg, &top, &[2]),
            Ok(Some("Grüße=".as_bytes().to_vec()))
        );
        assert_eq!(binary(msg, &top, &[3]), Err(UnknownCte));
        assert_eq!(binary(msg, &top, &[4]), Ok(None));
        assert_eq!(binary(msg, &top, &[]), Ok(Some(msg.to_vec())));
    }

    const MULTI: &[u8] = b"From: \"Doe, John\" <john@example.com>\r\nTo: a@b.c, Group: x@y.z, (c) w@v.u;\r\nSubject: =?utf-8?q?hi?=\r\nContent-Type: multipart/mixed; boundary=\"XX\"\r\n\r\npreamble\r\n--XX\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhello\r\nworld\r\n--XX\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\ninner body\r\n--XX--\r\nepilogue\r\n";

    #[test]
    fn structure_and_sections() {
        let top = parse(MULTI);
        let Kind::Multi(children) = &top.kind else {
            panic!()
        };
        assert_eq!(children.len(), 2);
        assert_eq!(&MULTI[children[0].body.clone()], b"hello\r\nworld");
        let s = |part: Vec<u32>, text: Option<SectionText>| {
            section(MULTI, &top, &Section { part, text }).map(|v| String::from_utf8(v).unwrap())
        };
        assert_eq!(s(vec![1], None).as_deref(), Some("hello\r\nworld"));
        assert_eq!(s(vec![2, 1], None).as_deref(), Some("inner body"));
        assert_eq!(
            s(vec![2], Some(SectionText::Header)).as_deref(),
            Some("Subject: inner\r\n\r\n")
        );
        assert_eq!(
            s(vec![1], Some(SectionText::Mime)).as_deref(),
            Some("Content-Type: text/plain; charset=utf-8\r\n\r\n")
        );
        assert_eq!(s(vec![3], None), None);
        assert_eq!(
            s(
                vec![],
                Some(SectionText::HeaderFields(vec!["subject".into()]))
            )
            .as_deref(),
            Some("Subject: =?utf-8?q?hi?=\r\n\r\n")
        );
        let mut out = bytes::BytesMut::new();
        imap_proto::Response::Fetch {
            seq: 1,
            items: vec![imap_proto::FetchValue::BodyStructure(Box::new(
                body_structure(MULTI, &top),
            ))],
        }
        .encode(&mut out);
        let text = String::from_utf8(out.to_vec()).unwrap();
        assert!(text.contains("((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 12 2 NIL NIL NIL NIL)(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 28 (NIL \"inner\""), "{text}");
        assert!(
            text.contains("\"mixed\" (\"boundary\" \"XX\") NIL NIL NIL)"),
            "{text}"
        );
    }

    #[test]
    fn envelope_addresses() {
        let e = envelope(&MULTI[..top_header_len()]);
        assert_eq!(e.from[0].name.as_deref(), Some(&b"Doe, John"[..]));
        assert_eq!(e.from[0].host.as_deref(), Some(&b"example.com"[..]));
        assert_eq!(e.sender, e.from);
        assert_eq!(e.to.len(), 5, "{:?}", e.to);
        assert_eq!(e.to[1].host, None, "group start");
        assert_eq!(e.to[1].mailbox.as_deref(), Some(&b"Group"[..]));
        assert_eq!(e.to[4], Address::default(), "group end");
        assert_eq!(e.subject.as_deref(), Some(&b"=?utf-8?q?hi?="[..]));
    }

    fn top_header_len() -> usize {
        header_end(MULTI, &(0..MULTI.len()))
    }

    #[test]
    fn crlf() {}
}
