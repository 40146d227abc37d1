//! What FETCH takes out of a parsed message: BODYSTRUCTURE, sections, text parts for
//! SEARCH, BINARY (RFC 3516) with the transfer encodings undone, header field subsets.

use mailwright_imap::{
    BodyExtension, BodyFields, BodyStructure, Disposition, Section, SectionText, SinglePart,
};

use crate::imap::mime::envelope::envelope;
use crate::imap::mime::{
    Kind, Part, count_lines, field, fields, first_field, nstring, parse_params, strip_comments,
    trim,
};

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
