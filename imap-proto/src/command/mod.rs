//! Client commands (RFC 3501, RFC 9051 and the extensions this crate parses); their client-side
//! encoding is in `encode.rs`.

use bytes::Bytes;

use crate::types::{
    Atom, Date, DateTime, Flag, MONTH_NAMES, Secret, SequenceSet, Tag, encode_mutf7,
    is_astring_char,
};

mod encode;
pub(crate) use encode::part_numbers;

/// A mailbox name, decoded: modified UTF-7 on the wire becomes UTF-8 here, and any case of
/// `INBOX` becomes `INBOX`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mailbox(String);

impl Mailbox {
    /// A mailbox from its decoded name; `inbox` in any case is INBOX (RFC 9051 §5.1).
    pub fn new(name: impl Into<String>) -> Self {
        let mut name = name.into();
        if name.eq_ignore_ascii_case("INBOX") {
            name.make_ascii_uppercase();
        }
        Self(name)
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

/// LIST selection options (RFC 5258 §3.1, RFC 6154 §3): which names are listed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListSelection {
    /// `SUBSCRIBED`: subscribed names, existing or not.
    pub subscribed: bool,
    /// `REMOTE`: include remote mailboxes (there are none here, so it changes nothing).
    pub remote: bool,
    /// `RECURSIVEMATCH`: also parents of names that meet the other options.
    pub recursive_match: bool,
    /// `SPECIAL-USE`: only mailboxes with a special-use attribute.
    pub special_use: bool,
}

impl ListSelection {
    /// Whether any option narrows the listing (REMOTE alone does not).
    pub fn filters(&self) -> bool {
        self.subscribed || self.special_use
    }
}

/// LIST return options (RFC 5258 §3.2, RFC 6154 §3, RFC 5819).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListReturn {
    /// `SUBSCRIBED`: mark subscribed names `\Subscribed`. Selecting SUBSCRIBED implies it
    /// (RFC 5258 §3.1) even when this is false; see [`ListReturn::marks_subscribed`].
    pub subscribed: bool,
    /// `CHILDREN`: `\HasChildren` / `\HasNoChildren`.
    pub children: bool,
    /// `SPECIAL-USE`: special-use attributes. Selecting SPECIAL-USE implies it (RFC 6154 §3).
    pub special_use: bool,
    /// `STATUS (...)`: a STATUS answer for each selectable mailbox listed; empty when not asked.
    pub status: Vec<StatusItem>,
}

impl ListReturn {
    /// Whether `\Subscribed` is due, as asked or as implied by the selection.
    pub fn marks_subscribed(&self, selection: &ListSelection) -> bool {
        self.subscribed || selection.subscribed
    }

    /// Whether special-use attributes are due, as asked or as implied by the selection.
    pub fn marks_special_use(&self, selection: &ListSelection) -> bool {
        self.special_use || selection.special_use
    }

    fn is_empty(&self) -> bool {
        !self.subscribed && !self.children && !self.special_use && self.status.is_empty()
    }
}

/// SELECT and EXAMINE parameters (RFC 7162 §3.1.8, §3.2.5).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SelectParams {
    /// `CONDSTORE`: report MODSEQs from now on.
    pub condstore: bool,
    /// `QRESYNC (...)`: what the client knows, to be told what changed since (boxed: it is
    /// rare and large, and every `Command` would otherwise be as large).
    pub qresync: Option<Box<QResync>>,
}

/// The `QRESYNC` parameter of SELECT and EXAMINE (RFC 7162 §3.2.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QResync {
    /// The UIDVALIDITY the client's cache is of.
    pub uid_validity: u32,
    /// The highest MODSEQ the client has seen.
    pub modseq: u64,
    /// The UIDs the client knows (all when absent).
    pub known_uids: Option<SequenceSet>,
    /// Message numbers and the UIDs the client has for them, to narrow the expunges
    /// reported when the server's history is incomplete.
    pub seq_match: Option<(SequenceSet, SequenceSet)>,
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
    /// HIGHESTMODSEQ (RFC 7162)
    HighestModSeq,
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
            StatusItem::HighestModSeq => "HIGHESTMODSEQ",
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
    /// RFC822.HEADER (same as `BODY.PEEK[HEADER]`)
    Rfc822Header,
    /// RFC822.SIZE
    Rfc822Size,
    /// RFC822.TEXT (same as `BODY[TEXT]`)
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
    /// `BINARY[part]<partial>` or `BINARY.PEEK[...]` (RFC 3516, IMAP4rev2): the part with its
    /// content transfer encoding undone.
    Binary {
        /// PEEK: do not set `\Seen`.
        peek: bool,
        /// Part numbers (empty: the whole message).
        part: Vec<u32>,
        /// `<offset.length>`
        partial: Option<(u32, u32)>,
    },
    /// `BINARY.SIZE[part]`: the size of what BINARY would return.
    BinarySize {
        /// Part numbers.
        part: Vec<u32>,
    },
}

/// What SORT orders by (RFC 5256 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    /// Internal date.
    Arrival,
    /// First Cc address's mailbox part.
    Cc,
    /// Sent date (the Date header; the internal date when it has none).
    Date,
    /// First From address's mailbox part.
    From,
    /// RFC822.SIZE.
    Size,
    /// Base subject (without Re:, Fwd: and the like).
    Subject,
    /// First To address's mailbox part.
    To,
}

impl SortKey {
    /// The keyword.
    pub fn name(self) -> &'static str {
        match self {
            SortKey::Arrival => "ARRIVAL",
            SortKey::Cc => "CC",
            SortKey::Date => "DATE",
            SortKey::From => "FROM",
            SortKey::Size => "SIZE",
            SortKey::Subject => "SUBJECT",
            SortKey::To => "TO",
        }
    }
}

/// One SORT criterion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortCriterion {
    /// Descending.
    pub reverse: bool,
    /// The key.
    pub key: SortKey,
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
    /// `MODSEQ [entry-name entry-type] n` (RFC 7162 §3.1.5): changed at or after `n`.
    ModSeq {
        /// The MODSEQ.
        modseq: u64,
        /// The flag entry and its type (`"/flags/\\draft" all`), which this crate keeps but
        /// which a server may ignore (RFC 7162 §3.1.5 lets it use the message's MODSEQ).
        entry: Option<(String, Atom)>,
    },
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

/// A parsed command.
///
/// The session answers CAPABILITY, LOGOUT, STARTTLS, AUTHENTICATE, ENABLE and ID itself, and
/// NOOP before login; those never reach the embedder. LOGIN arrives as
/// [`crate::Event::Login`], IDLE as [`crate::Event::Idle`] and APPEND as
/// [`crate::Event::AppendStart`] and what follows; every other command arrives as
/// [`crate::Event::Command`] and must be completed. The variants for the commands the session
/// keeps are here because the parser (and the client-side encoder) use them.
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
    Select(Mailbox, SelectParams),
    /// EXAMINE mailbox
    Examine(Mailbox, SelectParams),
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
    /// LIST reference pattern (LSUB arrives as LIST with `lsub` set and `SUBSCRIBED` selected)
    List {
        /// Reference name (decoded).
        reference: String,
        /// Patterns with `*` and `%` (decoded).
        patterns: Vec<String>,
        /// Selection options (RFC 5258); LSUB selects `SUBSCRIBED`.
        selection: ListSelection,
        /// Return options (RFC 5258, RFC 6154, RFC 5819).
        returns: ListReturn,
        /// LSUB: answer with `* LSUB`.
        lsub: bool,
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
        /// The keys, ANDed (boxed, a tree, so that a `Command` moves without a memmove call).
        criteria: Box<SearchKey>,
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
        /// `(CHANGEDSINCE n)` (RFC 7162 §3.1.4): only messages whose MODSEQ is above `n`.
        changed_since: Option<u64>,
        /// `(VANISHED)` (RFC 7162 §3.2.6, UID FETCH with CHANGEDSINCE): also report expunged
        /// UIDs of the set.
        vanished: bool,
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
        /// `(UNCHANGEDSINCE n)` (RFC 7162 §3.1.3): only messages whose MODSEQ is at most `n`.
        unchanged_since: Option<u64>,
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
    /// `[UID] SORT (criteria) charset search-keys` (RFC 5256).
    Sort {
        /// UID SORT.
        uid: bool,
        /// Sort criteria, most significant first.
        criteria: Vec<SortCriterion>,
        /// The charset of the search strings (upper-cased).
        charset: String,
        /// Which messages to sort.
        search: Box<SearchKey>,
    },
    /// `[UID] THREAD algorithm charset search-keys` (RFC 5256).
    Thread {
        /// UID THREAD.
        uid: bool,
        /// The threading algorithm (upper-cased), e.g. `ORDEREDSUBJECT`.
        algorithm: Atom,
        /// The charset of the search strings (upper-cased).
        charset: String,
        /// Which messages to thread.
        search: Box<SearchKey>,
    },
    /// `GETQUOTA root` (RFC 9208).
    GetQuota(String),
    /// `GETQUOTAROOT mailbox` (RFC 9208).
    GetQuotaRoot(Mailbox),
    /// `SETQUOTA root (resource limit ...)` (RFC 9208); resource names upper-cased.
    SetQuota {
        /// The quota root.
        root: String,
        /// Resources and their new limits.
        limits: Vec<(Atom, u64)>,
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
            Command::Select(..) => "SELECT",
            Command::Examine(..) => "EXAMINE",
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
            Command::Sort { .. } => "SORT",
            Command::Thread { .. } => "THREAD",
            Command::GetQuota(_) => "GETQUOTA",
            Command::GetQuotaRoot(_) => "GETQUOTAROOT",
            Command::SetQuota { .. } => "SETQUOTA",
        }
    }
}
