#![doc = include_str!("../README.md")]
//!
//! ## What is here
//!
//! - [`ServerSession`], the server's state machine, with its [`Config`], [`Limits`], the
//!   [`Event`]s it asks the embedder to decide and the answers it takes.
//! - [`ClientSession`], the state machine that hands mail on, with [`ClientConfig`],
//!   [`ClientEvent`] and an [`Envelope`] per message.
//! - The typed values both use: [`Command`], [`Reply`] (valid by construction, with an
//!   [`EnhancedStatus`]), [`Mailbox`], [`ReversePath`], [`ForwardPath`], [`MailParams`],
//!   [`RcptParams`].
//! - The parsers underneath, for those who frame lines themselves: [`parse_command`],
//!   [`parse_reply`], [`parse_mailbox`]; and the streaming body codecs: [`DataDecoder`]
//!   (dot-unstuffing DATA, reporting bare CR/LF and other defects by [`BodyRules`]) and
//!   [`DotStuffer`].
#![forbid(unsafe_code)]
#![deny(missing_docs)]

/// A table of the 256 octets, true where `$test` (an expression in `$b`) holds: one load per
/// octet where the test would branch. (For the `static`s the parsers read.)
macro_rules! octet_table {
    (|$b:ident| $test:expr) => {{
        let mut t = [false; 256];
        let mut c = 0;
        while c < 256 {
            let $b = c as u8;
            t[c] = $test;
            c += 1;
        }
        t
    }};
}

mod client;
mod command;
mod frame;
mod parse;
mod session;
mod types;

/// The byte buffers of this crate's API (from the `bytes` crate, re-exported so that an
/// embedder needs no version of its own to match).
pub use bytes::{Bytes, BytesMut};
pub use client::{
    ClientConfig, ClientError, ClientEvent, ClientSession, ClientTimeouts, ClientUsageError,
    Envelope, Extensions, TlsPolicy,
};
pub use command::{
    Body, Command, MailParams, Notify, OriginalRecipient, RcptParams, Ret, xtext_decode,
};
pub use frame::{BodyDefect, BodyRules, DataDecoder, DataItem, DefectPolicy, DotStuffer};
pub use parse::{ParseError, ReplyParseError, parse_command, parse_mailbox, parse_reply};
pub use session::{
    AbortReason, AnswerError, AuthMechanism, BodyKind, CloseReason, CommandCounts, Config, Event,
    Limits, ServerSession, SessionError,
};
pub use types::{
    EnhancedStatus, ForwardPath, Host, MAX_REPLY_LINE, Mailbox, Reply, ReplyCode, ReversePath,
    Secret, ValidationError,
};
