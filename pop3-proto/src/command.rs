//! POP3 commands (RFC 1939, RFC 2449 CAPA, RFC 2595 STLS, RFC 5034 AUTH) and their encoding.

use bytes::BytesMut;

use crate::types::Secret;

/// One command line, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `USER name`.
    User(String),
    /// `PASS string` (the rest of the line, spaces included).
    Pass(Secret<String>),
    /// `APOP name digest`.
    Apop {
        /// The mailbox name.
        name: String,
        /// The MD5 digest, 32 lower-case hex digits.
        digest: String,
    },
    /// `AUTH [mechanism [initial-response]]` (RFC 5034); no mechanism lists them.
    Auth {
        /// The SASL mechanism, upper case.
        mechanism: Option<String>,
        /// The initial response as sent: base64, or `=` for an empty one.
        initial_response: Option<Secret<String>>,
    },
    /// `STAT`.
    Stat,
    /// `LIST [msg]`.
    List(Option<u32>),
    /// `RETR msg`.
    Retr(u32),
    /// `DELE msg`.
    Dele(u32),
    /// `NOOP`.
    Noop,
    /// `RSET`.
    Rset,
    /// `QUIT`.
    Quit,
    /// `TOP msg n`.
    Top {
        /// The message number.
        msg: u32,
        /// Body lines to send after the header.
        lines: u32,
    },
    /// `UIDL [msg]`.
    Uidl(Option<u32>),
    /// `CAPA`.
    Capa,
    /// `STLS`.
    Stls,
}

impl Command {
    /// The keyword, for logs.
    pub fn keyword(&self) -> &'static str {
        match self {
            Command::User(_) => "USER",
            Command::Pass(_) => "PASS",
            Command::Apop { .. } => "APOP",
            Command::Auth { .. } => "AUTH",
            Command::Stat => "STAT",
            Command::List(_) => "LIST",
            Command::Retr(_) => "RETR",
            Command::Dele(_) => "DELE",
            Command::Noop => "NOOP",
            Command::Rset => "RSET",
            Command::Quit => "QUIT",
            Command::Top { .. } => "TOP",
            Command::Uidl(_) => "UIDL",
            Command::Capa => "CAPA",
            Command::Stls => "STLS",
        }
    }

    /// Appends the canonical form, CRLF included.
    pub fn encode(&self, out: &mut BytesMut) {
        let line = match self {
            Command::User(name) => format!("USER {name}"),
            Command::Pass(p) => format!("PASS {}", p.expose()),
            Command::Apop { name, digest } => format!("APOP {name} {digest}"),
            Command::Auth {
                mechanism: None, ..
            } => "AUTH".to_owned(),
            Command::Auth {
                mechanism: Some(m),
                initial_response: None,
            } => format!("AUTH {m}"),
            Command::Auth {
                mechanism: Some(m),
                initial_response: Some(ir),
            } => format!("AUTH {m} {}", ir.expose()),
            Command::List(None) => "LIST".to_owned(),
            Command::List(Some(n)) => format!("LIST {n}"),
            Command::Uidl(None) => "UIDL".to_owned(),
            Command::Uidl(Some(n)) => format!("UIDL {n}"),
            Command::Retr(n) => format!("RETR {n}"),
            Command::Dele(n) => format!("DELE {n}"),
            Command::Top { msg, lines } => format!("TOP {msg} {lines}"),
            other => other.keyword().to_owned(),
        };
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}
