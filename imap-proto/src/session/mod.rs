//! The IMAP server session: a plain state machine the embedding program drives.
//!
//! The session frames input (lines and the literals inside them, sending `+` for
//! synchronising literals only once a literal is known to be acceptable), parses each complete
//! command, enforces which command is allowed in which state (RFC 9051 §3), and answers
//! CAPABILITY, LOGOUT, STARTTLS, ENABLE, ID and the AUTHENTICATE exchange itself. Everything
//! that needs storage or accounts comes out as an [`Event`]; the embedder answers it with
//! untagged data ([`ServerSession::send`]) and then [`ServerSession::complete`]. Commands
//! are handled one at a time, in order; pipelined input waits in the buffer.
//!
//! APPEND is streamed: the message literal comes out in chunks as it arrives, never buffered
//! whole. IDLE (RFC 2177) lets the embedder push untagged data until the client's `DONE`.
//!
//! This file holds the types and the embedder's side (answers, output, state); `input.rs`
//! holds the input side (framing, parsing, dispatch, the SASL and APPEND exchanges).

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use thiserror::Error;

use crate::command::Command;
use crate::parse::{AppendHead, ParseOptions, frame_tag, parse_append_head, parse_command_with};
use crate::response::{Code, EncodeOptions, Response, Status};
use crate::types::{Atom, Secret, Tag, Text};

mod input;

/// SASL mechanisms the session runs itself (the exchange lives in the `sasl` crate).
pub use mailwright_sasl::Mechanism as AuthMechanism;

/// Every limit the session enforces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Longest line (between literals), CRLF included.
    pub max_line: usize,
    /// Longest literal in a command other than APPEND, once logged in.
    pub max_literal: usize,
    /// Longest literal before login (user names and passwords need little).
    pub max_literal_before_auth: usize,
    /// Longest command, literals included, APPEND's message excluded.
    pub max_command: usize,
    /// Largest message APPEND accepts (advertised as APPENDLIMIT by the embedder).
    pub max_append: u64,
    /// Longest SASL response line.
    pub max_sasl_line: usize,
    /// Failed logins before the session closes.
    pub max_auth_failures: u32,
    /// Refused (BAD) commands before the session closes.
    pub max_errors: u32,
    /// Idle time allowed once logged in (RFC 9051 §5.4: at least 30 minutes).
    pub timeout: Duration,
    /// Idle time allowed before login.
    pub timeout_before_auth: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_line: 64 * 1024,
            max_literal: 64 * 1024,
            max_literal_before_auth: 4096,
            max_command: 1024 * 1024,
            max_append: 50 * 1024 * 1024,
            max_sasl_line: 12_288,
            max_auth_failures: 3,
            max_errors: 20,
            timeout: Duration::from_secs(30 * 60),
            timeout_before_auth: Duration::from_secs(60),
        }
    }
}

/// How the session behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Text of the `* OK` greeting.
    pub greeting: String,
    /// Limits.
    pub limits: Limits,
    /// Offer STARTTLS (the embedder has a certificate).
    pub starttls: bool,
    /// The connection is already TLS (port 993).
    pub implicit_tls: bool,
    /// Allow LOGIN and AUTHENTICATE without TLS; otherwise LOGINDISABLED is advertised.
    pub allow_plaintext_auth: bool,
    /// SASL mechanisms to offer.
    pub auth_mechanisms: Vec<AuthMechanism>,
    /// Capabilities the embedder implements, advertised after login (and before it, so
    /// clients can plan): e.g. `IDLE`, `NAMESPACE`, `UIDPLUS`, `MOVE`.
    pub capabilities: Vec<Atom>,
    /// Fields of the server's `* ID` answer (RFC 2971).
    pub id: Vec<(String, String)>,
    /// Extensions ENABLE may turn on (RFC 5161), e.g. `CONDSTORE` and `QRESYNC`; see
    /// [`ServerSession::is_enabled`]. Enabling QRESYNC enables CONDSTORE too (RFC 7162 §3.2.3).
    pub enable: Vec<Atom>,
}

impl Config {
    /// Defaults: LOGIN and AUTHENTICATE PLAIN/LOGIN, only over TLS; no extensions.
    pub fn new(greeting: impl Into<String>) -> Self {
        Self {
            greeting: greeting.into(),
            limits: Limits::default(),
            starttls: false,
            implicit_tls: false,
            allow_plaintext_auth: false,
            auth_mechanisms: vec![AuthMechanism::Plain, AuthMechanism::Login],
            capabilities: Vec::new(),
            id: Vec::new(),
            enable: Vec::new(),
        }
    }
}

/// What the session needs the embedder to know or decide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// LOGIN or AUTHENTICATE gave credentials. Answer: [`ServerSession::auth_finish`].
    Login {
        /// The identity to act as, if the client asked for one (AUTHENTICATE PLAIN).
        authzid: Option<String>,
        /// The user name.
        username: String,
        /// The password.
        password: Secret<String>,
    },
    /// A command for the embedder. Answer with any untagged [`ServerSession::send`]s, then
    /// [`ServerSession::complete`].
    Command {
        /// Its tag.
        tag: Tag,
        /// The command.
        command: Command,
    },
    /// An APPEND announced its message. Answer [`ServerSession::accept_append`] (the message
    /// then arrives as [`Event::AppendChunk`]s and an [`Event::AppendEnd`]) or
    /// [`ServerSession::reject_append`].
    AppendStart(AppendHead),
    /// The next octets of the message being appended.
    AppendChunk(Bytes),
    /// The whole message arrived. Store it durably, then [`ServerSession::complete`].
    AppendEnd,
    /// The APPEND was malformed after its message; the session answered `BAD`. Discard what
    /// was received. No answer.
    AppendAborted,
    /// IDLE (only when [`Config::capabilities`] lists `IDLE`; otherwise the session answers
    /// BAD itself). Answer [`ServerSession::idle_accept`] (then push untagged data with
    /// [`ServerSession::send`] as things change) or [`ServerSession::complete`] to refuse.
    Idle {
        /// Its tag.
        tag: Tag,
    },
    /// The client ended IDLE. Send what is pending, then [`ServerSession::complete`].
    IdleDone,
    /// The reply to STARTTLS has been sent: run the TLS handshake, then call
    /// [`ServerSession::tls_established`].
    StartTls,
    /// LOGOUT: the session has said goodbye and is closed. No answer.
    Logout,
}

/// A refusal of LOGIN or AUTHENTICATE, for [`ServerSession::auth_finish`]: the tagged `NO`'s
/// response code and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The response code, if any (`AUTHENTICATIONFAILED`, `UNAVAILABLE`, `LIMIT`, ...).
    pub code: Option<Code>,
    /// Human-readable text (line breaks are replaced when sent).
    pub text: String,
}

impl Refusal {
    /// `NO [code] text`.
    pub fn new(code: Option<Code>, text: impl Into<String>) -> Self {
        Self {
            code,
            text: text.into(),
        }
    }

    /// `NO [AUTHENTICATIONFAILED] Authentication failed` (RFC 5530 §3), the answer to bad
    /// credentials, which says nothing of whether the user exists.
    pub fn auth_failed() -> Self {
        Self::new(Some(Code::AuthenticationFailed), "Authentication failed")
    }
}

/// An answer the session could not take; nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AnswerError {
    /// No decision of this kind is pending.
    #[error("no decision of this kind is pending")]
    WrongState,
    /// A FETCH response may stream one literal.
    #[error("a FETCH response may stream one literal")]
    StreamedTwice,
    /// More octets than the streamed literal's length.
    #[error("more octets than the streamed literal holds")]
    LiteralOverrun,
    /// A FETCH response needs at least one item (`* n FETCH ()` is not IMAP).
    #[error("a FETCH response needs at least one item")]
    EmptyFetch,
}

/// The literal a FETCH response is streaming: octets still owed, and the response's rest.
#[derive(Debug)]
struct Streaming {
    owed: u64,
    rest: Bytes,
    /// Whatever the session queued meanwhile (it goes out after the response).
    held: BytesMut,
}

/// Why the session refused octets the client sent (shared with the line-based sessions of
/// `smtp-proto` and `pop3-proto`).
pub use mailwright_line_session::SessionError;

/// The RFC 9051 §3 connection states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Before login.
    NotAuthenticated,
    /// Logged in, no mailbox selected.
    Authenticated,
    /// A mailbox is selected.
    Selected {
        /// Opened with EXAMINE.
        read_only: bool,
    },
    /// After LOGOUT, BYE or a fatal error.
    Logout,
}

#[derive(Debug)]
enum Pending {
    Login(Tag),
    Command(Tag, Transition),
    AppendDecision(AppendHead),
    Append(Tag),
    Idle(Tag),
}

/// What a successful command does to the state.
#[derive(Debug, Clone, Copy)]
enum Transition {
    None,
    Select { read_only: bool },
    Deselect,
}

#[derive(Debug)]
enum Phase {
    /// Collecting a command: lines up to `scan` are complete; a literal ends at `literal_end`.
    Command {
        scan: usize,
        literal_end: Option<usize>,
    },
    Sasl {
        tag: Tag,
        exchange: mailwright_sasl::Exchange,
    },
    AwaitingTls {
        announced: bool,
    },
    AppendData {
        remaining: u64,
        utf8: bool,
    },
    /// After the message literal: the line end must follow (after a `)` for `UTF8 (...)`).
    AppendTail {
        utf8: bool,
    },
    /// Throwing away a command: `skip` octets of a literal, then lines until one announces
    /// no non-synchronising literal; then `BAD` (unless already answered).
    Discard {
        skip: u64,
        answer: Option<(Option<Tag>, &'static str)>,
    },
    Idling,
}

/// An IMAP server session: one connection's protocol state, driven by the embedder.
///
/// # The loop
///
/// 1. [`receive`](Self::receive) what the connection read, at most
///    [`input_capacity`](Self::input_capacity) octets (0: read nothing until the output and the
///    pending answer are taken care of).
/// 2. Take every [`poll_event`](Self::poll_event) and answer each as its [`Event`] says; the
///    session parks the input until the answer, so answers go out in command order.
/// 3. Write out everything [`poll_output`](Self::poll_output) gives.
/// 4. If [`is_closed`](Self::is_closed), close the connection. Otherwise read again, waiting at
///    most [`timeout`](Self::timeout); when it passes, call
///    [`handle_timeout`](Self::handle_timeout) (the session says `* BYE` and closes). At end of
///    file call [`handle_eof`](Self::handle_eof) and close.
///
/// # What the embedder answers
///
/// - [`Event::Login`]: [`auth_finish`](Self::auth_finish); `Ok` enters the Authenticated
///   state.
/// - [`Event::Command`]: any untagged data with [`send`](Self::send), then one
///   [`complete`](Self::complete). Every command needs its completion, if only `NO`. `OK` to
///   SELECT or EXAMINE enters the Selected state ([`State::Selected`], `read_only` for
///   EXAMINE, whatever code the completion carries); `NO` or `BAD` to them leaves no mailbox
///   selected; `OK` to CLOSE or UNSELECT returns to Authenticated. The answer to SELECT should
///   carry what clients expect (RFC 9051 §6.3.2): `FLAGS`, `EXISTS`, `OK [UIDVALIDITY]`,
///   `OK [UIDNEXT]`, `OK [PERMANENTFLAGS]`, and `[READ-WRITE]` or `[READ-ONLY]` on the `OK`.
///   FETCH answers are the embedder's: a UID FETCH reply must carry `UID`, and a `BODY[...]`
///   without `.PEEK` sets `\Seen` (in a read-write mailbox) and then reports `FLAGS`.
/// - [`Event::AppendStart`]: [`accept_append`](Self::accept_append) or
///   [`reject_append`](Self::reject_append); after [`Event::AppendEnd`],
///   [`complete`](Self::complete) once the message is stored.
/// - [`Event::Idle`]: [`idle_accept`](Self::idle_accept), then [`send`](Self::send) what
///   changes, and [`complete`](Self::complete) after [`Event::IdleDone`].
/// - [`Event::StartTls`]: the handshake, then [`tls_established`](Self::tls_established).
/// - [`Event::AppendChunk`], [`Event::AppendAborted`], [`Event::Logout`]: nothing to answer.
///
/// The session itself answers CAPABILITY, LOGOUT, STARTTLS, ENABLE, ID, the AUTHENTICATE
/// exchange (then [`Event::Login`]), NOOP before login (after login NOOP comes as a command,
/// so that the embedder can report news), syntax errors (`BAD`) and commands not allowed in
/// the current state.
///
/// # Limits
///
/// Every bound is in [`Limits`] (defaults in brackets): line 64 KiB, literal 64 KiB (4 KiB
/// before login), command 1 MiB, APPEND message 50 MiB, SASL line 12,288 octets, 3 failed
/// logins and 20 refused commands before `* BYE`, 30 minutes of silence after login and 1
/// minute before. A line over its limit gets `* BYE` and the session closes.
#[derive(Debug)]
pub struct ServerSession {
    config: Config,
    state: State,
    phase: Phase,
    pending: Option<Pending>,
    input: BytesMut,
    output: BytesMut,
    streaming: Option<Streaming>,
    events: std::collections::VecDeque<Event>,
    tls: bool,
    errors: u32,
    auth_failures: u32,
    closed: bool,
    /// Extensions the client enabled.
    enabled: Vec<Atom>,
}

const CONTINUE_LITERAL: &[u8] = b"+ Ready for literal data\r\n";

impl ServerSession {
    /// A session whose greeting is already queued.
    pub fn new(config: Config) -> Self {
        let mut s = Self {
            tls: config.implicit_tls,
            config,
            state: State::NotAuthenticated,
            phase: Phase::Command {
                scan: 0,
                literal_end: None,
            },
            pending: None,
            input: BytesMut::new(),
            output: BytesMut::new(),
            streaming: None,
            events: Default::default(),
            errors: 0,
            auth_failures: 0,
            closed: false,
            enabled: Vec::new(),
        };
        let greeting = Response::ok(Some(Code::Capability(s.capabilities())), &s.config.greeting);
        s.push(&greeting);
        s
    }

    /// A session whose greeting is a refusal (RFC 9051 §7.1.5: `* BYE <text>` instead of the
    /// greeting; e.g. too many connections), after which it closes.
    pub fn refuse(config: Config, text: &str) -> Self {
        let mut session = Self::new(config);
        session.output.clear();
        session.bye(None, text);
        session
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Whether the client enabled `extension` (by ENABLE, or by [`ServerSession::enable`]).
    pub fn is_enabled(&self, extension: &str) -> bool {
        self.enabled
            .iter()
            .any(|e| e.as_str().eq_ignore_ascii_case(extension))
    }

    /// Marks `extension` enabled without ENABLE, as commands that use it do (RFC 7162 §3.1:
    /// a CONDSTORE-enabling command). Returns whether it was off before.
    pub fn enable(&mut self, extension: &str) -> bool {
        if self.is_enabled(extension) {
            return false;
        }
        if let Ok(atom) = Atom::new(extension.to_ascii_uppercase()) {
            self.enabled.push(atom);
        }
        true
    }

    /// Whether the connection is TLS.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    fn login_disabled(&self) -> bool {
        !self.tls && !self.config.allow_plaintext_auth
    }

    /// What CAPABILITY says now.
    pub fn capabilities(&self) -> Vec<Atom> {
        let atom = |s: &str| Atom::new(s).ok();
        let mut caps: Vec<Atom> = ["IMAP4rev1", "LITERAL+", "SASL-IR", "ID", "ENABLE"]
            .into_iter()
            .filter_map(atom)
            .collect();
        if self.state == State::NotAuthenticated {
            if self.config.starttls && !self.tls {
                caps.extend(atom("STARTTLS"));
            }
            if self.login_disabled() {
                caps.extend(atom("LOGINDISABLED"));
            } else {
                for m in &self.config.auth_mechanisms {
                    caps.extend(atom(&format!("AUTH={}", m.name())));
                }
            }
        }
        caps.extend(self.config.capabilities.iter().cloned());
        caps
    }

    /// Whether the embedder lists `capability` in [`Config::capabilities`].
    fn advertises(&self, capability: &str) -> bool {
        let listed = &self.config.capabilities;
        listed
            .iter()
            .any(|c| c.as_str().eq_ignore_ascii_case(capability))
    }

    /// Queues octets for the client, after a literal being streamed if there is one.
    fn emit(&mut self, octets: &[u8]) {
        match &mut self.streaming {
            Some(s) => s.held.extend_from_slice(octets),
            None => self.output.extend_from_slice(octets),
        }
    }

    fn push(&mut self, r: &Response) {
        let options = self.encode_options();
        match &mut self.streaming {
            Some(s) => r.encode_with(&mut s.held, options),
            None => r.encode_with(&mut self.output, options),
        }
    }

    /// UTF-8 mailbox names both ways once the client enabled UTF8=ACCEPT (RFC 6855 §3) or
    /// IMAP4rev2 (RFC 9051 §5.1).
    fn utf8_names(&self) -> bool {
        self.is_enabled("UTF8=ACCEPT") || self.is_enabled("IMAP4rev2")
    }

    fn parse_options(&self) -> ParseOptions {
        ParseOptions {
            utf8_names: self.utf8_names(),
        }
    }

    fn encode_options(&self) -> EncodeOptions {
        EncodeOptions {
            utf8_names: self.utf8_names(),
        }
    }

    fn tagged(&mut self, tag: &Tag, status: Status, code: Option<Code>, text: &str) {
        if status == Status::Bad {
            self.errors += 1;
        }
        self.push(&Response::Tagged {
            tag: tag.clone(),
            status,
            code,
            text: Text::lossy(text),
        });
        if self.errors >= self.config.limits.max_errors {
            self.bye(None, "Too many invalid commands");
        }
    }

    fn bad(&mut self, tag: Option<Tag>, text: &str) {
        match tag {
            Some(t) => self.tagged(&t, Status::Bad, None, text),
            None => {
                self.errors += 1;
                self.push(&Response::Untagged {
                    status: Status::Bad,
                    code: None,
                    text: Text::lossy(text),
                });
                if self.errors >= self.config.limits.max_errors {
                    self.bye(None, "Too many invalid commands");
                }
            }
        }
    }

    /// A line over `limits.max_line` with no end yet: `* BYE` and close (as Dovecot does), since
    /// a client that keeps sending one could otherwise hold the connection open forever
    /// without ever finishing a command. A line that ends over the limit is answered `BAD`.
    fn line_too_long(&mut self) {
        self.input.clear();
        self.bye(None, "Line too long");
    }

    fn bye(&mut self, code: Option<Code>, text: &str) {
        if self.closed {
            return;
        }
        self.push(&Response::Bye {
            code,
            text: Text::lossy(text),
        });
        self.close();
    }

    fn close(&mut self) {
        self.closed = true;
        self.state = State::Logout;
        self.input.clear();
        self.pending = None;
    }

    /// How many more octets [`ServerSession::receive`] takes now: 0 while the TLS handshake
    /// is pending, when closed, or when the buffer is full (read no more until it drains).
    pub fn input_capacity(&self) -> usize {
        if self.closed || matches!(self.phase, Phase::AwaitingTls { .. }) {
            return 0;
        }
        let cap = self.config.limits.max_command + self.config.limits.max_line;
        cap.saturating_sub(self.input.len())
    }

    /// Feeds octets read from the client.
    pub fn receive(&mut self, data: &[u8]) -> Result<(), SessionError> {
        if self.closed {
            return Err(SessionError::Closed);
        }
        if matches!(self.phase, Phase::AwaitingTls { .. }) && !data.is_empty() {
            self.close();
            return Err(SessionError::InputDuringTls);
        }
        if data.len() > self.input_capacity() {
            return Err(SessionError::InputOverflow);
        }
        self.input.extend_from_slice(data);
        Ok(())
    }

    /// The next octets to write to the client.
    pub fn poll_output(&mut self) -> Option<Bytes> {
        if self.output.is_empty() {
            return None;
        }
        if let Phase::AwaitingTls { announced } = &mut self.phase
            && !*announced
        {
            *announced = true;
            self.events.push_back(Event::StartTls);
        }
        Some(self.output.split().freeze())
    }

    /// Octets waiting in [`ServerSession::poll_output`].
    pub fn pending_output(&self) -> usize {
        self.output.len()
    }

    /// Whether the session has ended and all its output has been taken (as in the SMTP and
    /// POP3 sessions): then close the connection.
    pub fn is_closed(&self) -> bool {
        self.closed && self.output.is_empty()
    }

    /// How long the client may stay silent in the current state.
    pub fn timeout(&self) -> Duration {
        match self.state {
            State::NotAuthenticated => self.config.limits.timeout_before_auth,
            _ => self.config.limits.timeout,
        }
    }

    /// The client went away (the connection reached end of file): the session closes, with
    /// nothing more to send. Returns whether an APPEND was cut off in the middle of its
    /// message: the embedder discards what it received of it (no [`Event::AppendAborted`]
    /// follows), as SMTP's and POP3's sessions' `handle_eof` do for their own work.
    pub fn handle_eof(&mut self) -> bool {
        let mid_append = matches!(self.phase, Phase::AppendData { .. })
            || matches!(self.pending, Some(Pending::AppendDecision(_)));
        self.close();
        mid_append
    }

    /// The client stayed silent for [`ServerSession::timeout`]: say goodbye and close.
    pub fn handle_timeout(&mut self) {
        self.bye(None, "Autologout; idle for too long");
    }

    /// The embedder ends the session for `reason` (a limit of its own, such as the data a
    /// client may send before it logs in): `* BYE <reason>`, then close.
    pub fn abort(&mut self, reason: &str) {
        self.bye(None, reason);
    }

    /// The server is shutting down: say goodbye and close.
    pub fn shutdown(&mut self) {
        self.bye(Some(Code::Unavailable), "Server shutting down");
    }

    /// Queues untagged data (EXISTS, EXPUNGE, FETCH...). Refused before login.
    pub fn send(&mut self, response: &Response) -> Result<(), AnswerError> {
        if self.closed || self.state == State::NotAuthenticated {
            return Err(AnswerError::WrongState);
        }
        if matches!(response, Response::Tagged { .. } | Response::Continue(_)) {
            return Err(AnswerError::WrongState);
        }
        if let Response::Fetch { items, .. } = response {
            if items.is_empty() {
                return Err(AnswerError::EmptyFetch);
            }
            let streamed = items
                .iter()
                .filter(|i| matches!(i, crate::FetchValue::BodySectionStreamed { .. }))
                .count();
            if streamed > 1 || streamed == 1 && self.streaming.is_some() {
                return Err(AnswerError::StreamedTwice);
            }
        }
        if self.streaming.is_some() {
            self.push(response);
            return Ok(());
        }
        match response.encode_streamed(&mut self.output) {
            Some((0, rest)) => self.output.extend_from_slice(&rest),
            Some((owed, rest)) => {
                self.streaming = Some(Streaming {
                    owed,
                    rest,
                    held: BytesMut::new(),
                })
            }
            None => self.push(response),
        }
        Ok(())
    }

    /// The next octets of the literal a FETCH response streams
    /// ([`FetchValue::BodySectionStreamed`](crate::FetchValue::BodySectionStreamed)); once all of them are given, the response goes on.
    /// Until then, responses (and the tagged status) wait. An embedder that cannot produce
    /// the octets it announced must close the connection: a literal cannot be taken back.
    pub fn stream_literal(&mut self, octets: &[u8]) -> Result<(), AnswerError> {
        let Some(s) = &mut self.streaming else {
            return Err(AnswerError::WrongState);
        };
        if octets.len() as u64 > s.owed {
            return Err(AnswerError::LiteralOverrun);
        }
        self.output.extend_from_slice(octets);
        s.owed -= octets.len() as u64;
        if s.owed == 0
            && let Some(s) = self.streaming.take()
        {
            self.output.extend_from_slice(&s.rest);
            self.output.extend_from_slice(&s.held);
        }
        Ok(())
    }

    /// Octets still owed for a streamed literal.
    pub fn literal_owed(&self) -> u64 {
        self.streaming.as_ref().map_or(0, |s| s.owed)
    }

    /// Ends the pending command with its tagged status.
    pub fn complete(
        &mut self,
        status: Status,
        code: Option<Code>,
        text: &str,
    ) -> Result<(), AnswerError> {
        let (tag, transition) = match self.pending.take() {
            Some(Pending::Command(tag, t)) => (tag, t),
            Some(Pending::Append(tag)) => (tag, Transition::None),
            Some(Pending::Idle(tag)) if !matches!(self.phase, Phase::Idling) => {
                (tag, Transition::None)
            }
            other => {
                self.pending = other;
                return Err(AnswerError::WrongState);
            }
        };
        match (transition, status) {
            (Transition::Select { read_only }, Status::Ok) => {
                self.state = State::Selected { read_only }
            }
            // A failed SELECT leaves no mailbox selected (RFC 9051 §6.3.2).
            (Transition::Select { .. }, _) | (Transition::Deselect, Status::Ok) => {
                self.state = State::Authenticated;
            }
            _ => {}
        }
        self.tagged(&tag, status, code, text);
        Ok(())
    }

    /// Answers [`Event::Login`]: `Ok` logs in, `Err` refuses with a tagged `NO` (normally
    /// [`Refusal::auth_failed`]). The SMTP and POP3 crates' `auth_finish` take their own
    /// reply types in the same place.
    pub fn auth_finish(&mut self, result: Result<(), Refusal>) -> Result<(), AnswerError> {
        let Some(Pending::Login(tag)) = self.pending.take() else {
            return Err(AnswerError::WrongState);
        };
        match result {
            Ok(()) => {
                self.state = State::Authenticated;
                let caps = self.capabilities();
                self.tagged(&tag, Status::Ok, Some(Code::Capability(caps)), "Logged in");
            }
            Err(Refusal { code, text }) => {
                self.auth_failures += 1;
                self.tagged(&tag, Status::No, code, &text);
                if self.auth_failures >= self.config.limits.max_auth_failures {
                    self.bye(None, "Too many failed logins");
                }
            }
        }
        Ok(())
    }

    /// Accepts an announced APPEND: the message will arrive as chunks.
    pub fn accept_append(&mut self) -> Result<(), AnswerError> {
        let Some(Pending::AppendDecision(head)) = self.pending.take() else {
            return Err(AnswerError::WrongState);
        };
        if head.synchronizing {
            self.emit(CONTINUE_LITERAL);
        }
        self.pending = Some(Pending::Append(head.tag));
        self.phase = Phase::AppendData {
            remaining: head.size,
            utf8: head.utf8,
        };
        Ok(())
    }

    /// Refuses an announced APPEND (e.g. `NO [TRYCREATE]`, `NO [OVERQUOTA]`).
    pub fn reject_append(&mut self, code: Option<Code>, text: &str) -> Result<(), AnswerError> {
        let Some(Pending::AppendDecision(head)) = self.pending.take() else {
            return Err(AnswerError::WrongState);
        };
        self.tagged(&head.tag, Status::No, code, text);
        if !head.synchronizing {
            self.phase = Phase::Discard {
                skip: head.size,
                answer: None,
            };
        }
        Ok(())
    }

    /// Starts IDLE: `+ idling` goes out; push changes with [`ServerSession::send`].
    pub fn idle_accept(&mut self) -> Result<(), AnswerError> {
        if !matches!(self.pending, Some(Pending::Idle(_))) || matches!(self.phase, Phase::Idling) {
            return Err(AnswerError::WrongState);
        }
        self.emit(b"+ idling\r\n");
        self.phase = Phase::Idling;
        Ok(())
    }

    /// The TLS handshake after STARTTLS succeeded: the session starts over as RFC 9051
    /// §6.2.1 requires, without a new greeting.
    pub fn tls_established(&mut self) -> Result<(), AnswerError> {
        if !matches!(self.phase, Phase::AwaitingTls { announced: true }) {
            return Err(AnswerError::WrongState);
        }
        self.tls = true;
        self.state = State::NotAuthenticated;
        self.phase = Phase::Command {
            scan: 0,
            literal_end: None,
        };
        Ok(())
    }

    /// The next event, after processing buffered input as far as possible.
    pub fn poll_event(&mut self) -> Option<Event> {
        loop {
            if let Some(e) = self.events.pop_front() {
                return Some(e);
            }
            if self.closed || !self.step() {
                return self.events.pop_front();
            }
        }
    }
}
