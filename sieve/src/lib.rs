#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod compile;
mod date;
mod editheader;
mod error;
mod eval;
mod lexer;
mod matching;
mod message;
mod mime;
mod notify;
mod parser;
mod program;
#[cfg(test)]
mod testsuite;
mod vacation;
mod variables;

pub use compile::EXTENSIONS;
pub use date::DateTime;
pub use editheader::{HeaderEdit, apply_header_edits};
pub use error::{CompileError, Position, RuntimeError};
pub use message::{Envelope, Host, Message, NoHost, ParsedMessage};
pub use mime::encode_word;
pub use notify::{Mailto, mailto};
pub use program::BodyTransform;

/// Bounds on what a script may cost: checked when it is compiled and while it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// The largest script, in octets (Pigeonhole's `sieve_max_script_size` is 1 MiB).
    pub max_script_size: usize,
    /// How deep blocks and tests may nest.
    pub max_nesting: usize,
    /// Commands, tests and comparisons one run may take (a loop of string lists over many
    /// header values is the way a script burns CPU).
    pub max_steps: usize,
    /// Actions one run may produce (Pigeonhole's `sieve_max_actions` is 32).
    pub max_actions: usize,
    /// Redirects one run may make (Pigeonhole's `sieve_max_redirects` is 4).
    pub max_redirects: usize,
    /// The longest value of a variable, in octets (longer ones are cut at a character, RFC
    /// 5229 §6; Pigeonhole's `sieve_variables_max_variable_size` is 4000).
    pub max_variable_size: usize,
    /// The longest header field `addheader` may add, name and value, in octets
    /// (Pigeonhole's `sieve_editheader_max_header_size` is 2048).
    pub max_header_size: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_script_size: 1 << 20,
            max_nesting: 32,
            max_steps: 100_000,
            max_actions: 32,
            max_redirects: 4,
            max_variable_size: 4000,
            max_header_size: 2048,
        }
    }
}

/// A compiled script, to run against any number of messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    commands: Vec<program::Cmd>,
    required: Vec<String>,
}

impl Script {
    /// Parses and checks `text` (UTF-8). The error names the line and column.
    pub fn compile(text: &str, limits: &Limits) -> Result<Self, CompileError> {
        if text.len() > limits.max_script_size {
            return Err(CompileError::new(
                Position { line: 1, column: 1 },
                format!(
                    "the script is larger than {} octets",
                    limits.max_script_size
                ),
            ));
        }
        let tokens = lexer::tokenize(text)?;
        let parsed = parser::parse(tokens, limits.max_nesting)?;
        let (commands, required) = compile::compile(parsed)?;
        Ok(Self { commands, required })
    }

    pub(crate) fn commands(&self) -> &[program::Cmd] {
        &self.commands
    }

    /// The extensions the script requires, sorted.
    pub fn required(&self) -> &[String] {
        &self.required
    }

    /// Runs the script over `message` delivered with `envelope`, asking `host` what only the
    /// caller knows. On an error the caller keeps the message (RFC 5228 §2.10.6).
    pub fn run(
        &self,
        message: &dyn Message,
        envelope: &Envelope,
        host: &dyn Host,
        limits: &Limits,
    ) -> Result<Outcome, RuntimeError> {
        let variables = self.required.iter().any(|r| r == "variables");
        eval::Run::new(message, envelope, host, limits, variables).finish(&self.commands)
    }
}

/// What a run decided, for the caller to carry out in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The actions the script took, in order.
    pub actions: Vec<Action>,
    /// Nothing cancelled the implicit keep (RFC 5228 §2.10.2): the message is also to be
    /// kept in the inbox, with `keep_flags`. A caller running several scripts in a row (as
    /// Pigeonhole runs its global ones around the user's) goes on to the next script only
    /// while this is true.
    pub implicit_keep: bool,
    /// The flags of the implicit keep (imap4flags' internal variable at the end).
    pub keep_flags: Vec<String>,
    /// What the `duplicate` tests asked to remember, for the caller to record once the
    /// message is delivered: each key with its period in seconds (`None`: the caller's
    /// default) and whether `:last` asked to restart the period at each message.
    pub duplicates: Vec<(String, Option<u64>, bool)>,
}

/// One thing to do with the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Store it in the user's inbox, with these IMAP flags.
    Keep {
        /// Flags (`\Seen`, keywords) to set on the stored message.
        flags: Vec<String>,
    },
    /// Store it in this mailbox.
    FileInto {
        /// The mailbox name, as the script gave it (the caller checks and maps it).
        mailbox: String,
        /// Flags to set on the stored message.
        flags: Vec<String>,
        /// Create the mailbox if it does not exist (`:create`, RFC 5490).
        create: bool,
    },
    /// Forward it to this address, unchanged.
    Redirect {
        /// `local@domain`.
        address: String,
    },
    /// Refuse it: at SMTP time when the caller still can, else by a delivery status
    /// notification (`reject`, RFC 5429) or not at all (`ereject`).
    Reject {
        /// The reason, for the sender.
        reason: String,
        /// `ereject`: only at SMTP time.
        extended: bool,
    },
    /// Throw it away (nothing else is done unless another action says so).
    Discard,
    /// Tell someone of the message (RFC 5435 `notify`; the method is a `mailto:` URI, see
    /// [`mailto`]). The caller sends it unless the message is itself automatic (RFC 5436 §2.7).
    Notify {
        /// The `mailto:` URI.
        method: String,
        /// `:from`.
        from: Option<String>,
        /// `:importance`: "1" high, "2" normal, "3" low.
        importance: Option<String>,
        /// `:options`.
        options: Vec<String>,
        /// `:message`: the notification's subject line.
        message: Option<String>,
    },
    /// Change the header (RFC 5293 `addheader`, `deleteheader`). The message every later
    /// action keeps, files or redirects, and the implicit keep, has this edit and the ones
    /// before it applied ([`apply_header_edits`]); earlier actions' copies do not.
    EditHeader(HeaderEdit),
    /// Answer the sender, if RFC 5230's checks allow (the caller's part: the sender is not
    /// `<>`, a list or an automaton, and was not answered within `period`).
    Vacation(Vacation),
}

/// A `vacation` reply to send (RFC 5230).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vacation {
    /// The reply's text (or MIME entity, with `mime`).
    pub reason: String,
    /// Its subject; without one, "Auto: " and the original subject.
    pub subject: Option<String>,
    /// Its From address; without one, the recipient's.
    pub from: Option<String>,
    /// The user's other addresses (a message to none of them is not answered).
    pub addresses: Vec<String>,
    /// `reason` is a MIME entity (`:mime`).
    pub mime: bool,
    /// What identifies this reply in the record of who was answered.
    pub handle: String,
    /// Seconds before the same sender is answered again; without one, the caller's default
    /// (RFC 5230: 7 days).
    pub period: Option<u64>,
}
