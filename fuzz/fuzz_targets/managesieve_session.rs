//! The ManageSieve session fed arbitrary bytes in arbitrary pieces, with arbitrary valid
//! answers: no panic, bounded buffering, and nothing read while an answer is awaited.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailwright_managesieve::{Config, Event, Response, ServerSession};

#[path = "common/choices.rs"]
mod choices;
use choices::Choices;

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let (seed, input) = data.split_at(2);
    let mut choices = Choices::new([seed[0], seed[1]], 1 << 40);
    let mut config = Config::new("fuzz", vec!["fileinto".into()]);
    config.allow_plaintext_auth = seed[0] & 1 == 1;
    config.limits.max_line = 128;
    config.limits.max_literal = 512;
    let mut session = ServerSession::new(config);
    let mut rest = input;
    let mut idle = 0;
    while !session.is_closed() && idle < 4 {
        while let Some(event) = session.poll_event() {
            assert_eq!(session.input_capacity(), 0, "input read while {event:?} waits");
            let refuse = choices.next() % 4 == 0;
            let _ = match event {
                Event::StartTls => session.tls_established(),
                Event::Login(c) => session.auth_finish(match refuse {
                    true => Err(Response::no("no")),
                    false => Ok(c.username),
                }),
                Event::ListScripts if !refuse => session.answer_list(&[("a".into(), true)]),
                Event::GetScript { .. } if !refuse => session.answer_script(b"keep;\r\n"),
                _ if refuse => session.answer(Response::no("refused")),
                _ => session.answer(Response::ok("done")),
            };
        }
        while session.poll_output().is_some() {}
        let room = session.input_capacity();
        if rest.is_empty() || room == 0 {
            idle += 1;
            if rest.is_empty() {
                session.handle_eof();
            }
            continue;
        }
        let n = (choices.next() as usize % 64 + 1).min(room).min(rest.len());
        let (now, later) = rest.split_at(n);
        rest = later;
        if session.receive(now).is_err() {
            break;
        }
    }
});
