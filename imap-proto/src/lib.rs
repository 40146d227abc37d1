#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod command;
mod decode;
mod parse;
mod response;
mod session;
mod types;

/// The byte buffers of this crate's API (from the `bytes` crate, re-exported so that an
/// embedder needs no version of its own to match).
pub use bytes::{Bytes, BytesMut};
pub use command::{
    Command, FetchAttr, ListReturn, ListSelection, Mailbox, QResync, SearchKey, Section,
    SectionText, SelectParams, SortCriterion, SortKey, StatusItem, StoreMode,
};
pub use decode::{DecodeError, MAX_STRUCTURE_DEPTH};
pub use parse::{
    AppendHead, MAX_SEARCH_NESTING, ParseError, ParseOptions, parse_command, parse_command_with,
};
pub use response::{
    Address, BodyExtension, BodyFields, BodyStructure, Code, Disposition, EncodeOptions, Envelope,
    FetchValue, ListExtended, Response, SinglePart, Status, ThreadNode,
};
pub use session::{
    AnswerError, AuthMechanism, Config, Event, Limits, Refusal, ServerSession, SessionError, State,
};
pub use types::{
    Atom, Date, DateTime, Flag, Secret, SeqNumber, SequenceSet, Tag, Text, ValidationError,
    decode_mutf7, encode_mutf7,
};

/// Internals the fuzz targets check against each other; not part of the API.
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::parse::{frame_tag, parse_append_head};
}
