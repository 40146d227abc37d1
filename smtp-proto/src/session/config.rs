//! How a session is set up: its limits and behaviour.

use crate::frame::DefectPolicy;
use mailwright_sasl::Mechanism as AuthMechanism;
use std::time::Duration;

/// Every limit the session enforces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Longest command line, CRLF included (RFC 5321 §4.5.3.1.4: 512).
    pub max_command_line: usize,
    /// Longest SASL response line, CRLF included (RFC 4954 §4: 12,288).
    pub max_sasl_line: usize,
    /// Largest message in octets, advertised with SIZE; 0 means no limit.
    pub max_message_size: u64,
    /// Longest line in a DATA body, CRLF included; 0 means no limit.
    pub max_data_line: usize,
    /// Recipients per transaction (RFC 5321 §4.5.3.1.8: at least 100).
    pub max_recipients: usize,
    /// Refused commands before the session says 421 and closes.
    pub max_errors: u32,
    /// Failed authentications before the session says 421 and closes.
    pub max_auth_failures: u32,
    /// NOOP, RSET, VRFY, EXPN and HELP commands before the session says 421 and closes; the
    /// count starts again after each message stored (Postfix's `smtpd_junk_command_limit`).
    /// A client that sends only these costs a slot and never mail. 0 means no limit.
    pub max_junk_commands: u32,
    /// Octets of unprocessed input the session buffers.
    pub max_input_buffer: usize,
    /// How long to wait for a command.
    pub command_timeout: Duration,
    /// How long to wait for more of a message body.
    pub data_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_command_line: 512,
            max_sasl_line: 12_288,
            max_message_size: 50 * 1024 * 1024,
            max_data_line: 1000,
            max_recipients: 100,
            max_errors: 20,
            max_auth_failures: 3,
            max_junk_commands: 100,
            max_input_buffer: 64 * 1024,
            command_timeout: Duration::from_secs(300),
            data_timeout: Duration::from_secs(600),
        }
    }
}

/// How the session behaves; see each field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Our host name, in the greeting and the EHLO reply.
    pub hostname: String,
    /// Limits.
    pub limits: Limits,
    /// Bare CR or LF in a DATA body.
    pub bare_line_ending: DefectPolicy,
    /// NUL in a DATA body.
    pub nul: DefectPolicy,
    /// A DATA body line longer than `limits.max_data_line`.
    pub long_data_line: DefectPolicy,
    /// Offer STARTTLS (the embedder has a certificate).
    pub starttls: bool,
    /// The connection is already TLS (port 465).
    pub implicit_tls: bool,
    /// SASL mechanisms to offer; empty means no AUTH.
    pub auth_mechanisms: Vec<AuthMechanism>,
    /// Allow AUTH without TLS (otherwise it is neither advertised nor accepted before TLS).
    pub allow_plaintext_auth: bool,
    /// MAIL needs a successful AUTH first (submission).
    pub require_auth: bool,
    /// MAIL needs HELO or EHLO first.
    pub require_helo: bool,
    /// Hand VRFY to the embedder; otherwise 502.
    pub vrfy: bool,
    /// Hand EXPN to the embedder; otherwise 502.
    pub expn: bool,
    /// Advertise and accept SMTPUTF8 (RFC 6531).
    pub smtputf8: bool,
    /// Advertise and accept CHUNKING / BDAT (RFC 3030), with BINARYMIME.
    pub chunking: bool,
    /// Advertise and accept DSN (RFC 3461): RET, ENVID, NOTIFY, ORCPT. The embedder then owes
    /// the sender the notifications asked for.
    pub dsn: bool,
}

impl Config {
    /// Defaults for a server called `hostname`.
    pub fn new(hostname: impl Into<String>) -> Self {
        Self {
            hostname: hostname.into(),
            limits: Limits::default(),
            bare_line_ending: DefectPolicy::Reject,
            nul: DefectPolicy::Reject,
            long_data_line: DefectPolicy::Reject,
            starttls: false,
            implicit_tls: false,
            auth_mechanisms: Vec::new(),
            allow_plaintext_auth: false,
            require_auth: false,
            require_helo: true,
            vrfy: false,
            expn: false,
            smtputf8: true,
            chunking: true,
            dsn: false,
        }
    }
}
