//! Server responses and their encoder. Every value is typed; the encoder chooses atoms,
//! quoted strings or literals so that the strings it writes parse back the same. Lists the
//! grammar wants non-empty are the caller's to fill: `ServerSession::send` refuses a FETCH
//! without items. The encoder is in `encode.rs`; the body structure (BODY, BODYSTRUCTURE,
//! ENVELOPE) and its encoding are in `body.rs`.

use bytes::{BufMut, Bytes, BytesMut};

use crate::command::{ListSelection, Section, StatusItem};
use crate::types::{Atom, DateTime, Flag, SequenceSet, Tag, Text};

mod body;
mod encode;
mod strings;
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

/// How to write what depends on what the client enabled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EncodeOptions {
    /// Mailbox names in UTF-8 (UTF8=ACCEPT enabled, RFC 6855 §3), not modified UTF-7.
    pub utf8_names: bool,
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
