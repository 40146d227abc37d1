//! The session's input side: framing lines and literals, parsing each command, checking it
//! against the state, and the SASL and APPEND exchanges. [`ServerSession::poll_event`] drives
//! it through `step`.

use super::*;

impl ServerSession {
    /// Processes buffered input until an event or a need for more input; `false` if nothing
    /// more can happen now.
    pub(super) fn step(&mut self) -> bool {
        match &mut self.phase {
            Phase::AppendData { remaining, utf8 } => {
                if self.input.is_empty() {
                    return false;
                }
                let n = usize::try_from(*remaining)
                    .unwrap_or(usize::MAX)
                    .min(self.input.len());
                *remaining -= n as u64;
                if *remaining == 0 {
                    self.phase = Phase::AppendTail { utf8: *utf8 };
                }
                let chunk = self.input.split_to(n).freeze();
                self.events.push_back(Event::AppendChunk(chunk));
                true
            }
            Phase::AppendTail { utf8 } => {
                let utf8 = *utf8;
                let Some(line) = self.take_line(self.config.limits.max_line) else {
                    return false;
                };
                let Some(Pending::Append(tag)) = self.pending.take() else {
                    return true;
                };
                let rest = |l: &[u8]| -> bool {
                    let l = if utf8 { l.strip_prefix(b")") } else { Some(l) };
                    l.is_some_and(|l| l.iter().all(|&b| b == b'\r' || b == b'\n'))
                };
                match line {
                    Ok(l) if rest(&l) => {
                        self.pending = Some(Pending::Append(tag));
                        self.phase = Phase::Command {
                            scan: 0,
                            literal_end: None,
                        };
                        self.events.push_back(Event::AppendEnd);
                    }
                    Ok(l) => {
                        self.events.push_back(Event::AppendAborted);
                        self.phase = Phase::Command {
                            scan: 0,
                            literal_end: None,
                        };
                        self.start_discard_after(&l, Some(tag), "Only one message per APPEND");
                    }
                    Err(()) => {
                        self.events.push_back(Event::AppendAborted);
                        self.phase = Phase::Command {
                            scan: 0,
                            literal_end: None,
                        };
                        self.bad(Some(tag), "Line too long");
                    }
                }
                true
            }
            Phase::Discard { skip, answer } => {
                if *skip > 0 {
                    if self.input.is_empty() {
                        return false;
                    }
                    let n = usize::try_from(*skip)
                        .unwrap_or(usize::MAX)
                        .min(self.input.len());
                    *skip -= n as u64;
                    let _ = self.input.split_to(n);
                    return true;
                }
                let answer = answer.take();
                let Some(line) = self.take_line(self.config.limits.max_line) else {
                    self.phase = Phase::Discard { skip: 0, answer };
                    return false;
                };
                self.phase = Phase::Command {
                    scan: 0,
                    literal_end: None,
                };
                match line {
                    Ok(l) => match literal_announcement(&l) {
                        Some((n, false)) => self.phase = Phase::Discard { skip: n, answer },
                        _ => {
                            if let Some((tag, why)) = answer {
                                self.bad(tag, why);
                            }
                        }
                    },
                    Err(()) => {
                        if let Some((tag, why)) = answer {
                            self.bad(tag, why);
                        }
                    }
                }
                true
            }
            Phase::Sasl { .. } => self.step_sasl(),
            Phase::Idling => {
                let Some(line) = self.take_line(self.config.limits.max_line) else {
                    return false;
                };
                self.phase = Phase::Command {
                    scan: 0,
                    literal_end: None,
                };
                let done = matches!(&line, Ok(l) if trim_crlf(l).eq_ignore_ascii_case(b"DONE"));
                if !done {
                    self.bad(None, "Expected DONE");
                }
                // Too many errors may have closed the session: then there is no IDLE to end.
                if !self.closed {
                    self.events.push_back(Event::IdleDone);
                }
                true
            }
            Phase::AwaitingTls { .. } => false,
            Phase::Command { .. } => {
                if self.pending.is_some() {
                    return false;
                }
                self.step_command()
            }
        }
    }

    /// A whole line (through LF) from the input; `Err` if it was longer than `max` (then
    /// discarded through its LF, or the input so far if no LF yet).
    fn take_line(&mut self, max: usize) -> Option<Result<Bytes, ()>> {
        match memchr::memchr(b'\n', &self.input) {
            Some(i) if i < max => Some(Ok(self.input.split_to(i + 1).freeze())),
            Some(i) => {
                let _ = self.input.split_to(i + 1);
                Some(Err(()))
            }
            None if self.input.len() >= max => {
                self.line_too_long();
                None
            }
            None => None,
        }
    }

    /// After a bad line that may announce a literal, throw away the rest of the command.
    fn start_discard_after(&mut self, line: &[u8], tag: Option<Tag>, why: &'static str) {
        match literal_announcement(line) {
            Some((n, false)) => {
                self.phase = Phase::Discard {
                    skip: n,
                    answer: Some((tag, why)),
                };
            }
            _ => self.bad(tag, why),
        }
    }

    fn step_command(&mut self) -> bool {
        let Phase::Command { scan, literal_end } = self.phase else {
            return false;
        };
        if let Some(end) = literal_end {
            if self.input.len() < end {
                return false;
            }
            self.phase = Phase::Command {
                scan: end,
                literal_end: None,
            };
            return true;
        }
        let limits = &self.config.limits;
        let Some(lf) = memchr::memchr(b'\n', &self.input[scan..]).map(|i| scan + i) else {
            if self.input.len() - scan >= limits.max_line {
                self.line_too_long();
                return true;
            }
            return false;
        };
        if lf - scan >= limits.max_line {
            let tag = frame_tag(&self.input);
            let _ = self.input.split_to(lf + 1);
            self.phase = Phase::Command {
                scan: 0,
                literal_end: None,
            };
            self.bad(tag, "Line too long");
            return true;
        }
        let line = &self.input[scan..=lf];
        if let Some((size, sync)) = literal_announcement(line) {
            if let Some(head) = parse_append_head(&self.input[..=lf], self.parse_options()) {
                let _ = self.input.split_to(lf + 1);
                self.phase = Phase::Command {
                    scan: 0,
                    literal_end: None,
                };
                self.append_head(head, size, sync);
                return true;
            }
            let limit = if self.state == State::NotAuthenticated {
                limits.max_literal_before_auth
            } else {
                limits.max_literal
            };
            let total = (lf + 1) as u64 + size;
            if size > limit as u64 || total > limits.max_command as u64 {
                let tag = frame_tag(&self.input);
                let _ = self.input.split_to(lf + 1);
                self.phase = Phase::Command {
                    scan: 0,
                    literal_end: None,
                };
                if sync {
                    if let Some(t) = tag {
                        self.tagged(&t, Status::Bad, Some(Code::TooBig), "Literal too large");
                    } else {
                        self.bad(None, "Literal too large");
                    }
                } else {
                    self.phase = Phase::Discard {
                        skip: size,
                        answer: Some((tag, "Literal too large")),
                    };
                }
                return true;
            }
            if sync {
                self.emit(CONTINUE_LITERAL);
            }
            self.phase = Phase::Command {
                scan: lf + 1,
                literal_end: Some(lf + 1 + size as usize),
            };
            return true;
        }
        let frame = self.input.split_to(lf + 1).freeze();
        self.phase = Phase::Command {
            scan: 0,
            literal_end: None,
        };
        if trim_crlf(&frame).is_empty() {
            // Empty lines between commands are harmless; some clients send them.
            return true;
        }
        match parse_command_with(&frame, self.parse_options()) {
            Ok((tag, command)) => self.dispatch(tag, command),
            Err(e) => match e.tag {
                Some(tag) if e.refusal => {
                    self.tagged(&tag, Status::No, Some(Code::Cannot), e.reason);
                }
                tag => self.bad(tag, e.reason),
            },
        }
        true
    }

    fn append_head(
        &mut self,
        head: Result<AppendHead, crate::parse::ParseError>,
        size: u64,
        sync: bool,
    ) {
        match head {
            Ok(head) if self.state == State::NotAuthenticated => {
                let tag = head.tag.clone();
                if sync {
                    self.bad(Some(tag), "Please log in first");
                } else {
                    self.phase = Phase::Discard {
                        skip: size,
                        answer: Some((Some(tag), "Please log in first")),
                    };
                }
            }
            Ok(head) if head.size > self.config.limits.max_append => {
                let tag = head.tag.clone();
                self.tagged(&tag, Status::No, Some(Code::TooBig), "Message too large");
                if !sync {
                    self.phase = Phase::Discard {
                        skip: size,
                        answer: None,
                    };
                }
            }
            Ok(head) => {
                self.events.push_back(Event::AppendStart(head.clone()));
                self.pending = Some(Pending::AppendDecision(head));
            }
            Err(e) => {
                if sync
                    && e.refusal
                    && let Some(tag) = &e.tag
                {
                    self.tagged(tag, Status::No, Some(Code::Cannot), e.reason);
                } else if sync {
                    self.bad(e.tag, e.reason);
                } else {
                    self.phase = Phase::Discard {
                        skip: size,
                        answer: Some((e.tag, e.reason)),
                    };
                }
            }
        }
    }

    fn dispatch(&mut self, tag: Tag, command: Command) {
        use State::*;
        let state = self.state;
        let authenticated = !matches!(state, NotAuthenticated);
        let selected = matches!(state, Selected { .. });
        match command {
            Command::Capability => {
                let caps = self.capabilities();
                self.push(&Response::Capability(caps));
                self.tagged(&tag, Status::Ok, None, "CAPABILITY completed");
            }
            Command::Logout => {
                self.push(&Response::Bye {
                    code: None,
                    text: Text::lossy("Logging out"),
                });
                self.tagged(&tag, Status::Ok, None, "LOGOUT completed");
                self.close();
                self.events.push_back(Event::Logout);
            }
            Command::Noop if !authenticated => {
                self.tagged(&tag, Status::Ok, None, "NOOP completed")
            }
            Command::Id(_) => {
                let fields = self.config.id.clone();
                self.push(&Response::Id((!fields.is_empty()).then_some(fields)));
                self.tagged(&tag, Status::Ok, None, "ID completed");
            }
            Command::StartTls => {
                if authenticated || !self.config.starttls || self.tls {
                    self.bad(Some(tag), "STARTTLS not available");
                } else {
                    self.tagged(&tag, Status::Ok, None, "Begin TLS negotiation now");
                    if !self.input.is_empty() {
                        // Plaintext pipelined behind STARTTLS would be taken as coming
                        // through TLS: the CVE-2011-0411 attack.
                        self.close();
                        return;
                    }
                    self.phase = Phase::AwaitingTls { announced: false };
                }
            }
            Command::Login { username, password } => {
                if authenticated {
                    self.bad(Some(tag), "Already logged in");
                } else if self.login_disabled() {
                    self.tagged(
                        &tag,
                        Status::No,
                        Some(Code::PrivacyRequired),
                        "Login is disabled before STARTTLS",
                    );
                } else {
                    self.pending = Some(Pending::Login(tag));
                    self.events.push_back(Event::Login {
                        authzid: None,
                        username,
                        password,
                    });
                }
            }
            Command::Authenticate {
                mechanism,
                initial_response,
            } => self.authenticate(tag, &mechanism, initial_response),
            Command::Enable(_) if !authenticated => self.bad(Some(tag), "Please log in first"),
            Command::Enable(asked) => {
                let mut newly = Vec::new();
                for cap in asked {
                    // Named as the server spells it (RFC 9051 §8: `* ENABLED IMAP4rev2`).
                    let offered = self
                        .config
                        .enable
                        .iter()
                        .find(|e| e.as_str().eq_ignore_ascii_case(cap.as_str()))
                        .cloned();
                    if let Some(offered) = offered
                        && self.enable(offered.as_str())
                    {
                        newly.push(offered);
                    }
                }
                if self.is_enabled("QRESYNC") {
                    self.enable("CONDSTORE");
                }
                self.push(&Response::Enabled(newly));
                self.tagged(&tag, Status::Ok, None, "ENABLE completed");
            }
            Command::Append { .. } => {
                // A complete APPEND frame only arises with a zero-length literal missed by
                // the streaming path; treat it the same way.
                self.bad(Some(tag), "APPEND must send its message as a literal");
            }
            command if !authenticated => {
                let _ = command;
                self.bad(Some(tag), "Please log in first");
            }
            Command::Idle if !self.advertises("IDLE") => {
                self.bad(Some(tag), "IDLE is not supported here");
            }
            Command::Idle => {
                self.pending = Some(Pending::Idle(tag.clone()));
                self.events.push_back(Event::Idle { tag });
            }
            command @ (Command::Check
            | Command::Close
            | Command::Unselect
            | Command::Expunge
            | Command::UidExpunge(_)
            | Command::Search { .. }
            | Command::Sort { .. }
            | Command::Thread { .. }
            | Command::Fetch { .. }
            | Command::Store { .. }
            | Command::Copy { .. }
            | Command::Move { .. }) => {
                if !selected {
                    self.bad(Some(tag), "No mailbox selected");
                    return;
                }
                let transition = match command {
                    Command::Close | Command::Unselect => Transition::Deselect,
                    _ => Transition::None,
                };
                self.pending = Some(Pending::Command(tag.clone(), transition));
                self.events.push_back(Event::Command { tag, command });
            }
            command => {
                let transition = match command {
                    Command::Select(..) => Transition::Select { read_only: false },
                    Command::Examine(..) => Transition::Select { read_only: true },
                    _ => Transition::None,
                };
                self.pending = Some(Pending::Command(tag.clone(), transition));
                self.events.push_back(Event::Command { tag, command });
            }
        }
    }

    fn authenticate(&mut self, tag: Tag, mechanism: &str, initial: Option<Secret<String>>) {
        if self.state != State::NotAuthenticated {
            return self.bad(Some(tag), "Already logged in");
        }
        if self.login_disabled() {
            return self.tagged(
                &tag,
                Status::No,
                Some(Code::PrivacyRequired),
                "Authentication is disabled before STARTTLS",
            );
        }
        let Some(mech) = self
            .config
            .auth_mechanisms
            .iter()
            .copied()
            .find(|m| m.name() == mechanism)
        else {
            return self.tagged(
                &tag,
                Status::No,
                Some(Code::Cannot),
                "Unsupported authentication mechanism",
            );
        };
        let progress =
            mailwright_sasl::Exchange::start(mech, initial.as_ref().map(|s| s.expose().as_str()));
        self.sasl_progress(tag, progress);
    }

    fn sasl_progress(
        &mut self,
        tag: Tag,
        progress: Result<mailwright_sasl::Progress, mailwright_sasl::SaslError>,
    ) {
        match progress {
            Ok(mailwright_sasl::Progress::Challenge(exchange, text)) => {
                self.emit(b"+ ");
                self.emit(text.as_bytes());
                self.emit(b"\r\n");
                self.phase = Phase::Sasl { tag, exchange };
            }
            Ok(mailwright_sasl::Progress::Done(c)) => {
                self.pending = Some(Pending::Login(tag));
                self.events.push_back(Event::Login {
                    authzid: c.authzid,
                    username: c.username,
                    password: c.password,
                });
            }
            Err(mailwright_sasl::SaslError::Cancelled) => {
                self.bad(Some(tag), "Authentication cancelled")
            }
            Err(e) => self.bad(
                Some(tag),
                match e {
                    mailwright_sasl::SaslError::Base64 => "Invalid base64 data",
                    mailwright_sasl::SaslError::Plain => "Invalid PLAIN response",
                    mailwright_sasl::SaslError::Username => "Invalid user name",
                    _ => "Invalid password encoding",
                },
            ),
        }
    }

    fn step_sasl(&mut self) -> bool {
        let Some(line) = self.take_line(self.config.limits.max_sasl_line) else {
            return false;
        };
        let Phase::Sasl { tag, exchange } = std::mem::replace(
            &mut self.phase,
            Phase::Command {
                scan: 0,
                literal_end: None,
            },
        ) else {
            return false;
        };
        match line {
            Ok(l) => {
                let progress = exchange.respond(trim_crlf(&l));
                self.sasl_progress(tag, progress);
            }
            Err(()) => self.bad(Some(tag), "SASL response too long"),
        }
        true
    }
}

fn trim_crlf(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// `{n}` or `{n+}` at the end of a line: the literal's size and whether it is synchronising.
fn literal_announcement(line: &[u8]) -> Option<(u64, bool)> {
    let line = trim_crlf(line);
    let inner = line.strip_suffix(b"}")?;
    let open = memchr::memrchr(b'{', inner)?;
    let digits = &inner[open + 1..];
    let (digits, sync) = match digits.strip_suffix(b"+") {
        Some(d) => (d, false),
        None => (digits, true),
    };
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some((n, sync))
}
