//! Sans-I/O IMAP4rev2 server protocol.
//!
//! Not implemented yet: this crate reserves the name and its place in the workspace. The design it
//! will follow is the same as `smtp-proto`'s (bytes in, events out, answers in, bytes out).
#![forbid(unsafe_code)]
