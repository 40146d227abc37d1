#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod command;
mod frame;
mod parse;
mod session;
mod types;

/// The byte buffers of this crate's API (from the `bytes` crate, re-exported so that an
/// embedder needs no version of its own to match).
pub use bytes::{Bytes, BytesMut};
pub use command::Command;
pub use frame::{CrlfSize, MessageEncoder, decode_multiline};
pub use parse::{ParseError, ResponseParseError, parse_command, parse_response};
pub use session::{
    AnswerError, AuthMechanism, Config, Deleted, Event, Limits, MessageInfo, ServerSession,
    SessionError,
};
pub use types::{MAX_RESPONSE_LINE, RespCode, Response, Secret, ValidationError};
