//! The `mailserver` daemon and its admin command line, composing the protocol crates
//! (`smtp-proto`, `imap-proto`, `pop3-proto`, `sasl`) and the `maildir` store.
//!
//! The binary is [`main`]: it parses the arguments and runs a command.

mod accounts;
mod cli;
mod config;
mod conn;
mod daemon;
mod delivery;

mod disk;
mod dkim;
mod dns;
mod imap;
mod mail;
mod message;
mod owner;
mod password;
mod pop3;
mod queue;
mod smtp;
mod srs;
mod tls;

/// The error of a command or of the daemon's start, shown to the admin as it is.
pub(crate) type AnyError = Box<dyn std::error::Error + Send + Sync>;

pub use cli::main;
