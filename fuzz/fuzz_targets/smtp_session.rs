//! The SMTP session fed arbitrary bytes in arbitrary pieces, with arbitrary (valid) answers:
//! it must never panic, never buffer more than it advertised, emit only well-formed replies,
//! and account for every body octet.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailwright_smtp::{AuthMechanism, Config, Event, Reply, ServerSession, parse_reply};

/// A small deterministic generator seeded from the input, for read sizes and answers.
#[path = "common/choices.rs"]
mod choices;
use choices::Choices;

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let (seed, input) = data.split_at(2);
    let mut choices = Choices::new([seed[0], seed[1]], 1 << 32);
    let mut config = Config::new("mx.example.com");
    config.starttls = true;
    config.allow_plaintext_auth = true;
    config.auth_mechanisms = vec![AuthMechanism::Plain, AuthMechanism::Login];
    config.vrfy = seed[0] & 1 == 1;
    config.expn = seed[0] & 2 == 2;
    config.limits.max_message_size = 2048;
    config.limits.max_recipients = 3;
    config.limits.max_data_line = 200;
    let buffer_limit = config
        .limits
        .max_input_buffer
        .max(config.limits.max_sasl_line + 1);
    let mut session = ServerSession::new(config);
    let mut output = Vec::new();
    let mut body = 0u64;
    let mut rest = input;
    let mut idle_rounds = 0;
    while !session.is_closed() && idle_rounds < 4 {
        while let Some(event) = session.poll_event() {
            let reject = choices.next() % 5 == 0;
            let no = Reply::new(550, None, "no").unwrap();
            match event {
                // An accepted EHLO ends the transaction, a BDAT body in progress included
                // (RFC 5321 §4.1.4), with no MessageAborted: its octets no longer count.
                Event::Helo { .. } if !reject => {
                    body = 0;
                    let _ = session.accept();
                }
                Event::Helo { .. }
                | Event::MailFrom { .. }
                | Event::RcptTo { .. }
                | Event::MessageStart { .. } => {
                    let _ = if reject {
                        session.reject(no)
                    } else {
                        session.accept()
                    };
                }
                Event::MessageChunk(c) => body += c.len() as u64,
                Event::MessageEnd { size } => {
                    assert_eq!(size, body);
                    body = 0;
                    let _ = session.finish_message(if reject { no } else { Reply::queued("Q") });
                }
                Event::MessageAborted { .. } | Event::Reset => body = 0,
                Event::Verify(_) | Event::Expand(_) => {
                    let _ = session.respond(no);
                }
                Event::StartTls => {
                    body = 0;
                    let _ = session.tls_established();
                }
                Event::Authenticate { .. } => {
                    let _ = session.auth_finish(if reject {
                        Err(Reply::auth_failed())
                    } else {
                        Ok(())
                    });
                }
                Event::Quit => {}
            }
        }
        while let Some(out) = session.poll_output() {
            output.extend_from_slice(&out);
        }
        let capacity = session.input_capacity();
        assert!(capacity <= buffer_limit);
        if rest.is_empty() || capacity == 0 {
            idle_rounds += 1;
            if rest.is_empty() {
                session.handle_timeout();
            }
            continue;
        }
        idle_rounds = 0;
        let n = ((choices.next() % 64) as usize + 1)
            .min(capacity)
            .min(rest.len());
        if session.receive(&rest[..n]).is_err() {
            break;
        }
        rest = &rest[n..];
    }
    // Everything the session said is a sequence of well-formed replies.
    let mut pos = 0;
    while pos < output.len() {
        match parse_reply(&output[pos..]) {
            Ok(Some((_, used))) => pos += used,
            other => panic!("malformed output at {pos}: {other:?}"),
        }
    }
});
