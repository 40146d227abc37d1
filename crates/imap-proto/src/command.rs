//! Client commands (RFC 3501, RFC 9051 and the extensions this crate parses).

use bytes::Bytes;

use crate::types::{Atom, Date, DateTime, Flag, Secret, SequenceSet};

/// A mailbox name, decoded: modified UTF-7 on the wire becomes UTF-8 here, and any case of
/// `INBOX` becomes `INBOX`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mailbox(String);

impl Mailbox {
    /// A mailbox from its decoded name; `inbox` in any case is INBOX (RFC 9051 §5.1).
    pub fn new(name: impl Into<String>) -> Self {
        let name = name.into();
        if name.eq_ignore_ascii_case("INBOX") {
            Self("INBOX".into())
        } else {
            Self(name)
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is INBOX.
    pub fn is_inbox(&self) -> bool {
        self.0 == "INBOX"
    }
}

/// STATUS data items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusItem {
    /// MESSAGES
    Messages,
    /// RECENT (IMAP4rev1)
    Recent,
    /// UIDNEXT
    UidNext,
    /// UIDVALIDITY
    UidValidity,
    /// UNSEEN
    Unseen,
    /// DELETED (RFC 9051)
    Deleted,
    /// SIZE (RFC 8438)
    Size,
}

impl StatusItem {
    /// The name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            StatusItem::Messages => "MESSAGES",
            StatusItem::Recent => "RECENT",
            StatusItem::UidNext => "UIDNEXT",
            StatusItem::UidValidity => "UIDVALIDITY",
            StatusItem::Unseen => "UNSEEN",
            StatusItem::Deleted => "DELETED",
            StatusItem::Size => "SIZE",
        }
    }
}

/// A part of a message named by a FETCH section (`1.2.HEADER.FIELDS (From)`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Section {
    /// Part numbers from the top (empty: the whole message).
    pub part: Vec<u32>,
    /// Which text of that part.
    pub text: Option<SectionText>,
}

/// The text a section names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SectionText {
    /// HEADER
    Header,
    /// HEADER.FIELDS (names)
    HeaderFields(Vec<String>),
    /// HEADER.FIELDS.NOT (names)
    HeaderFieldsNot(Vec<String>),
    /// TEXT
    Text,
    /// MIME (only after a part number)
    Mime,
}

/// A FETCH data item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchAttr {
    /// ENVELOPE
    Envelope,
    /// FLAGS
    Flags,
    /// INTERNALDATE
    InternalDate,
    /// RFC822 (same as BODY[])
    Rfc822,
    /// RFC822.HEADER (same as BODY.PEEK[HEADER])
    Rfc822Header,
    /// RFC822.SIZE
    Rfc822Size,
    /// RFC822.TEXT (same as BODY[TEXT])
    Rfc822Text,
    /// UID
    Uid,
    /// BODY (the structure without extension data)
    Body,
    /// BODYSTRUCTURE
    BodyStructure,
    /// `BODY[section]<partial>` or `BODY.PEEK[...]`
    BodySection {
        /// PEEK: do not set `\Seen`.
        peek: bool,
        /// The section.
        section: Section,
        /// `<offset.length>`
        partial: Option<(u32, u32)>,
    },
    /// MODSEQ (RFC 7162)
    ModSeq,
}

/// How STORE changes flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreMode {
    /// `FLAGS`: replace.
    Replace,
    /// `+FLAGS`: add.
    Add,
    /// `-FLAGS`: remove.
    Remove,
}

/// A SEARCH key (RFC 9051 §6.4.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchKey {
    /// Every key must match (a parenthesised list, or the top-level list).
    And(Vec<SearchKey>),
    /// ALL
    All,
    /// ANSWERED
    Answered,
    /// BCC string
    Bcc(String),
    /// BEFORE date (internal date)
    Before(Date),
    /// BODY string
    Body(String),
    /// CC string
    Cc(String),
    /// DELETED
    Deleted,
    /// DRAFT
    Draft,
    /// FLAGGED
    Flagged,
    /// FROM string
    From(String),
    /// HEADER field-name string
    Header(String, String),
    /// KEYWORD flag
    Keyword(Atom),
    /// LARGER n
    Larger(u64),
    /// NEW (RECENT UNSEEN)
    New,
    /// NOT key
    Not(Box<SearchKey>),
    /// OLD
    Old,
    /// ON date
    On(Date),
    /// OR key key
    Or(Box<SearchKey>, Box<SearchKey>),
    /// RECENT
    Recent,
    /// SEEN
    Seen,
    /// SENTBEFORE date (Date: header)
    SentBefore(Date),
    /// SENTON date
    SentOn(Date),
    /// SENTSINCE date
    SentSince(Date),
    /// SINCE date
    Since(Date),
    /// SMALLER n
    Smaller(u64),
    /// SUBJECT string
    Subject(String),
    /// TEXT string (header and body)
    Text(String),
    /// TO string
    To(String),
    /// UID set
    Uid(SequenceSet),
    /// UNANSWERED
    Unanswered,
    /// UNDELETED
    Undeleted,
    /// UNDRAFT
    Undraft,
    /// UNFLAGGED
    Unflagged,
    /// UNKEYWORD flag
    Unkeyword(Atom),
    /// UNSEEN
    Unseen,
    /// A sequence set of message numbers.
    SequenceSet(SequenceSet),
}

/// A parsed command. Commands the session answers itself (CAPABILITY, LOGOUT, STARTTLS,
/// AUTHENTICATE, ENABLE, ID, IDLE) never reach the embedder as [`Command`]s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// CAPABILITY
    Capability,
    /// NOOP
    Noop,
    /// LOGOUT
    Logout,
    /// STARTTLS
    StartTls,
    /// AUTHENTICATE mechanism [initial-response]
    Authenticate {
        /// The mechanism name, upper-cased.
        mechanism: String,
        /// The SASL-IR initial response (base64, `=` for empty).
        initial_response: Option<Secret<String>>,
    },
    /// LOGIN user password
    Login {
        /// User name.
        username: String,
        /// Password.
        password: Secret<String>,
    },
    /// ENABLE capabilities
    Enable(Vec<Atom>),
    /// ID (NIL or field-value pairs), RFC 2971
    Id(Option<Vec<(String, Option<String>)>>),
    /// SELECT mailbox
    Select(Mailbox),
    /// EXAMINE mailbox
    Examine(Mailbox),
    /// CREATE mailbox [(USE (\Special))]
    Create {
        /// The new mailbox.
        mailbox: Mailbox,
        /// RFC 6154 CREATE-SPECIAL-USE attributes.
        special_use: Vec<Atom>,
    },
    /// DELETE mailbox
    Delete(Mailbox),
    /// RENAME from to
    Rename {
        /// Existing name.
        from: Mailbox,
        /// New name.
        to: Mailbox,
    },
    /// SUBSCRIBE mailbox
    Subscribe(Mailbox),
    /// UNSUBSCRIBE mailbox
    Unsubscribe(Mailbox),
    /// LIST reference pattern (LSUB is `subscribed_only`)
    List {
        /// Reference name (decoded).
        reference: String,
        /// Patterns with `*` and `%` (decoded).
        patterns: Vec<String>,
        /// `LIST (SUBSCRIBED)` or LSUB.
        subscribed_only: bool,
        /// LSUB: answer with `* LSUB`.
        lsub: bool,
        /// `RETURN (SPECIAL-USE)`: attributes only.
        return_special_use: bool,
        /// `RETURN (STATUS (...))` (LIST-STATUS).
        return_status: Vec<StatusItem>,
    },
    /// NAMESPACE
    Namespace,
    /// STATUS mailbox (items)
    Status {
        /// The mailbox.
        mailbox: Mailbox,
        /// Items asked for.
        items: Vec<StatusItem>,
    },
    /// APPEND (complete, as parsed from a whole frame; the session streams it instead).
    Append {
        /// Destination.
        mailbox: Mailbox,
        /// Flags to set.
        flags: Vec<Flag>,
        /// Internal date to record.
        date: Option<DateTime>,
        /// The message.
        message: Bytes,
    },
    /// IDLE
    Idle,
    /// CHECK
    Check,
    /// CLOSE
    Close,
    /// UNSELECT
    Unselect,
    /// EXPUNGE
    Expunge,
    /// UID EXPUNGE set (UIDPLUS)
    UidExpunge(SequenceSet),
    /// SEARCH / UID SEARCH
    Search {
        /// UID SEARCH.
        uid: bool,
        /// CHARSET, if given.
        charset: Option<String>,
        /// The keys, ANDed.
        criteria: SearchKey,
        /// `RETURN (...)` options (ESEARCH); `Some(empty)` means `RETURN ()`.
        return_options: Option<Vec<Atom>>,
    },
    /// FETCH / UID FETCH
    Fetch {
        /// UID FETCH.
        uid: bool,
        /// Messages.
        set: SequenceSet,
        /// Items (macros expanded).
        attributes: Vec<FetchAttr>,
    },
    /// STORE / UID STORE
    Store {
        /// UID STORE.
        uid: bool,
        /// Messages.
        set: SequenceSet,
        /// Replace, add or remove.
        mode: StoreMode,
        /// `.SILENT`: no untagged FETCH back.
        silent: bool,
        /// The flags.
        flags: Vec<Flag>,
    },
    /// COPY / UID COPY
    Copy {
        /// UID COPY.
        uid: bool,
        /// Messages.
        set: SequenceSet,
        /// Destination.
        mailbox: Mailbox,
    },
    /// MOVE / UID MOVE (RFC 6851)
    Move {
        /// UID MOVE.
        uid: bool,
        /// Messages.
        set: SequenceSet,
        /// Destination.
        mailbox: Mailbox,
    },
}

impl Command {
    /// The command name for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Capability => "CAPABILITY",
            Command::Noop => "NOOP",
            Command::Logout => "LOGOUT",
            Command::StartTls => "STARTTLS",
            Command::Authenticate { .. } => "AUTHENTICATE",
            Command::Login { .. } => "LOGIN",
            Command::Enable(_) => "ENABLE",
            Command::Id(_) => "ID",
            Command::Select(_) => "SELECT",
            Command::Examine(_) => "EXAMINE",
            Command::Create { .. } => "CREATE",
            Command::Delete(_) => "DELETE",
            Command::Rename { .. } => "RENAME",
            Command::Subscribe(_) => "SUBSCRIBE",
            Command::Unsubscribe(_) => "UNSUBSCRIBE",
            Command::List { lsub: true, .. } => "LSUB",
            Command::List { .. } => "LIST",
            Command::Namespace => "NAMESPACE",
            Command::Status { .. } => "STATUS",
            Command::Append { .. } => "APPEND",
            Command::Idle => "IDLE",
            Command::Check => "CHECK",
            Command::Close => "CLOSE",
            Command::Unselect => "UNSELECT",
            Command::Expunge => "EXPUNGE",
            Command::UidExpunge(_) => "UID EXPUNGE",
            Command::Search { .. } => "SEARCH",
            Command::Fetch { .. } => "FETCH",
            Command::Store { .. } => "STORE",
            Command::Copy { .. } => "COPY",
            Command::Move { .. } => "MOVE",
        }
    }
}
