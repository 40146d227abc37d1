//! The POP3 server session: a plain state machine the embedding program drives.
//!
//! States are RFC 1939's: AUTHORIZATION until the embedder accepts credentials with the
//! maildrop listing, TRANSACTION where STAT, LIST, UIDL and DELE are answered from that
//! listing by the session itself, and UPDATE, reached only by QUIT in TRANSACTION, where the
//! embedder removes the messages marked deleted. DELE only marks; a dropped connection or a
//! timeout never reaches UPDATE, so nothing is removed.

use std::collections::VecDeque;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use thiserror::Error;

use crate::command::Command;
use crate::frame::MessageEncoder;
use crate::parse::parse_command;
use crate::types::{RespCode, Response, Secret, ValidationError, validate_uid};
use mailwright_line_session::{Buffers, Line};

/// SASL mechanisms the session runs itself (the exchange lives in the `sasl` crate).
pub use mailwright_sasl::Mechanism as AuthMechanism;

/// Every limit the session enforces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Longest command line, CRLF included (RFC 2449 §4 asks clients for at most 255).
    pub max_command_line: usize,
    /// Longest SASL response line, CRLF included.
    pub max_sasl_line: usize,
    /// Failed authentications before the session closes.
    pub max_auth_failures: u32,
    /// Refused commands before the session closes.
    pub max_errors: u32,
    /// How long to wait for a command (RFC 1939 §3: at least 10 minutes).
    pub timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_command_line: 512,
            max_sasl_line: 12_288,
            max_auth_failures: 3,
            max_errors: 20,
            timeout: Duration::from_secs(600),
        }
    }
}

/// How the session behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Text of the `+OK` greeting.
    pub greeting: String,
    /// Limits.
    pub limits: Limits,
    /// Offer STLS (the embedder has a certificate).
    pub stls: bool,
    /// The connection is already TLS (port 995).
    pub implicit_tls: bool,
    /// Allow USER/PASS and AUTH without TLS; otherwise they are neither advertised nor
    /// accepted before TLS.
    pub allow_plaintext_auth: bool,
    /// Offer USER/PASS.
    pub user_pass: bool,
    /// SASL mechanisms to offer.
    pub auth_mechanisms: Vec<AuthMechanism>,
    /// The CAPA `EXPIRE` value (`NEVER`, or a number of days), if advertised.
    pub expire: Option<String>,
    /// The CAPA `IMPLEMENTATION` value, if advertised.
    pub implementation: Option<String>,
}

impl Config {
    /// Defaults: USER/PASS and AUTH PLAIN/LOGIN, only over TLS.
    pub fn new(greeting: impl Into<String>) -> Self {
        Self {
            greeting: greeting.into(),
            limits: Limits::default(),
            stls: false,
            implicit_tls: false,
            allow_plaintext_auth: false,
            user_pass: true,
            auth_mechanisms: vec![AuthMechanism::Plain, AuthMechanism::Login],
            expire: None,
            implementation: None,
        }
    }
}

/// One message of the maildrop, as the embedder lists it at login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageInfo {
    size: u64,
    uid: String,
}

impl MessageInfo {
    /// `size` is the exact size RETR will send, with CRLF line ends and before dot-stuffing
    /// ([`CrlfSize`](crate::CrlfSize) counts it); `uid` is the UIDL (RFC 1939 §7: 1 to 70
    /// characters 0x21-0x7E, stable forever).
    pub fn new(size: u64, uid: impl Into<String>) -> Result<Self, ValidationError> {
        let uid = uid.into();
        validate_uid(&uid)?;
        Ok(Self { size, uid })
    }

    /// The size in octets.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The unique id.
    pub fn uid(&self) -> &str {
        &self.uid
    }
}

/// What the session needs the embedder to know or decide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// USER/PASS or AUTH gave credentials. Answer: [`ServerSession::auth_finish`] with the
    /// maildrop listing (having locked it), or a refusal such as [`Response::auth_failed`] or
    /// [`Response::in_use`].
    Authenticate {
        /// The identity to act as, if the client asked for one (AUTH PLAIN only).
        authzid: Option<String>,
        /// The user name.
        username: String,
        /// The password.
        password: Secret<String>,
    },
    /// RETR or TOP of message `index` (0-based in the listing). Answer:
    /// [`ServerSession::retrieve_begin`], then [`ServerSession::retrieve_chunk`] with the
    /// stored octets as they are read, then [`ServerSession::retrieve_end`]; or
    /// [`ServerSession::retrieve_fail`] before beginning.
    Retrieve {
        /// Index in the listing.
        index: usize,
        /// Its unique id.
        uid: String,
        /// `Some(n)` for `TOP msg n`.
        top: Option<u32>,
    },
    /// QUIT in TRANSACTION: the UPDATE state. Remove (or hide, by policy) the messages marked
    /// deleted, then answer [`ServerSession::commit_finish`]. The list may be empty.
    Commit {
        /// The messages marked deleted, in listing order.
        deleted: Vec<Deleted>,
    },
    /// The `+OK` to STLS has been sent: run the TLS handshake, then call
    /// [`ServerSession::tls_established`].
    StartTls,
    /// QUIT before login: the session closes. No answer.
    Quit,
}

/// A message marked deleted, as [`Event::Commit`] names it: where it is in the listing given
/// to [`ServerSession::auth_finish`], and its unique id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deleted {
    /// Index in the listing (0-based; the message number DELE took, minus one).
    pub index: usize,
    /// Its unique id (UIDL), as the listing gave it.
    pub uid: String,
}

/// An answer the session could not take; nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AnswerError {
    /// No decision of this kind is pending.
    #[error("no decision of this kind is pending")]
    WrongState,
    /// The response does not fit (e.g. `+OK` to refuse).
    #[error("response {0} does not fit this decision")]
    UnfitResponse(Response),
}

/// Why the session refused octets the client sent (shared with the other line-based
/// sessions).
pub use mailwright_line_session::SessionError;

#[derive(Debug)]
enum Pending {
    Auth,
    Retrieve,
    Commit,
}

#[derive(Debug)]
enum Phase {
    Command,
    Sasl(mailwright_sasl::Exchange),
    AwaitingTls { announced: bool },
    Streaming(Box<MessageEncoder>),
}

#[derive(Debug)]
enum State {
    Authorization {
        user: Option<String>,
    },
    Transaction {
        maildrop: Vec<MessageInfo>,
        deleted: Vec<bool>,
    },
    Update,
}

/// One POP3 connection's protocol state, driven by the embedder.
///
/// # The loop
///
/// 1. [`receive`](Self::receive) what the connection read, at most
///    [`input_capacity`](Self::input_capacity) octets.
/// 2. Take every [`poll_event`](Self::poll_event) and answer each as its [`Event`] says.
/// 3. Write out everything [`poll_output`](Self::poll_output) gives.
/// 4. If [`is_closed`](Self::is_closed), close the connection. Otherwise read again, waiting at
///    most [`timeout`](Self::timeout); when it passes, call
///    [`handle_timeout`](Self::handle_timeout). At end of file call
///    [`handle_eof`](Self::handle_eof) and close: nothing marked deleted is removed, since only
///    QUIT reaches the UPDATE state.
///
/// # States and answers
///
/// AUTHORIZATION until [`Event::Authenticate`] is answered with the maildrop listing
/// ([`auth_finish`](Self::auth_finish)); TRANSACTION, where the session answers STAT, LIST,
/// UIDL, DELE, RSET and NOOP itself from that listing and asks for RETR and TOP
/// ([`Event::Retrieve`]); UPDATE after QUIT, where [`Event::Commit`] names the messages marked
/// deleted (by index in the listing and unique id) and [`commit_finish`](Self::commit_finish)
/// answers.
/// Each message's size in the listing is what RETR sends: CRLF line ends, before
/// dot-stuffing ([`MessageInfo::new`]).
///
/// # Limits
///
/// Every bound is in [`Limits`] (defaults in brackets): command line 512 octets, SASL line
/// 12,288, 3 failed logins and 20 refused commands before the session closes, 10 minutes of
/// silence (RFC 1939 asks for at least 10).
#[derive(Debug)]
pub struct ServerSession {
    config: Config,
    io: Buffers,
    events: VecDeque<Event>,
    state: State,
    phase: Phase,
    pending: Option<Pending>,
    pending_top: Option<Option<u32>>,
    pending_size: u64,
    tls: bool,
    errors: u32,
    auth_failures: u32,
}

impl Response {
    /// `-ERR [AUTH] Authentication failed`.
    pub fn auth_failed() -> Response {
        Response::fixed(false, Some(RespCode::Auth), "Authentication failed")
    }

    /// `-ERR [IN-USE] ...`: the maildrop is locked by another session.
    pub fn in_use() -> Response {
        Response::fixed(
            false,
            Some(RespCode::InUse),
            "Mailbox is in use by another POP3 session",
        )
    }

    /// `-ERR [SYS/TEMP] ...`: a temporary server problem.
    pub fn temporary_failure() -> Response {
        Response::fixed(
            false,
            Some(RespCode::SysTemp),
            "Temporary server error, try again later",
        )
    }
}

impl ServerSession {
    /// A new session; the greeting is queued at once.
    pub fn new(config: Config) -> Self {
        let tls = config.implicit_tls;
        let mut s = Self {
            config,
            io: Buffers::default(),
            events: VecDeque::new(),
            state: State::Authorization { user: None },
            phase: Phase::Command,
            pending: None,
            pending_top: None,
            pending_size: 0,
            tls,
            errors: 0,
            auth_failures: 0,
        };
        let greeting = s.config.greeting.clone();
        s.respond(
            Response::ok(greeting).unwrap_or_else(|_| Response::fixed(true, None, "POP3 ready")),
        );
        s
    }

    /// A session whose greeting is a refusal (`-ERR [SYS/TEMP] <text>`, RFC 2449 §8.1.2; e.g.
    /// too many connections), after which it closes.
    pub fn refuse(config: Config, text: &str) -> Self {
        let mut session = Self::new(config);
        session.io.output.clear();
        session.abort(text);
        session
    }

    /// Whether the connection is TLS.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// Whether the session is in TRANSACTION (logged in).
    pub fn is_authenticated(&self) -> bool {
        matches!(self.state, State::Transaction { .. })
    }

    /// Octets the session can take now; zero while waiting for an answer, a handshake, or
    /// while a message is being streamed out.
    pub fn input_capacity(&self) -> usize {
        if self.io.closing
            || self.pending.is_some()
            || matches!(self.phase, Phase::AwaitingTls { .. } | Phase::Streaming(_))
        {
            return 0;
        }
        let limit = (self.config.limits.max_sasl_line + 1)
            .max(self.config.limits.max_command_line + 1)
            .max(16 * 1024);
        self.io.room(limit)
    }

    /// Feeds octets read from the client.
    pub fn receive(&mut self, data: &[u8]) -> Result<(), SessionError> {
        let awaiting_tls = matches!(self.phase, Phase::AwaitingTls { .. });
        let result = self.io.receive(data, self.input_capacity(), awaiting_tls);
        if result == Err(SessionError::InputDuringTls) {
            self.pending = None;
        }
        result
    }

    /// Octets to send, if any.
    pub fn poll_output(&mut self) -> Option<Bytes> {
        self.io.poll_output()
    }

    /// Octets queued and not yet taken, for backpressure while streaming a message.
    pub fn pending_output(&self) -> usize {
        self.io.pending_output()
    }

    /// Whether the session has ended and its output has been taken.
    pub fn is_closed(&self) -> bool {
        self.io.is_closed()
    }

    /// How long to wait for input before [`Self::handle_timeout`].
    pub fn timeout(&self) -> Duration {
        self.config.limits.timeout
    }

    /// The client was silent too long: say so and close, without entering UPDATE.
    pub fn handle_timeout(&mut self) {
        if !self.io.closing {
            self.respond(Response::fixed(false, None, "Disconnected for inactivity"));
            self.close();
        }
    }

    /// The embedder ends the session for `reason` (a limit of its own, such as the data a
    /// client may send before it logs in): `-ERR [SYS/TEMP] <reason>`, then close without
    /// entering UPDATE.
    pub fn abort(&mut self, reason: &str) {
        if !self.io.closing {
            let response = Response::err(Some(RespCode::SysTemp), reason).unwrap_or_else(|_| {
                Response::fixed(false, Some(RespCode::SysTemp), "Closing connection")
            });
            self.respond(response);
            self.close();
        }
    }

    /// The server is shutting down: close without entering UPDATE.
    pub fn shutdown(&mut self) {
        if !self.io.closing {
            self.respond(Response::fixed(
                false,
                Some(RespCode::SysTemp),
                "Server shutting down",
            ));
            self.close();
        }
    }

    /// The client went away; nothing is deleted.
    pub fn handle_eof(&mut self) {
        self.io.hang_up();
    }

    /// The next event, or `None` when more input (or an answer) is needed.
    pub fn poll_event(&mut self) -> Option<Event> {
        loop {
            if let Some(e) = self.events.pop_front() {
                return Some(e);
            }
            if self.io.closing || self.pending.is_some() {
                return None;
            }
            let progressed = match &mut self.phase {
                Phase::AwaitingTls { announced } => {
                    if !*announced && self.io.output.is_empty() {
                        *announced = true;
                        return Some(Event::StartTls);
                    }
                    return None;
                }
                Phase::Streaming(_) => return None,
                Phase::Command => self.step_command(),
                Phase::Sasl(_) => self.step_sasl(),
            };
            if !progressed && self.events.is_empty() {
                return None;
            }
        }
    }

    // ---- answers ----

    /// Answers [`Event::Authenticate`]: `Ok` with the maildrop listing enters TRANSACTION.
    pub fn auth_finish(
        &mut self,
        result: Result<Vec<MessageInfo>, Response>,
    ) -> Result<(), AnswerError> {
        if !matches!(self.pending, Some(Pending::Auth)) {
            return Err(AnswerError::WrongState);
        }
        match result {
            Ok(maildrop) => {
                self.pending = None;
                let total: u64 = maildrop.iter().map(|m| m.size).sum();
                let text = format!("Logged in, {} messages ({total} octets)", maildrop.len());
                let deleted = vec![false; maildrop.len()];
                self.state = State::Transaction { maildrop, deleted };
                self.respond(Response::fixed(true, None, &text));
            }
            Err(response) if !response.is_ok() => {
                self.pending = None;
                self.state = State::Authorization { user: None };
                let counts = matches!(response.code(), Some(RespCode::Auth) | None);
                self.respond(response);
                if counts {
                    self.auth_failures += 1;
                    if self.auth_failures >= self.config.limits.max_auth_failures {
                        self.respond(Response::fixed(
                            false,
                            Some(RespCode::Auth),
                            "Too many authentication failures",
                        ));
                        self.close();
                    }
                }
            }
            Err(response) => return Err(AnswerError::UnfitResponse(response)),
        }
        Ok(())
    }

    /// Starts the answer to [`Event::Retrieve`]: queues `+OK`.
    pub fn retrieve_begin(&mut self) -> Result<(), AnswerError> {
        if !matches!(self.pending, Some(Pending::Retrieve)) {
            return Err(AnswerError::WrongState);
        }
        let top = self.pending_top.take().flatten();
        self.pending = None;
        let text = match top {
            None => format!("{} octets", self.pending_size),
            Some(_) => "Top of message follows".to_owned(),
        };
        self.respond(Response::fixed(true, None, &text));
        self.phase = Phase::Streaming(Box::new(MessageEncoder::new(top)));
        Ok(())
    }

    /// Streams stored octets of the message (any chunking; LF line ends are fine). Returns
    /// whether more is wanted: `false` once TOP has its lines. Drain [`Self::poll_output`]
    /// between chunks to bound memory.
    pub fn retrieve_chunk(&mut self, chunk: &[u8]) -> Result<bool, AnswerError> {
        let Phase::Streaming(encoder) = &mut self.phase else {
            return Err(AnswerError::WrongState);
        };
        encoder.encode(chunk, &mut self.io.output);
        Ok(!encoder.is_satisfied())
    }

    /// Ends the streamed message with its terminator.
    pub fn retrieve_end(&mut self) -> Result<(), AnswerError> {
        let Phase::Streaming(encoder) = &mut self.phase else {
            return Err(AnswerError::WrongState);
        };
        encoder.finish(&mut self.io.output);
        self.phase = Phase::Command;
        Ok(())
    }

    /// Refuses [`Event::Retrieve`] (e.g. the file vanished) with an `-ERR`.
    pub fn retrieve_fail(&mut self, response: Response) -> Result<(), AnswerError> {
        if response.is_ok() {
            return Err(AnswerError::UnfitResponse(response));
        }
        if !matches!(self.pending, Some(Pending::Retrieve)) {
            return Err(AnswerError::WrongState);
        }
        self.pending = None;
        self.pending_top = None;
        self.respond(response);
        Ok(())
    }

    /// Answers [`Event::Commit`]; the session then closes.
    pub fn commit_finish(&mut self, result: Result<(), Response>) -> Result<(), AnswerError> {
        if !matches!(self.pending, Some(Pending::Commit)) {
            return Err(AnswerError::WrongState);
        }
        self.pending = None;
        match result {
            Ok(()) => self.respond(Response::fixed(true, None, "Logging out")),
            Err(r) if !r.is_ok() => self.respond(r),
            Err(r) => {
                self.pending = Some(Pending::Commit);
                return Err(AnswerError::UnfitResponse(r));
            }
        }
        self.close();
        Ok(())
    }

    /// The TLS handshake after [`Event::StartTls`] succeeded.
    pub fn tls_established(&mut self) -> Result<(), AnswerError> {
        match self.phase {
            Phase::AwaitingTls { announced: true } => {
                self.phase = Phase::Command;
                self.tls = true;
                self.state = State::Authorization { user: None };
                self.io.input.clear();
                Ok(())
            }
            _ => Err(AnswerError::WrongState),
        }
    }

    // ---- internals ----

    fn respond(&mut self, response: Response) {
        response.encode(&mut self.io.output);
    }

    fn close(&mut self) {
        self.io.close();
        self.pending = None;
    }

    /// A line over its limit: refused and the connection closed, since a client that keeps
    /// sending one could otherwise hold it open forever without ever finishing a command.
    fn line_too_long(&mut self) {
        self.respond(Response::fixed(
            false,
            None,
            "Line too long, closing connection",
        ));
        self.close();
    }

    fn error(&mut self, response: Response) {
        self.respond(response);
        self.errors += 1;
        if self.errors >= self.config.limits.max_errors {
            self.respond(Response::fixed(
                false,
                None,
                "Too many errors, closing connection",
            ));
            self.close();
        }
    }

    fn plaintext_ok(&self) -> bool {
        self.tls || self.config.allow_plaintext_auth
    }

    fn step_command(&mut self) -> bool {
        match self.io.take_line(self.config.limits.max_command_line) {
            Line::Incomplete => false,
            Line::TooLong => {
                self.line_too_long();
                true
            }
            Line::Complete(line) => {
                match parse_command(&line) {
                    Ok(command) => self.dispatch(command),
                    Err(e) => self.error(e.response()),
                }
                true
            }
        }
    }

    fn dispatch(&mut self, command: Command) {
        match self.state {
            State::Update => {}
            State::Transaction { .. } => match command {
                Command::Capa => self.capa(),
                command => self.transaction(command),
            },
            State::Authorization { .. } => self.authorization(command),
        }
    }

    fn authorization(&mut self, command: Command) {
        match command {
            Command::Capa => self.capa(),
            Command::Quit => {
                self.respond(Response::fixed(true, None, "Logging out"));
                self.events.push_back(Event::Quit);
                self.close();
            }
            Command::User(name) => {
                if !self.config.user_pass {
                    return self.error(Response::fixed(false, None, "USER/PASS is not enabled"));
                }
                if !self.plaintext_ok() {
                    return self.error(Response::fixed(
                        false,
                        Some(RespCode::Auth),
                        "Plaintext authentication is not allowed without TLS; use STLS",
                    ));
                }
                self.state = State::Authorization { user: Some(name) };
                self.respond(Response::fixed(true, None, ""));
            }
            Command::Pass(password) => {
                let user = match &mut self.state {
                    State::Authorization { user } => user.take(),
                    _ => None,
                };
                match user {
                    None => self.error(Response::fixed(false, None, "Send USER first")),
                    Some(username) => self.request_auth(None, username, password.into_inner()),
                }
            }
            Command::Apop { .. } => {
                self.error(Response::fixed(false, None, "APOP is not supported"))
            }
            Command::Auth {
                mechanism,
                initial_response,
            } => self.start_auth(mechanism, initial_response),
            Command::Stls => self.start_tls(),
            _ => self.error(Response::fixed(false, None, "Not logged in")),
        }
    }

    fn capa(&mut self) {
        let mut lines = vec!["TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"]
            .into_iter()
            .map(str::to_owned)
            .collect::<Vec<_>>();
        let authorization = !self.is_authenticated();
        if authorization && self.plaintext_ok() {
            if self.config.user_pass {
                lines.push("USER".into());
            }
            if !self.config.auth_mechanisms.is_empty() {
                let names: Vec<&str> = self
                    .config
                    .auth_mechanisms
                    .iter()
                    .map(|m| m.name())
                    .collect();
                lines.push(format!("SASL {}", names.join(" ")));
            }
        }
        if authorization && self.config.stls && !self.tls {
            lines.push("STLS".into());
        }
        if let Some(e) = &self.config.expire {
            lines.push(format!("EXPIRE {e}"));
        }
        if let Some(i) = &self.config.implementation {
            lines.push(format!("IMPLEMENTATION {i}"));
        }
        self.respond(Response::fixed(true, None, "Capability list follows"));
        for l in lines {
            // Capability lines never start with '.', so no stuffing is needed.
            self.io.output.extend_from_slice(l.as_bytes());
            self.io.output.extend_from_slice(b"\r\n");
        }
        self.io.output.extend_from_slice(b".\r\n");
    }

    fn start_tls(&mut self) {
        if self.tls {
            return self.error(Response::fixed(false, None, "TLS is already active"));
        }
        if !self.config.stls {
            return self.error(Response::fixed(false, None, "STLS is not available"));
        }
        if !self.io.input.is_empty() {
            self.respond(Response::fixed(false, None, "Input pipelined after STLS"));
            return self.close();
        }
        self.respond(Response::fixed(true, None, "Begin TLS negotiation"));
        self.phase = Phase::AwaitingTls { announced: false };
    }

    fn start_auth(&mut self, mechanism: Option<String>, initial: Option<Secret<String>>) {
        if !self.plaintext_ok() {
            return self.error(Response::fixed(
                false,
                Some(RespCode::Auth),
                "Authentication is not allowed without TLS; use STLS",
            ));
        }
        let Some(mechanism) = mechanism else {
            // The pre-RFC 5034 listing form, still used by some clients.
            self.respond(Response::fixed(true, None, "Mechanisms follow"));
            for m in self.config.auth_mechanisms.clone() {
                self.io.output.extend_from_slice(m.name().as_bytes());
                self.io.output.extend_from_slice(b"\r\n");
            }
            self.io.output.extend_from_slice(b".\r\n");
            return;
        };
        let Some(mech) = self
            .config
            .auth_mechanisms
            .iter()
            .copied()
            .find(|m| m.name() == mechanism)
        else {
            return self.error(Response::fixed(
                false,
                None,
                "Unsupported authentication mechanism",
            ));
        };
        match mailwright_sasl::Exchange::start(mech, initial.as_ref().map(|s| s.expose().as_str()))
        {
            Ok(progress) => self.sasl_progress(progress),
            Err(e) => self.sasl_error(e),
        }
    }

    fn sasl_progress(&mut self, progress: mailwright_sasl::Progress) {
        match progress {
            mailwright_sasl::Progress::Challenge(exchange, text) => {
                self.io.output.extend_from_slice(b"+ ");
                self.io.output.extend_from_slice(text.as_bytes());
                self.io.output.extend_from_slice(b"\r\n");
                self.phase = Phase::Sasl(exchange);
            }
            mailwright_sasl::Progress::Done(c) => {
                self.request_auth(c.authzid, c.username, c.password.into_inner())
            }
        }
    }

    fn sasl_error(&mut self, error: mailwright_sasl::SaslError) {
        let text = match error {
            mailwright_sasl::SaslError::Cancelled => "Authentication cancelled",
            mailwright_sasl::SaslError::Base64 => "Invalid base64 data",
            mailwright_sasl::SaslError::Plain => "Invalid PLAIN response",
            mailwright_sasl::SaslError::Username => "Invalid user name",
            mailwright_sasl::SaslError::Password => "Invalid password encoding",
        };
        self.error(Response::fixed(false, None, text));
    }

    fn request_auth(&mut self, authzid: Option<String>, username: String, password: String) {
        self.pending = Some(Pending::Auth);
        self.events.push_back(Event::Authenticate {
            authzid,
            username,
            password: Secret::new(password),
        });
    }

    fn step_sasl(&mut self) -> bool {
        let line = match self.io.take_line(self.config.limits.max_sasl_line) {
            Line::Incomplete => return false,
            Line::TooLong => {
                self.phase = Phase::Command;
                self.line_too_long();
                return true;
            }
            Line::Complete(line) => line,
        };
        let Phase::Sasl(exchange) = std::mem::replace(&mut self.phase, Phase::Command) else {
            return false;
        };
        match exchange.respond(&line) {
            Ok(progress) => self.sasl_progress(progress),
            Err(e) => self.sasl_error(e),
        }
        true
    }

    /// A message number that exists and is not deleted, as a 0-based index.
    fn message(&self, n: u32) -> Result<usize, Response> {
        let State::Transaction { maildrop, deleted } = &self.state else {
            return Err(Response::fixed(false, None, "Not logged in"));
        };
        let index = (n as usize).wrapping_sub(1);
        if n == 0 || index >= maildrop.len() {
            return Err(Response::fixed(false, None, "No such message"));
        }
        if deleted[index] {
            return Err(Response::fixed(false, None, "Message is deleted"));
        }
        Ok(index)
    }

    fn transaction(&mut self, command: Command) {
        let State::Transaction { maildrop, deleted } = &mut self.state else {
            return;
        };
        match command {
            Command::Stat => {
                let (count, size) = maildrop
                    .iter()
                    .zip(deleted.iter())
                    .filter(|(_, d)| !**d)
                    .fold((0usize, 0u64), |(c, s), (m, _)| (c + 1, s + m.size));
                self.respond(Response::fixed(true, None, &format!("{count} {size}")));
            }
            Command::List(None) | Command::Uidl(None) => {
                let uidl = matches!(command, Command::Uidl(None));
                let mut listing = BytesMut::new();
                for (i, (m, d)) in maildrop.iter().zip(deleted.iter()).enumerate() {
                    if !*d {
                        let line = if uidl {
                            format!("{} {}\r\n", i + 1, m.uid)
                        } else {
                            format!("{} {}\r\n", i + 1, m.size)
                        };
                        listing.extend_from_slice(line.as_bytes());
                    }
                }
                self.respond(Response::fixed(
                    true,
                    None,
                    if uidl {
                        "Unique-ids follow"
                    } else {
                        "Scan listing follows"
                    },
                ));
                self.io.output.extend_from_slice(&listing);
                self.io.output.extend_from_slice(b".\r\n");
            }
            Command::List(Some(n)) | Command::Uidl(Some(n)) => {
                let uidl = matches!(command, Command::Uidl(_));
                match self.message(n) {
                    Ok(i) => {
                        let State::Transaction { maildrop, .. } = &self.state else {
                            return;
                        };
                        let text = if uidl {
                            format!("{n} {}", maildrop[i].uid)
                        } else {
                            format!("{n} {}", maildrop[i].size)
                        };
                        self.respond(Response::fixed(true, None, &text));
                    }
                    Err(r) => self.error(r),
                }
            }
            Command::Retr(n) | Command::Top { msg: n, .. } => {
                let top = match command {
                    Command::Top { lines, .. } => Some(lines),
                    _ => None,
                };
                match self.message(n) {
                    Ok(index) => {
                        let State::Transaction { maildrop, .. } = &self.state else {
                            return;
                        };
                        let uid = maildrop[index].uid.clone();
                        self.pending_size = maildrop[index].size;
                        self.pending_top = Some(top);
                        self.pending = Some(Pending::Retrieve);
                        self.events.push_back(Event::Retrieve { index, uid, top });
                    }
                    Err(r) => self.error(r),
                }
            }
            Command::Dele(n) => match self.message(n) {
                Ok(i) => {
                    if let State::Transaction { deleted, .. } = &mut self.state {
                        deleted[i] = true;
                    }
                    self.respond(Response::fixed(true, None, &format!("Message {n} deleted")));
                }
                Err(r) => self.error(r),
            },
            Command::Rset => {
                deleted.iter_mut().for_each(|d| *d = false);
                let count = maildrop.len();
                self.respond(Response::fixed(true, None, &format!("{count} messages")));
            }
            Command::Quit => {
                let marked: Vec<Deleted> = deleted
                    .iter()
                    .zip(maildrop)
                    .enumerate()
                    .filter(|(_, (d, _))| **d)
                    .map(|(index, (_, m))| Deleted {
                        index,
                        uid: m.uid.clone(),
                    })
                    .collect();
                self.state = State::Update;
                self.pending = Some(Pending::Commit);
                self.events.push_back(Event::Commit { deleted: marked });
            }
            Command::Noop => self.respond(Response::fixed(true, None, "")),
            _ => self.error(Response::fixed(false, None, "Already logged in")),
        }
    }
}
