//! The ManageSieve server session (RFC 5804): greeting with the capabilities, STARTTLS,
//! AUTHENTICATE through the `sasl` crate, and the script commands, each handed to the
//! embedder as an [`Event`] that parks the input until it is answered.

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;
use thiserror::Error;

use crate::parse::{Frame, FrameError, Token, frame, quote};
use mailwright_line_session::Buffers;
use mailwright_sasl::{Credentials, Exchange, Mechanism, Progress};

/// Every limit the session enforces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Longest command outside its literals, line end included.
    pub max_line: usize,
    /// Largest literal (a script), in octets.
    pub max_literal: usize,
    /// Refused commands before the session closes.
    pub max_errors: u32,
    /// Failed logins before the session closes.
    pub max_auth_failures: u32,
    /// How long the client may be silent.
    pub timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_line: 8192,
            max_literal: 1 << 20,
            max_errors: 20,
            max_auth_failures: 3,
            timeout: Duration::from_secs(600),
        }
    }
}

/// How the session behaves and what it advertises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The `IMPLEMENTATION` capability.
    pub implementation: String,
    /// The Sieve extensions the server's interpreter supports (the `SIEVE` capability).
    pub sieve_extensions: Vec<String>,
    /// The `MAXREDIRECTS` capability, when set.
    pub max_redirects: Option<u32>,
    /// Offer STARTTLS (the embedder has a certificate).
    pub starttls: bool,
    /// Allow AUTHENTICATE without TLS (loopback, or a trusted network).
    pub allow_plaintext_auth: bool,
    /// SASL mechanisms to offer.
    pub mechanisms: Vec<Mechanism>,
    /// Limits.
    pub limits: Limits,
}

impl Config {
    /// PLAIN and LOGIN over TLS, STARTTLS offered.
    pub fn new(implementation: impl Into<String>, sieve_extensions: Vec<String>) -> Self {
        Self {
            implementation: implementation.into(),
            sieve_extensions,
            max_redirects: None,
            starttls: true,
            allow_plaintext_auth: false,
            mechanisms: vec![Mechanism::Plain, Mechanism::Login],
            limits: Limits::default(),
        }
    }
}

/// A response code (RFC 5804 §1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// The script is active and cannot be deleted.
    Active,
    /// A script of that name exists already.
    AlreadyExists,
    /// No script of that name.
    NonExistent,
    /// Over a quota.
    Quota,
    /// Over the number of scripts allowed.
    QuotaMaxScripts,
    /// Over the storage allowed.
    QuotaMaxSize,
    /// The script has warnings (with OK).
    Warnings,
    /// A temporary failure: try again later.
    TryLater,
}

impl Code {
    fn text(self) -> &'static str {
        match self {
            Code::Active => "ACTIVE",
            Code::AlreadyExists => "ALREADYEXISTS",
            Code::NonExistent => "NONEXISTENT",
            Code::Quota => "QUOTA",
            Code::QuotaMaxScripts => "QUOTA/MAXSCRIPTS",
            Code::QuotaMaxSize => "QUOTA/MAXSIZE",
            Code::Warnings => "WARNINGS",
            Code::TryLater => "TRYLATER",
        }
    }
}

/// A final answer to a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// Success.
    Ok(Option<Code>, String),
    /// Failure; the session goes on.
    No(Option<Code>, String),
}

impl Response {
    /// `OK "text"`.
    pub fn ok(text: impl Into<String>) -> Self {
        Response::Ok(None, text.into())
    }

    /// `NO "text"`.
    pub fn no(text: impl Into<String>) -> Self {
        Response::No(None, text.into())
    }

    fn encode(&self) -> String {
        let (word, code, text) = match self {
            Response::Ok(code, text) => ("OK", code, text),
            Response::No(code, text) => ("NO", code, text),
        };
        let code = code.map(|c| format!(" ({})", c.text())).unwrap_or_default();
        format!("{word}{code} {}\r\n", quote(text))
    }
}

/// What the embedder must answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The client asked for TLS; the OK has been queued. Run the handshake once the output
    /// is written, then call [`ServerSession::tls_established`].
    StartTls,
    /// Check these credentials: [`ServerSession::auth_finish`].
    Login(Credentials),
    /// HAVESPACE: would a script of this name and size fit? Answer with [`ServerSession::answer`].
    HaveSpace {
        /// The script's name.
        name: String,
        /// Its size in octets.
        size: u64,
    },
    /// PUTSCRIPT: check and store it ([`ServerSession::answer`]; a script that does not
    /// compile is a NO saying where).
    PutScript {
        /// The script's name.
        name: String,
        /// Its text.
        script: Bytes,
    },
    /// CHECKSCRIPT: check it only.
    CheckScript {
        /// Its text.
        script: Bytes,
    },
    /// LISTSCRIPTS: [`ServerSession::answer_list`].
    ListScripts,
    /// SETACTIVE: make this script active; `""` makes none active.
    SetActive {
        /// The script's name, or empty.
        name: String,
    },
    /// GETSCRIPT: [`ServerSession::answer_script`], or a NO (NONEXISTENT).
    GetScript {
        /// The script's name.
        name: String,
    },
    /// DELETESCRIPT.
    DeleteScript {
        /// The script's name.
        name: String,
    },
    /// RENAMESCRIPT.
    RenameScript {
        /// The current name.
        old: String,
        /// The new name.
        new: String,
    },
}

/// Input the session refused; the connection ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum SessionError {
    /// From the shared line core: closed, overflow, input during the TLS handshake.
    #[error(transparent)]
    Line(#[from] mailwright_line_session::SessionError),
}

/// An answer given when the session was not waiting for it; nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("the session is not waiting for this answer")]
pub struct AnswerError;

#[derive(Debug)]
enum State {
    /// Reading commands.
    Ready,
    /// An event is out; its answer is awaited.
    Waiting(Waiting),
    /// A SASL exchange: the client's next string is a response.
    Sasl(Exchange),
    /// The OK to STARTTLS is queued; the handshake is next.
    AwaitingTls,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Waiting {
    Login,
    Answer,
    List,
    Script,
}

/// One ManageSieve connection, server side.
#[derive(Debug)]
pub struct ServerSession {
    config: Config,
    buffers: Buffers,
    state: State,
    events: VecDeque<Event>,
    tls: bool,
    user: Option<String>,
    errors: u32,
    auth_failures: u32,
}

impl ServerSession {
    /// A session with its greeting (the capabilities, then OK) queued.
    pub fn new(config: Config) -> Self {
        let mut session = Self::blank(config);
        session.capabilities();
        session.write(&Response::ok("ManageSieve ready").encode());
        session
    }

    /// A session that turns the client away at once (too many connections): `BYE` with
    /// `text`, then closed.
    pub fn refuse(config: Config, text: &str) -> Self {
        let mut session = Self::blank(config);
        session.bye(text);
        session
    }

    /// A session that has said nothing yet.
    fn blank(config: Config) -> Self {
        Self {
            config,
            buffers: Buffers::default(),
            state: State::Ready,
            events: VecDeque::new(),
            tls: false,
            user: None,
            errors: 0,
            auth_failures: 0,
        }
    }

    fn write(&mut self, text: &str) {
        self.buffers.output.extend_from_slice(text.as_bytes());
    }

    fn capabilities(&mut self) {
        let c = &self.config;
        let may_auth = self.tls || c.allow_plaintext_auth;
        let mechanisms: Vec<&str> = match may_auth {
            true => c.mechanisms.iter().map(|m| m.name()).collect(),
            false => Vec::new(),
        };
        let mut out = format!(
            "\"IMPLEMENTATION\" {}\r\n\"SIEVE\" {}\r\n\"SASL\" {}\r\n",
            quote(&c.implementation),
            quote(&c.sieve_extensions.join(" ")),
            quote(&mechanisms.join(" "))
        );
        if c.starttls && !self.tls {
            out.push_str("\"STARTTLS\"\r\n");
        }
        if let Some(n) = c.max_redirects {
            out.push_str(&format!("\"MAXREDIRECTS\" \"{n}\"\r\n"));
        }
        if let Some(user) = &self.user {
            out.push_str(&format!("\"OWNER\" {}\r\n", quote(user)));
        }
        out.push_str("\"UNAUTHENTICATE\"\r\n\"VERSION\" \"1.0\"\r\n");
        self.write(&out);
    }

    /// Takes `data` from the client.
    pub fn receive(&mut self, data: &[u8]) -> Result<(), SessionError> {
        let capacity = self.input_capacity();
        let awaiting_tls = matches!(self.state, State::AwaitingTls);
        self.buffers.receive(data, capacity, awaiting_tls)?;
        self.advance();
        Ok(())
    }

    /// How many octets the session takes now: 0 while an answer or the handshake is
    /// awaited, else up to one command with its largest literal.
    pub fn input_capacity(&self) -> usize {
        match self.state {
            State::Ready | State::Sasl(_) if !self.buffers.closing => self
                .buffers
                .room(self.config.limits.max_line + self.config.limits.max_literal + 32),
            _ => 0,
        }
    }

    /// The next octets to send.
    pub fn poll_output(&mut self) -> Option<Bytes> {
        self.buffers.poll_output()
    }

    /// Whether the session has ended and its output is taken.
    pub fn is_closed(&self) -> bool {
        self.buffers.is_closed()
    }

    /// The next event to answer.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Whether a user has logged in.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// How long the client may be silent.
    pub fn timeout(&self) -> Duration {
        self.config.limits.timeout
    }

    /// The client was silent too long.
    pub fn handle_timeout(&mut self) {
        self.bye("Disconnected for inactivity");
    }

    /// Closes with `reason`.
    pub fn abort(&mut self, reason: &str) {
        self.bye(reason);
    }

    /// The server is shutting down.
    pub fn shutdown(&mut self) {
        self.bye("Server shutting down");
    }

    /// The client closed its side.
    pub fn handle_eof(&mut self) {
        self.buffers.hang_up();
    }

    fn bye(&mut self, text: &str) {
        if !self.buffers.closing {
            self.write(&format!("BYE {}\r\n", quote(text)));
            self.buffers.close();
        }
    }

    /// The TLS handshake STARTTLS asked for is done: the capabilities are sent again.
    pub fn tls_established(&mut self) -> Result<(), AnswerError> {
        if !matches!(self.state, State::AwaitingTls) {
            return Err(AnswerError);
        }
        self.tls = true;
        self.state = State::Ready;
        self.capabilities();
        self.write(&Response::ok("TLS negotiation successful").encode());
        self.advance();
        Ok(())
    }

    /// Answers a [`Event::Login`]: `Ok(())` logs the user in; the error is sent as it is.
    pub fn auth_finish(&mut self, result: Result<String, Response>) -> Result<(), AnswerError> {
        if !matches!(self.state, State::Waiting(Waiting::Login)) {
            return Err(AnswerError);
        }
        self.state = State::Ready;
        match result {
            Ok(user) => {
                self.user = Some(user);
                self.write(&Response::ok("Logged in").encode());
            }
            Err(response) => {
                self.auth_failures += 1;
                self.write(&response.encode());
                if self.auth_failures >= self.config.limits.max_auth_failures {
                    self.bye("Too many failed logins");
                }
            }
        }
        self.advance();
        Ok(())
    }

    /// Answers any script event but LISTSCRIPTS and a successful GETSCRIPT.
    pub fn answer(&mut self, response: Response) -> Result<(), AnswerError> {
        match self.state {
            State::Waiting(Waiting::Answer | Waiting::Script | Waiting::List) => {}
            _ => return Err(AnswerError),
        }
        self.state = State::Ready;
        self.write(&response.encode());
        self.advance();
        Ok(())
    }

    /// Answers LISTSCRIPTS: each script's name, and whether it is the active one.
    pub fn answer_list(&mut self, scripts: &[(String, bool)]) -> Result<(), AnswerError> {
        if !matches!(self.state, State::Waiting(Waiting::List)) {
            return Err(AnswerError);
        }
        let mut out = String::new();
        for (name, active) in scripts {
            out.push_str(&quote(name));
            if *active {
                out.push_str(" ACTIVE");
            }
            out.push_str("\r\n");
        }
        self.write(&out);
        self.answer(Response::ok("Listscripts completed"))
    }

    /// Answers GETSCRIPT with the script (sent as a literal).
    pub fn answer_script(&mut self, script: &[u8]) -> Result<(), AnswerError> {
        if !matches!(self.state, State::Waiting(Waiting::Script)) {
            return Err(AnswerError);
        }
        self.write(&format!("{{{}}}\r\n", script.len()));
        self.buffers.output.extend_from_slice(script);
        self.write("\r\n");
        self.answer(Response::ok("Getscript completed"))
    }

    /// Reads commands while the session is ready for them.
    fn advance(&mut self) {
        while !self.buffers.closing && matches!(self.state, State::Ready | State::Sasl(_)) {
            let limits = &self.config.limits;
            match frame(&self.buffers.input, limits.max_line, limits.max_literal) {
                Ok(Frame::Incomplete) => return,
                Ok(Frame::Complete(tokens, used)) => {
                    let _ = self.buffers.input.split_to(used);
                    self.command(tokens);
                }
                Err(e) => {
                    // Skip to the next line end; a too long line or literal cannot be
                    // skipped safely, so the session ends.
                    match (e, memchr::memchr(b'\n', &self.buffers.input)) {
                        (FrameError::Syntax, Some(i)) => {
                            let _ = self.buffers.input.split_to(i + 1);
                            self.state = State::Ready;
                            self.no("Syntax error");
                        }
                        (FrameError::Syntax, None) => return,
                        (e, _) => {
                            let text = format!("Command refused: {e}");
                            self.bye(&text);
                        }
                    }
                }
            }
        }
    }

    fn no(&mut self, text: &str) {
        self.write(&Response::no(text).encode());
        self.errors += 1;
        if self.errors >= self.config.limits.max_errors {
            self.bye("Too many errors");
        }
    }

    fn command(&mut self, tokens: Vec<Token>) {
        if let State::Sasl(_) = self.state {
            let State::Sasl(exchange) = std::mem::replace(&mut self.state, State::Ready) else {
                return;
            };
            return self.sasl_response(exchange, tokens);
        }
        let mut tokens = tokens.into_iter();
        let Some(Token::Atom(name)) = tokens.next() else {
            return self.no("Expected a command");
        };
        let args: Vec<Token> = tokens.collect();
        let name = name.to_ascii_uppercase();
        let logged_in = self.user.is_some();
        match (name.as_str(), logged_in) {
            ("CAPABILITY", _) if args.is_empty() => {
                self.capabilities();
                self.write(&Response::ok("Capability completed").encode());
            }
            ("NOOP", _) => match args.first() {
                Some(Token::String(tag)) => {
                    let tag = String::from_utf8_lossy(tag).into_owned();
                    self.write(&format!("OK (TAG {}) \"Done\"\r\n", quote(&tag)));
                }
                _ => self.write(&Response::ok("NOOP completed").encode()),
            },
            ("LOGOUT", _) => {
                self.write(&Response::ok("Logout completed").encode());
                self.buffers.close();
            }
            ("STARTTLS", false) if self.config.starttls && !self.tls => {
                self.write(&Response::ok("Begin TLS negotiation now").encode());
                self.state = State::AwaitingTls;
                self.events.push_back(Event::StartTls);
            }
            ("AUTHENTICATE", false) => self.authenticate(&args),
            ("AUTHENTICATE", true) => self.no("Already authenticated"),
            ("UNAUTHENTICATE", true) if args.is_empty() => {
                self.user = None;
                self.write(&Response::ok("Unauthenticate completed").encode());
            }
            (_, false) => self.no("Authenticate first"),
            _ => self.script_command(&name, args),
        }
    }

    fn script_command(&mut self, name: &str, args: Vec<Token>) {
        let text = |t: &Token| match t {
            Token::String(s) => String::from_utf8(s.clone()).ok(),
            Token::Atom(_) => None,
        };
        let event = match (name, args.as_slice()) {
            ("LISTSCRIPTS", []) => Some((Event::ListScripts, Waiting::List)),
            ("GETSCRIPT", [n]) => text(n).map(|name| (Event::GetScript { name }, Waiting::Script)),
            ("SETACTIVE", [n]) => text(n).map(|name| (Event::SetActive { name }, Waiting::Answer)),
            ("DELETESCRIPT", [n]) => {
                text(n).map(|name| (Event::DeleteScript { name }, Waiting::Answer))
            }
            ("RENAMESCRIPT", [o, n]) => text(o)
                .zip(text(n))
                .map(|(old, new)| (Event::RenameScript { old, new }, Waiting::Answer)),
            ("PUTSCRIPT", [n, Token::String(s)]) => text(n).map(|name| {
                let script = Bytes::copy_from_slice(s);
                (Event::PutScript { name, script }, Waiting::Answer)
            }),
            ("CHECKSCRIPT", [Token::String(s)]) => Some((
                Event::CheckScript {
                    script: Bytes::copy_from_slice(s),
                },
                Waiting::Answer,
            )),
            ("HAVESPACE", [n, Token::Atom(size)]) => text(n)
                .zip(size.parse().ok())
                .map(|(name, size)| (Event::HaveSpace { name, size }, Waiting::Answer)),
            _ => None,
        };
        match event {
            Some((event, waiting)) => {
                self.events.push_back(event);
                self.state = State::Waiting(waiting);
            }
            None => self.no(&format!("Unknown command or bad arguments: {name}")),
        }
    }

    fn authenticate(&mut self, args: &[Token]) {
        if !(self.tls || self.config.allow_plaintext_auth) {
            return self.no("Use STARTTLS first");
        }
        let (mechanism, initial) = match args {
            [Token::String(m)] => (m, None),
            [Token::String(m), Token::String(i)] => (m, Some(i)),
            _ => return self.no("AUTHENTICATE takes a mechanism and an optional response"),
        };
        let mechanism = String::from_utf8_lossy(mechanism).to_ascii_uppercase();
        let Some(&mechanism) = self
            .config
            .mechanisms
            .iter()
            .find(|m| m.name() == mechanism)
        else {
            return self.no("Unsupported authentication mechanism");
        };
        let initial = initial.map(|i| String::from_utf8_lossy(i).into_owned());
        let initial = initial.map(|i| if i.is_empty() { "=".to_owned() } else { i });
        self.sasl_progress(Exchange::start(mechanism, initial.as_deref()));
    }

    fn sasl_response(&mut self, exchange: Exchange, tokens: Vec<Token>) {
        match tokens.as_slice() {
            [Token::String(line)] => self.sasl_progress(exchange.respond(line)),
            _ => self.no("Authentication cancelled"),
        }
    }

    fn sasl_progress(&mut self, progress: Result<Progress, mailwright_sasl::SaslError>) {
        match progress {
            Ok(Progress::Challenge(exchange, challenge)) => {
                self.write(&format!("{}\r\n", quote(challenge)));
                self.state = State::Sasl(exchange);
            }
            Ok(Progress::Done(credentials)) => {
                self.state = State::Waiting(Waiting::Login);
                self.events.push_back(Event::Login(credentials));
            }
            Err(e) => self.no(&format!("Authentication failed: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> ServerSession {
        let mut config = Config::new("test", vec!["fileinto".into(), "vacation".into()]);
        config.allow_plaintext_auth = true;
        ServerSession::new(config)
    }

    fn output(s: &mut ServerSession) -> String {
        let mut out = String::new();
        while let Some(b) = s.poll_output() {
            out.push_str(&String::from_utf8_lossy(&b));
        }
        out
    }

    #[test]
    fn a_session_as_rfc_5804_shows_it() {
        let mut s = session();
        let greeting = output(&mut s);
        assert!(greeting.starts_with("\"IMPLEMENTATION\" \"test\"\r\n\"SIEVE\" \"fileinto vacation\"\r\n\"SASL\" \"PLAIN LOGIN\"\r\n\"STARTTLS\"\r\n"), "{greeting}");
        assert!(greeting.ends_with("OK \"ManageSieve ready\"\r\n"));
        s.receive(b"LISTSCRIPTS\r\n").unwrap();
        assert_eq!(output(&mut s), "NO \"Authenticate first\"\r\n");
        // AGxvZ2luAHNlY3JldA== is "\0login\0secret".
        s.receive(b"AUTHENTICATE \"PLAIN\" \"AGxvZ2luAHNlY3JldA==\"\r\n")
            .unwrap();
        let Some(Event::Login(c)) = s.poll_event() else {
            panic!()
        };
        assert_eq!(c.username, "login");
        s.auth_finish(Ok("login".into())).unwrap();
        assert_eq!(output(&mut s), "OK \"Logged in\"\r\n");
        s.receive(b"PUTSCRIPT \"main\" {6+}\r\nkeep;\n\r\nLISTSCRIPTS\r\n")
            .unwrap();
        assert_eq!(
            s.poll_event(),
            Some(Event::PutScript {
                name: "main".into(),
                script: Bytes::from_static(b"keep;\n")
            })
        );
        assert_eq!(s.input_capacity(), 0);
        s.answer(Response::ok("stored")).unwrap();
        assert_eq!(s.poll_event(), Some(Event::ListScripts));
        s.answer_list(&[("main".into(), true), ("x".into(), false)])
            .unwrap();
        assert_eq!(
            output(&mut s),
            "OK \"stored\"\r\n\"main\" ACTIVE\r\n\"x\"\r\nOK \"Listscripts completed\"\r\n"
        );
        s.receive(b"GETSCRIPT \"main\"\r\n").unwrap();
        assert_eq!(
            s.poll_event(),
            Some(Event::GetScript {
                name: "main".into()
            })
        );
        s.answer_script(b"keep;\n").unwrap();
        assert_eq!(
            output(&mut s),
            "{6}\r\nkeep;\n\r\nOK \"Getscript completed\"\r\n"
        );
        s.receive(b"DELETESCRIPT \"main\"\r\n").unwrap();
        s.poll_event();
        s.answer(Response::No(Some(Code::Active), "It is active".into()))
            .unwrap();
        assert_eq!(output(&mut s), "NO (ACTIVE) \"It is active\"\r\n");
        s.receive(b"LOGOUT\r\n").unwrap();
        assert_eq!(output(&mut s), "OK \"Logout completed\"\r\n");
        assert!(s.is_closed());
    }

    #[test]
    fn login_with_challenges_and_starttls() {
        let mut config = Config::new("test", vec![]);
        config.allow_plaintext_auth = false;
        let mut s = ServerSession::new(config);
        output(&mut s);
        s.receive(b"AUTHENTICATE \"PLAIN\"\r\n").unwrap();
        assert_eq!(output(&mut s), "NO \"Use STARTTLS first\"\r\n");
        s.receive(b"STARTTLS\r\n").unwrap();
        assert_eq!(s.poll_event(), Some(Event::StartTls));
        assert_eq!(output(&mut s), "OK \"Begin TLS negotiation now\"\r\n");
        assert!(s.receive(b"x").is_err(), "plaintext before the handshake");
        let mut s = ServerSession::new(Config::new("test", vec![]));
        output(&mut s);
        s.receive(b"STARTTLS\r\n").unwrap();
        s.poll_event();
        s.tls_established().unwrap();
        let again = output(&mut s);
        assert!(
            again.contains("\"SASL\" \"PLAIN LOGIN\"") && !again.contains("\"STARTTLS\""),
            "{again}"
        );
        s.receive(b"AUTHENTICATE \"LOGIN\"\r\n").unwrap();
        assert!(output(&mut s).starts_with("\"VXNlcm5hbWU6\""));
        s.receive(b"\"dXNlcg==\"\r\n{8+}\r\ncGFzcw==\r\n").unwrap();
        let Some(Event::Login(c)) = s.poll_event() else {
            panic!()
        };
        assert_eq!(
            (c.username.as_str(), c.password.expose().as_str()),
            ("user", "pass")
        );
    }

    #[test]
    fn bad_input_is_refused_and_counted() {
        let mut s = session();
        output(&mut s);
        s.receive(b"FROB\r\n\"unterminated\r\nHAVESPACE\r\n")
            .unwrap();
        assert_eq!(
            output(&mut s),
            "NO \"Authenticate first\"\r\nNO \"Syntax error\"\r\nNO \"Authenticate first\"\r\n"
        );
        let mut s = session();
        output(&mut s);
        s.receive(b"PUTSCRIPT \"x\" {99999999+}\r\n").unwrap();
        assert!(output(&mut s).starts_with("BYE"));
        assert!(s.is_closed());
    }
}
