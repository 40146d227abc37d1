//! What a check makes a message's delivery do.

/// The outcome of one check (or of them all: the strictest wins).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Deliver,
    /// Delivered to the recipients' Junk folders (for DMARC, only where their domain
    /// enforces it).
    Junk,
    /// Refused at the end of DATA (5xx) with this text.
    Reject(String),
    /// A scanner could not answer and its failure mode says so: 451, tried again later.
    Tempfail(String),
    /// A milter's own answer: its code, then its enhanced status code and text.
    Reply(u16, String),
    /// Accepted (250) and thrown away, as a milter may ask.
    Discard,
}

impl Action {
    /// One word for the log.
    pub fn word(&self) -> &'static str {
        match self {
            Action::Deliver => "deliver",
            Action::Junk => "junk",
            Action::Reject(_) => "reject",
            Action::Tempfail(_) => "tempfail",
            Action::Reply(code, _) if *code >= 500 => "reject",
            Action::Reply(..) => "tempfail",
            Action::Discard => "discard",
        }
    }
}
