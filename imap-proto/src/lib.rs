//! Sans-I/O IMAP4rev1 server protocol (RFC 3501, with RFC 9051's clarifications): command
//! parser, response encoder, literal framing and the session state machine.
//!
//! No sockets, no async runtime, no clock and no file system. The embedder feeds bytes, takes
//! events, answers them with typed responses, and writes what the session produced.
//!
//! ```
//! use imap_proto::{Config, Event, Response, ServerSession, Status};
//!
//! let mut config = Config::new("imap.example.com ready");
//! config.allow_plaintext_auth = true; // a test on loopback
//! let mut session = ServerSession::new(config);
//! session.receive(b"a LOGIN alice secret\r\nb SELECT INBOX\r\nc LOGOUT\r\n").unwrap();
//! while let Some(event) = session.poll_event() {
//!     match event {
//!         Event::Login { username, .. } => {
//!             assert_eq!(username, "alice");
//!             session.auth_finish(Ok(())).unwrap();
//!         }
//!         Event::Command { .. } => {
//!             session.send(&Response::Exists(0)).unwrap();
//!             session.complete(Status::Ok, None, "SELECT completed").unwrap();
//!         }
//!         _ => {}
//!     }
//! }
//! let mut out = Vec::new();
//! while let Some(bytes) = session.poll_output() {
//!     out.extend_from_slice(&bytes);
//! }
//! let text = String::from_utf8(out).unwrap();
//! assert!(text.contains("* 0 EXISTS\r\nb OK SELECT completed\r\n* BYE"));
//! assert!(session.is_closed());
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod command;
pub mod decode;
pub mod parse;
pub mod response;
pub mod session;
pub mod types;

pub use command::{
    Command, FetchAttr, ListReturn, ListSelection, Mailbox, QResync, SearchKey, Section,
    SectionText, SelectParams, SortCriterion, SortKey, StatusItem, StoreMode,
};
pub use decode::DecodeError;
pub use parse::{AppendHead, ParseError, ParseOptions, parse_command, parse_command_with};
pub use response::{
    Address, BodyExtension, BodyFields, BodyStructure, Code, Disposition, Envelope, FetchValue,
    ListExtended, Response, SinglePart, Status, ThreadNode,
};
pub use session::{
    AnswerError, AuthMechanism, Config, Event, Limits, ServerSession, SessionError, State,
};
pub use types::{
    Atom, Date, DateTime, Flag, Secret, SeqNumber, SequenceSet, Tag, Text, ValidationError,
};
