//! The POP3 session fed arbitrary bytes in arbitrary pieces, with arbitrary valid answers and
//! arbitrary message contents: no panic, bounded buffering, every response line well formed,
//! and UPDATE reached only through QUIT.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailwright_pop3::{Config, Event, MessageInfo, Response, ServerSession, parse_response};

#[path = "common/choices.rs"]
mod choices;
use choices::Choices;

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let (seed, input) = data.split_at(2);
    let mut choices = Choices::new([seed[0], seed[1]], 1 << 40);
    let mut config = Config::new("ready");
    config.stls = true;
    config.allow_plaintext_auth = seed[0] & 1 == 1;
    config.limits.max_command_line = 64;
    let mut session = ServerSession::new(config);
    let messages: [&[u8]; 3] = [b"A: 1\n\n.x\nbody\n", b"", b"no newline\r\n..\r\n.\rx"];
    let mut output = Vec::new();
    let mut rest = input;
    let mut idle = 0;
    let mut quit_sent = false;
    while !session.is_closed() && idle < 4 {
        while let Some(event) = session.poll_event() {
            let refuse = choices.next() % 4 == 0;
            match event {
                Event::Authenticate { .. } => {
                    let answer = if refuse {
                        Err(Response::auth_failed())
                    } else {
                        Ok((0..(choices.next() % 4) as usize)
                            .map(|i| MessageInfo::new(i as u64 * 10, format!("u{i}")).unwrap())
                            .collect())
                    };
                    session.auth_finish(answer).unwrap();
                }
                Event::Retrieve { index, .. } => {
                    if refuse {
                        session
                            .retrieve_fail(Response::temporary_failure())
                            .unwrap();
                    } else {
                        session.retrieve_begin().unwrap();
                        let m = messages[index % 3];
                        let cut = (choices.next() as usize) % (m.len() + 1);
                        if session.retrieve_chunk(&m[..cut]).unwrap() {
                            session.retrieve_chunk(&m[cut..]).unwrap();
                        }
                        session.retrieve_end().unwrap();
                    }
                }
                Event::Commit { .. } => {
                    assert!(quit_sent_before(input, rest), "UPDATE without QUIT");
                    quit_sent = true;
                    session.commit_finish(Ok(())).unwrap();
                }
                Event::StartTls => session.tls_established().unwrap(),
                Event::Quit => {}
            }
        }
        while let Some(out) = session.poll_output() {
            output.extend_from_slice(&out);
        }
        let capacity = session.input_capacity();
        assert!(capacity <= 16 * 1024 + 1);
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
    let _ = quit_sent;
    // The first line of the output is a status line; every status line parses.
    for line in output.split(|&b| b == b'\n') {
        if line.starts_with(b"+OK") || line.starts_with(b"-ERR") {
            let line = line.strip_suffix(b"\r").expect("status lines end in CRLF");
            parse_response(line).expect("well-formed status line");
        }
    }
});

/// Whether the consumed part of the input contains a QUIT keyword.
fn quit_sent_before(input: &[u8], rest: &[u8]) -> bool {
    let consumed = &input[..input.len() - rest.len()];
    consumed.windows(4).any(|w| w.eq_ignore_ascii_case(b"QUIT"))
}
