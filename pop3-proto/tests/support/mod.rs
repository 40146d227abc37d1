//! A scripted embedder: a fixed maildrop and credentials, answering every event and recording
//! what happened, so tests can replay transcripts.
#![allow(dead_code, clippy::unwrap_used)]

use mailwright_pop3::{Config, Event, MessageInfo, Response, ServerSession};

/// RFC 1939 §10's maildrop: two messages of 120 and 200 octets.
pub fn rfc_maildrop() -> Vec<Vec<u8>> {
    let mut one = b"From: a@example.org\r\nSubject: one\r\n\r\n.leading dot\r\n".to_vec();
    one.resize(118, b'x');
    one.extend_from_slice(b"\r\n");
    let mut two = b"From: b@example.org\nSubject: two\n\nbody\n".to_vec(); // LF on disk
    two.resize(194, b'y'); // 194 + final LF = 195 octets with 5 LFs = 200 as CRLF
    two.extend_from_slice(b"\n");
    vec![one, two]
}

/// The size RETR sends: every LF counts as CRLF.
pub fn crlf_size(m: &[u8]) -> u64 {
    let bare = m
        .iter()
        .enumerate()
        .filter(|(i, b)| **b == b'\n' && (*i == 0 || m[i - 1] != b'\r'))
        .count();
    (m.len() + bare) as u64
}

pub struct Harness {
    pub session: ServerSession,
    pub maildrop: Vec<Vec<u8>>,
    pub output: Vec<u8>,
    pub events: Vec<String>,
    pub committed: Option<Vec<usize>>,
    pub chunk: usize,
}

pub fn config() -> Config {
    let mut c = Config::new("POP3 server ready");
    c.stls = true;
    c.expire = Some("NEVER".into());
    c.implementation = Some("mailserver".into());
    c
}

impl Harness {
    pub fn new(config: Config) -> Self {
        Self {
            session: ServerSession::new(config),
            maildrop: rfc_maildrop(),
            output: Vec::new(),
            events: Vec::new(),
            committed: None,
            chunk: 7,
        }
    }

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
                self.answer(event);
            }
            match self.session.poll_output() {
                Some(out) => self.output.extend_from_slice(&out),
                None => break,
            }
        }
    }

    fn answer(&mut self, event: Event) {
        let name = format!("{event:?}")
            .split([' ', '(', '{'])
            .next()
            .unwrap_or("")
            .to_owned();
        self.events.push(name);
        let s = &mut self.session;
        match event {
            Event::Authenticate {
                username, password, ..
            } => {
                let result = match (username.as_str(), password.expose().as_str()) {
                    ("mrose", "tanstaaf") => Ok(self
                        .maildrop
                        .iter()
                        .enumerate()
                        .map(|(i, m)| MessageInfo::new(crlf_size(m), format!("uid-{i}")).unwrap())
                        .collect()),
                    ("busy", _) => Err(Response::in_use()),
                    _ => Err(Response::auth_failed()),
                };
                s.auth_finish(result).unwrap();
            }
            Event::Retrieve { index, .. } => {
                s.retrieve_begin().unwrap();
                for piece in self.maildrop[index].chunks(self.chunk) {
                    let more = s.retrieve_chunk(piece).unwrap();
                    if let Some(out) = s.poll_output() {
                        self.output.extend_from_slice(&out);
                    }
                    if !more {
                        break;
                    }
                }
                s.retrieve_end().unwrap();
            }
            Event::Commit { deleted } => {
                // Each names its message by index and by the unique id the listing gave it.
                for d in &deleted {
                    assert_eq!(d.uid, format!("uid-{}", d.index));
                }
                self.committed = Some(deleted.iter().map(|d| d.index).collect());
                s.commit_finish(Ok(())).unwrap();
            }
            Event::StartTls => s.tls_established().unwrap(),
            Event::Quit => {}
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
        } else if !line.is_empty() && !line.starts_with('#') {
            panic!("bad transcript line: {line}");
        }
    }
    (turns, server)
}

#[derive(Debug, Clone, Copy)]
pub enum Feed {
    Turns,
    Whole(usize),
}

/// Replays a transcript byte by byte and in each of `feeds`; all must match the expected
/// lines and agree with each other.
pub fn replay(text: &str, config: Config, feeds: &[Feed]) -> Harness {
    let (turns, server) = load(text);
    let mut runs: Vec<Harness> = Vec::new();
    let mut all = vec![Feed::Whole(1)];
    all.extend_from_slice(feeds);
    for feed in all {
        for chunk in [1, 7, 4096] {
            let mut h = Harness::new(config.clone());
            h.chunk = chunk;
            match feed {
                Feed::Turns => turns.iter().for_each(|t| h.feed(t, 0)),
                Feed::Whole(step) => h.feed(&turns.concat(), step),
            }
            let lines = h.output_lines();
            assert_eq!(
                lines.len(),
                server.len(),
                "{feed:?}: line count\n got: {lines:#?}\nwant: {server:#?}"
            );
            for (got, want) in lines.iter().zip(&server) {
                assert!(
                    got.starts_with(want.as_str()),
                    "{feed:?}: got {got:?}, want {want:?}\nall: {lines:#?}"
                );
            }
            runs.push(h);
        }
    }
    for other in &runs[1..] {
        assert_eq!(other.events, runs[0].events);
        assert_eq!(other.output, runs[0].output);
        assert_eq!(other.committed, runs[0].committed);
    }
    runs.swap_remove(0)
}
