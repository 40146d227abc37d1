//! Known-answer transcripts: the RFC 1939, 2449, 2595 and 5034 examples, replayed against the
//! session whole, per turn and byte by byte, with messages streamed in 1, 7 and 4096-octet
//! chunks.
#![allow(clippy::unwrap_used)]

mod support;

use mailwright_pop3::{Event, ServerSession, SessionError};
use support::{Feed, Harness, config, replay};

fn transcript(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/transcripts/{name}.txt",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn plaintext() -> mailwright_pop3::Config {
    let mut c = config();
    c.allow_plaintext_auth = true;
    c
}

#[test]
fn rfc1939_example_session() {
    let h = replay(
        &transcript("rfc1939_example"),
        plaintext(),
        &[Feed::Turns, Feed::Whole(0), Feed::Whole(5)],
    );
    assert_eq!(h.committed, Some(vec![0, 1]));
    // RETR 1 sends exactly the 120 octets, dot-stuffed, then the terminator.
    let out = String::from_utf8(h.output.clone()).unwrap();
    assert!(out.contains(
        "+OK 120 octets\r\nFrom: a@example.org\r\nSubject: one\r\n\r\n..leading dot\r\n"
    ));
}

#[test]
fn rfc1939_commands() {
    let h = replay(
        &transcript("rfc1939_commands"),
        plaintext(),
        &[Feed::Turns, Feed::Whole(0)],
    );
    assert_eq!(h.committed, Some(vec![]), "RSET undid the DELE");
}

#[test]
fn rfc2449_capa_stls_auth() {
    let h = replay(&transcript("rfc2449_capa"), config(), &[Feed::Turns]);
    assert!(h.events.contains(&"StartTls".to_owned()));
}

#[test]
fn no_update_without_quit() {
    let mut h = Harness::new(plaintext());
    h.feed(b"USER mrose\r\nPASS tanstaaf\r\nDELE 1\r\nDELE 2\r\n", 0);
    h.session.handle_eof();
    assert_eq!(h.committed, None, "a dropped connection deletes nothing");
    let mut h = Harness::new(plaintext());
    h.feed(b"USER mrose\r\nPASS tanstaaf\r\nDELE 1\r\n", 0);
    h.session.handle_timeout();
    h.pump();
    assert_eq!(h.committed, None, "a timeout deletes nothing");
    assert!(h.session.is_closed());
}

#[test]
fn stls_injection_is_fatal() {
    let mut h = Harness::new(config());
    h.feed(b"STLS\r\nUSER evil\r\n", 0);
    assert!(
        h.output_lines()
            .last()
            .unwrap()
            .starts_with("-ERR Input pipelined after STLS")
    );
    assert!(h.session.is_closed());
    let mut s = ServerSession::new(config());
    s.receive(b"STLS\r\n").unwrap();
    assert_eq!(s.poll_event(), None);
    assert!(s.poll_output().is_some());
    assert_eq!(s.poll_event(), Some(Event::StartTls));
    assert_eq!(s.receive(b"USER x\r\n"), Err(SessionError::InputDuringTls));
}

#[test]
fn limits() {
    let mut c = plaintext();
    c.limits.max_auth_failures = 2;
    let mut h = Harness::new(c);
    h.feed(b"USER a\r\nPASS b\r\nUSER a\r\nPASS b\r\nUSER a\r\n", 0);
    assert!(
        h.output_lines()
            .last()
            .unwrap()
            .starts_with("-ERR [AUTH] Too many")
    );
    assert!(h.session.is_closed());
    let mut h = Harness::new(plaintext());
    let long = format!("USER {}\r\nNOOP\r\n", "x".repeat(600));
    h.feed(long.as_bytes(), 0);
    let lines = h.output_lines();
    assert!(lines[1].starts_with("-ERR Line too long"), "{lines:?}");
    assert_eq!(lines.len(), 2, "nothing after it is read: {lines:?}");
    assert!(h.session.is_closed());
    let mut h = Harness::new(plaintext());
    h.session.abort("Too much data before login");
    let mut refused = mailwright_pop3::ServerSession::refuse(plaintext(), "Too many connections");
    assert_eq!(
        &refused.poll_output().unwrap()[..],
        b"-ERR [SYS/TEMP] Too many connections\r\n"
    );
    assert!(refused.is_closed());
    h.feed(b"", 0);
    assert_eq!(
        h.output_lines().last().unwrap(),
        "-ERR [SYS/TEMP] Too much data before login"
    );
    assert!(h.session.is_closed());
}

#[test]
fn top_stops_reading_the_message() {
    let mut h = Harness::new(plaintext());
    h.chunk = 1;
    h.feed(b"USER mrose\r\nPASS tanstaaf\r\nTOP 2 0\r\n", 0);
    let text = String::from_utf8(h.output.clone()).unwrap();
    assert!(text.ends_with("Subject: two\r\n\r\n.\r\n"), "{text}");
}
