//! A FETCH response whose literal the embedder streams: the octets go between the response's
//! start and its rest, whatever the embedder sends or completes meanwhile, and the session
//! holds the embedder to the announced length.
#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use imap_proto::{
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
