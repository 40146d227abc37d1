//! The response encoder: atoms, quoted strings or literals chosen so that what is written
//! parses back the same.

use bytes::{BufMut, Bytes, BytesMut};

use super::strings::{astring, quotable_utf8, string, string_pairs};
use super::{Code, EncodeOptions, FetchValue, ListExtended, Response, Status, ThreadNode};
use super::{body_structure, envelope};
use crate::command::{Section, SectionText};
use crate::types::{Flag, Text, encode_mutf7};

impl Response {
    /// Encodes the response with its CRLF, mailbox names in modified UTF-7.
    pub fn encode(&self, out: &mut BytesMut) {
        self.encode_with(out, EncodeOptions::default());
    }

    /// Encodes the response with its CRLF, as `options` say.
    pub fn encode_with(&self, out: &mut BytesMut, options: EncodeOptions) {
        match self {
            Response::Tagged {
                tag,
                status,
                code,
                text,
            } => {
                out.put_slice(tag.as_str().as_bytes());
                out.put_u8(b' ');
                status_line(out, *status, code.as_ref(), text);
            }
            Response::Untagged { status, code, text } => {
                out.put_slice(b"* ");
                status_line(out, *status, code.as_ref(), text);
            }
            Response::Bye { code, text } => {
                out.put_slice(b"* BYE ");
                if let Some(code) = code {
                    encode_code(out, code);
                    out.put_u8(b' ');
                }
                out.put_slice(text.as_str().as_bytes());
            }
            Response::Capability(caps) => {
                out.put_slice(b"* CAPABILITY");
                for c in caps {
                    out.put_u8(b' ');
                    out.put_slice(c.as_str().as_bytes());
                }
            }
            Response::Enabled(caps) => {
                out.put_slice(b"* ENABLED");
                for c in caps {
                    out.put_u8(b' ');
                    out.put_slice(c.as_str().as_bytes());
                }
            }
            Response::Id(None) => out.put_slice(b"* ID NIL"),
            Response::Id(Some(fields)) => {
                out.put_slice(b"* ID ");
                string_pairs(out, fields);
            }
            Response::Namespace { prefix, delimiter } => {
                out.put_slice(b"* NAMESPACE ((");
                if options.utf8_names {
                    string(out, prefix.as_bytes());
                } else {
                    string(out, encode_mutf7(prefix).as_bytes());
                }
                out.put_u8(b' ');
                delimiter_str(out, Some(*delimiter));
                out.put_slice(b")) NIL NIL");
            }
            Response::Flags(flags) => {
                out.put_slice(b"* FLAGS ");
                flag_list(out, flags);
            }
            Response::Exists(n) => out.put_slice(format!("* {n} EXISTS").as_bytes()),
            Response::Recent(n) => out.put_slice(format!("* {n} RECENT").as_bytes()),
            Response::Expunge(n) => out.put_slice(format!("* {n} EXPUNGE").as_bytes()),
            Response::List { .. }
            | Response::Status { .. }
            | Response::Search { .. }
            | Response::Vanished { .. }
            | Response::Quota { .. }
            | Response::QuotaRoot { .. } => self.encode_mailbox_data(out, options),
            Response::Sort { .. }
            | Response::Thread { .. }
            | Response::ESearch { .. }
            | Response::Fetch { .. } => self.encode_message_data(out),
            Response::Continue(text) => {
                out.put_slice(b"+ ");
                out.put_slice(text.as_str().as_bytes());
            }
        }
        out.put_slice(b"\r\n");
    }

    /// Mailbox data: LIST, STATUS, SEARCH, VANISHED and the quota responses.
    fn encode_mailbox_data(&self, out: &mut BytesMut, options: EncodeOptions) {
        match self {
            Response::List {
                attributes,
                delimiter,
                mailbox,
                lsub,
                extended,
            } => {
                out.put_slice(if *lsub { b"* LSUB (" } else { b"* LIST (" });
                for (i, a) in attributes.iter().enumerate() {
                    if i > 0 {
                        out.put_u8(b' ');
                    }
                    out.put_u8(b'\\');
                    out.put_slice(a.as_str().as_bytes());
                }
                out.put_slice(b") ");
                delimiter_str(out, *delimiter);
                out.put_u8(b' ');
                mailbox_name(out, mailbox, options);
                if !extended.is_empty() {
                    out.put_slice(b" (");
                    for (i, item) in extended.iter().enumerate() {
                        if i > 0 {
                            out.put_u8(b' ');
                        }
                        match item {
                            ListExtended::OldName(name) => {
                                out.put_slice(b"\"OLDNAME\" (");
                                string(out, name.as_bytes());
                                out.put_u8(b')');
                            }
                            ListExtended::ChildInfo(options) => {
                                out.put_slice(b"CHILDINFO (");
                                let names = [
                                    (options.subscribed, "\"SUBSCRIBED\""),
                                    (options.remote, "\"REMOTE\""),
                                    (options.special_use, "\"SPECIAL-USE\""),
                                ];
                                let on: Vec<&str> =
                                    names.iter().filter(|(o, _)| *o).map(|(_, n)| *n).collect();
                                out.put_slice(on.join(" ").as_bytes());
                                out.put_u8(b')');
                            }
                        }
                    }
                    out.put_u8(b')');
                }
            }
            Response::Status { mailbox, items } => {
                out.put_slice(b"* STATUS ");
                mailbox_name(out, mailbox, options);
                out.put_slice(b" (");
                for (i, (item, value)) in items.iter().enumerate() {
                    if i > 0 {
                        out.put_u8(b' ');
                    }
                    out.put_slice(format!("{} {value}", item.name()).as_bytes());
                }
                out.put_u8(b')');
            }
            Response::Search(ns, modseq) => {
                out.put_slice(b"* SEARCH");
                for n in ns {
                    out.put_slice(format!(" {n}").as_bytes());
                }
                if let Some(m) = modseq {
                    out.put_slice(format!(" (MODSEQ {m})").as_bytes());
                }
            }
            Response::Vanished { earlier, uids } => {
                out.put_slice(b"* VANISHED ");
                if *earlier {
                    out.put_slice(b"(EARLIER) ");
                }
                out.put_slice(uids.to_string().as_bytes());
            }
            Response::Quota { root, resources } => {
                out.put_slice(b"* QUOTA ");
                astring(out, root.as_bytes());
                out.put_slice(b" (");
                for (i, (resource, usage, limit)) in resources.iter().enumerate() {
                    if i > 0 {
                        out.put_u8(b' ');
                    }
                    out.put_slice(format!("{resource} {usage} {limit}").as_bytes());
                }
                out.put_u8(b')');
            }
            Response::QuotaRoot { mailbox, roots } => {
                out.put_slice(b"* QUOTAROOT ");
                mailbox_name(out, mailbox, options);
                for root in roots {
                    out.put_u8(b' ');
                    astring(out, root.as_bytes());
                }
            }
            // The others are encoded by the caller.
            _ => {}
        }
    }

    /// Message data: SORT, THREAD, ESEARCH and FETCH.
    fn encode_message_data(&self, out: &mut BytesMut) {
        match self {
            Response::Sort(ns) => {
                out.put_slice(b"* SORT");
                for n in ns {
                    out.put_slice(format!(" {n}").as_bytes());
                }
            }
            Response::Thread(threads) => {
                out.put_slice(b"* THREAD");
                if !threads.is_empty() {
                    out.put_u8(b' ');
                }
                for t in threads {
                    thread_list(out, t);
                }
            }
            Response::ESearch {
                tag,
                uid,
                min,
                max,
                count,
                all,
                modseq,
            } => {
                // Tags are astring characters without quotes or backslashes: quoting is plain.
                out.put_slice(format!("* ESEARCH (TAG \"{tag}\")").as_bytes());
                if *uid {
                    out.put_slice(b" UID");
                }
                for (name, v) in [("MIN", min), ("MAX", max), ("COUNT", count)] {
                    if let Some(v) = v {
                        out.put_slice(format!(" {name} {v}").as_bytes());
                    }
                }
                if let Some(set) = all {
                    out.put_slice(format!(" ALL {set}").as_bytes());
                }
                if let Some(m) = modseq {
                    out.put_slice(format!(" MODSEQ {m}").as_bytes());
                }
            }
            Response::Fetch { seq, items } => {
                out.put_slice(format!("* {seq} FETCH (").as_bytes());
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.put_u8(b' ');
                    }
                    fetch_value(out, item);
                }
                out.put_u8(b')');
            }
            // The others are encoded by the caller.
            _ => {}
        }
    }

    /// The encoded response.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::new();
        self.encode(&mut out);
        out.freeze()
    }
}

fn status_line(out: &mut BytesMut, status: Status, code: Option<&Code>, text: &Text) {
    out.put_slice(status.as_str().as_bytes());
    out.put_u8(b' ');
    if let Some(code) = code {
        encode_code(out, code);
        out.put_u8(b' ');
    }
    out.put_slice(text.as_str().as_bytes());
}

/// `(a b c)` for a chain, `(a (b)(c))` where a message has several replies, `((b)(c))` for a
/// placeholder's children (RFC 5256 §4).
fn thread_list(out: &mut BytesMut, node: &ThreadNode) {
    // The grammar has no empty list, and a placeholder's list holds two or more.
    match (node.id, node.children.as_slice()) {
        (None, []) => return,
        (None, [only]) => return thread_list(out, only),
        _ => {}
    }
    out.put_u8(b'(');
    let mut n = node;
    let mut first = true;
    if let Some(id) = n.id {
        out.put_slice(id.to_string().as_bytes());
        first = false;
        while let [only @ ThreadNode { id: Some(id), .. }] = n.children.as_slice() {
            n = only;
            out.put_slice(format!(" {id}").as_bytes());
        }
    }
    if !n.children.is_empty() {
        if !first {
            out.put_u8(b' ');
        }
        for child in &n.children {
            if child.id.is_none() && !child.children.is_empty() && n.id.is_some() {
                // A placeholder below a message adds no level of its own.
                for grandchild in &child.children {
                    thread_list(out, grandchild);
                }
            } else {
                thread_list(out, child);
            }
        }
    }
    out.put_u8(b')');
}

fn encode_code(out: &mut BytesMut, code: &Code) {
    out.put_u8(b'[');
    let simple = |out: &mut BytesMut, s: &str| out.put_slice(s.as_bytes());
    match code {
        Code::Alert => simple(out, "ALERT"),
        Code::Parse => simple(out, "PARSE"),
        Code::ReadOnly => simple(out, "READ-ONLY"),
        Code::ReadWrite => simple(out, "READ-WRITE"),
        Code::TryCreate => simple(out, "TRYCREATE"),
        Code::UidNext(n) => simple(out, &format!("UIDNEXT {n}")),
        Code::UidValidity(n) => simple(out, &format!("UIDVALIDITY {n}")),
        Code::Unseen(n) => simple(out, &format!("UNSEEN {n}")),
        Code::PermanentFlags {
            flags,
            new_keywords: any,
        } => {
            simple(out, "PERMANENTFLAGS (");
            for (i, f) in flags.iter().enumerate() {
                if i > 0 {
                    out.put_u8(b' ');
                }
                out.put_slice(f.to_string().as_bytes());
            }
            if *any {
                if !flags.is_empty() {
                    out.put_u8(b' ');
                }
                out.put_slice(b"\\*");
            }
            out.put_u8(b')');
        }
        Code::Capability(caps) => {
            simple(out, "CAPABILITY");
            for c in caps {
                out.put_u8(b' ');
                out.put_slice(c.as_str().as_bytes());
            }
        }
        Code::AppendUid(v, u) => simple(out, &format!("APPENDUID {v} {u}")),
        Code::CopyUid(v, from, to) => simple(out, &format!("COPYUID {v} {from} {to}")),
        Code::Closed => simple(out, "CLOSED"),
        Code::HighestModSeq(n) => simple(out, &format!("HIGHESTMODSEQ {n}")),
        Code::NoModSeq => simple(out, "NOMODSEQ"),
        Code::Modified(set) => simple(out, &format!("MODIFIED {set}")),
        Code::TooBig => simple(out, "TOOBIG"),
        Code::OverQuota => simple(out, "OVERQUOTA"),
        Code::Unavailable => simple(out, "UNAVAILABLE"),
        Code::AuthenticationFailed => simple(out, "AUTHENTICATIONFAILED"),
        Code::AuthorizationFailed => simple(out, "AUTHORIZATIONFAILED"),
        Code::PrivacyRequired => simple(out, "PRIVACYREQUIRED"),
        Code::NonExistent => simple(out, "NONEXISTENT"),
        Code::AlreadyExists => simple(out, "ALREADYEXISTS"),
        Code::NoPerm => simple(out, "NOPERM"),
        Code::InUse => simple(out, "INUSE"),
        Code::ExpungeIssued => simple(out, "EXPUNGEISSUED"),
        Code::ServerBug => simple(out, "SERVERBUG"),
        Code::ClientBug => simple(out, "CLIENTBUG"),
        Code::Cannot => simple(out, "CANNOT"),
        Code::Limit => simple(out, "LIMIT"),
        Code::ContactAdmin => simple(out, "CONTACTADMIN"),
        Code::UseAttr => simple(out, "USEATTR"),
        Code::UnknownCte => simple(out, "UNKNOWN-CTE"),
        Code::BadCharset(charsets) => {
            simple(out, "BADCHARSET");
            if !charsets.is_empty() {
                out.put_slice(b" (");
                for (i, c) in charsets.iter().enumerate() {
                    if i > 0 {
                        out.put_u8(b' ');
                    }
                    out.put_slice(c.as_str().as_bytes());
                }
                out.put_u8(b')');
            }
        }
    }
    out.put_u8(b']');
}

fn flag_list(out: &mut BytesMut, flags: &[Flag]) {
    out.put_u8(b'(');
    for (i, f) in flags.iter().enumerate() {
        if i > 0 {
            out.put_u8(b' ');
        }
        out.put_slice(f.to_string().as_bytes());
    }
    out.put_u8(b')');
}

fn delimiter_str(out: &mut BytesMut, d: Option<char>) {
    match d {
        Some(c @ ('"' | '\\')) => out.put_slice(format!("\"\\{c}\"").as_bytes()),
        Some(c) if c.is_ascii() && !c.is_ascii_control() => {
            out.put_slice(format!("\"{c}\"").as_bytes())
        }
        _ => out.put_slice(b"NIL"),
    }
}

fn mailbox_name(out: &mut BytesMut, name: &str, options: EncodeOptions) {
    if name == "INBOX" {
        out.put_slice(b"INBOX");
    } else if options.utf8_names && !name.is_ascii() && quotable_utf8(name) {
        out.put_u8(b'"');
        for &b in name.as_bytes() {
            if b == b'"' || b == b'\\' {
                out.put_u8(b'\\');
            }
            out.put_u8(b);
        }
        out.put_u8(b'"');
    } else if options.utf8_names {
        astring(out, name.as_bytes());
    } else {
        astring(out, encode_mutf7(name).as_bytes());
    }
}

/// `1.2.HEADER.FIELDS ("From")` as in `BODY[...]`.
pub(crate) fn section_spec(out: &mut BytesMut, s: &Section) {
    let mut first = true;
    for p in &s.part {
        if !first {
            out.put_u8(b'.');
        }
        first = false;
        out.put_slice(p.to_string().as_bytes());
    }
    if let Some(text) = &s.text {
        if !first {
            out.put_u8(b'.');
        }
        let names = |out: &mut BytesMut, word: &str, names: &[String]| {
            out.put_slice(word.as_bytes());
            out.put_slice(b" (");
            for (i, n) in names.iter().enumerate() {
                if i > 0 {
                    out.put_u8(b' ');
                }
                astring(out, n.as_bytes());
            }
            out.put_u8(b')');
        };
        match text {
            SectionText::Header => out.put_slice(b"HEADER"),
            SectionText::Text => out.put_slice(b"TEXT"),
            SectionText::Mime => out.put_slice(b"MIME"),
            SectionText::HeaderFields(n) => names(out, "HEADER.FIELDS", n),
            SectionText::HeaderFieldsNot(n) => names(out, "HEADER.FIELDS.NOT", n),
        }
    }
}

fn fetch_value(out: &mut BytesMut, v: &FetchValue) {
    match v {
        FetchValue::Flags(flags) => {
            out.put_slice(b"FLAGS ");
            flag_list(out, flags);
        }
        FetchValue::Uid(u) => out.put_slice(format!("UID {u}").as_bytes()),
        FetchValue::Rfc822Size(n) => out.put_slice(format!("RFC822.SIZE {n}").as_bytes()),
        FetchValue::InternalDate(d) => out.put_slice(format!("INTERNALDATE \"{d}\"").as_bytes()),
        FetchValue::ModSeq(m) => out.put_slice(format!("MODSEQ ({m})").as_bytes()),
        FetchValue::Envelope(e) => {
            out.put_slice(b"ENVELOPE ");
            envelope(out, e);
        }
        FetchValue::Body(b) => {
            out.put_slice(b"BODY ");
            body_structure(out, b, false);
        }
        FetchValue::BodyStructure(b) => {
            out.put_slice(b"BODYSTRUCTURE ");
            body_structure(out, b, true);
        }
        FetchValue::Binary { part, origin, data } => {
            out.put_slice(format!("BINARY[{}]", crate::command::part_numbers(part)).as_bytes());
            if let Some(o) = origin {
                out.put_slice(format!("<{o}>").as_bytes());
            }
            out.put_u8(b' ');
            match data {
                Some(d) if d.contains(&0) => {
                    out.put_slice(format!("~{{{}}}\r\n", d.len()).as_bytes());
                    out.put_slice(d);
                }
                other => literal_or_nil(out, other.as_deref()),
            }
        }
        FetchValue::BinarySize { part, size } => out.put_slice(
            format!("BINARY.SIZE[{}] {size}", crate::command::part_numbers(part)).as_bytes(),
        ),
        FetchValue::BodySection {
            section,
            origin,
            data,
        } => {
            body_section_name(out, section, *origin);
            literal_or_nil(out, data.as_deref());
        }
        FetchValue::BodySectionStreamed {
            section,
            origin,
            len,
        } => {
            body_section_name(out, section, *origin);
            out.put_slice(format!("{{{len}}}\r\n").as_bytes());
        }
        FetchValue::Rfc822(d) => {
            out.put_slice(b"RFC822 ");
            literal_or_nil(out, d.as_deref());
        }
        FetchValue::Rfc822Header(d) => {
            out.put_slice(b"RFC822.HEADER ");
            literal_or_nil(out, d.as_deref());
        }
        FetchValue::Rfc822Text(d) => {
            out.put_slice(b"RFC822.TEXT ");
            literal_or_nil(out, d.as_deref());
        }
    }
}

/// `BODY[section]<origin> `
fn body_section_name(out: &mut BytesMut, section: &Section, origin: Option<u32>) {
    out.put_slice(b"BODY[");
    section_spec(out, section);
    out.put_u8(b']');
    if let Some(o) = origin {
        out.put_slice(format!("<{o}>").as_bytes());
    }
    out.put_u8(b' ');
}

impl Response {
    /// For a FETCH response with a [`FetchValue::BodySectionStreamed`] item: writes what goes
    /// before the streamed octets and returns their length and what goes after them. `None`
    /// (nothing written) for any other response.
    pub(crate) fn encode_streamed(&self, out: &mut BytesMut) -> Option<(u64, Bytes)> {
        let Response::Fetch { seq, items } = self else {
            return None;
        };
        let (at, len) = items.iter().enumerate().find_map(|(i, item)| match item {
            FetchValue::BodySectionStreamed { len, .. } => Some((i, *len)),
            _ => None,
        })?;
        out.put_slice(format!("* {seq} FETCH (").as_bytes());
        for (i, item) in items[..=at].iter().enumerate() {
            if i > 0 {
                out.put_u8(b' ');
            }
            fetch_value(out, item);
        }
        let mut rest = BytesMut::new();
        for item in &items[at + 1..] {
            rest.put_u8(b' ');
            fetch_value(&mut rest, item);
        }
        rest.put_slice(b")\r\n");
        Some((len, rest.freeze()))
    }
}

/// Message data always goes as a literal: it is what clients expect and it never needs
/// escaping.
fn literal_or_nil(out: &mut BytesMut, data: Option<&[u8]>) {
    match data {
        Some(d) => {
            out.put_slice(format!("{{{}}}\r\n", d.len()).as_bytes());
            out.put_slice(d);
        }
        None => out.put_slice(b"NIL"),
    }
}
