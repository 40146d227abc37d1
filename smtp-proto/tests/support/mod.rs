//! A scripted embedder: answers the session's events with a fixed policy and records everything,
//! so tests can compare transcripts and event logs.
#![allow(dead_code, clippy::unwrap_used)]

use mailwright_smtp::{
    AuthMechanism, ClientConfig, ClientEvent, ClientSession, Config, EnhancedStatus, Envelope,
    Event, ForwardPath, Reply, ServerSession,
};

pub struct Harness {
    pub session: ServerSession,
    pub output: Vec<u8>,
    pub events: Vec<String>,
    pub messages: Vec<Vec<u8>>,
    current: Vec<u8>,
    /// Local parts the embedder accepts; everything else is 550 5.1.1.
    pub users: Vec<&'static str>,
}

pub fn config() -> Config {
    let mut c = Config::new("mx.example.com");
    c.starttls = true;
    c.auth_mechanisms = vec![AuthMechanism::Plain, AuthMechanism::Login];
    c.vrfy = true;
    c
}

impl Harness {
    pub fn new(config: Config) -> Self {
        Self {
            session: ServerSession::new(config),
            output: Vec::new(),
            events: Vec::new(),
            messages: Vec::new(),
            current: Vec::new(),
            users: vec!["jones", "brown", "bob", "alice"],
        }
    }

    /// Feeds `input` in pieces no larger than `step` (0 = as much as the session takes).
    pub fn feed(&mut self, input: &[u8], step: usize) {
        let mut rest = input;
        let mut stalls = 0;
        self.pump();
        while !rest.is_empty() && !self.session.is_closed() {
            let cap = self.session.input_capacity();
            let n = if step == 0 { cap } else { cap.min(step) }.min(rest.len());
            if n == 0 {
                stalls += 1;
                assert!(stalls < 3, "session stalled with input left");
                self.pump();
                continue;
            }
            stalls = 0;
            self.session.receive(&rest[..n]).expect("receive");
            rest = &rest[n..];
            self.pump();
        }
    }

    pub fn pump(&mut self) {
        loop {
            while let Some(event) = self.session.poll_event() {
                self.answer(event);
            }
            match self.session.poll_output() {
                Some(out) => self.output.extend_from_slice(&out),
                None => break,
            }
        }
    }

    fn answer(&mut self, event: Event) {
        let name = match &event {
            Event::MessageChunk(c) => {
                self.current.extend_from_slice(c);
                // Chunk boundaries depend on read sizes; log only that data arrived.
                if self.events.last().map(String::as_str) != Some("chunk") {
                    self.events.push("chunk".into());
                }
                return;
            }
            other => format!("{other:?}")
                .split([' ', '(', '{'])
                .next()
                .unwrap_or("")
                .to_owned(),
        };
        self.events.push(name);
        let s = &mut self.session;
        match event {
            Event::Helo { .. } | Event::MailFrom { .. } | Event::MessageStart { .. } => {
                s.accept().unwrap()
            }
            Event::RcptTo { to, .. } => match to {
                ForwardPath::Postmaster => s.accept().unwrap(),
                ForwardPath::Mailbox(m) => {
                    if self
                        .users
                        .contains(&m.local_part().to_ascii_lowercase().as_str())
                    {
                        s.accept().unwrap()
                    } else {
                        let e = EnhancedStatus::new(5, 1, 1).ok();
                        s.reject(Reply::new(550, e, "No such user here").unwrap())
                            .unwrap()
                    }
                }
            },
            Event::MessageEnd { size } => {
                assert_eq!(size as usize, self.current.len());
                self.messages.push(std::mem::take(&mut self.current));
                s.finish_message(Reply::queued("Q1")).unwrap();
            }
            Event::MessageAborted { .. } | Event::Reset => self.current.clear(),
            Event::Verify(who) => {
                let reply = if who.to_ascii_lowercase().contains("smith") {
                    Reply::new(250, None, "Fred Smith <Smith@USC-ISIF.ARPA>").unwrap()
                } else {
                    Reply::new(550, None, "String does not match anything.").unwrap()
                };
                s.respond(reply).unwrap()
            }
            Event::Expand(_) => s
                .respond(Reply::new(550, None, "Access denied").unwrap())
                .unwrap(),
            Event::StartTls => s.tls_established().unwrap(),
            Event::Authenticate {
                username, password, ..
            } => {
                if username == "alice" && password.expose() == "secret" {
                    s.auth_finish(Ok(())).unwrap()
                } else {
                    s.auth_finish(Err(Reply::auth_failed())).unwrap()
                }
            }
            Event::Quit | Event::MessageChunk(_) => {}
        }
    }

    pub fn output_lines(&self) -> Vec<String> {
        String::from_utf8_lossy(&self.output)
            .split("\r\n")
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

/// A transcript: `C:` lines are client input (CRLF appended), `S:` lines are reply-line
/// prefixes the server must send, in order. `#` lines are comments. Consecutive `C:` lines form
/// one turn.
pub struct Transcript {
    pub turns: Vec<Vec<u8>>,
    pub server: Vec<String>,
}

pub fn load(text: &str) -> Transcript {
    let mut turns: Vec<Vec<u8>> = Vec::new();
    let mut server = Vec::new();
    let mut in_turn = false;
    for line in text.lines() {
        let client = line.strip_prefix("C: ").or((line == "C:").then_some(""));
        if let Some(c) = client {
            if !in_turn {
                turns.push(Vec::new());
                in_turn = true;
            }
            let turn = turns.last_mut().unwrap();
            turn.extend_from_slice(c.as_bytes());
            turn.extend_from_slice(b"\r\n");
            continue;
        }
        in_turn = false;
        if let Some(s) = line.strip_prefix("S: ") {
            server.push(s.to_owned());
        } else if !line.is_empty() && !line.starts_with('#') {
            panic!("bad transcript line: {line}");
        }
    }
    Transcript { turns, server }
}

/// How a transcript's client side is fed.
#[derive(Debug, Clone, Copy)]
pub enum Feed {
    /// Turn by turn, each as one write.
    Turns,
    /// Everything in one write (deep pipelining), in pieces of at most this many octets (0: no limit).
    Whole(usize),
}

/// Replays a transcript in each of `feeds` plus byte by byte; all must produce the expected
/// replies and the same events, messages and output.
pub fn replay(text: &str, config: Config, feeds: &[Feed]) -> Harness {
    let t = load(text);
    let mut runs = Vec::new();
    let mut all = vec![Feed::Whole(1)];
    all.extend_from_slice(feeds);
    for feed in all {
        let mut h = Harness::new(config.clone());
        match feed {
            Feed::Turns => {
                for turn in &t.turns {
                    h.feed(turn, 0);
                }
            }
            Feed::Whole(step) => h.feed(&t.turns.concat(), step),
        }
        let lines = h.output_lines();
        assert_eq!(
            lines.len(),
            t.server.len(),
            "{feed:?}: reply count differs\n got: {lines:#?}\nwant: {:#?}",
            t.server
        );
        for (got, want) in lines.iter().zip(&t.server) {
            assert!(
                got.starts_with(want.as_str()),
                "{feed:?}: got {got:?}, want {want:?}\nall: {lines:#?}"
            );
        }
        runs.push(h);
    }
    for other in &runs[1..] {
        assert_eq!(other.events, runs[0].events);
        assert_eq!(other.messages, runs[0].messages);
        assert_eq!(other.output, runs[0].output);
    }
    runs.swap_remove(0)
}

/// Runs the client against our server session; returns the messages the server stored and
/// every recipient's final code per message.
pub fn wire(
    client_config: ClientConfig,
    server: Config,
    messages: &[(Envelope, Vec<u8>)],
    step: usize,
) -> (Vec<Vec<u8>>, Vec<Vec<u16>>) {
    let mut c = ClientSession::new(client_config);
    let mut s = Harness::new(server);
    s.pump();
    let mut seen = 0;
    let mut next = 0;
    let mut results = Vec::new();
    let mut current: Vec<u16> = Vec::new();
    for _ in 0..100_000 {
        // Server to client, in pieces of `step`.
        let new = s.output[seen..].to_vec();
        seen = s.output.len();
        for piece in new.chunks(step.max(1)) {
            c.receive(piece);
        }
        while let Some(event) = c.poll_event() {
            match event {
                ClientEvent::StartTls => c.tls_established().unwrap(),
                ClientEvent::Ready if next < messages.len() => {
                    current = vec![0; messages[next].0.recipients.len()];
                    c.send_message(messages[next].0.clone()).unwrap();
                }
                ClientEvent::Ready => c.quit().unwrap(),
                ClientEvent::Recipient { index, reply } => current[index] = reply.code().get(),
                ClientEvent::SendBody => {
                    for piece in messages[next].1.chunks(step.max(1) * 7) {
                        c.send_body(piece).unwrap();
                    }
                    c.end_body().unwrap();
                }
                ClientEvent::MessageDone(reply) => {
                    for code in current.iter_mut() {
                        if *code < 400 {
                            *code = reply.code().get();
                        }
                    }
                    results.push(std::mem::take(&mut current));
                    next += 1;
                }
                ClientEvent::Closed(result) => {
                    result.unwrap();
                    return (s.messages, results);
                }
            }
        }
        if let Some(out) = c.poll_output() {
            s.feed(&out, step);
        }
    }
    panic!("client and server did not finish");
}
