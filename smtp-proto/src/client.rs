//! The sending side: the sans-I/O SMTP client session (see [`ClientSession`]).

use std::collections::VecDeque;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use thiserror::Error;

use crate::command::{Body, Command, MailParams, RcptParams};
use crate::frame::{DotStuffer, LineFolder};
use crate::parse::parse_reply;
use crate::types::{ForwardPath, Host, Reply, ReversePath, Secret};

/// Whether the session upgrades a plain connection with STARTTLS (RFC 3207).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsPolicy {
    /// Never; credentials may then be sent in the clear.
    None,
    /// When the server offers it; otherwise carry on in the clear (without sending credentials).
    Opportunistic,
    /// Always; a server that does not offer it, or refuses it, gets no mail.
    Required,
}

/// How long to wait for each reply (RFC 5321 §4.5.3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientTimeouts {
    /// For the greeting, and for the replies to EHLO, STARTTLS, AUTH, MAIL, RCPT, RSET, QUIT.
    pub command: Duration,
    /// For the 354 answer to DATA.
    pub data_start: Duration,
    /// For the reply to the end of the body.
    pub data_end: Duration,
}

impl Default for ClientTimeouts {
    fn default() -> Self {
        Self {
            command: Duration::from_secs(300),
            data_start: Duration::from_secs(120),
            data_end: Duration::from_secs(600),
        }
    }
}

/// How the client session behaves.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Our name in EHLO/HELO.
    pub hello_name: Host,
    /// STARTTLS.
    pub tls: TlsPolicy,
    /// The connection is TLS from the start (port 465).
    pub implicit_tls: bool,
    /// User name and password for AUTH, sent only over TLS unless the policy is [`TlsPolicy::None`].
    pub credentials: Option<(String, Secret<String>)>,
    /// Use PIPELINING (RFC 2920) when offered.
    pub pipelining: bool,
    /// Send bodies with BDAT (RFC 3030) when CHUNKING and PIPELINING are offered.
    pub chunking: bool,
    /// Longest reply accepted, all its lines together.
    pub max_reply: usize,
    /// Reply timeouts.
    pub timeouts: ClientTimeouts,
    /// Body lines longer than this many octets (without their CRLF) are broken by an
    /// inserted CRLF and space, as Postfix's `smtp_line_length_limit` (998) does, so that a
    /// receiver holding to RFC 5321's 1,000-octet line limit takes the message; 0 sends
    /// lines as they are.
    pub max_line_length: usize,
}

impl ClientConfig {
    /// Defaults for a client that calls itself `hello_name`: opportunistic TLS, no AUTH.
    pub fn new(hello_name: Host) -> Self {
        Self {
            hello_name,
            tls: TlsPolicy::Opportunistic,
            implicit_tls: false,
            credentials: None,
            pipelining: true,
            chunking: true,
            max_reply: 64 * 1024,
            timeouts: ClientTimeouts::default(),
            max_line_length: 998,
        }
    }
}

/// What the server's EHLO reply offered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extensions {
    /// PIPELINING (RFC 2920).
    pub pipelining: bool,
    /// SIZE (RFC 1870), with its limit; `Some(0)` means no stated limit.
    pub size: Option<u64>,
    /// 8BITMIME (RFC 6152).
    pub eight_bit_mime: bool,
    /// SMTPUTF8 (RFC 6531).
    pub smtputf8: bool,
    /// CHUNKING (RFC 3030).
    pub chunking: bool,
    /// BINARYMIME (RFC 3030).
    pub binary_mime: bool,
    /// DSN (RFC 3461).
    pub dsn: bool,
    /// STARTTLS (RFC 3207).
    pub starttls: bool,
    /// AUTH mechanisms (RFC 4954), upper case.
    pub auth: Vec<String>,
}

impl Extensions {
    /// Reads the keywords of an EHLO reply (every line after the first).
    pub fn parse(reply: &Reply) -> Self {
        let mut ext = Self::default();
        for line in reply.lines().iter().skip(1) {
            let mut words = line.split_ascii_whitespace();
            let Some(keyword) = words.next() else {
                continue;
            };
            match keyword.to_ascii_uppercase().as_str() {
                "PIPELINING" => ext.pipelining = true,
                "SIZE" => ext.size = Some(words.next().and_then(|n| n.parse().ok()).unwrap_or(0)),
                "8BITMIME" => ext.eight_bit_mime = true,
                "SMTPUTF8" => ext.smtputf8 = true,
                "CHUNKING" => ext.chunking = true,
                "BINARYMIME" => ext.binary_mime = true,
                "DSN" => ext.dsn = true,
                "STARTTLS" => ext.starttls = true,
                "AUTH" => ext.auth = words.map(str::to_ascii_uppercase).collect(),
                _ => {}
            }
        }
        ext
    }
}

/// One message's envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The reverse path.
    pub from: ReversePath,
    /// MAIL parameters: `size` and `body` should be set; `smtputf8` when an address or header
    /// needs it. Those the server does not offer are left out (DSN, SIZE), or the message is
    /// refused when it cannot be sent without them (8BITMIME, BINARYMIME, SMTPUTF8).
    pub params: MailParams,
    /// The recipients, in order; results refer to them by index.
    pub recipients: Vec<(ForwardPath, RcptParams)>,
}

/// Why a session ended without QUIT's 221.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ClientError {
    /// The greeting was not 220.
    #[error("greeting refused: {0}")]
    Greeting(Reply),
    /// Both EHLO and HELO were refused.
    #[error("HELO refused: {0}")]
    Hello(Reply),
    /// TLS is required and the server does not offer STARTTLS.
    #[error("TLS is required but the server does not offer STARTTLS")]
    TlsUnavailable,
    /// TLS is required and STARTTLS was refused.
    #[error("STARTTLS refused: {0}")]
    StartTls(Reply),
    /// Credentials are configured, the server offers AUTH, and none of its mechanisms is ours.
    #[error("the server offers no AUTH mechanism we support (PLAIN, LOGIN)")]
    AuthUnavailable,
    /// Credentials would have gone over a connection without TLS.
    #[error("credentials are not sent without TLS")]
    AuthNeedsTls,
    /// AUTH was refused.
    #[error("authentication failed: {0}")]
    Auth(Reply),
    /// The server said 421 and is closing the connection.
    #[error("server closing the connection: {0}")]
    ServiceClosing(Reply),
    /// The server's reply does not follow RFC 5321 §4.2, or came when none was due.
    #[error("protocol error: {0}")]
    Protocol(&'static str),
    /// No reply within the timeout.
    #[error("timed out waiting for the server")]
    Timeout,
    /// The server closed the connection.
    #[error("connection closed by the server")]
    ConnectionLost,
}

impl ClientError {
    /// A 5xx reply from the server: retrying with the same server will not help.
    pub fn is_permanent(&self) -> bool {
        match self {
            ClientError::Greeting(r)
            | ClientError::Hello(r)
            | ClientError::StartTls(r)
            | ClientError::Auth(r) => r.code().class() == 5,
            _ => false,
        }
    }
}

/// What the embedder must act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// Upgrade the connection to TLS now (the server said 220 to STARTTLS), then call
    /// [`ClientSession::tls_established`].
    StartTls,
    /// The session can start a transaction ([`ClientSession::send_message`]) or
    /// [`ClientSession::quit`].
    Ready,
    /// The server's answer for one recipient.
    Recipient {
        /// Index into [`Envelope::recipients`].
        index: usize,
        /// RCPT's reply (MAIL's, when MAIL was refused).
        reply: Reply,
    },
    /// Send the body now: [`ClientSession::send_body`] as often as needed, then
    /// [`ClientSession::end_body`].
    SendBody,
    /// The transaction is over; this reply applies to every recipient not refused already.
    MessageDone(Reply),
    /// The session is over; write out what is left and close the connection.
    Closed(Result<(), ClientError>),
}

/// A call that does not fit the session's state; the session is unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ClientUsageError {
    /// Only after [`ClientEvent::Ready`].
    #[error("the session is not ready for a transaction")]
    NotReady,
    /// Only after [`ClientEvent::SendBody`].
    #[error("the session is not sending a body")]
    NotInBody,
    /// Only after [`ClientEvent::StartTls`].
    #[error("no TLS handshake was requested")]
    NoTlsPending,
    /// An envelope needs at least one recipient.
    #[error("the envelope has no recipients")]
    NoRecipients,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Greeting,
    Ehlo,
    Helo,
    StartTls,
    AuthPlain,
    AuthLoginUser,
    AuthLoginPassword,
    AuthResult,
    Mail,
    Rcpt(usize),
    Data,
    /// The end of a body that had no accepted recipient, sent only to leave DATA mode.
    DiscardedBody,
    Bdat {
        last: bool,
    },
    BodyEnd,
    Rset,
    Quit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for replies; nothing for the embedder to do.
    Talking,
    AwaitingTls,
    Ready,
    Body,
    Closed,
}

#[derive(Debug)]
struct Transaction {
    /// RCPT commands not yet sent (without pipelining they go one at a time).
    unsent: VecDeque<(usize, ForwardPath, RcptParams)>,
    recipients: usize,
    answered: usize,
    accepted: usize,
    /// MAIL's refusal, which answers for every recipient.
    mail_refused: Option<Reply>,
    /// The last recipient refusal, the transaction's result when nobody was accepted.
    last_refusal: Option<Reply>,
    /// The first failed BDAT chunk.
    chunk_refused: Option<Reply>,
    chunking: bool,
    /// Breaks the body's long lines (see [`ClientConfig::max_line_length`]).
    folder: LineFolder,
    /// DATA is sent right behind the RCPTs.
    data_pipelined: bool,
    stuffer: DotStuffer,
}

/// The sending side: a sans-I/O SMTP client session (RFC 5321 §3 and §4.5.3.2) for handing
/// messages to a relay host or an MX.
///
/// The embedder connects, feeds what it reads to [`ClientSession::receive`], acts on each
/// [`ClientEvent`], and writes out [`ClientSession::poll_output`]. The session greets (EHLO,
/// falling back to HELO), upgrades with STARTTLS as its [`TlsPolicy`] says, authenticates with
/// PLAIN or LOGIN, and then runs one transaction per [`ClientSession::send_message`]: MAIL and
/// RCPT (pipelined when offered), the body through DATA with dot-stuffing or through BDAT when
/// CHUNKING and PIPELINING are offered, and a result for every recipient.
///
/// Each recipient's outcome is its own negative [`ClientEvent::Recipient`] reply if it got one,
/// and otherwise the [`ClientEvent::MessageDone`] reply of the transaction.
#[derive(Debug)]
pub struct ClientSession {
    config: ClientConfig,
    phase: Phase,
    expected: VecDeque<Expect>,
    input: BytesMut,
    output: BytesMut,
    events: VecDeque<ClientEvent>,
    extensions: Extensions,
    esmtp: bool,
    tls: bool,
    tx: Option<Transaction>,
}

impl ClientSession {
    /// A session on a fresh connection, waiting for the greeting.
    pub fn new(config: ClientConfig) -> Self {
        let tls = config.implicit_tls;
        Self {
            config,
            phase: Phase::Talking,
            expected: VecDeque::from([Expect::Greeting]),
            input: BytesMut::new(),
            output: BytesMut::new(),
            events: VecDeque::new(),
            extensions: Extensions::default(),
            esmtp: false,
            tls,
            tx: None,
        }
    }

    /// What the server offered in its last EHLO reply (empty after HELO).
    pub fn extensions(&self) -> &Extensions {
        &self.extensions
    }

    /// Whether the connection is TLS.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// Whether the session is over.
    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    /// How long to wait for the server before [`ClientSession::handle_timeout`]; `None` when
    /// the session waits for the embedder, not the server.
    pub fn timeout(&self) -> Option<Duration> {
        let t = &self.config.timeouts;
        match self.expected.front()? {
            Expect::Data => Some(t.data_start),
            Expect::BodyEnd | Expect::Bdat { .. } | Expect::DiscardedBody => Some(t.data_end),
            _ => Some(t.command),
        }
    }

    /// Takes bytes read from the connection; [`ClientSession::poll_event`] works through them.
    pub fn receive(&mut self, data: &[u8]) {
        match self.phase {
            Phase::Closed => {}
            // Bytes behind the 220 to STARTTLS were sent before the handshake, so they cannot
            // be trusted (RFC 3207 §6).
            Phase::AwaitingTls => self.fail(ClientError::Protocol(
                "data pipelined after the STARTTLS reply",
            )),
            _ if self.input.len() + data.len() > 2 * self.config.max_reply => {
                self.fail(ClientError::Protocol("reply too long"))
            }
            _ => self.input.extend_from_slice(data),
        }
    }

    /// The next event, if any. Replies are read one at a time as events are taken, so every
    /// event holds when the embedder acts on it.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        while self.events.is_empty() && !matches!(self.phase, Phase::Closed | Phase::AwaitingTls) {
            match parse_reply(&self.input) {
                Ok(Some((reply, used))) => {
                    let _ = self.input.split_to(used);
                    self.on_reply(reply);
                }
                Ok(None) if self.input.len() > self.config.max_reply => {
                    self.fail(ClientError::Protocol("reply too long"))
                }
                Ok(None) => break,
                Err(_) => self.fail(ClientError::Protocol("malformed reply")),
            }
        }
        self.events.pop_front()
    }

    /// Bytes to write to the connection, if any.
    pub fn poll_output(&mut self) -> Option<Bytes> {
        (!self.output.is_empty()).then(|| self.output.split().freeze())
    }

    /// The server closed the connection.
    pub fn handle_eof(&mut self) {
        if self.phase != Phase::Closed {
            self.fail(ClientError::ConnectionLost);
        }
    }

    /// No reply came within [`ClientSession::timeout`].
    pub fn handle_timeout(&mut self) {
        if self.phase != Phase::Closed {
            self.fail(ClientError::Timeout);
        }
    }

    /// The TLS handshake asked for by [`ClientEvent::StartTls`] succeeded: greet again
    /// (RFC 3207 §4.2: the server forgets what it said before).
    pub fn tls_established(&mut self) -> Result<(), ClientUsageError> {
        if self.phase != Phase::AwaitingTls {
            return Err(ClientUsageError::NoTlsPending);
        }
        self.tls = true;
        self.extensions = Extensions::default();
        self.phase = Phase::Talking;
        self.send(Command::Ehlo(self.config.hello_name.clone()), Expect::Ehlo);
        Ok(())
    }

    /// Starts a transaction for `envelope`.
    pub fn send_message(&mut self, envelope: Envelope) -> Result<(), ClientUsageError> {
        if self.phase != Phase::Ready {
            return Err(ClientUsageError::NotReady);
        }
        if envelope.recipients.is_empty() {
            return Err(ClientUsageError::NoRecipients);
        }
        let Envelope {
            from,
            mut params,
            recipients,
        } = envelope;
        let ext = &self.extensions;
        let pipelining = self.config.pipelining && ext.pipelining;
        let refusal = match params.body {
            Some(Body::BinaryMime) if !(ext.binary_mime && ext.chunking && pipelining) => Some((
                554,
                5,
                6,
                3,
                "Binary message cannot be sent: the server lacks BINARYMIME",
            )),
            Some(Body::EightBitMime) if !ext.eight_bit_mime => Some((
                554,
                5,
                6,
                3,
                "8-bit message cannot be sent: the server lacks 8BITMIME",
            )),
            _ if params.smtputf8 && !ext.smtputf8 => Some((
                553,
                5,
                6,
                7,
                "Message needs SMTPUTF8, which the server lacks",
            )),
            _ => None,
        };
        let too_big = matches!((ext.size, params.size), (Some(limit), Some(size)) if limit > 0 && size > limit);
        let refusal = refusal.or(too_big.then_some((
            552,
            5,
            3,
            4,
            "Message is larger than the server accepts",
        )));
        if let Some((code, class, subject, detail, text)) = refusal {
            let reply = Reply::fixed(code, class, subject, detail, text);
            for index in 0..recipients.len() {
                self.events.push_back(ClientEvent::Recipient {
                    index,
                    reply: reply.clone(),
                });
            }
            self.events.push_back(ClientEvent::MessageDone(reply));
            self.events.push_back(ClientEvent::Ready);
            return Ok(());
        }
        if ext.size.is_none() {
            params.size = None;
        }
        if !ext.eight_bit_mime && params.body == Some(Body::SevenBit) {
            params.body = None;
        }
        if !ext.dsn {
            params.ret = None;
            params.envid = None;
        }
        if ext.auth.is_empty() {
            params.auth = None;
        }
        // BDAT chunks go out without waiting for each reply, which needs PIPELINING.
        let chunking = ext.chunking
            && pipelining
            && (self.config.chunking || params.body == Some(Body::BinaryMime));
        let dsn = ext.dsn;
        let count = recipients.len();
        let unsent = recipients
            .into_iter()
            .enumerate()
            .map(|(i, (to, mut p))| {
                if !dsn {
                    p.notify = None;
                    p.orcpt = None;
                }
                (i, to, p)
            })
            .collect();
        self.tx = Some(Transaction {
            unsent,
            recipients: count,
            answered: 0,
            accepted: 0,
            mail_refused: None,
            last_refusal: None,
            chunk_refused: None,
            chunking,
            data_pipelined: pipelining && !chunking,
            stuffer: DotStuffer::new(),
            folder: LineFolder::new(self.config.max_line_length),
        });
        self.phase = Phase::Talking;
        self.send(Command::Mail { from, params }, Expect::Mail);
        if pipelining {
            while self.send_next_rcpt() {}
            if !chunking {
                self.send(Command::Data, Expect::Data);
            }
        }
        Ok(())
    }

    /// Sends part of the body (after [`ClientEvent::SendBody`]); any split works.
    pub fn send_body(&mut self, data: &[u8]) -> Result<(), ClientUsageError> {
        let Some(tx) = self.tx.as_mut().filter(|_| self.phase == Phase::Body) else {
            return Err(ClientUsageError::NotInBody);
        };
        if data.is_empty() {
            return Ok(());
        }
        let data = tx.folder.fold(data);
        if tx.chunking {
            Command::Bdat {
                size: data.len() as u64,
                last: false,
            }
            .encode(&mut self.output);
            self.output.extend_from_slice(&data);
            self.expected.push_back(Expect::Bdat { last: false });
        } else {
            tx.stuffer.stuff(&data, &mut self.output);
        }
        Ok(())
    }

    /// Ends the body; [`ClientEvent::MessageDone`] follows with the server's verdict.
    pub fn end_body(&mut self) -> Result<(), ClientUsageError> {
        let Some(tx) = self.tx.as_mut().filter(|_| self.phase == Phase::Body) else {
            return Err(ClientUsageError::NotInBody);
        };
        if tx.chunking {
            Command::Bdat {
                size: 0,
                last: true,
            }
            .encode(&mut self.output);
            self.expected.push_back(Expect::Bdat { last: true });
        } else {
            tx.stuffer.finish(&mut self.output);
            self.expected.push_back(Expect::BodyEnd);
        }
        self.phase = Phase::Talking;
        Ok(())
    }

    /// Ends the session politely (after [`ClientEvent::Ready`]).
    pub fn quit(&mut self) -> Result<(), ClientUsageError> {
        if self.phase != Phase::Ready {
            return Err(ClientUsageError::NotReady);
        }
        self.phase = Phase::Talking;
        self.send(Command::Quit, Expect::Quit);
        Ok(())
    }

    fn send(&mut self, command: Command, expect: Expect) {
        command.encode(&mut self.output);
        self.expected.push_back(expect);
    }

    fn send_line(&mut self, line: &str, expect: Expect) {
        self.output.extend_from_slice(line.as_bytes());
        self.output.extend_from_slice(b"\r\n");
        self.expected.push_back(expect);
    }

    /// Sends the next RCPT, if one is left.
    fn send_next_rcpt(&mut self) -> bool {
        let Some((index, to, params)) = self.tx.as_mut().and_then(|tx| tx.unsent.pop_front())
        else {
            return false;
        };
        self.send(Command::Rcpt { to, params }, Expect::Rcpt(index));
        true
    }

    fn ready(&mut self) {
        self.phase = Phase::Ready;
        self.events.push_back(ClientEvent::Ready);
    }

    /// Ends the session with `error`: the transaction in flight gets a temporary failure
    /// (or the server's 421), and QUIT goes out when the server is still listening.
    fn fail(&mut self, error: ClientError) {
        if self.tx.take().is_some() {
            let reply = match &error {
                ClientError::ServiceClosing(r) => r.clone(),
                ClientError::Timeout => {
                    Reply::fixed(451, 4, 4, 2, "Timed out talking to the server")
                }
                _ => Reply::fixed(451, 4, 4, 2, "Connection to the server failed"),
            };
            self.events.push_back(ClientEvent::MessageDone(reply));
        }
        let polite = matches!(
            error,
            ClientError::Greeting(_)
                | ClientError::Hello(_)
                | ClientError::TlsUnavailable
                | ClientError::StartTls(_)
                | ClientError::AuthUnavailable
                | ClientError::AuthNeedsTls
                | ClientError::Auth(_)
        );
        if polite {
            Command::Quit.encode(&mut self.output);
        }
        self.expected.clear();
        self.phase = Phase::Closed;
        self.events.push_back(ClientEvent::Closed(Err(error)));
    }

    fn on_reply(&mut self, reply: Reply) {
        let code = reply.code().get();
        let Some(expect) = self.expected.pop_front() else {
            return self.fail(match code {
                421 => ClientError::ServiceClosing(reply),
                _ => ClientError::Protocol("reply when none was due"),
            });
        };
        if code == 421 && expect != Expect::Quit {
            return self.fail(ClientError::ServiceClosing(reply));
        }
        let positive = reply.code().is_positive();
        match expect {
            Expect::Greeting if code == 220 => {
                self.send(Command::Ehlo(self.config.hello_name.clone()), Expect::Ehlo)
            }
            Expect::Greeting => self.fail(ClientError::Greeting(reply)),
            Expect::Ehlo if positive => {
                self.esmtp = true;
                self.extensions = Extensions::parse(&reply);
                self.after_hello();
            }
            // RFC 5321 §4.1.4: a server that does not know EHLO gets HELO.
            Expect::Ehlo if reply.code().class() == 5 => {
                self.send(Command::Helo(self.config.hello_name.clone()), Expect::Helo)
            }
            Expect::Ehlo => self.fail(ClientError::Hello(reply)),
            Expect::Helo if !positive => self.fail(ClientError::Hello(reply)),
            Expect::Helo => {
                self.esmtp = false;
                self.extensions = Extensions::default();
                self.after_hello();
            }
            Expect::StartTls if code == 220 && !self.input.is_empty() => self.fail(
                ClientError::Protocol("data pipelined after the STARTTLS reply"),
            ),
            Expect::StartTls if code == 220 => {
                self.phase = Phase::AwaitingTls;
                self.events.push_back(ClientEvent::StartTls);
            }
            Expect::StartTls if self.config.tls == TlsPolicy::Required => {
                self.fail(ClientError::StartTls(reply))
            }
            Expect::StartTls => self.authenticate(),
            Expect::AuthPlain | Expect::AuthLoginUser | Expect::AuthLoginPassword
                if code == 334 =>
            {
                self.auth_continue(expect)
            }
            Expect::AuthPlain
            | Expect::AuthLoginUser
            | Expect::AuthLoginPassword
            | Expect::AuthResult
                if code == 235 =>
            {
                self.ready()
            }
            Expect::AuthPlain
            | Expect::AuthLoginUser
            | Expect::AuthLoginPassword
            | Expect::AuthResult => self.fail(ClientError::Auth(reply)),
            Expect::Mail => self.on_mail(reply),
            Expect::Rcpt(index) => self.on_rcpt(index, reply),
            Expect::Data => self.on_data(reply),
            Expect::DiscardedBody => {
                let result = self.transaction_refusal();
                self.finish(result, true);
            }
            Expect::Bdat { last } => {
                let Some(tx) = self.tx.as_mut() else {
                    return self.fail(ClientError::Protocol("BDAT reply outside a transaction"));
                };
                if !positive && tx.chunk_refused.is_none() {
                    tx.chunk_refused = Some(reply.clone());
                }
                if last {
                    let refused = tx.chunk_refused.take();
                    let failed = refused.is_some();
                    self.finish(refused.unwrap_or(reply), failed);
                }
            }
            Expect::BodyEnd => self.finish(reply, !positive),
            Expect::Rset if positive => self.ready(),
            Expect::Rset => self.fail(ClientError::Protocol("RSET refused")),
            Expect::Quit => {
                self.phase = Phase::Closed;
                self.expected.clear();
                self.events.push_back(ClientEvent::Closed(Ok(())));
            }
        }
    }

    fn after_hello(&mut self) {
        let tls_wanted = self.config.tls != TlsPolicy::None && !self.tls;
        if tls_wanted && self.extensions.starttls {
            return self.send(Command::StartTls, Expect::StartTls);
        }
        if tls_wanted && self.config.tls == TlsPolicy::Required {
            return self.fail(ClientError::TlsUnavailable);
        }
        self.authenticate();
    }

    fn authenticate(&mut self) {
        let Some((user, password)) = &self.config.credentials else {
            return self.ready();
        };
        // Postfix's way: a server that offers no AUTH is tried without it, and decides.
        if self.extensions.auth.is_empty() {
            return self.ready();
        }
        if !self.tls && self.config.tls != TlsPolicy::None {
            return self.fail(ClientError::AuthNeedsTls);
        }
        let offered = |m: &str| self.extensions.auth.iter().any(|a| a == m);
        if offered("PLAIN") {
            let response = mailwright_sasl::plain_response(None, user, password.expose());
            let line = format!("AUTH PLAIN {}", response.expose());
            self.send_line(&line, Expect::AuthPlain);
        } else if offered("LOGIN") {
            self.send_line("AUTH LOGIN", Expect::AuthLoginUser);
        } else {
            self.fail(ClientError::AuthUnavailable);
        }
    }

    fn auth_continue(&mut self, step: Expect) {
        let Some((user, password)) = &self.config.credentials else {
            return self.fail(ClientError::Protocol("AUTH challenge without credentials"));
        };
        let (text, next) = match step {
            // A server that does not take an initial response asks for it with an empty 334.
            Expect::AuthPlain => (
                mailwright_sasl::plain_response(None, user, password.expose()),
                Expect::AuthResult,
            ),
            Expect::AuthLoginUser => (
                mailwright_sasl::login_response(user),
                Expect::AuthLoginPassword,
            ),
            _ => (
                mailwright_sasl::login_response(password.expose()),
                Expect::AuthResult,
            ),
        };
        let line = text.expose().clone();
        self.send_line(&line, next);
    }

    fn on_mail(&mut self, reply: Reply) {
        let Some(tx) = self.tx.as_mut() else {
            return self.fail(ClientError::Protocol("MAIL reply outside a transaction"));
        };
        if reply.code().is_positive() {
            self.send_next_rcpt();
            return;
        }
        tx.mail_refused = Some(reply.clone());
        if tx.unsent.is_empty() {
            // Pipelined: the RCPT (and DATA) replies still come, and answer nothing new.
            return;
        }
        for index in 0..tx.recipients {
            self.events.push_back(ClientEvent::Recipient {
                index,
                reply: reply.clone(),
            });
        }
        self.finish(reply, false);
    }

    fn on_rcpt(&mut self, index: usize, reply: Reply) {
        let Some(tx) = self.tx.as_mut() else {
            return self.fail(ClientError::Protocol("RCPT reply outside a transaction"));
        };
        tx.answered += 1;
        let reply = match &tx.mail_refused {
            Some(mail) => mail.clone(),
            None if reply.code().is_positive() => {
                tx.accepted += 1;
                reply
            }
            None => {
                tx.last_refusal = Some(reply.clone());
                reply
            }
        };
        self.events
            .push_back(ClientEvent::Recipient { index, reply });
        if tx.answered < tx.recipients {
            self.send_next_rcpt();
            return;
        }
        if tx.data_pipelined {
            return;
        }
        if tx.accepted == 0 {
            let result = self.transaction_refusal();
            let mail_accepted = self.tx.as_ref().is_some_and(|t| t.mail_refused.is_none());
            return self.finish(result, mail_accepted);
        }
        if tx.chunking {
            self.phase = Phase::Body;
            self.events.push_back(ClientEvent::SendBody);
        } else {
            self.send(Command::Data, Expect::Data);
        }
    }

    fn on_data(&mut self, reply: Reply) {
        let Some(tx) = self.tx.as_ref() else {
            return self.fail(ClientError::Protocol("DATA reply outside a transaction"));
        };
        let accepted = tx.accepted;
        let mail_accepted = tx.mail_refused.is_none();
        if reply.code().get() == 354 {
            if accepted == 0 {
                // RFC 2920 §3.1: a server should refuse DATA without recipients; one that
                // does not gets an empty body, whose reply is not the message's result.
                self.send_line(".", Expect::DiscardedBody);
                return;
            }
            self.phase = Phase::Body;
            self.events.push_back(ClientEvent::SendBody);
            return;
        }
        if accepted == 0 {
            let result = self.transaction_refusal();
            return self.finish(result, mail_accepted);
        }
        self.finish(reply, true);
    }

    /// Why a transaction with no accepted recipient failed.
    fn transaction_refusal(&self) -> Reply {
        let tx = self.tx.as_ref();
        tx.and_then(|t| t.mail_refused.clone().or_else(|| t.last_refusal.clone()))
            .unwrap_or_else(|| Reply::fixed(554, 5, 5, 1, "No valid recipients"))
    }

    /// Reports the transaction's result; `reset` sends RSET first when the server may still
    /// hold part of the transaction.
    fn finish(&mut self, result: Reply, reset: bool) {
        self.tx = None;
        self.events.push_back(ClientEvent::MessageDone(result));
        if reset {
            self.phase = Phase::Talking;
            self.send(Command::Rset, Expect::Rset);
        } else {
            self.ready();
        }
    }

    /// Whether the server greeted our EHLO (and not only HELO).
    pub fn is_esmtp(&self) -> bool {
        self.esmtp
    }
}
