//! A compiled script: commands and tests with their arguments checked and typed, strings
//! split into literal text and variable references once, so a run only evaluates.

/// A string argument: literal, or with `${…}` references when `variables` is required.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    Literal(String),
    Template(Vec<Part>),
}

/// A piece of a string with variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Part {
    Text(String),
    /// A variable, by its lowercase name.
    Variable(String),
    /// `${0}` … `${9}`: what the last successful `:matches` (or `:regex`) captured.
    Match(usize),
}

/// How keys are compared with values (RFC 5228 §2.7.3, RFC 4790).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Comparator {
    Octet,
    AsciiCasemap,
    AsciiNumeric,
}

/// A relation of RFC 5231.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Relation {
    Gt,
    Ge,
    Lt,
    Le,
    Eq,
    Ne,
}

/// `:is`, `:contains`, `:matches`, and the relational `:value` and `:count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MatchKind {
    Is,
    Contains,
    Matches,
    /// POSIX extended regular expressions (draft-ietf-sieve-regex), as Pigeonhole has them.
    Regex,
    Value(Relation),
    Count(Relation),
}

/// The match type with its comparator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Match {
    pub kind: MatchKind,
    pub comparator: Comparator,
}

/// Which occurrence of a header field a test looks at (RFC 5260 §6: `:index n [:last]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Index {
    /// From 1.
    pub n: usize,
    /// Counted from the last.
    pub last: bool,
}

/// The zone a `date` or `currentdate` test shows its date in (RFC 5260 §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Zone {
    /// The server's (from [`crate::Host::now`]), else UTC.
    Local,
    /// The header date's own (`:originalzone`).
    Original,
    /// `:zone "+hhmm"`.
    Fixed(i32),
}

/// The part of an address a test looks at (RFC 5228 §5.1, RFC 5233).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AddressPart {
    All,
    LocalPart,
    Domain,
    User,
    Detail,
}

/// What the `body` test reads (RFC 5173).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyTransform {
    /// The body as it is, undecoded.
    Raw,
    /// The decoded text of the parts whose content type matches one of these (`""` for all,
    /// `"text"` for a type, `"text/html"` for one subtype).
    Content(Vec<String>),
    /// The decoded text of the text parts (the default).
    Text,
}

impl BodyTransform {
    /// Whether a part of content type `kind`/`subtype` (lowercase) is one this transform
    /// reads: every part for `Raw` (which reads the body whole), text parts for `Text`, and
    /// for `Content` the parts one of its types names (RFC 5173 §5.2).
    pub fn selects(&self, kind: &str, subtype: &str) -> bool {
        match self {
            Self::Raw => true,
            Self::Text => kind == "text",
            Self::Content(types) => types.iter().any(|t| match t.split_once('/') {
                _ if t.is_empty() => true,
                // Not a content type: it names nothing.
                Some((_, s)) if s.contains('/') => false,
                Some((k, s)) => k.eq_ignore_ascii_case(kind) && s.eq_ignore_ascii_case(subtype),
                None => t.eq_ignore_ascii_case(kind),
            }),
        }
    }
}

/// What `setflag`, `addflag` and `removeflag` do (RFC 5232).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FlagOp {
    Set,
    Add,
    Remove,
}

/// A modifier of `set` (RFC 5229 §4), applied in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Modifier {
    Lower,
    Upper,
    LowerFirst,
    UpperFirst,
    QuoteWildcard,
    Length,
    /// `:encodeurl` (RFC 5435 §7): percent-encoded for a URI.
    EncodeUrl,
}

/// `vacation`'s arguments (RFC 5230, RFC 6131).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VacationSpec {
    /// Seconds between two replies to one sender.
    pub period: Option<u64>,
    pub subject: Option<Value>,
    pub from: Option<Value>,
    pub addresses: Vec<Value>,
    pub mime: bool,
    pub handle: Option<Value>,
    pub reason: Value,
}

/// A command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Cmd {
    If {
        branches: Vec<(TestNode, Vec<Cmd>)>,
        otherwise: Option<Vec<Cmd>>,
    },
    Stop,
    Keep {
        flags: Option<Vec<Value>>,
    },
    Discard,
    Redirect {
        address: Value,
        copy: bool,
    },
    FileInto {
        mailbox: Value,
        copy: bool,
        create: bool,
        flags: Option<Vec<Value>>,
    },
    Reject {
        reason: Value,
        extended: bool,
    },
    Flags {
        op: FlagOp,
        variable: Option<String>,
        flags: Vec<Value>,
    },
    Set {
        name: String,
        modifiers: Vec<Modifier>,
        value: Value,
    },
    Vacation(Box<VacationSpec>),
    /// `include [:global] [:once] [:optional] name` (RFC 6609).
    Include {
        global: bool,
        once: bool,
        optional: bool,
        name: Value,
    },
    /// `return`: the end of the included script (at the top, like `stop`).
    Return,
    /// `global names`: variables shared with the including and included scripts.
    Global(Vec<String>),
    /// `notify` (RFC 5435), mailto only (RFC 5436).
    Notify {
        method: Value,
        from: Option<Value>,
        importance: Option<Value>,
        options: Vec<Value>,
        message: Option<Value>,
    },
    /// `addheader [:last] name value` (RFC 5293).
    AddHeader {
        last: bool,
        name: Value,
        value: Value,
    },
    /// `deleteheader [:index n [:last]] [comparator] [match type] name [patterns]`.
    DeleteHeader {
        index: Option<Index>,
        how: Match,
        name: Value,
        patterns: Option<Vec<Value>>,
    },
    /// Pigeonhole's test suite (`vnd.dovecot.testsuite`), only in this crate's tests.
    #[cfg(test)]
    Testsuite(SuiteCommand),
}

/// A test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TestNode {
    True,
    False,
    Not(Box<TestNode>),
    AllOf(Vec<TestNode>),
    AnyOf(Vec<TestNode>),
    Exists(Vec<Value>),
    Size {
        over: bool,
        limit: u64,
    },
    Header {
        names: Vec<Value>,
        keys: Vec<Value>,
        how: Match,
        index: Option<Index>,
    },
    Address {
        part: AddressPart,
        names: Vec<Value>,
        keys: Vec<Value>,
        how: Match,
        index: Option<Index>,
    },
    Date {
        header: Value,
        zone: Zone,
        part: Value,
        keys: Vec<Value>,
        how: Match,
        index: Option<Index>,
    },
    CurrentDate {
        zone: Zone,
        part: Value,
        keys: Vec<Value>,
        how: Match,
    },
    /// `spamtest [:percent]` and `virustest` (RFC 5235).
    SpamTest {
        percent: bool,
        keys: Vec<Value>,
        how: Match,
    },
    VirusTest {
        keys: Vec<Value>,
        how: Match,
    },
    /// `valid_notify_method` and `notify_method_capability` (RFC 5435 §5).
    ValidNotifyMethod(Vec<Value>),
    NotifyMethodCapability {
        uri: Value,
        capability: Value,
        keys: Vec<Value>,
        how: Match,
    },
    /// `duplicate` (RFC 7352).
    Duplicate {
        handle: Option<Value>,
        header: Option<Value>,
        uniqueid: Option<Value>,
        seconds: Option<u64>,
        last: bool,
    },
    Envelope {
        part: AddressPart,
        names: Vec<Value>,
        keys: Vec<Value>,
        how: Match,
    },
    Body {
        transform: BodyTransform,
        keys: Vec<Value>,
        how: Match,
    },
    String {
        sources: Vec<Value>,
        keys: Vec<Value>,
        how: Match,
    },
    HasFlag {
        variables: Vec<String>,
        keys: Vec<Value>,
        how: Match,
    },
    MailboxExists(Vec<Value>),
    Environment {
        name: Value,
        keys: Vec<Value>,
        how: Match,
    },
    /// Pigeonhole's test suite (`vnd.dovecot.testsuite`), only in this crate's tests.
    #[cfg(test)]
    Testsuite(SuiteTest),
}

/// A command of Pigeonhole's test suite language (see `testsuite`).
#[cfg(test)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SuiteCommand {
    Fail(Value),
    Set(Value, Value),
    ResultReset,
    /// A command that changes nothing here (`test_config_*`).
    Ignored,
    MailboxCreate(Value),
    /// `test_message`: see [`SuiteTest::Message`].
    Message(SuiteTest),
}

/// A test of Pigeonhole's test suite language.
#[cfg(test)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SuiteTest {
    /// The result "executes": the harness stores each kept, filed or redirected copy, with
    /// the header edits made before it, where `test_message` finds it.
    ResultExecute,
    /// `test_message (:folder name | :smtp) n`: the n-th (from 0) message stored in the
    /// folder or sent becomes the one the script tests; false when there is none.
    Message { folder: Option<Value>, index: u64 },
}
