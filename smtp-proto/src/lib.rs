//! Sans-I/O SMTP (RFC 5321 and the extensions a modern MX speaks): the server side, and a
//! client session for relaying.
//!
//! No sockets, no async runtime, no clock and no file system: the embedder feeds the bytes it
//! read, takes events, answers the ones that need a decision, and writes out the bytes the
//! session produced. The same state machine serves the tests, the fuzzer and the daemon.
//!
//! - [`frame`] finds frame boundaries (command lines, DATA bodies with dot-unstuffing, BDAT
//!   chunks) and enforces limits before anything is parsed.
//! - [`parse`] turns one complete command line into a [`Command`] (nom over the line).
//! - [`command`] and [`types`] hold the typed, validated values and their encoders.
//! - [`session`] is the [`ServerSession`] state machine.
//! - [`client`] is the [`ClientSession`] state machine, for handing mail on.
//!
//! # Driving loop
//!
//! Receive, answer every event, send the output, and only then read again:
//!
//! ```
//! use smtp_proto::{Config, Event, Reply, ServerSession};
//!
//! let mut session = ServerSession::new(Config::new("mx.example.com"));
//! let mut sent = Vec::new();
//! let client: &[&[u8]] = &[
//!     b"EHLO client.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n",
//!     b"Subject: hi\r\n\r\n..dot\r\n.\r\nQUIT\r\n",
//! ];
//! let mut body = Vec::new();
//! for input in client {
//!     session.receive(input).unwrap();
//!     loop {
//!         while let Some(event) = session.poll_event() {
//!             match event {
//!                 Event::MessageChunk(chunk) => body.extend_from_slice(&chunk),
//!                 Event::MessageEnd { .. } => {
//!                     // Store the message durably first, then:
//!                     session.finish_message(Reply::queued("ABC123")).unwrap();
//!                 }
//!                 Event::Helo { .. } | Event::MailFrom { .. } | Event::RcptTo { .. }
//!                 | Event::MessageStart { .. } => session.accept().unwrap(),
//!                 _ => {}
//!             }
//!         }
//!         match session.poll_output() {
//!             Some(bytes) => sent.extend_from_slice(&bytes),
//!             None => break,
//!         }
//!     }
//! }
//! assert_eq!(body, b"Subject: hi\r\n\r\n.dot\r\n");
//! assert!(String::from_utf8(sent).unwrap().ends_with("250 2.0.0 Ok: queued as ABC123\r\n221 2.0.0 Bye\r\n"));
//! assert!(session.is_closed());
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod client;
pub mod command;
pub mod frame;
pub mod parse;
pub mod session;
pub mod types;

pub use client::{
    ClientConfig, ClientError, ClientEvent, ClientSession, ClientTimeouts, ClientUsageError,
    Envelope, Extensions, TlsPolicy,
};
pub use command::{Body, Command, MailParams, Notify, RcptParams, Ret};
pub use frame::{BodyDefect, DefectPolicy};
pub use parse::{ParseError, parse_command, parse_mailbox, parse_reply};
pub use session::{
    AbortReason, AnswerError, AuthMechanism, BodyKind, CloseReason, CommandCounts, Config, Event,
    Limits, ServerSession, SessionError,
};
pub use types::{
    EnhancedStatus, ForwardPath, Host, Mailbox, Reply, ReplyCode, ReversePath, Secret,
    ValidationError,
};
