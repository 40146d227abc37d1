#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod parse;
mod session;

/// The byte buffers of this crate's API (from the `bytes` crate, re-exported so that an
/// embedder needs no version of its own to match).
pub use bytes::{Bytes, BytesMut};
/// SASL: the mechanisms the session runs, and the credentials a login yields.
pub use mailwright_sasl::{Credentials, Mechanism, Secret};
pub use parse::{Frame, FrameError, Token, frame};
pub use session::{
    AnswerError, Code, Config, Event, Limits, Response, ServerSession, SessionError,
};
