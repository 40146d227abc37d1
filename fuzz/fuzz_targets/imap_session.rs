//! The IMAP session fed arbitrary bytes in arbitrary pieces, with arbitrary answers: no panic,
//! bounded buffering, and output that frames: every line outside a literal is untagged (`*`),
//! a continuation (`+`), or a tagged OK/NO/BAD.
#![no_main]

use bytes::Bytes;
use mailwright_imap::{
    Code, Command, Config, Event, FetchValue, Refusal, Response, Section, ServerSession, Status,
};
use libfuzzer_sys::fuzz_target;

#[path = "common/choices.rs"]
mod choices;
use choices::Choices;

fn answer(command: &Command, choices: &mut Choices) -> Vec<Response> {
    match command {
        Command::Fetch { .. } => {
            let data: &[u8] = match choices.next() % 3 {
                0 => b"",
                1 => b"Subject: x\r\n\r\n{5}\r\n)\r\n",
                _ => b"\"quoted\" \\ (paren",
            };
            vec![Response::Fetch {
                seq: 1,
                items: vec![FetchValue::BodySection {
                    section: Section::default(),
                    origin: None,
                    data: Some(Bytes::copy_from_slice(data)),
                }],
            }]
        }
        Command::Select(m, _) | Command::Examine(m, _) => vec![
            Response::Exists(3),
            Response::List {
                attributes: Vec::new(),
                delimiter: Some('.'),
                mailbox: m.as_str().to_owned(),
                lsub: false,
                extended: Vec::new(),
            },
        ],
        _ => Vec::new(),
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let (seed, input) = data.split_at(2);
    let mut choices = Choices::new([seed[0], seed[1]], 1 << 40);
    let mut config = Config::new("ready");
    config.starttls = true;
    config.allow_plaintext_auth = seed[0] & 1 == 1;
    config.limits.max_line = 128;
    config.limits.max_literal = 64;
    config.limits.max_literal_before_auth = 16;
    config.limits.max_command = 512;
    config.limits.max_append = 256;
    config.enable = ["UTF8=ACCEPT", "QRESYNC", "CONDSTORE"]
        .into_iter()
        .filter_map(|a| mailwright_imap::Atom::new(a).ok())
        .collect();
    let cap_limit = config.limits.max_line + config.limits.max_command;
    let mut session = ServerSession::new(config);
    let mut output = Vec::new();
    let mut rest = input;
    let mut idle = 0;
    while !session.is_closed() && idle < 4 {
        while let Some(event) = session.poll_event() {
            let refuse = choices.next() % 4 == 0;
            match event {
                Event::Login { .. } => {
                    let result = if refuse {
                        Err(Refusal::new(Some(Code::AuthenticationFailed), "no"))
                    } else {
                        Ok(())
                    };
                    session.auth_finish(result).unwrap();
                }
                Event::Command { command, .. } => {
                    for r in answer(&command, &mut choices) {
                        session.send(&r).unwrap();
                    }
                    let status = if refuse { Status::No } else { Status::Ok };
                    session.complete(status, None, "done").unwrap();
                }
                Event::AppendStart(_) => {
                    if refuse {
                        session.reject_append(Some(Code::TryCreate), "no").unwrap();
                    } else {
                        session.accept_append().unwrap();
                    }
                }
                Event::AppendChunk(_) | Event::AppendAborted | Event::Logout => {}
                Event::AppendEnd => session.complete(Status::Ok, None, "stored").unwrap(),
                Event::Idle { .. } => {
                    if refuse {
                        session.complete(Status::No, None, "no idle").unwrap();
                    } else {
                        session.idle_accept().unwrap();
                        session.send(&Response::Exists(4)).unwrap();
                    }
                }
                Event::IdleDone => session.complete(Status::Ok, None, "idle done").unwrap(),
                Event::StartTls => session.tls_established().unwrap(),
            }
        }
        while let Some(out) = session.poll_output() {
            output.extend_from_slice(&out);
        }
        let capacity = session.input_capacity();
        assert!(capacity <= cap_limit);
        if rest.is_empty() || capacity == 0 {
            idle += 1;
            if rest.is_empty() {
                session.handle_timeout();
            }
            continue;
        }
        idle = 0;
        let n = ((choices.next() % 32) as usize + 1)
            .min(capacity)
            .min(rest.len());
        if session.receive(&rest[..n]).is_err() {
            break;
        }
        rest = &rest[n..];
    }
    check_framing(&output);
});

/// Walks the output response by response; a line ending in `{n}` continues after n octets.
fn check_framing(mut out: &[u8]) {
    let mut continuation = false;
    while !out.is_empty() {
        let end = out
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("every line ends in CRLF");
        let line = &out[..end];
        out = &out[end + 2..];
        if !continuation {
            let mut parts = line.splitn(3, |&b| b == b' ');
            let first = parts.next().unwrap_or_default();
            if first != b"*" && first != b"+" {
                let status = parts.next().unwrap_or_default();
                assert!(
                    [&b"OK"[..], b"NO", b"BAD"].contains(&status),
                    "bad line {:?}",
                    String::from_utf8_lossy(line)
                );
            }
        }
        continuation = false;
        if let Some(open) = line.iter().rposition(|&b| b == b'{')
            && line.last() == Some(&b'}')
            && let Ok(n) = std::str::from_utf8(&line[open + 1..line.len() - 1])
                .unwrap_or("x")
                .parse::<usize>()
            && !line.starts_with(b"+ ")
        {
            assert!(out.len() >= n, "literal runs past the output");
            out = &out[n..];
            continuation = true;
        }
    }
}
