//! Sans-I/O POP3 server protocol: RFC 1939, with RFC 2449 CAPA and response codes, RFC 2595
//! STLS and RFC 5034 SASL AUTH (PLAIN and LOGIN).
//!
//! No sockets, no async runtime, no clock and no file system. The embedder feeds bytes, takes
//! events, answers them, and writes what the session produced. The session answers STAT, LIST,
//! UIDL, DELE, RSET and NOOP itself from the maildrop listing the embedder gave at login; RETR
//! and TOP stream the stored message through a dot-stuffing encoder chunk by chunk, so a
//! message is never held in memory whole.
//!
//! ```
//! use pop3_proto::{Config, Event, MessageInfo, ServerSession};
//!
//! let mut config = Config::new("pop.example.com ready");
//! config.allow_plaintext_auth = true; // a test on loopback
//! let mut session = ServerSession::new(config);
//! let message = b"Subject: hi\n\n.dot\n";
//! let mut sent = Vec::new();
//! for input in [&b"USER alice\r\nPASS secret\r\n"[..], b"RETR 1\r\nDELE 1\r\nQUIT\r\n"] {
//!     session.receive(input).unwrap();
//!     loop {
//!         while let Some(event) = session.poll_event() {
//!             match event {
//!                 Event::Authenticate { .. } => {
//!                     let listing = vec![MessageInfo::new(21, "uid-1").unwrap()];
//!                     session.auth_finish(Ok(listing)).unwrap();
//!                 }
//!                 Event::Retrieve { .. } => {
//!                     session.retrieve_begin().unwrap();
//!                     session.retrieve_chunk(message).unwrap();
//!                     session.retrieve_end().unwrap();
//!                 }
//!                 Event::Commit { deleted } => {
//!                     assert_eq!(deleted, [0]); // remove them, then:
//!                     session.commit_finish(Ok(())).unwrap();
//!                 }
//!                 _ => {}
//!             }
//!         }
//!         match session.poll_output() {
//!             Some(out) => sent.extend_from_slice(&out),
//!             None => break,
//!         }
//!     }
//! }
//! let text = String::from_utf8(sent).unwrap();
//! assert!(text.contains("+OK 21 octets\r\nSubject: hi\r\n\r\n..dot\r\n.\r\n"));
//! assert!(session.is_closed());
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod command;
pub mod frame;
pub mod parse;
pub mod session;
pub mod types;

pub use command::Command;
pub use parse::{ParseError, parse_command, parse_response};
pub use session::{
    AnswerError, AuthMechanism, Config, Event, Limits, MessageInfo, ServerSession, SessionError,
};
pub use types::{RespCode, Response, Secret, ValidationError};
