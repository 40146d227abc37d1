//! The `mailserver` daemon and its admin command line, composing the protocol crates
//! (`smtp-proto`, `imap-proto`, `pop3-proto`, `sasl`) and the `maildir` store.
//!
//! The binary is [`main`]: it parses the arguments and runs a command.
//!
//! # Map
//!
//! Modules are in layers; each uses only the layers below it (`scripts/module-cycles`
//! checks that no two import each other, CI runs it):
//!
//! 1. **Entry**: `cli` (arguments, one file per command group) and `daemon` (listeners,
//!    signals, shutdown).
//! 2. **Services**: `smtp` (inbound and submission), `imap` (sessions, then one file per
//!    command family under `imap::mailbox`), `pop3`, `queue` (outbound: spool, relay, MX,
//!    DSN), `dns` (records to publish).
//! 3. **Shared paths**: `delivery` (quota accounting of every store and removal, the fields
//!    local delivery adds), `conn` (the one connection driver, TLS upgrade, pacing,
//!    admission, session spans), `dkim`, `srs`, `message` (header and body text over
//!    mail-parser), `tls`.
//! 4. **State and leaves**: `accounts` (the store: lookups, admin writes, and
//!    `backend/{sqlite, mysql, ldap}`), `config`, `live` (what a reload replaces), `password`,
//!    `disk`, `owner`, `mail` (queue and session ids, dates, `Received:`, the header scan).
//!
//! Mail on disk is the `maildir` crate's: no module here reads or writes a Maildir file
//! itself.

mod accounts;
mod alerts;
mod backup;
mod cli;
mod clients;
mod cms;
mod config;
mod conn;
mod daemon;
mod delivery;
mod der;
mod disk;
mod dkim;
mod dns;
mod filter;
mod guard;
mod health;
mod http;
mod imap;
mod lists;
mod live;
mod mail;
mod managesieve;
mod message;
mod metrics;
mod owner;
mod password;
mod pop3;
mod privileges;
mod queue;
mod resolver;
mod sieve;
mod smtp;
mod srs;
mod tls;

/// The error of a command or of the daemon's start, shown to the admin as it is.
pub(crate) type AnyError = Box<dyn std::error::Error + Send + Sync>;

pub use cli::main;

/// Internals that `benches/` measures against other implementations. Not an API: hidden from
/// the docs, and may change with any release.
#[doc(hidden)]
pub mod bench_api {
    use crate::imap::mime;

    /// What FETCH BODYSTRUCTURE ENVELOPE computes for a message (CRLF line ends): its MIME
    /// structure, then both answers. Returns the number of parts, so nothing is optimised away.
    pub fn structure_and_envelope(data: &[u8]) -> usize {
        let part = mime::parse(data);
        let structure = mime::body_structure(data, &part);
        let envelope = mime::envelope(&data[part.header.clone()]);
        std::hint::black_box((structure, envelope));
        count_parts(&part)
    }

    fn count_parts(part: &mime::Part) -> usize {
        1 + match &part.kind {
            mime::Kind::Leaf => 0,
            mime::Kind::Multi(parts) => parts.iter().map(count_parts).sum(),
            mime::Kind::Message(inner) => count_parts(inner),
        }
    }
}
