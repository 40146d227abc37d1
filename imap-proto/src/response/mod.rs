//! Server responses and their encoder. Every value is typed; the encoder chooses atoms,
//! quoted strings or literals so that the strings it writes parse back the same. Lists the
//! grammar wants non-empty are the caller's to fill: `ServerSession::send` refuses a FETCH
//! without items. The body structure (BODY, BODYSTRUCTURE, ENVELOPE) and its encoding are in
//! `body.rs`.

use bytes::{BufMut, Bytes, BytesMut};

use crate::command::{ListSelection, Section, SectionText, StatusItem};
use crate::types::{Atom, DateTime, Flag, SequenceSet, Tag, Text, encode_mutf7};

mod body;
pub use body::{
    Address, BodyExtension, BodyFields, BodyStructure, Disposition, Envelope, SinglePart,
};
pub(crate) use body::{body_structure, envelope};

/// The result of a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// OK: success.
    Ok,
    /// NO: the command failed.
    No,
    /// BAD: the command was not understood or not allowed.
    Bad,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::No => "NO",
            Status::Bad => "BAD",
        }
    }
}

/// A response code (RFC 9051 §7.1, RFC 5530, RFC 4315, RFC 7162).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Code {
    /// ALERT
    Alert,
    /// PARSE
    Parse,
    /// READ-ONLY
    ReadOnly,
    /// READ-WRITE
    ReadWrite,
    /// TRYCREATE
    TryCreate,
    /// UIDNEXT n
    UidNext(u32),
    /// UIDVALIDITY n
    UidValidity(u32),
    /// UNSEEN n
    Unseen(u32),
    /// PERMANENTFLAGS (flags [\*]): the flags a STORE keeps for good.
    PermanentFlags {
        /// The flags that are kept (those the client may change permanently).
        flags: Vec<Flag>,
        /// Whether the client may also create new keywords (`\*`).
        new_keywords: bool,
    },
    /// CAPABILITY ...
    Capability(Vec<Atom>),
    /// APPENDUID validity uid
    AppendUid(u32, u32),
    /// COPYUID validity source-uids destination-uids
    CopyUid(u32, SequenceSet, SequenceSet),
    /// CLOSED (RFC 7162 §3.2.11): the previous mailbox is closed, answers about the new one
    /// follow.
    Closed,
    /// HIGHESTMODSEQ (RFC 7162 §3.1.2)
    HighestModSeq(u64),
    /// NOMODSEQ (RFC 7162 §3.1.2): the mailbox has no MODSEQs.
    NoModSeq,
    /// MODIFIED set (RFC 7162 §3.1.3): messages a conditional STORE left alone.
    Modified(SequenceSet),
    /// TOOBIG
    TooBig,
    /// OVERQUOTA
    OverQuota,
    /// UNAVAILABLE
    Unavailable,
    /// AUTHENTICATIONFAILED
    AuthenticationFailed,
    /// AUTHORIZATIONFAILED
    AuthorizationFailed,
    /// PRIVACYREQUIRED
    PrivacyRequired,
    /// NONEXISTENT
    NonExistent,
    /// ALREADYEXISTS
    AlreadyExists,
    /// NOPERM
    NoPerm,
    /// INUSE
    InUse,
    /// EXPUNGEISSUED
    ExpungeIssued,
    /// SERVERBUG
    ServerBug,
    /// CLIENTBUG
    ClientBug,
    /// CANNOT
    Cannot,
    /// LIMIT
    Limit,
    /// CONTACTADMIN
    ContactAdmin,
    /// USEATTR (RFC 6154)
    UseAttr,
    /// UNKNOWN-CTE (RFC 3516): a part's transfer encoding is one the server cannot undo.
    UnknownCte,
    /// BADCHARSET (charsets supported)
    BadCharset(Vec<Atom>),
}

/// A FETCH data item with its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchValue {
    /// FLAGS
    Flags(Vec<Flag>),
    /// UID
    Uid(u32),
    /// RFC822.SIZE
    Rfc822Size(u64),
    /// INTERNALDATE
    InternalDate(DateTime),
    /// MODSEQ
    ModSeq(u64),
    /// ENVELOPE
    Envelope(Box<Envelope>),
    /// BODY (no extension data)
    Body(Box<BodyStructure>),
    /// BODYSTRUCTURE
    BodyStructure(Box<BodyStructure>),
    /// `BODY[section]<origin>`
    BodySection {
        /// The section as asked.
        section: Section,
        /// The partial's offset, when a partial was asked.
        origin: Option<u32>,
        /// The octets (NIL if the section does not exist).
        data: Option<Bytes>,
    },
    /// `BODY[section]<origin>` whose `len` octets the embedder hands over piece by piece
    /// after sending the response ([`crate::ServerSession::stream_literal`]), so a large
    /// message is never in memory whole. At most one per FETCH response; encoded on its own
    /// (`Response::encode`), only the literal's header is written.
    BodySectionStreamed {
        /// The section as asked.
        section: Section,
        /// The partial's offset, when a partial was asked.
        origin: Option<u32>,
        /// The literal's length.
        len: u64,
    },
    /// `BINARY[part]<origin>` (RFC 3516): sent as a literal8 (`~{n}`) when it holds a NUL.
    Binary {
        /// Part numbers.
        part: Vec<u32>,
        /// The partial's offset, when a partial was asked.
        origin: Option<u32>,
        /// The decoded octets (NIL if the part does not exist).
        data: Option<Bytes>,
    },
    /// `BINARY.SIZE[part] n` (RFC 3516).
    BinarySize {
        /// Part numbers.
        part: Vec<u32>,
        /// Octets BINARY returns.
        size: u64,
    },
    /// RFC822
    Rfc822(Option<Bytes>),
    /// RFC822.HEADER
    Rfc822Header(Option<Bytes>),
    /// RFC822.TEXT
    Rfc822Text(Option<Bytes>),
}

/// Extended data of a `* LIST` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ListExtended {
    /// `CHILDINFO (...)` (RFC 5258 §3.5): a descendant meets these selection options
    /// (SUBSCRIBED, SPECIAL-USE, REMOTE; RECURSIVEMATCH is not one to report).
    ChildInfo(ListSelection),
    /// `"OLDNAME" (name)` (RFC 9051 §6.3.9.7): the name the mailbox had, or was asked by.
    OldName(String),
}

/// A response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// `tag OK|NO|BAD [code] text`
    Tagged {
        /// The command's tag.
        tag: Tag,
        /// Result.
        status: Status,
        /// Response code.
        code: Option<Code>,
        /// Text.
        text: Text,
    },
    /// `* OK|NO|BAD [code] text`
    Untagged {
        /// Status.
        status: Status,
        /// Response code.
        code: Option<Code>,
        /// Text.
        text: Text,
    },
    /// `* BYE text`
    Bye {
        /// Response code.
        code: Option<Code>,
        /// Text.
        text: Text,
    },
    /// `* CAPABILITY ...`
    Capability(Vec<Atom>),
    /// `* ENABLED ...`
    Enabled(Vec<Atom>),
    /// `* ID (...)` or `* ID NIL`
    Id(Option<Vec<(String, String)>>),
    /// `* NAMESPACE (("" "."))  NIL NIL`: one personal namespace.
    Namespace {
        /// Prefix of the personal namespace.
        prefix: String,
        /// Its hierarchy delimiter.
        delimiter: char,
    },
    /// `* FLAGS (...)`
    Flags(Vec<Flag>),
    /// `* n EXISTS`
    Exists(u32),
    /// `* n RECENT`
    Recent(u32),
    /// `* n EXPUNGE`
    Expunge(u32),
    /// `* LIST (attributes) "delimiter" mailbox` (or LSUB)
    List {
        /// `\HasChildren`, `\Noselect`, `\Sent`... without the backslash.
        attributes: Vec<Atom>,
        /// Hierarchy delimiter.
        delimiter: Option<char>,
        /// The mailbox (UTF-8; sent in modified UTF-7).
        mailbox: String,
        /// Answer to LSUB.
        lsub: bool,
        /// Extended data items (RFC 5258 §3.5), after the name.
        extended: Vec<ListExtended>,
    },
    /// `* STATUS mailbox (items)`
    Status {
        /// The mailbox.
        mailbox: String,
        /// Items and values.
        items: Vec<(StatusItem, u64)>,
    },
    /// `* SEARCH n... [(MODSEQ m)]`; the MODSEQ (RFC 7162 §3.1.5) when the search had a
    /// MODSEQ key and found something: the highest of the messages found.
    Search(Vec<u32>, Option<u64>),
    /// `* VANISHED [(EARLIER)] uids` (RFC 7162 §3.2.10): expunged UIDs, for QRESYNC clients.
    Vanished {
        /// `(EARLIER)`: expunged before now, in answer to SELECT or UID FETCH, not news.
        earlier: bool,
        /// The UIDs.
        uids: SequenceSet,
    },
    /// `* SORT n...` (RFC 5256), in sorted order.
    Sort(Vec<u32>),
    /// `* THREAD (...)...` (RFC 5256): the threads, in order.
    Thread(Vec<ThreadNode>),
    /// `* QUOTA root (resource usage limit ...)` (RFC 9208).
    Quota {
        /// The quota root.
        root: String,
        /// Each resource with its usage and limit (STORAGE in units of 1024 octets).
        resources: Vec<(Atom, u64, u64)>,
    },
    /// `* QUOTAROOT mailbox root...` (RFC 9208).
    QuotaRoot {
        /// The mailbox asked about.
        mailbox: String,
        /// The quota roots that apply to it (none when it has no limits).
        roots: Vec<String>,
    },
    /// `* ESEARCH (TAG "t") [UID] [MIN n] [MAX n] [COUNT n] [ALL set]` (RFC 4731): the
    /// results a `SEARCH RETURN (...)` asked for. MIN, MAX and ALL are left out when nothing
    /// matched.
    ESearch {
        /// The tag of the SEARCH.
        tag: Tag,
        /// Whether the numbers are UIDs.
        uid: bool,
        /// Lowest match.
        min: Option<u32>,
        /// Highest match.
        max: Option<u32>,
        /// Number of matches.
        count: Option<u32>,
        /// Every match.
        all: Option<SequenceSet>,
        /// The highest MODSEQ of the matches, when the search had a MODSEQ key (RFC 7162).
        modseq: Option<u64>,
    },
    /// `* n FETCH (...)`
    Fetch {
        /// Sequence number.
        seq: u32,
        /// Items: at least one ([`ServerSession::send`](crate::ServerSession::send) refuses
        /// an empty list with [`AnswerError::EmptyFetch`](crate::AnswerError::EmptyFetch)).
        items: Vec<FetchValue>,
    },
    /// `+ text`
    Continue(Text),
}

impl Response {
    /// `tag status text` without a code.
    pub fn tagged(tag: Tag, status: Status, text: &str) -> Self {
        Response::Tagged {
            tag,
            status,
            code: None,
            text: Text::lossy(text),
        }
    }

    /// `* OK text`
    pub fn ok(code: Option<Code>, text: &str) -> Self {
        Response::Untagged {
            status: Status::Ok,
            code,
            text: Text::lossy(text),
        }
    }

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

/// A message in a thread and its replies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadNode {
    /// Its number (UID or sequence number); `None` for a placeholder that only groups its
    /// children (a message they refer to that is not in the mailbox, RFC 5256 REFERENCES).
    pub id: Option<u32>,
    /// Replies, in order.
    pub children: Vec<ThreadNode>,
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

/// How to write what depends on what the client enabled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EncodeOptions {
    /// Mailbox names in UTF-8 (UTF8=ACCEPT enabled, RFC 6855 §3), not modified UTF-7.
    pub utf8_names: bool,
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

/// Whether UTF-8 text can go in a quoted string (RFC 6855 §3: no controls).
fn quotable_utf8(s: &str) -> bool {
    s.len() <= 1024 && !s.chars().any(char::is_control)
}

fn quotable(s: &[u8]) -> bool {
    s.len() <= 1024 && s.iter().all(|&b| (0x20..0x7f).contains(&b))
}

/// A string: quoted when it is short 7-bit text, a literal otherwise.
/// `(key value key value ...)`, each a string: ID fields, body parameters.
fn string_pairs(out: &mut BytesMut, pairs: &[(String, String)]) {
    out.put_u8(b'(');
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.put_u8(b' ');
        }
        string(out, k.as_bytes());
        out.put_u8(b' ');
        string(out, v.as_bytes());
    }
    out.put_u8(b')');
}

pub(crate) fn string(out: &mut BytesMut, s: &[u8]) {
    if quotable(s) {
        out.put_u8(b'"');
        for &b in s {
            if b == b'"' || b == b'\\' {
                out.put_u8(b'\\');
            }
            out.put_u8(b);
        }
        out.put_u8(b'"');
    } else {
        out.put_slice(format!("{{{}}}\r\n", s.len()).as_bytes());
        out.put_slice(s);
    }
}

fn astring(out: &mut BytesMut, s: &[u8]) {
    if !s.is_empty()
        && s.iter().all(|&b| crate::types::is_astring_char(b))
        && !s.eq_ignore_ascii_case(b"NIL")
    {
        out.put_slice(s);
    } else {
        string(out, s);
    }
}

fn nstring(out: &mut BytesMut, s: Option<&[u8]>) {
    match s {
        Some(s) => string(out, s),
        None => out.put_slice(b"NIL"),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(r: &Response) -> String {
        String::from_utf8(r.to_bytes().to_vec()).unwrap()
    }

    #[test]
    fn rfc_examples() {
        assert_eq!(enc(&Response::Exists(172)), "* 172 EXISTS\r\n");
        // RFC 5256 §4: (2)(3 6 (4 23)(44 7 96))
        let leaf = |id| ThreadNode {
            id: Some(id),
            children: Vec::new(),
        };
        let node = |id, children| ThreadNode {
            id: Some(id),
            children,
        };
        assert_eq!(
            enc(&Response::Thread(vec![
                leaf(2),
                node(
                    3,
                    vec![node(
                        6,
                        vec![
                            node(4, vec![leaf(23)]),
                            node(44, vec![node(7, vec![leaf(96)])])
                        ]
                    )]
                )
            ])),
            "* THREAD (2)(3 6 (4 23)(44 7 96))\r\n"
        );
        assert_eq!(enc(&Response::Thread(Vec::new())), "* THREAD\r\n");
        // A placeholder parent (REFERENCES) groups its children without a number.
        let placeholder = ThreadNode {
            id: None,
            children: vec![leaf(3), node(5, vec![leaf(8)])],
        };
        assert_eq!(
            enc(&Response::Thread(vec![leaf(1), placeholder])),
            "* THREAD (1)((3)(5 8))\r\n"
        );
        // RFC 9208 §4.3.
        assert_eq!(
            enc(&Response::QuotaRoot {
                mailbox: "INBOX".into(),
                roots: vec![String::new()]
            }),
            "* QUOTAROOT INBOX \"\"\r\n"
        );
        assert_eq!(
            enc(&Response::Quota {
                root: String::new(),
                resources: vec![(Atom::new("STORAGE").unwrap(), 10, 512)]
            }),
            "* QUOTA \"\" (STORAGE 10 512)\r\n"
        );
    }

    #[test]
    fn rfc_examples_of_extensions() {
        // RFC 4731 §3.1.
        assert_eq!(
            enc(&Response::ESearch {
                tag: Tag::new("A282").unwrap(),
                uid: false,
                min: Some(2),
                max: None,
                count: Some(3),
                all: None,
                modseq: None,
            }),
            "* ESEARCH (TAG \"A282\") MIN 2 COUNT 3\r\n"
        );
        assert_eq!(
            enc(&Response::ESearch {
                tag: Tag::new("A283").unwrap(),
                uid: true,
                min: None,
                max: None,
                count: None,
                all: Some(SequenceSet::from_numbers(&[2, 10, 11]).unwrap()),
                modseq: None,
            }),
            "* ESEARCH (TAG \"A283\") UID ALL 2,10:11\r\n"
        );
        assert_eq!(
            enc(&Response::Untagged {
                status: Status::Ok,
                code: Some(Code::UidValidity(3857529045)),
                text: Text::lossy("UIDs valid")
            }),
            "* OK [UIDVALIDITY 3857529045] UIDs valid\r\n"
        );
        assert_eq!(
            enc(&Response::Flags(vec![
                Flag::Answered,
                Flag::Flagged,
                Flag::Deleted,
                Flag::Seen,
                Flag::Draft
            ])),
            "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
        );
        assert_eq!(
            enc(&Response::List {
                attributes: vec![Atom::new("HasNoChildren").unwrap()],
                delimiter: Some('.'),
                mailbox: "Entwürfe".into(),
                lsub: false,
                extended: Vec::new(),
            }),
            "* LIST (\\HasNoChildren) \".\" Entw&APw-rfe\r\n"
        );
        // RFC 7162 §3.1.2, §3.1.3, §3.1.5 and §3.2.5.
        assert_eq!(
            enc(&Response::ok(
                Some(Code::HighestModSeq(715194045007)),
                "Highest"
            )),
            "* OK [HIGHESTMODSEQ 715194045007] Highest\r\n"
        );
        assert_eq!(
            enc(&Response::Vanished {
                earlier: true,
                uids: SequenceSet::from_numbers(&(43..=116).chain([41]).collect::<Vec<_>>())
                    .unwrap()
            }),
            "* VANISHED (EARLIER) 41,43:116\r\n"
        );
        assert_eq!(
            enc(&Response::Search(vec![2, 5, 6], Some(917162500))),
            "* SEARCH 2 5 6 (MODSEQ 917162500)\r\n"
        );
        let mut out = BytesMut::new();
        Response::Tagged {
            tag: Tag::new("d105").unwrap(),
            status: Status::Ok,
            code: Some(Code::Modified(SequenceSet::from_numbers(&[7, 9]).unwrap())),
            text: Text::new("Conditional STORE failed").unwrap(),
        }
        .encode(&mut out);
        assert_eq!(
            &out[..],
            b"d105 OK [MODIFIED 7,9] Conditional STORE failed\r\n"
        );
        // CHILDINFO as RFC 5258 §3.5 defines it.
        assert_eq!(
            enc(&Response::List {
                attributes: Vec::new(),
                delimiter: Some('/'),
                mailbox: "Foo".into(),
                lsub: false,
                extended: vec![ListExtended::ChildInfo(ListSelection {
                    subscribed: true,
                    ..ListSelection::default()
                })],
            }),
            "* LIST () \"/\" Foo (CHILDINFO (\"SUBSCRIBED\"))\r\n"
        );
        assert_eq!(
            enc(&Response::Fetch {
                seq: 12,
                items: vec![
                    FetchValue::Flags(vec![Flag::Seen]),
                    FetchValue::Uid(4827313),
                    FetchValue::BodySection {
                        section: Section::default(),
                        origin: None,
                        data: Some(Bytes::from_static(b"hi"))
                    }
                ]
            }),
            "* 12 FETCH (FLAGS (\\Seen) UID 4827313 BODY[] {2}\r\nhi)\r\n"
        );
    }
}
