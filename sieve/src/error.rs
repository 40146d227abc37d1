//! What can go wrong: a script that does not compile (with where), and a run that had to
//! stop (after which the message is kept, RFC 5228 §2.10.6).

/// A line and column in a script, both from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Position {
    /// The line, from 1.
    pub line: usize,
    /// The column (in octets), from 1.
    pub column: usize,
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// Why a script does not compile, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{position}: {message}")]
pub struct CompileError {
    /// Where the fault starts.
    pub position: Position,
    /// What is wrong, for the script's author.
    pub message: String,
}

impl CompileError {
    pub(crate) fn new(position: Position, message: impl Into<String>) -> Self {
        Self {
            position,
            message: message.into(),
        }
    }
}

/// Why a run stopped before its end. The caller then keeps the message in the inbox, as if
/// the script had not run, and tells the script's owner.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuntimeError {
    /// More evaluation steps than [`crate::Limits::max_steps`] (a script looping through
    /// many strings or header values).
    #[error("the script took more than {0} steps")]
    TooManySteps(usize),
    /// More actions than [`crate::Limits::max_actions`].
    #[error("the script asked for more than {0} actions")]
    TooManyActions(usize),
    /// More redirects than [`crate::Limits::max_redirects`].
    #[error("the script redirects to more than {0} addresses")]
    TooManyRedirects(usize),
    /// An action that conflicts with an earlier one (RFC 5228 §4.2: `reject` with `keep`,
    /// `fileinto` or `redirect`).
    #[error("{0}")]
    Conflict(String),
    /// `include` could not be carried out: a missing script (without `:optional`), one
    /// that does not compile, or includes nested too deep.
    #[error("include: {0}")]
    Include(String),
    /// A value the action cannot use, known only at run time (an expanded address).
    #[error("{0}")]
    Invalid(String),
}
