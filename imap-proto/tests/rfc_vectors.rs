//! Known-answer transcripts: the RFC 3501, RFC 2177 and RFC 4959 examples, replayed against
//! the session turn by turn, whole, and byte by byte, with a scripted embedder answering.
#![allow(clippy::unwrap_used)]

mod support;

use bytes::Bytes;
use mailwright_imap::{
    Address, BodyExtension, BodyFields, BodyStructure, Code, Command, Date, DateTime, FetchAttr,
    FetchValue, Flag, Mailbox, Response, SearchKey, SeqNumber, SequenceSet, SinglePart, Status,
    StatusItem,
};
use support::{Answer, Feed, config, plain_ok, replay};

fn transcript(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/transcripts/{name}.txt",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn b(s: &str) -> Option<Bytes> {
    Some(Bytes::copy_from_slice(s.as_bytes()))
}

fn addr(name: Option<&str>, mailbox: &str, host: &str) -> Address {
    Address {
        name: name.and_then(b),
        adl: None,
        mailbox: b(mailbox),
        host: b(host),
    }
}

fn system_flags() -> Vec<Flag> {
    ["\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"]
        .iter()
        .map(|f| Flag::parse(f).unwrap())
        .collect()
}

fn select(exists: u32, recent: u32, unseen: Option<u32>) -> Answer {
    let mut out = vec![Response::Exists(exists), Response::Flags(system_flags())];
    out.push(Response::Recent(recent));
    if let Some(n) = unseen {
        out.push(Response::ok(
            Some(Code::Unseen(n)),
            &format!("Message {n} is the first unseen message"),
        ));
    }
    out.push(Response::ok(
        Some(Code::UidValidity(3857529045)),
        "UIDs valid",
    ));
    (
        out,
        Status::Ok,
        Some(Code::ReadWrite),
        "SELECT completed".into(),
    )
}

/// The mailbox of RFC 3501 §8.
fn rfc3501_server(command: &Command) -> Answer {
    sample_server(command, false)
}

/// The same mailbox as RFC 9051 §8 shows it to an IMAP4rev2 client.
fn rfc9051_server(command: &Command) -> Answer {
    sample_server(command, true)
}

fn sample_server(command: &Command, rev2: bool) -> Answer {
    let version = if rev2 { "IMAP4rev2" } else { "IMAP4rev1" };
    let subject = format!("{version} WG mtg summary and minutes");
    match command {
        Command::Select(m, _) if m.is_inbox() && rev2 => (
            vec![
                Response::Exists(18),
                Response::Flags(system_flags()),
                Response::ok(Some(Code::UidValidity(3857529045)), "UIDs valid"),
                Response::List {
                    attributes: Vec::new(),
                    delimiter: Some('/'),
                    mailbox: "INBOX".into(),
                    lsub: false,
                    extended: vec![mailwright_imap::ListExtended::OldName("inbox".into())],
                },
            ],
            Status::Ok,
            Some(Code::ReadWrite),
            "SELECT completed".into(),
        ),
        Command::Select(m, _) if m.is_inbox() => select(18, 2, Some(17)),
        Command::Fetch { attributes, .. } if attributes.contains(&FetchAttr::Envelope) => {
            assert_eq!(
                attributes,
                &[
                    FetchAttr::Flags,
                    FetchAttr::InternalDate,
                    FetchAttr::Rfc822Size,
                    FetchAttr::Envelope,
                    FetchAttr::Body
                ],
                "FULL expands as RFC 3501 §6.4.5 says"
            );
            let gray = vec![addr(Some("Terry Gray"), "gray", "cac.washington.edu")];
            let envelope = mailwright_imap::Envelope {
                date: b("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)"),
                subject: b(&subject),
                from: gray.clone(),
                sender: gray.clone(),
                reply_to: gray,
                to: vec![addr(None, "imap", "cac.washington.edu")],
                cc: vec![
                    addr(None, "minutes", "CNRI.Reston.VA.US"),
                    addr(Some("John Klensin"), "KLENSIN", "MIT.EDU"),
                ],
                bcc: Vec::new(),
                in_reply_to: None,
                // RFC 9051 §8 prints the ID cut short; the vector keeps it so.
                message_id: b(if rev2 {
                    "<B27397-0100000@cac.washington.ed>"
                } else {
                    "<B27397-0100000@cac.washington.edu>"
                }),
            };
            let body = BodyStructure::Single {
                media_type: "TEXT".into(),
                subtype: "PLAIN".into(),
                fields: BodyFields {
                    params: vec![("CHARSET".into(), "US-ASCII".into())],
                    id: None,
                    description: None,
                    encoding: "7BIT".into(),
                    size: 3028,
                },
                specific: SinglePart::Text { lines: 92 },
                extension: BodyExtension::default(),
            };
            let date = DateTime {
                date: Date {
                    year: 1996,
                    month: 7,
                    day: 17,
                },
                hour: 2,
                minute: 44,
                second: 25,
                zone_minutes: -7 * 60,
            };
            let items = vec![
                FetchValue::Flags(vec![Flag::parse("\\Seen").unwrap()]),
                FetchValue::InternalDate(date),
                FetchValue::Rfc822Size(4286),
                FetchValue::Envelope(Box::new(envelope)),
                FetchValue::Body(Box::new(body)),
            ];
            let fetch = Response::Fetch { seq: 12, items };
            (vec![fetch], Status::Ok, None, "FETCH completed".into())
        }
        Command::Fetch { attributes, .. } => {
            let FetchAttr::BodySection { section, .. } = &attributes[0] else {
                panic!("{attributes:?}")
            };
            let items = vec![FetchValue::BodySection {
                section: section.clone(),
                origin: None,
                data: b(&format!("Subject: {subject}\r\n")),
            }];
            let fetch = Response::Fetch { seq: 12, items };
            (vec![fetch], Status::Ok, None, "FETCH completed".into())
        }
        Command::Store { flags, .. } => {
            assert_eq!(flags, &[Flag::parse("\\Deleted").unwrap()]);
            let mut now = vec![Flag::parse("\\Seen").unwrap()];
            now.extend(flags.iter().cloned());
            let fetch = Response::Fetch {
                seq: 12,
                items: vec![FetchValue::Flags(now)],
            };
            (vec![fetch], Status::Ok, None, "+FLAGS completed".into())
        }
        other => plain_ok(other),
    }
}

#[test]
fn rfc9051_sample_connection() {
    let mut config = config();
    config.enable = vec![mailwright_imap::Atom::new("IMAP4rev2").unwrap()];
    // STARTTLS comes first, so the whole script cannot be sent at once.
    let h = replay(&transcript("rfc9051_example"), config, rfc9051_server, &[]);
    assert!(h.session.is_closed() && h.session.is_enabled("IMAP4rev2"));
}

#[test]
fn rfc3501_sample_connection() {
    let h = replay(
        &transcript("rfc3501_example"),
        config(),
        rfc3501_server,
        &[Feed::Whole(0)],
    );
    assert!(h.session.is_closed());
}

/// The answers of RFC 3501 §6's examples.
fn rfc3501_commands(command: &Command) -> Answer {
    match command {
        Command::Login { username, .. } => panic!("LOGIN is an event, not a command: {username}"),
        Command::Create { mailbox, .. } => {
            assert_eq!(mailbox, &Mailbox::new("owatagusiam/"));
            plain_ok(command)
        }
        Command::List {
            reference,
            patterns,
            ..
        } if reference.is_empty() && patterns == &[String::new()] => {
            let list = Response::List {
                attributes: vec![mailwright_imap::Atom::new("Noselect").unwrap()],
                delimiter: Some('.'),
                mailbox: String::new(),
                lsub: false,
                extended: Vec::new(),
            };
            (vec![list], Status::Ok, None, "LIST completed".into())
        }
        Command::Status { mailbox, items } => {
            assert_eq!(items, &[StatusItem::UidNext, StatusItem::Messages]);
            let status = Response::Status {
                mailbox: mailbox.as_str().into(),
                items: vec![(StatusItem::Messages, 231), (StatusItem::UidNext, 44292)],
            };
            (vec![status], Status::Ok, None, "STATUS completed".into())
        }
        Command::Search { criteria, .. } => {
            let SearchKey::And(keys) = &**criteria else {
                panic!("{criteria:?}")
            };
            assert_eq!(keys.len(), 3);
            assert_eq!(keys[0], SearchKey::Flagged);
            assert_eq!(
                keys[2],
                SearchKey::Not(Box::new(SearchKey::From("Smith".into())))
            );
            let search = Response::Search(vec![2, 84, 882], None);
            (vec![search], Status::Ok, None, "SEARCH completed".into())
        }
        Command::Fetch { uid: true, set, .. } => {
            assert_eq!(
                set,
                &SequenceSet::new(vec![(SeqNumber::Value(4827313), SeqNumber::Value(4828442))])
                    .unwrap()
            );
            let fetch = Response::Fetch {
                seq: 23,
                items: vec![
                    FetchValue::Flags(vec![Flag::parse("\\Seen").unwrap()]),
                    FetchValue::Uid(4827313),
                ],
            };
            (vec![fetch], Status::Ok, None, "UID FETCH completed".into())
        }
        other => plain_ok(other),
    }
}

#[test]
fn rfc3501_command_examples_with_synchronising_literals() {
    let h = replay(
        &transcript("rfc3501_commands"),
        config(),
        rfc3501_commands,
        &[],
    );
    assert_eq!(
        h.appended,
        vec![b"Subject: afternoon meet\r\n\r\n".to_vec()]
    );
}

fn idle_server(command: &Command) -> Answer {
    match command {
        Command::Select(..) => {
            let (mut out, status, code, text) = select(3, 0, None);
            out.swap(0, 1);
            (out, status, code, text)
        }
        other => plain_ok(other),
    }
}

#[test]
fn rfc2177_idle_with_sasl_ir_login() {
    let h = replay(
        &transcript("rfc2177_idle"),
        config(),
        idle_server,
        &[Feed::Whole(0)],
    );
    assert!(h.events.contains(&"IdleDone".to_owned()));
}

#[test]
fn rfc3501_starttls_starts_over() {
    let h = replay(&transcript("rfc3501_starttls"), config(), plain_ok, &[]);
    assert!(h.session.is_tls());
}

/// Found by the `imap_session` fuzz target: a line other than DONE that exhausts the error
/// budget closes the session, and no IdleDone may follow (nothing is left to complete).
#[test]
fn a_bad_line_in_idle_that_closes_the_session_ends_no_idle() {
    let mut config = config();
    config.limits.max_errors = 1;
    let mut h = support::Harness::new(config, plain_ok);
    h.feed(
        b"a LOGIN fred secret\r\nb SELECT INBOX\r\nc IDLE\r\nnot done\r\n",
        0,
    );
    assert!(h.session.is_closed());
    assert!(!h.events.contains(&"IdleDone".to_owned()), "{:?}", h.events);
    let out = String::from_utf8_lossy(&h.output).into_owned();
    assert!(out.contains("* BAD Expected DONE\r\n* BYE"), "{out}");
}

fn utf8_server(command: &Command) -> Answer {
    match command {
        Command::List { .. } => (
            vec![Response::List {
                attributes: Vec::new(),
                delimiter: Some('.'),
                mailbox: "Entwürfe".into(),
                lsub: false,
                extended: Vec::new(),
            }],
            Status::Ok,
            None,
            "LIST completed".into(),
        ),
        Command::Create { mailbox, .. } => {
            assert_eq!(mailbox.as_str(), "Aufträge&Co");
            plain_ok(command)
        }
        other => plain_ok(other),
    }
}

/// RFC 6855: ENABLE UTF8=ACCEPT and CONDSTORE/QRESYNC as the embedder allows, then UTF-8
/// mailbox names both ways and `APPEND ... UTF8 (~{n})` — however the input is split.
#[test]
fn rfc6855_utf8_accept_and_rfc7162_enable() {
    for step in [0, 1, 7] {
        let mut config = config();
        config.enable = ["UTF8=ACCEPT", "QRESYNC", "CONDSTORE"]
            .iter()
            .map(|a| mailwright_imap::Atom::new(*a).unwrap())
            .collect();
        let mut h = support::Harness::new(config, utf8_server);
        let message = "Subject: Grüße\r\n\r\nHallo\r\n";
        let input = format!(
            "a LOGIN fred secret\r\nb LIST \"\" \"*\"\r\nc ENABLE QRESYNC X-UNKNOWN UTF8=ACCEPT\r\n\
             d LIST \"\" \"*\"\r\ne CREATE \"Aufträge&Co\"\r\nf APPEND INBOX UTF8 (~{{{}+}}\r\n{message})\r\n\
             g NOOP\r\n",
            message.len()
        );
        h.feed(input.as_bytes(), step);
        let out = String::from_utf8(h.output.clone()).unwrap();
        assert!(
            out.contains("* LIST () \".\" Entw&APw-rfe\r\nb OK"),
            "{out}"
        );
        assert!(
            out.contains("* ENABLED QRESYNC UTF8=ACCEPT\r\nc OK"),
            "{out}"
        );
        assert!(
            out.contains("* LIST () \".\" \"Entwürfe\"\r\nd OK"),
            "{out}"
        );
        assert!(out.contains("e OK CREATE completed"), "{out}");
        assert!(out.contains("f OK [APPENDUID"), "{out}");
        assert!(out.contains("g OK NOOP completed"), "{out}");
        assert_eq!(h.appended, [message.as_bytes()]);
        assert!(h.session.is_enabled("CONDSTORE") && h.session.is_enabled("utf8=accept"));
    }
}
