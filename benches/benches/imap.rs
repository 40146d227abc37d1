//! IMAP hot paths: parsing the commands clients send most (FETCH, UID SEARCH, STORE), the
//! session framing a pipelined stream of them, and encoding FETCH responses (a sync's FLAGS
//! burst, ENVELOPE + BODYSTRUCTURE headers, and a body literal).
//!
//! Run: `cargo bench -p benches --bench imap -- --noplot`
#![allow(clippy::unwrap_used)]

use bytes::{Bytes, BytesMut};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mailwright_imap::{
    Address, BodyExtension, BodyFields, BodyStructure, Command, Config, Envelope, Event,
    FetchValue, Flag, Response, Section, ServerSession, SinglePart, Status, parse_command,
};

const COMMANDS: &[&[u8]] = &[
    b"a1 UID FETCH 1:* (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To Cc Bcc Subject Date Message-ID Priority X-Priority References Newsgroups In-Reply-To Content-Type Reply-To)])\r\n",
    b"a2 UID SEARCH UNDELETED OR FROM \"alice\" (SUBJECT \"report\" SINCE 1-Jan-2024)\r\n",
    b"a3 UID STORE 1000:2000 +FLAGS.SILENT (\\Seen $Important)\r\n",
    b"a4 FETCH 1:50 (FLAGS ENVELOPE BODYSTRUCTURE INTERNALDATE RFC822.SIZE)\r\n",
    b"a5 NOOP\r\n",
];

fn parse(c: &mut Criterion) {
    let bytes: usize = COMMANDS.iter().map(|c| c.len()).sum();
    let mut g = c.benchmark_group("imap_parse");
    g.throughput(Throughput::Elements(COMMANDS.len() as u64));
    g.bench_function("commands", |b| {
        b.iter(|| {
            COMMANDS
                .iter()
                .map(|c| matches!(parse_command(c), Ok((_, Command::Noop))) as usize)
                .sum::<usize>()
        })
    });
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("commands_bytes", |b| {
        b.iter(|| COMMANDS.iter().filter(|c| parse_command(c).is_ok()).count())
    });
    g.finish();

    // The session framing 1,000 pipelined commands after a login, answering each.
    let mut stream = b"a0 LOGIN alice secret\r\na00 SELECT INBOX\r\n".to_vec();
    for i in 0..200 {
        for c in COMMANDS {
            stream.extend_from_slice(format!("t{i}").as_bytes());
            stream.extend_from_slice(c);
        }
    }
    let mut g = c.benchmark_group("imap_session");
    g.throughput(Throughput::Elements(1000));
    g.bench_function("pipelined_1000", |b| {
        b.iter(|| {
            let mut config = Config::new("ready");
            config.allow_plaintext_auth = true;
            let mut s = ServerSession::new(config);
            let mut out = 0usize;
            for chunk in stream.chunks(16 * 1024) {
                s.receive(chunk).unwrap();
                while let Some(e) = s.poll_event() {
                    match e {
                        Event::Login { .. } => s.auth_finish(Ok(())).unwrap(),
                        Event::Command { .. } => s.complete(Status::Ok, None, "done").unwrap(),
                        _ => {}
                    }
                }
                while let Some(o) = s.poll_output() {
                    out += o.len();
                }
            }
            out
        })
    });
    g.finish();
}

fn envelope(i: u32) -> Envelope {
    let addr = |name: &str, mailbox: &str| Address {
        name: Some(Bytes::copy_from_slice(name.as_bytes())),
        adl: None,
        mailbox: Some(Bytes::copy_from_slice(mailbox.as_bytes())),
        host: Some(Bytes::from_static(b"example.com")),
    };
    Envelope {
        date: Some(Bytes::from_static(b"Tue, 1 Jul 2003 10:52:37 +0200")),
        subject: Some(Bytes::from(format!(
            "Quarterly report number {i} \"draft\""
        ))),
        from: vec![addr("Alice Example", "alice")],
        sender: vec![addr("Alice Example", "alice")],
        reply_to: vec![addr("Alice Example", "alice")],
        to: vec![addr("Bob", "bob"), addr("Carol, C.", "carol")],
        cc: Vec::new(),
        bcc: Vec::new(),
        in_reply_to: None,
        message_id: Some(Bytes::from(format!("<{i}@example.com>"))),
    }
}

fn body() -> BodyStructure {
    let part = |t: &str, s: &str, size| BodyStructure::Single {
        media_type: t.into(),
        subtype: s.into(),
        fields: BodyFields {
            params: vec![("charset".into(), "utf-8".into())],
            id: None,
            description: None,
            encoding: "quoted-printable".into(),
            size,
        },
        specific: SinglePart::Text { lines: size / 60 },
        extension: BodyExtension::default(),
    };
    BodyStructure::Multi {
        parts: vec![part("text", "plain", 2048), part("text", "html", 8192)],
        subtype: "alternative".into(),
        params: vec![("boundary".into(), "b1".into())],
        extension: BodyExtension::default(),
    }
}

fn encode(c: &mut Criterion) {
    let flags = [vec![Flag::Seen], vec![Flag::Seen, Flag::Answered], vec![]];
    let mut g = c.benchmark_group("imap_fetch_encode");
    g.throughput(Throughput::Elements(10_000));
    g.bench_function("uid_flags_10k", |b| {
        let mut out = BytesMut::with_capacity(1 << 20);
        b.iter(|| {
            out.clear();
            for i in 1..=10_000u32 {
                Response::Fetch {
                    seq: i,
                    items: vec![
                        FetchValue::Uid(i + 7),
                        FetchValue::Flags(flags[i as usize % 3].clone()),
                    ],
                }
                .encode(&mut out);
            }
            out.len()
        })
    });
    let envelopes: Vec<Box<Envelope>> = (0..1000).map(|i| Box::new(envelope(i))).collect();
    let body = Box::new(body());
    g.throughput(Throughput::Elements(1000));
    g.bench_function("envelope_bodystructure_1k", |b| {
        let mut out = BytesMut::with_capacity(1 << 20);
        b.iter(|| {
            out.clear();
            for (i, e) in envelopes.iter().enumerate() {
                Response::Fetch {
                    seq: i as u32 + 1,
                    items: vec![
                        FetchValue::Envelope(e.clone()),
                        FetchValue::BodyStructure(body.clone()),
                    ],
                }
                .encode(&mut out);
            }
            out.len()
        })
    });
    let message = Bytes::from(vec![b'x'; 1 << 20]);
    g.throughput(Throughput::Bytes(message.len() as u64));
    g.bench_function("body_literal_1MiB", |b| {
        let mut out = BytesMut::with_capacity(2 << 20);
        b.iter(|| {
            out.clear();
            Response::Fetch {
                seq: 1,
                items: vec![FetchValue::BodySection {
                    section: Section::default(),
                    origin: None,
                    data: Some(message.clone()),
                }],
            }
            .encode(&mut out);
            out.len()
        })
    });
    g.finish();
}

criterion_group!(benches, parse, encode);
criterion_main!(benches);
