//! The SMTP server session: a plain state machine that the embedding program drives.
//!
//! Bytes in ([`ServerSession::receive`]), events out ([`ServerSession::poll_event`]), the program's
//! answers in ([`ServerSession::accept`], [`ServerSession::reject`], ...), bytes out
//! ([`ServerSession::poll_output`]). An event that needs an answer parks the input, so replies
//! leave in command order however deeply the client pipelines (RFC 2920).

use crate::command::{Command, MailParams, RcptParams};
use crate::frame::{BodyDefect, BodyRules, DataDecoder};
use crate::parse::parse_command;
use crate::types::{ForwardPath, Host, Reply, ReversePath, Secret};
use bytes::Bytes;
use mailwright_line_session::{Buffers, Line};
use std::collections::VecDeque;
use std::time::Duration;
use thiserror::Error;

mod auth;
mod config;
mod counts;
mod message;
mod transaction;

pub use config::{Config, Limits};
pub use counts::CommandCounts;

/// SASL mechanisms the session can run itself (the exchange lives in the `sasl` crate).
pub use mailwright_sasl::Mechanism as AuthMechanism;

/// Why the session closed the connection itself (see [`ServerSession::closed_because`]), so
/// the server can log it: each limit reached is a refusal an admin may need to see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// The client said QUIT.
    Quit,
    /// The client was silent too long ([`ServerSession::handle_timeout`]).
    Timeout,
    /// The server aborted the session ([`ServerSession::abort`]).
    Aborted,
    /// The server is shutting down ([`ServerSession::shutdown`]).
    Shutdown,
    /// [`Limits::max_auth_failures`] failed authentications.
    AuthFailures,
    /// A command line longer than [`Limits::max_command_line`] with no end in sight.
    LineTooLong,
    /// [`Limits::max_junk_commands`] junk commands without a message stored.
    JunkCommands,
    /// [`Limits::max_errors`] refused commands.
    Errors,
    /// Input pipelined after STARTTLS (a command injection attempt, CVE-2011-0411).
    PipelinedAfterStartTls,
}

/// How a message body arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// DATA: dot-stuffed, text.
    Data,
    /// BDAT chunks: octets counted, binary-safe.
    Bdat,
}

/// Why a message stopped before the embedder could decide on it. The session has already
/// queued its reply; the embedder discards what it received of the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AbortReason {
    /// A defect in the DATA body.
    Defect(BodyDefect),
    /// A BDAT chunk would exceed the message size limit.
    TooLarge,
}

/// What the session needs the embedder to know or decide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// EHLO or HELO. Answer: [`ServerSession::accept`] or [`ServerSession::reject`]. Once
    /// accepted, any open transaction is gone (RFC 5321 §4.1.4), a BDAT body in progress
    /// included: no [`Event::MessageAborted`] follows, so drop what was received of it here.
    Helo {
        /// The client's claimed name.
        host: Host,
        /// EHLO rather than HELO.
        extended: bool,
    },
    /// MAIL FROM. Answer: accept or reject.
    MailFrom {
        /// The sender.
        from: ReversePath,
        /// Its parameters.
        params: MailParams,
    },
    /// RCPT TO. Answer: accept or reject.
    RcptTo {
        /// The recipient.
        to: ForwardPath,
        /// Its parameters.
        params: RcptParams,
    },
    /// DATA, or the first BDAT of a transaction. Answer: accept (DATA gets 354) or reject.
    MessageStart {
        /// DATA or BDAT.
        kind: BodyKind,
    },
    /// Part of the message body, in order; no answer.
    MessageChunk(Bytes),
    /// The whole body has arrived. Answer: [`ServerSession::finish_message`], once the message
    /// is stored.
    MessageEnd {
        /// Octets of the body.
        size: u64,
    },
    /// The body was refused while it arrived; discard it. No answer.
    MessageAborted {
        /// Why.
        reason: AbortReason,
    },
    /// RSET: the transaction is gone. No answer.
    Reset,
    /// VRFY (only if enabled). Answer: [`ServerSession::respond`].
    Verify(String),
    /// EXPN (only if enabled). Answer: [`ServerSession::respond`].
    Expand(String),
    /// The 220 to STARTTLS has been sent: run the TLS handshake on the connection, then call
    /// [`ServerSession::tls_established`].
    StartTls,
    /// AUTH PLAIN or LOGIN finished its exchange. Answer: [`ServerSession::auth_finish`].
    Authenticate {
        /// The identity to act as, if the client asked for one (PLAIN only).
        authzid: Option<String>,
        /// The user name.
        username: String,
        /// The password.
        password: Secret<String>,
    },
    /// QUIT: the 221 is queued and the session closes. No answer.
    Quit,
}

/// An answer the session could not take; nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AnswerError {
    /// No decision of this kind is pending.
    #[error("no decision of this kind is pending")]
    WrongState,
    /// The reply's code does not fit the decision (e.g. a 2xx to reject).
    #[error("reply {0} does not fit this decision")]
    UnfitReply(Reply),
}

/// Why the session refused octets the client sent (shared with the other line-based
/// sessions).
pub use mailwright_line_session::SessionError;

#[derive(Debug)]
enum Pending {
    Helo {
        host: Host,
        extended: bool,
    },
    Mail {
        params: MailParams,
    },
    Rcpt,
    MessageStart {
        kind: BodyKind,
        bdat: Option<(u64, bool)>,
    },
    MessageEnd,
    Auth,
    Respond,
}

#[derive(Debug)]
enum Phase {
    Command,
    Data(Box<DataDecoder>),
    Bdat {
        remaining: u64,
        last: bool,
        /// Deliver the octets; otherwise discard them and send this reply at the end.
        refuse: Option<Reply>,
    },
    Sasl(mailwright_sasl::Exchange),
    /// The 220 is queued; `announced` once [`Event::StartTls`] went out.
    AwaitingTls {
        announced: bool,
    },
}

#[derive(Debug)]
struct Transaction {
    smtputf8: bool,
    body: Option<BodyKind>,
    rcpt_accepted: usize,
    rcpt_attempted: usize,
    bdat_size: u64,
    bdat_failed: bool,
}

/// One SMTP server connection's protocol state, driven by the embedder.
///
/// # The loop
///
/// 1. [`receive`](Self::receive) what the connection read, at most
///    [`input_capacity`](Self::input_capacity) octets.
/// 2. Take every [`poll_event`](Self::poll_event) and answer those that ask for it (each
///    [`Event`] says how); the session parks the input until the answer, so replies leave in
///    command order however deeply the client pipelines (RFC 2920).
/// 3. Write out everything [`poll_output`](Self::poll_output) gives.
/// 4. If [`is_closed`](Self::is_closed), close the connection. Otherwise read again, waiting at
///    most [`timeout`](Self::timeout) (the command or the DATA timeout); when it passes, call
///    [`handle_timeout`](Self::handle_timeout) (`421` and close). At end of file call
///    [`handle_eof`](Self::handle_eof): it tells whether a message was cut off, which must then
///    be discarded, never stored.
///
/// A `250` to the end of a message ([`finish_message`](Self::finish_message)) promises that
/// the message is stored durably: answer only then.
///
/// # Limits
///
/// Every bound is in [`Limits`] (defaults in brackets): command line 512 octets, SASL line
/// 12,288, message 50 MiB (advertised with SIZE), DATA line 1,000, 100 recipients, 20 refused
/// commands and 3 failed AUTHs before `421`, 100 NOOP/RSET/VRFY/EXPN/HELP between messages,
/// 64 KiB of unprocessed input, 5 minutes for a command and 10 for more of a message.
#[derive(Debug)]
pub struct ServerSession {
    config: Config,
    io: Buffers,
    events: VecDeque<Event>,
    phase: Phase,
    pending: Option<Pending>,
    helo: Option<(Host, bool)>,
    tls: bool,
    authenticated: bool,
    tx: Option<Transaction>,
    errors: u32,
    /// Junk commands since the last message stored (see [`Limits::max_junk_commands`]).
    junk: u32,
    auth_failures: u32,
    /// Why it closed, once it did.
    close_reason: Option<CloseReason>,
    /// Commands received, by verb.
    commands: CommandCounts,
}

impl ServerSession {
    /// A new session; the 220 greeting is queued at once.
    pub fn new(config: Config) -> Self {
        let tls = config.implicit_tls;
        let mut session = Self {
            config,
            io: Buffers::default(),
            events: VecDeque::new(),
            phase: Phase::Command,
            pending: None,
            helo: None,
            tls,
            authenticated: false,
            tx: None,
            errors: 0,
            junk: 0,
            auth_failures: 0,
            close_reason: None,
            commands: CommandCounts::default(),
        };
        let greeting = format!("{} ESMTP", session.config.hostname);
        session.queue_raw(Reply::new(220, None, greeting).unwrap_or_else(|_| {
            Reply::new(220, None, "ESMTP").unwrap_or_else(|_| unreachable_reply())
        }));
        session
    }

    /// A session whose greeting is a refusal (e.g. too many connections): 421 or 554, then close.
    pub fn refuse(config: Config, reply: Reply) -> Self {
        let mut session = Self::new(config);
        session.io.output.clear();
        session.queue_raw(reply);
        session.io.closing = true;
        session
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Whether the connection is TLS.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// Whether AUTH succeeded.
    pub fn is_authenticated(&self) -> bool {
        self.authenticated
    }

    /// The client's EHLO/HELO name, once accepted.
    pub fn helo(&self) -> Option<&Host> {
        self.helo.as_ref().map(|(h, _)| h)
    }

    /// Octets the session can take now. Zero while a decision or the TLS handshake is pending,
    /// which is the embedder's cue to stop reading (TCP backpressure).
    pub fn input_capacity(&self) -> usize {
        if self.io.closing
            || self.pending.is_some()
            || matches!(self.phase, Phase::AwaitingTls { .. })
        {
            return 0;
        }
        let limit = self
            .config
            .limits
            .max_input_buffer
            .max(self.config.limits.max_command_line + 1)
            .max(self.config.limits.max_sasl_line + 1);
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

    /// Octets to send to the client, if any. Send them before waiting for more input.
    pub fn poll_output(&mut self) -> Option<Bytes> {
        self.io.poll_output()
    }

    /// The commands the client has sent so far, by verb.
    pub fn command_counts(&self) -> &CommandCounts {
        &self.commands
    }

    /// Why the session closed the connection itself, once it has (`None` while open, or
    /// when the client simply went away).
    pub fn closed_because(&self) -> Option<CloseReason> {
        self.close_reason
    }

    /// Whether the session has ended and all its output has been taken.
    pub fn is_closed(&self) -> bool {
        self.io.is_closed()
    }

    /// How long the embedder should wait for input before calling [`Self::handle_timeout`].
    pub fn timeout(&self) -> Duration {
        match self.phase {
            Phase::Data(_) | Phase::Bdat { .. } => self.config.limits.data_timeout,
            _ => self.config.limits.command_timeout,
        }
    }

    /// The client was silent too long: queue 421 and close.
    pub fn handle_timeout(&mut self) {
        if !self.io.closing {
            let text = format!("{} Error: timeout exceeded", self.config.hostname);
            self.queue(reply_or(421, 4, 4, 2, &text, "Error: timeout exceeded"));
            self.close_for(CloseReason::Timeout);
        }
    }

    /// The embedder ends the session for `reason` (a limit of its own, such as the data a
    /// client may send before it authenticates): queue `421 4.7.0 <hostname> <reason>` and
    /// close. A message in progress is abandoned.
    pub fn abort(&mut self, reason: &str) {
        if !self.io.closing {
            let text = format!("{} {reason}", self.config.hostname);
            self.queue(reply_or(421, 4, 7, 0, &text, "Closing connection"));
            self.close_for(CloseReason::Aborted);
        }
    }

    /// The server is shutting down: queue 421 and close. Call it between messages; a message
    /// in progress should be finished (or abandoned) first.
    pub fn shutdown(&mut self) {
        if !self.io.closing {
            let text = format!("{} Service shutting down", self.config.hostname);
            self.queue(reply_or(421, 4, 3, 2, &text, "Service shutting down"));
            self.close_for(CloseReason::Shutdown);
        }
    }

    /// Whether a message body is being received (DATA or BDAT in progress).
    pub fn in_message(&self) -> bool {
        matches!(self.phase, Phase::Data(_) | Phase::Bdat { .. })
            || self.tx.as_ref().is_some_and(|t| t.body.is_some())
    }

    /// The client went away. Returns whether a message was cut off in the middle.
    pub fn handle_eof(&mut self) -> bool {
        let mid_message = self.in_message();
        self.io.hang_up();
        mid_message
    }

    /// The next event, or `None` when more input (or an answer) is needed.
    pub fn poll_event(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.events.pop_front() {
                return Some(event);
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
                Phase::Command => self.step_command(),
                Phase::Data(_) => self.step_data(),
                Phase::Bdat { .. } => self.step_bdat(),
                Phase::Sasl(_) => self.step_sasl(),
            };
            if !progressed && self.events.is_empty() {
                return None;
            }
        }
    }

    // ---- answers ----

    /// Accepts the pending EHLO/HELO, MAIL, RCPT or message start with the standard reply.
    pub fn accept(&mut self) -> Result<(), AnswerError> {
        match self.pending.take() {
            Some(Pending::Helo { host, extended }) => {
                self.tx = None;
                let reply = self.helo_reply(&host, extended);
                self.helo = Some((host, extended));
                self.queue_raw(reply);
                Ok(())
            }
            Some(Pending::Mail { params }) => {
                self.tx = Some(Transaction {
                    smtputf8: params.smtputf8,
                    body: None,
                    rcpt_accepted: 0,
                    rcpt_attempted: 0,
                    bdat_size: 0,
                    bdat_failed: false,
                });
                self.queue(Reply::fixed(250, 2, 1, 0, "Ok"));
                Ok(())
            }
            Some(Pending::Rcpt) => {
                if let Some(tx) = &mut self.tx {
                    tx.rcpt_accepted += 1;
                }
                self.queue(Reply::fixed(250, 2, 1, 5, "Ok"));
                Ok(())
            }
            Some(Pending::MessageStart { kind, bdat }) => {
                if let Some(tx) = &mut self.tx {
                    tx.body = Some(kind);
                }
                match bdat {
                    None => {
                        self.queue_raw(
                            Reply::new(354, None, "End data with <CR><LF>.<CR><LF>")
                                .unwrap_or_else(|_| unreachable_reply()),
                        );
                        let rules = BodyRules {
                            max_size: self.config.limits.max_message_size,
                            max_line: self.config.limits.max_data_line,
                            bare_line_ending: self.config.bare_line_ending,
                            nul: self.config.nul,
                            long_line: self.config.long_data_line,
                        };
                        self.phase = Phase::Data(Box::new(DataDecoder::new(rules)));
                    }
                    Some((size, last)) => {
                        self.phase = Phase::Bdat {
                            remaining: size,
                            last,
                            refuse: None,
                        };
                    }
                }
                Ok(())
            }
            other => {
                self.pending = other;
                Err(AnswerError::WrongState)
            }
        }
    }

    /// Refuses the pending EHLO/HELO, MAIL, RCPT or message start with a 4xx or 5xx reply.
    pub fn reject(&mut self, reply: Reply) -> Result<(), AnswerError> {
        if !reply.code().is_negative() {
            return Err(AnswerError::UnfitReply(reply));
        }
        match self.pending.take() {
            Some(Pending::Helo { .. } | Pending::Mail { .. } | Pending::Rcpt) => {
                self.queue(reply);
                Ok(())
            }
            Some(Pending::MessageStart { bdat, .. }) => {
                match bdat {
                    None => self.queue(reply),
                    Some((size, last)) => {
                        if let Some(tx) = &mut self.tx {
                            tx.bdat_failed = true;
                        }
                        self.phase = Phase::Bdat {
                            remaining: size,
                            last,
                            refuse: Some(reply),
                        };
                    }
                }
                Ok(())
            }
            other => {
                self.pending = other;
                Err(AnswerError::WrongState)
            }
        }
    }

    /// Answers [`Event::MessageEnd`], after the message is stored (2xx) or refused (4xx/5xx).
    /// The transaction ends either way.
    pub fn finish_message(&mut self, reply: Reply) -> Result<(), AnswerError> {
        if reply.code().class() == 3 {
            return Err(AnswerError::UnfitReply(reply));
        }
        match self.pending {
            Some(Pending::MessageEnd) => {
                self.pending = None;
                self.tx = None;
                if reply.code().class() == 2 {
                    self.junk = 0;
                }
                self.queue(reply);
                Ok(())
            }
            _ => Err(AnswerError::WrongState),
        }
    }

    /// Answers [`Event::Verify`] or [`Event::Expand`].
    pub fn respond(&mut self, reply: Reply) -> Result<(), AnswerError> {
        if reply.code().class() == 3 {
            return Err(AnswerError::UnfitReply(reply));
        }
        match self.pending {
            Some(Pending::Respond) => {
                self.pending = None;
                self.queue(reply);
                Ok(())
            }
            _ => Err(AnswerError::WrongState),
        }
    }

    /// Answers [`Event::Authenticate`]: `Ok` authenticates the session (235), `Err` carries the
    /// refusal, normally [`Reply::auth_failed`].
    pub fn auth_finish(&mut self, result: Result<(), Reply>) -> Result<(), AnswerError> {
        if !matches!(self.pending, Some(Pending::Auth)) {
            return Err(AnswerError::WrongState);
        }
        match result {
            Ok(()) => {
                self.pending = None;
                self.authenticated = true;
                self.queue(Reply::fixed(235, 2, 7, 0, "Authentication successful"));
            }
            Err(reply) if reply.code().is_negative() => {
                self.pending = None;
                self.auth_failures += 1;
                self.queue(reply);
                if self.auth_failures >= self.config.limits.max_auth_failures {
                    self.queue(Reply::fixed(
                        421,
                        4,
                        7,
                        0,
                        "Too many failed authentications",
                    ));
                    self.close_for(CloseReason::AuthFailures);
                }
            }
            Err(reply) => return Err(AnswerError::UnfitReply(reply)),
        }
        Ok(())
    }

    /// The TLS handshake after [`Event::StartTls`] succeeded: the session starts over as RFC
    /// 3207 §4.2 requires (EHLO again; nothing learned in plaintext is kept).
    pub fn tls_established(&mut self) -> Result<(), AnswerError> {
        match self.phase {
            Phase::AwaitingTls { announced: true } => {
                self.phase = Phase::Command;
                self.tls = true;
                self.helo = None;
                self.tx = None;
                self.authenticated = false;
                self.io.input.clear();
                Ok(())
            }
            _ => Err(AnswerError::WrongState),
        }
    }

    // ---- internals ----

    fn close_for(&mut self, reason: CloseReason) {
        self.close_reason.get_or_insert(reason);
        self.close();
    }

    fn close(&mut self) {
        self.io.close();
        self.pending = None;
    }

    /// Whether the client said EHLO (or nothing yet) rather than HELO.
    pub fn is_esmtp(&self) -> bool {
        self.helo.as_ref().is_none_or(|(_, extended)| *extended)
    }

    /// Queues a reply, dropping the enhanced code for a client that said HELO (RFC 2034).
    fn queue(&mut self, reply: Reply) {
        if self.is_esmtp() {
            reply.encode(&mut self.io.output);
        } else {
            reply.without_enhanced().encode(&mut self.io.output);
        }
    }

    fn queue_raw(&mut self, reply: Reply) {
        reply.encode(&mut self.io.output);
    }

    /// A line over its limit: refused and the connection closed, since a client that keeps
    /// sending one could otherwise hold it open forever without ever finishing a command.
    fn line_too_long(&mut self) {
        self.queue(Reply::fixed(500, 5, 5, 2, "Error: line too long"));
        self.queue(Reply::fixed(
            421,
            4,
            7,
            0,
            "Line too long, closing connection",
        ));
        self.close_for(CloseReason::LineTooLong);
    }

    /// Counts a junk command; past the limit, says 421 and closes (true).
    fn too_much_junk(&mut self) -> bool {
        self.junk += 1;
        let limit = self.config.limits.max_junk_commands;
        if limit == 0 || self.junk <= limit {
            return false;
        }
        self.queue(Reply::fixed(
            421,
            4,
            7,
            0,
            "Too many commands without mail, closing connection",
        ));
        self.close_for(CloseReason::JunkCommands);
        true
    }

    /// A refused command: reply, count, and close after too many.
    fn error(&mut self, reply: Reply) {
        self.queue(reply);
        self.errors += 1;
        if self.errors >= self.config.limits.max_errors {
            self.queue(Reply::fixed(
                421,
                4,
                7,
                0,
                "Too many errors, closing connection",
            ));
            self.close_for(CloseReason::Errors);
        }
    }

    fn auth_advertised(&self) -> bool {
        !self.config.auth_mechanisms.is_empty()
            && !self.authenticated
            && (self.tls || self.config.allow_plaintext_auth)
    }

    fn helo_reply(&self, host: &Host, extended: bool) -> Reply {
        let name = &self.config.hostname;
        if !extended {
            return Reply::new(250, None, name.clone()).unwrap_or_else(|_| unreachable_reply());
        }
        let mut lines = vec![format!("{name} greets {host}")];
        lines.push("PIPELINING".into());
        lines.push(format!("SIZE {}", self.config.limits.max_message_size));
        lines.push("8BITMIME".into());
        if self.config.smtputf8 {
            lines.push("SMTPUTF8".into());
        }
        lines.push("ENHANCEDSTATUSCODES".into());
        if self.config.chunking {
            lines.push("CHUNKING".into());
            lines.push("BINARYMIME".into());
        }
        if self.config.dsn {
            lines.push("DSN".into());
        }
        if self.config.starttls && !self.tls {
            lines.push("STARTTLS".into());
        }
        if self.auth_advertised() {
            let names: Vec<&str> = self
                .config
                .auth_mechanisms
                .iter()
                .map(|m| m.name())
                .collect();
            lines.push(format!("AUTH {}", names.join(" ")));
        }
        Reply::multiline(250, None, lines).unwrap_or_else(|_| unreachable_reply())
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
                    Ok(command) => {
                        self.commands.count(command.verb());
                        self.dispatch(command);
                    }
                    Err(e) => {
                        self.commands.unknown += 1;
                        self.error(e.reply());
                    }
                }
                true
            }
        }
    }

    fn dispatch(&mut self, command: Command) {
        let junk = matches!(
            command,
            Command::Noop | Command::Rset | Command::Vrfy(_) | Command::Expn(_) | Command::Help(_)
        );
        if junk && self.too_much_junk() {
            return;
        }
        match command {
            Command::Ehlo(host) => self.start_helo(host, true),
            Command::Helo(host) => self.start_helo(host, false),
            Command::Mail { from, params } => self.start_mail(from, params),
            Command::Rcpt { to, params } => self.start_rcpt(to, params),
            Command::Data => self.start_data(),
            Command::Bdat { size, last } => self.start_bdat(size, last),
            Command::Rset => {
                self.tx = None;
                self.queue(Reply::fixed(250, 2, 0, 0, "Ok"));
                self.events.push_back(Event::Reset);
            }
            Command::Noop => self.queue(Reply::fixed(250, 2, 0, 0, "Ok")),
            Command::Quit => {
                self.queue(Reply::fixed(221, 2, 0, 0, "Bye"));
                self.events.push_back(Event::Quit);
                self.close_for(CloseReason::Quit);
            }
            Command::Vrfy(arg) if self.config.vrfy => {
                self.pending = Some(Pending::Respond);
                self.events.push_back(Event::Verify(arg));
            }
            Command::Vrfy(_) => self.error(Reply::fixed(502, 5, 5, 1, "VRFY command is disabled")),
            Command::Expn(arg) if self.config.expn => {
                self.pending = Some(Pending::Respond);
                self.events.push_back(Event::Expand(arg));
            }
            Command::Expn(_) => self.error(Reply::fixed(502, 5, 5, 1, "EXPN command is disabled")),
            Command::Help(_) => self.queue(Reply::fixed(
                214,
                2,
                0,
                0,
                "See RFC 5321, https://www.rfc-editor.org/rfc/rfc5321",
            )),
            Command::StartTls => self.start_tls(),
            Command::Auth {
                mechanism,
                initial_response,
            } => self.start_auth(&mechanism, initial_response),
        }
    }

    fn start_helo(&mut self, host: Host, extended: bool) {
        self.pending = Some(Pending::Helo {
            host: host.clone(),
            extended,
        });
        self.events.push_back(Event::Helo { host, extended });
    }
}

impl Reply {
    /// A reply whose text comes partly from elsewhere (a configured host name, an address):
    /// if that makes it invalid (too long, CR/LF), `fallback` is sent instead. The caller
    /// keeps code and enhanced class consistent, as every reply built here does.
    pub fn or_fallback(
        code: u16,
        class: u8,
        subject: u16,
        detail: u16,
        text: &str,
        fallback: &str,
    ) -> Reply {
        let enhanced = crate::types::EnhancedStatus::new(class, subject, detail).ok();
        Reply::new(code, enhanced, text)
            .unwrap_or_else(|_| Reply::fixed(code, class, subject, detail, fallback))
    }

    /// `535 5.7.8`, the standard answer to bad credentials (RFC 4954 §6).
    pub fn auth_failed() -> Reply {
        Reply::fixed(535, 5, 7, 8, "Authentication credentials invalid")
    }

    /// `250 2.0.0 Ok: queued as <id>`, the usual answer to a stored message.
    pub fn queued(id: &str) -> Reply {
        reply_or(250, 2, 0, 0, &format!("Ok: queued as {id}"), "Ok: queued")
    }
}

fn reply_or(code: u16, class: u8, subject: u16, detail: u16, text: &str, fallback: &str) -> Reply {
    Reply::or_fallback(code, class, subject, detail, text, fallback)
}

/// Only reached if a constant reply text were invalid, which the tests rule out.
fn unreachable_reply() -> Reply {
    Reply::fixed(451, 4, 3, 0, "Internal error")
}
