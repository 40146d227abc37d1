//! A scripted embedder: fixed credentials and canned answers per command, recording events and
//! output, so tests can replay RFC transcripts.
#![allow(dead_code, clippy::unwrap_used)]

use mailwright_imap::{
    Atom, Code, Command, Config, Event, Refusal, Response, ServerSession, Status,
};

/// What the embedder answers a command with: untagged responses, then the tagged status.
pub type Answer = (Vec<Response>, Status, Option<Code>, String);

/// Answers every command `OK <NAME> completed` with no untagged data.
pub fn plain_ok(command: &Command) -> Answer {
    (
        Vec::new(),
        Status::Ok,
        None,
        format!("{} completed", command.name()),
    )
}

pub struct Harness {
    pub session: ServerSession,
    pub output: Vec<u8>,
    pub events: Vec<String>,
    pub appended: Vec<Vec<u8>>,
    pub answer: fn(&Command) -> Answer,
}

pub fn config() -> Config {
    let mut c = Config::new("IMAP4rev1 Service Ready");
    c.starttls = true;
    c.allow_plaintext_auth = true;
    c.capabilities = ["IDLE", "UIDPLUS"]
        .iter()
        .map(|a| Atom::new(*a).unwrap())
        .collect();
    c
}

impl Harness {
    pub fn new(config: Config, answer: fn(&Command) -> Answer) -> Self {
        Self {
            session: ServerSession::new(config),
            output: Vec::new(),
            events: Vec::new(),
            appended: Vec::new(),
            answer,
        }
    }

    /// Feeds `input` in pieces of at most `step` octets (0: as much as the session takes).
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
            self.session.receive(&rest[..n]).unwrap();
            rest = &rest[n..];
            self.pump();
        }
    }

    pub fn pump(&mut self) {
        loop {
            while let Some(event) = self.session.poll_event() {
                self.respond(event);
            }
            match self.session.poll_output() {
                Some(out) => self.output.extend_from_slice(&out),
                None => break,
            }
        }
    }

    fn respond(&mut self, event: Event) {
        let name = format!("{event:?}")
            .split([' ', '(', '{'])
            .next()
            .unwrap_or("")
            .to_owned();
        // How a message is chunked depends on how it arrived; record runs of chunks once.
        if !(name == "AppendChunk" && self.events.last() == Some(&name)) {
            self.events.push(name);
        }
        let s = &mut self.session;
        match event {
            Event::Login {
                username, password, ..
            } => {
                let ok = password.expose() == "secret" && username != "nobody";
                let result = if ok {
                    Ok(())
                } else {
                    Err(Refusal::new(
                        Some(Code::AuthenticationFailed),
                        "Invalid credentials",
                    ))
                };
                s.auth_finish(result).unwrap();
            }
            Event::Command { command, .. } => {
                let (untagged, status, code, text) = (self.answer)(&command);
                for r in &untagged {
                    s.send(r).unwrap();
                }
                s.complete(status, code, &text).unwrap();
            }
            Event::AppendStart(_) => {
                self.appended.push(Vec::new());
                s.accept_append().unwrap();
            }
            Event::AppendChunk(bytes) => {
                self.appended.last_mut().unwrap().extend_from_slice(&bytes)
            }
            Event::AppendEnd => s
                .complete(
                    Status::Ok,
                    Some(Code::AppendUid(38505, 3955)),
                    "APPEND completed",
                )
                .unwrap(),
            Event::AppendAborted => {
                self.appended.pop();
            }
            Event::Idle { .. } => s.idle_accept().unwrap(),
            Event::IdleDone => s.complete(Status::Ok, None, "IDLE terminated").unwrap(),
            Event::StartTls => s.tls_established().unwrap(),
            Event::Logout => {}
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

/// `C:` lines are client input, `S:` lines are prefixes of the server's lines, `#` comments.
/// Consecutive `C:` lines form one turn.
pub fn load(text: &str) -> (Vec<Vec<u8>>, Vec<String>) {
    let mut turns: Vec<Vec<u8>> = Vec::new();
    let mut server = Vec::new();
    let mut in_turn = false;
    for line in text.lines() {
        if let Some(c) = line.strip_prefix("C: ") {
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
        } else if line == "S:" {
            server.push(String::new());
        } else if !line.is_empty() && !line.starts_with('#') {
            panic!("bad transcript line: {line}");
        }
    }
    (turns, server)
}

#[derive(Debug, Clone, Copy)]
pub enum Feed {
    /// Each client turn after the server's answer to the previous one.
    Turns,
    /// Everything at once, in pieces of this many octets (0: as much as the session takes).
    Whole(usize),
}

/// Replays a transcript turn by turn and byte by byte, then in each of `feeds`; all must match
/// the expected lines and agree with each other.
pub fn replay(
    text: &str,
    config: Config,
    answer: fn(&Command) -> Answer,
    feeds: &[Feed],
) -> Harness {
    let (turns, server) = load(text);
    let mut runs: Vec<Harness> = Vec::new();
    let mut all = vec![Feed::Turns];
    all.extend_from_slice(feeds);
    for feed in all {
        for step in [0, 1, 5] {
            let mut h = Harness::new(config.clone(), answer);
            match feed {
                Feed::Turns => turns.iter().for_each(|t| h.feed(t, step)),
                Feed::Whole(n) => h.feed(&turns.concat(), if n == 0 { step } else { n }),
            }
            let lines = h.output_lines();
            for (i, want) in server.iter().enumerate() {
                let got = lines.get(i).map(String::as_str).unwrap_or("<nothing>");
                assert!(
                    got.starts_with(want.as_str()),
                    "{feed:?}/{step}: line {i}: got {got:?}, want {want:?}\nall: {lines:#?}"
                );
            }
            assert_eq!(lines.len(), server.len(), "{feed:?}/{step}: {lines:#?}");
            runs.push(h);
        }
    }
    for other in &runs[1..] {
        assert_eq!(other.events, runs[0].events);
        assert_eq!(other.appended, runs[0].appended);
    }
    runs.swap_remove(0)
}
