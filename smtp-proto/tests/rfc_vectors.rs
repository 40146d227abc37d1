//! Known-answer transcripts: the RFC examples and our own scenarios, replayed against the session.

mod support;

use support::{Feed, Harness, config, replay};

const PIPELINED: &[Feed] = &[Feed::Turns, Feed::Whole(0), Feed::Whole(7)];

fn transcript(name: &str) -> String {
    let path = format!(
        "{}/tests/transcripts/{name}.txt",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(path).expect("transcript")
}

#[test]
fn rfc5321_d1_typical_transaction() {
    let h = replay(&transcript("rfc5321_d1"), config(), PIPELINED);
    assert_eq!(
        h.messages,
        vec![b"Blah blah blah...\r\n..etc. etc. etc.\r\n".to_vec()]
    );
    assert_eq!(
        h.events,
        [
            "Helo",
            "MailFrom",
            "RcptTo",
            "RcptTo",
            "RcptTo",
            "MessageStart",
            "chunk",
            "MessageEnd",
            "Quit"
        ]
    );
}

#[test]
fn rfc5321_d2_aborted_transaction() {
    let h = replay(&transcript("rfc5321_d2"), config(), PIPELINED);
    assert!(h.messages.is_empty());
    assert!(h.events.contains(&"Reset".to_owned()));
}

#[test]
fn rfc5321_d3_relayed_with_helo() {
    let h = replay(&transcript("rfc5321_d3"), config(), PIPELINED);
    let body = &h.messages[0];
    assert!(body.starts_with(b"Date: Thu, 21 May 1998"));
    assert!(body.ends_with(b"John.\r\n"));
}

#[test]
fn rfc5321_d4_verify() {
    replay(&transcript("rfc5321_d4"), config(), PIPELINED);
}

#[test]
fn rfc2920_pipelining() {
    let h = replay(&transcript("rfc2920_pipelining"), config(), PIPELINED);
    assert_eq!(
        h.messages,
        vec![b"Subject: pipelined\r\n\r\n.leading dot\r\n".to_vec()]
    );
}

#[test]
fn rfc3030_bdat() {
    let h = replay(&transcript("rfc3030_bdat"), config(), PIPELINED);
    assert_eq!(h.messages, vec![b".abc\r\n.def\r\n.\r\nend\r\n".to_vec()]);
}

#[test]
fn rfc4954_auth_after_starttls() {
    // STARTTLS must end a pipeline, so this one is fed turn by turn (and byte by byte).
    let h = replay(&transcript("rfc4954_auth"), config(), &[Feed::Turns]);
    assert!(h.session.is_closed());
    assert!(h.events.contains(&"StartTls".to_owned()));
}

#[test]
fn starttls_injection_is_fatal() {
    let mut h = Harness::new(config());
    h.feed(
        b"EHLO a.example\r\nSTARTTLS\r\nMAIL FROM:<evil@example.org>\r\n",
        0,
    );
    let lines = h.output_lines();
    assert!(lines.last().unwrap().starts_with("554 5.5.1"), "{lines:?}");
    assert!(h.session.is_closed());
    assert!(!h.events.contains(&"MailFrom".to_owned()));
}

#[test]
fn input_before_handshake_is_fatal() {
    let mut s = mailwright_smtp::ServerSession::new(config());
    s.receive(b"EHLO a.example\r\n").unwrap();
    while let Some(_e) = s.poll_event() {
        s.accept().unwrap();
    }
    s.receive(b"STARTTLS\r\n").unwrap();
    assert_eq!(
        s.poll_event(),
        None,
        "StartTls waits until the 220 is taken"
    );
    assert!(s.poll_output().is_some());
    assert_eq!(s.poll_event(), Some(mailwright_smtp::Event::StartTls));
    assert_eq!(s.input_capacity(), 0);
    assert_eq!(
        s.receive(b"RSET\r\n"),
        Err(mailwright_smtp::SessionError::InputDuringTls)
    );
    assert!(s.is_closed());
}
