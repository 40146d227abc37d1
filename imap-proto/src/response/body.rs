//! The body structure of a message as FETCH reports it (RFC 9051 §7.5.2: BODY and
//! BODYSTRUCTURE, ENVELOPE), and how each part is written. [`crate::decode`] reads it back.

use super::strings::{nstring, string, string_pairs};
use super::*;

/// An address in an envelope. Fields are raw header octets (encoded words left encoded).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Address {
    /// Display name.
    pub name: Option<Bytes>,
    /// Source route (obsolete).
    pub adl: Option<Bytes>,
    /// Local part, or the group name at a group's start (with `host` NIL).
    pub mailbox: Option<Bytes>,
    /// Domain; NIL marks group syntax.
    pub host: Option<Bytes>,
}

/// ENVELOPE data (RFC 9051 §7.5.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Envelope {
    /// Date:
    pub date: Option<Bytes>,
    /// Subject:
    pub subject: Option<Bytes>,
    /// From:
    pub from: Vec<Address>,
    /// Sender: (From: when absent)
    pub sender: Vec<Address>,
    /// Reply-To: (From: when absent)
    pub reply_to: Vec<Address>,
    /// To:
    pub to: Vec<Address>,
    /// Cc:
    pub cc: Vec<Address>,
    /// Bcc:
    pub bcc: Vec<Address>,
    /// In-Reply-To:
    pub in_reply_to: Option<Bytes>,
    /// Message-ID:
    pub message_id: Option<Bytes>,
}

/// Content-Disposition with its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disposition {
    /// `inline`, `attachment`...
    pub kind: String,
    /// Parameters.
    pub params: Vec<(String, String)>,
}

/// The fields every non-multipart body has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyFields {
    /// Content-Type parameters.
    pub params: Vec<(String, String)>,
    /// Content-ID
    pub id: Option<Bytes>,
    /// Content-Description
    pub description: Option<Bytes>,
    /// Content-Transfer-Encoding (`7BIT` when absent).
    pub encoding: String,
    /// Octets of the encoded body.
    pub size: u64,
}

/// Extension data of a part (BODYSTRUCTURE only).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BodyExtension {
    /// Content-MD5 (single parts only).
    pub md5: Option<Bytes>,
    /// Content-Disposition.
    pub disposition: Option<Disposition>,
    /// Content-Language values.
    pub language: Vec<String>,
    /// Content-Location.
    pub location: Option<Bytes>,
}

/// A body structure (RFC 9051 §7.5.2 BODYSTRUCTURE).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyStructure {
    /// A leaf part.
    Single {
        /// Media type (`text`, `image`...).
        media_type: String,
        /// Subtype.
        subtype: String,
        /// Common fields.
        fields: BodyFields,
        /// Text lines (`text/*`), or the envelope, structure and lines of `message/rfc822`.
        specific: SinglePart,
        /// Extension data.
        extension: BodyExtension,
    },
    /// A multipart.
    Multi {
        /// The parts.
        parts: Vec<BodyStructure>,
        /// Subtype (`mixed`, `alternative`...).
        subtype: String,
        /// Content-Type parameters (boundary...).
        params: Vec<(String, String)>,
        /// Extension data.
        extension: BodyExtension,
    },
}

/// What depends on a leaf part's type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinglePart {
    /// Anything but text and message/rfc822.
    Basic,
    /// `text/*`: its line count.
    Text {
        /// Lines.
        lines: u64,
    },
    /// `message/rfc822`.
    Message {
        /// The enclosed message's envelope.
        envelope: Box<Envelope>,
        /// Its structure.
        body: Box<BodyStructure>,
        /// Lines.
        lines: u64,
    },
}

fn addresses(out: &mut BytesMut, list: &[Address]) {
    if list.is_empty() {
        out.put_slice(b"NIL");
        return;
    }
    out.put_u8(b'(');
    for a in list {
        out.put_u8(b'(');
        nstring(out, a.name.as_deref());
        out.put_u8(b' ');
        nstring(out, a.adl.as_deref());
        out.put_u8(b' ');
        nstring(out, a.mailbox.as_deref());
        out.put_u8(b' ');
        nstring(out, a.host.as_deref());
        out.put_u8(b')');
    }
    out.put_u8(b')');
}

pub(crate) fn envelope(out: &mut BytesMut, e: &Envelope) {
    out.put_u8(b'(');
    nstring(out, e.date.as_deref());
    out.put_u8(b' ');
    nstring(out, e.subject.as_deref());
    for list in [&e.from, &e.sender, &e.reply_to, &e.to, &e.cc, &e.bcc] {
        out.put_u8(b' ');
        addresses(out, list);
    }
    out.put_u8(b' ');
    nstring(out, e.in_reply_to.as_deref());
    out.put_u8(b' ');
    nstring(out, e.message_id.as_deref());
    out.put_u8(b')');
}

fn params(out: &mut BytesMut, params: &[(String, String)]) {
    if params.is_empty() {
        out.put_slice(b"NIL");
        return;
    }
    string_pairs(out, params);
}

fn extension(out: &mut BytesMut, ext: &BodyExtension) {
    out.put_u8(b' ');
    match &ext.disposition {
        Some(d) => {
            out.put_u8(b'(');
            string(out, d.kind.as_bytes());
            out.put_u8(b' ');
            params(out, &d.params);
            out.put_u8(b')');
        }
        None => out.put_slice(b"NIL"),
    }
    out.put_u8(b' ');
    match ext.language.as_slice() {
        [] => out.put_slice(b"NIL"),
        [one] => string(out, one.as_bytes()),
        many => {
            out.put_u8(b'(');
            for (i, l) in many.iter().enumerate() {
                if i > 0 {
                    out.put_u8(b' ');
                }
                string(out, l.as_bytes());
            }
            out.put_u8(b')');
        }
    }
    out.put_u8(b' ');
    nstring(out, ext.location.as_deref());
}

pub(crate) fn body_structure(out: &mut BytesMut, b: &BodyStructure, with_extension: bool) {
    out.put_u8(b'(');
    match b {
        BodyStructure::Single {
            media_type,
            subtype,
            fields,
            specific,
            extension: ext,
        } => {
            string(out, media_type.as_bytes());
            out.put_u8(b' ');
            string(out, subtype.as_bytes());
            out.put_u8(b' ');
            params(out, &fields.params);
            out.put_u8(b' ');
            nstring(out, fields.id.as_deref());
            out.put_u8(b' ');
            nstring(out, fields.description.as_deref());
            out.put_u8(b' ');
            string(out, fields.encoding.as_bytes());
            out.put_slice(format!(" {}", fields.size).as_bytes());
            match specific {
                SinglePart::Basic => {}
                SinglePart::Text { lines } => out.put_slice(format!(" {lines}").as_bytes()),
                SinglePart::Message {
                    envelope: e,
                    body,
                    lines,
                } => {
                    out.put_u8(b' ');
                    envelope(out, e);
                    out.put_u8(b' ');
                    body_structure(out, body, with_extension);
                    out.put_slice(format!(" {lines}").as_bytes());
                }
            }
            if with_extension {
                out.put_u8(b' ');
                nstring(out, ext.md5.as_deref());
                extension(out, ext);
            }
        }
        BodyStructure::Multi {
            parts,
            subtype,
            params: p,
            extension: ext,
        } => {
            for part in parts {
                body_structure(out, part, with_extension);
            }
            out.put_u8(b' ');
            string(out, subtype.as_bytes());
            if with_extension {
                out.put_u8(b' ');
                params(out, p);
                extension(out, ext);
            }
        }
    }
    out.put_u8(b')');
}
