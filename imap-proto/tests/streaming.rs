//! A FETCH response whose literal the embedder streams: the octets go between the response's
//! start and its rest, whatever the embedder sends or completes meanwhile, and the session
//! holds the embedder to the announced length.
#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use mailwright_imap::{
    AnswerError, Config, Event, FetchValue, Flag, Response, Section, ServerSession, Status,
};

fn drain(session: &mut ServerSession) -> String {
    let mut out = Vec::new();
    while let Some(bytes) = session.poll_output() {
        out.extend_from_slice(&bytes);
    }
    String::from_utf8(out).unwrap()
}

fn selected() -> ServerSession {
    let mut config = Config::new("ready");
    config.allow_plaintext_auth = true;
    let mut session = ServerSession::new(config);
    session
        .receive(b"a LOGIN u p\r\nb SELECT INBOX\r\n")
        .unwrap();
    while let Some(event) = session.poll_event() {
        match event {
            Event::Login { .. } => session.auth_finish(Ok(())).unwrap(),
            Event::Command { .. } => session.complete(Status::Ok, None, "done").unwrap(),
            _ => {}
        }
    }
    drain(&mut session);
    session
}

#[test]
fn streamed_literal_sits_inside_its_response() {
    let mut session = selected();
    session
        .receive(b"c FETCH 1 (UID BODY[] FLAGS)\r\n")
        .unwrap();
    assert!(matches!(session.poll_event(), Some(Event::Command { .. })));
    session
        .send(&Response::Fetch {
            seq: 1,
            items: vec![
                FetchValue::Uid(7),
                FetchValue::BodySectionStreamed {
                    section: Section::default(),
                    origin: None,
                    len: 10,
                },
                FetchValue::Flags(vec![Flag::Seen]),
            ],
        })
        .unwrap();
    assert_eq!(session.literal_owed(), 10);
    assert_eq!(drain(&mut session), "* 1 FETCH (UID 7 BODY[] {10}\r\n");
    // Meanwhile: more data and the tagged status wait for the literal.
    session.send(&Response::Exists(2)).unwrap();
    session.complete(Status::Ok, None, "FETCH done").unwrap();
    assert_eq!(
        session.stream_literal(b"far too many"),
        Err(AnswerError::LiteralOverrun)
    );
    session.stream_literal(b"Subj").unwrap();
    assert_eq!(drain(&mut session), "Subj");
    // A second streamed response cannot start before the first ends.
    let again = Response::Fetch {
        seq: 2,
        items: vec![FetchValue::BodySectionStreamed {
            section: Section::default(),
            origin: None,
            len: 1,
        }],
    };
    assert_eq!(session.send(&again), Err(AnswerError::StreamedTwice));
    session.stream_literal(b"ect: x").unwrap();
    assert_eq!(session.literal_owed(), 0);
    assert_eq!(
        drain(&mut session),
        "ect: x FLAGS (\\Seen))\r\n* 2 EXISTS\r\nc OK FETCH done\r\n"
    );
    assert_eq!(session.stream_literal(b"x"), Err(AnswerError::WrongState));
}

#[test]
fn a_streamed_literal_reads_as_the_same_response_sent_whole() {
    let data = Bytes::from_static(b"From: a\r\n\r\nbody\r\n");
    let whole = Response::Fetch {
        seq: 3,
        items: vec![
            FetchValue::BodySection {
                section: Section::default(),
                origin: Some(5),
                data: Some(data.clone()),
            },
            FetchValue::Uid(9),
        ],
    };
    let mut session = selected();
    session
        .receive(b"c FETCH 3 (BODY[]<5.100> UID)\r\n")
        .unwrap();
    session.poll_event();
    session
        .send(&Response::Fetch {
            seq: 3,
            items: vec![
                FetchValue::BodySectionStreamed {
                    section: Section::default(),
                    origin: Some(5),
                    len: data.len() as u64,
                },
                FetchValue::Uid(9),
            ],
        })
        .unwrap();
    for chunk in data.chunks(3) {
        session.stream_literal(chunk).unwrap();
    }
    assert_eq!(drain(&mut session).as_bytes(), &whole.to_bytes()[..]);
}

#[test]
fn an_endless_line_gets_bye_and_the_connection_closes() {
    // A client trickling a line that never ends must not hold the connection open.
    let mut config = Config::new("ready");
    config.limits.max_line = 1024;
    let mut session = ServerSession::new(config);
    drain(&mut session);
    let mut line = b"a LOGIN ".to_vec();
    line.extend(std::iter::repeat_n(b'x', 2048));
    let mut rest = &line[..];
    let mut written = String::new();
    // As an embedder does: read, handle events, write what is pending, until closed.
    while !rest.is_empty() && !session.is_closed() {
        let n = session.input_capacity().min(rest.len()).min(100);
        session.receive(&rest[..n]).unwrap();
        rest = &rest[n..];
        while session.poll_event().is_some() {}
        written.push_str(&drain(&mut session));
    }
    assert_eq!(written, "* BYE Line too long\r\n");
    assert!(session.is_closed());
    // A line that ends over the limit is only refused.
    let mut session = selected();
    let mut long = b"c NOOP ".to_vec();
    long.extend(std::iter::repeat_n(b'x', 70 * 1024));
    long.extend_from_slice(b"\r\nd NOOP\r\n");
    session.receive(&long[..]).unwrap();
    while let Some(event) = session.poll_event() {
        if let Event::Command { .. } = event {
            session.complete(Status::Ok, None, "done").unwrap();
        }
    }
    assert_eq!(drain(&mut session), "c BAD Line too long\r\nd OK done\r\n");
}

#[test]
fn abort_says_bye_with_the_embedders_reason() {
    let mut session = ServerSession::new(Config::new("ready"));
    drain(&mut session);
    session.abort("Too much data before login");
    assert_eq!(drain(&mut session), "* BYE Too much data before login\r\n");
    assert!(session.is_closed());
}

#[test]
fn a_refused_session_greets_with_bye_and_closes() {
    let mut session = ServerSession::refuse(Config::new("ready"), "Too many connections");
    assert_eq!(drain(&mut session), "* BYE Too many connections\r\n");
    assert!(session.is_closed());
}

#[test]
fn a_mailbox_name_that_is_not_modified_utf7_is_refused_with_no() {
    // RFC 3501 §5.1.3: the name is well formed as an astring, only not one the server can
    // have; BAD would tell the client its own syntax is wrong.
    let mut session = selected();
    session
        .receive(b"c SELECT \"&Jjo!\"\r\nd CREATE &Jjo!\r\ne SELECT \"a\" extra\r\n")
        .unwrap();
    while session.poll_event().is_some() {}
    assert_eq!(
        drain(&mut session),
        "c NO [CANNOT] Invalid modified UTF-7 in mailbox name\r\n\
         d NO [CANNOT] Invalid modified UTF-7 in mailbox name\r\n\
         e BAD Expected (\r\n"
    );
}

#[test]
fn a_fetch_without_items_is_refused_not_written() {
    // `* 1 FETCH ()` is not IMAP (RFC 9051 msg-att needs one item at least).
    let mut session = selected();
    drain(&mut session);
    let empty = Response::Fetch {
        seq: 1,
        items: vec![],
    };
    assert_eq!(session.send(&empty), Err(AnswerError::EmptyFetch));
    assert_eq!(drain(&mut session), "");
}

#[test]
fn idle_is_bad_unless_advertised() {
    let mut config = Config::new("ready");
    config.allow_plaintext_auth = true;
    let mut session = ServerSession::new(config);
    session.receive(b"a LOGIN u p\r\nb IDLE\r\n").unwrap();
    let mut events = Vec::new();
    while let Some(event) = session.poll_event() {
        if let Event::Login { .. } = event {
            session.auth_finish(Ok(())).unwrap();
        }
        events.push(format!("{event:?}"));
    }
    assert!(!events.iter().any(|e| e.starts_with("Idle")), "{events:?}");
    assert!(drain(&mut session).ends_with("b BAD IDLE is not supported here\r\n"));
}
