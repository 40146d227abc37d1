//! Properties: encode/parse round trips, dot-stuffing, and chunking invariance of the session.

#![allow(clippy::unwrap_used)]

mod support;

use bytes::BytesMut;
use mailwright_smtp::{
    Body, ClientConfig, Command, EnhancedStatus, Envelope, ForwardPath, Host, MailParams, Mailbox,
    Notify, RcptParams, Reply, Ret, ReversePath, parse_command, parse_reply,
};
use mailwright_smtp::{BodyRules, DataDecoder, DataItem, DotStuffer};
use proptest::prelude::*;
use support::{Harness, config, wire};

fn domain() -> impl Strategy<Value = String> {
    "[a-z0-9]([a-z0-9-]{0,6}[a-z0-9])?(\\.[a-z]{2,6}){1,2}"
}

fn host() -> impl Strategy<Value = Host> {
    prop_oneof![
        4 => domain().prop_map(Host::Domain),
        1 => any::<[u8; 4]>().prop_map(|o| Host::Literal(std::net::Ipv4Addr::from(o).to_string())),
        1 => any::<[u16; 8]>().prop_map(|s| Host::Literal(format!("IPv6:{}", std::net::Ipv6Addr::from(s)))),
    ]
}

fn mailbox() -> impl Strategy<Value = Mailbox> {
    let local = prop_oneof![
        "[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]{1,10}(\\.[a-z0-9]{1,5}){0,2}",
        "[ -~]{1,20}",
        "[a-zé用]{1,8}",
    ];
    (local, host()).prop_map(|(l, h)| Mailbox::new(l, h).unwrap())
}

fn xtext() -> impl Strategy<Value = String> {
    "[!-<>-~]{1,20}"
}

fn command() -> impl Strategy<Value = Command> {
    let mail_params = (
        proptest::option::of(0u64..100_000_000),
        proptest::option::of(prop_oneof![
            Just(Body::SevenBit),
            Just(Body::EightBitMime),
            Just(Body::BinaryMime)
        ]),
        any::<bool>(),
        proptest::option::of(xtext()),
        proptest::option::of(prop_oneof![Just(Ret::Full), Just(Ret::Hdrs)]),
        proptest::option::of(xtext()),
    )
        .prop_map(|(size, body, smtputf8, auth, ret, envid)| MailParams {
            size,
            body,
            smtputf8,
            auth: auth.map(Box::from),
            ret,
            envid: envid.map(Box::from),
            ..MailParams::default()
        });
    prop_oneof![
        host().prop_map(Command::Ehlo),
        domain().prop_map(|d| Command::Helo(Host::Domain(d))),
        (proptest::option::of(mailbox()), mail_params).prop_map(|(m, params)| Command::Mail {
            from: m.map_or(ReversePath::Null, ReversePath::Mailbox),
            params
        }),
        (
            proptest::option::of(mailbox()),
            proptest::option::of(("[a-z0-9-]{1,8}", xtext())),
            proptest::option::of(any::<(bool, bool, bool)>())
        )
            .prop_map(|(m, orcpt, notify)| Command::Rcpt {
                to: m.map_or(ForwardPath::Postmaster, ForwardPath::Mailbox),
                params: RcptParams {
                    orcpt: orcpt.map(|(kind, address)| {
                        mailwright_smtp::OriginalRecipient::parse(&format!("{kind};{address}"))
                            .unwrap()
                    }),
                    notify: notify.map(|(success, failure, delay)| Notify {
                        success,
                        failure,
                        delay
                    }),
                    ..RcptParams::default()
                }
            }),
        Just(Command::Data),
        (any::<u64>(), any::<bool>()).prop_map(|(size, last)| Command::Bdat { size, last }),
        Just(Command::Rset),
        Just(Command::Noop),
        Just(Command::Quit),
        Just(Command::StartTls),
        "[!-~]([ -~]{0,20}[!-~])?".prop_map(Command::Vrfy),
        "[!-~]([ -~]{0,20}[!-~])?".prop_map(Command::Expn),
        proptest::option::of("[!-~]{1,10}").prop_map(Command::Help),
        (
            prop_oneof![
                Just("PLAIN".to_owned()),
                Just("SCRAM-SHA-256".to_owned()),
                "[A-Z0-9-]{1,20}"
            ],
            proptest::option::of("[A-Za-z0-9+/]{1,40}={0,2}")
        )
            .prop_map(|(mechanism, ir)| Command::Auth {
                mechanism: mechanism.into(),
                initial_response: ir.map(mailwright_smtp::Secret::new)
            }),
    ]
}

fn reply() -> impl Strategy<Value = Reply> {
    let code =
        prop_oneof![Just(2u16), Just(4), Just(5)].prop_flat_map(|c| (Just(c), 0u16..6, 0u16..10));
    (
        code,
        any::<bool>(),
        0u16..20,
        0u16..20,
        proptest::collection::vec("([A-Za-z][ -~]{0,60})?", 1..4),
    )
        .prop_map(|((class, mid, last), enhanced, s, d, lines)| {
            let e = enhanced.then(|| EnhancedStatus::new(class as u8, s, d).unwrap());
            Reply::multiline(class * 100 + mid * 10 + last, e, lines).unwrap()
        })
}

proptest! {
    #[test]
    fn command_roundtrip(cmd in command()) {
        let mut buf = BytesMut::new();
        cmd.encode(&mut buf);
        prop_assert!(buf.ends_with(b"\r\n"));
        let parsed = parse_command(&buf[..buf.len() - 2]);
        prop_assert_eq!(parsed, Ok(cmd), "{:?}", String::from_utf8_lossy(&buf));
    }

    #[test]
    fn reply_roundtrip(r in reply()) {
        let mut buf = BytesMut::new();
        r.encode(&mut buf);
        let (parsed, used) = parse_reply(&buf).unwrap().unwrap();
        prop_assert_eq!(used, buf.len());
        prop_assert_eq!(parsed, r);
    }

    #[test]
    fn parse_never_panics(line in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = parse_command(&line);
        let _ = parse_reply(&line);
    }

    #[test]
    fn canonical_reparse(line in "(MAIL FROM:|RCPT TO:|EHLO |BDAT |AUTH )[ -~]{0,60}") {
        if let Ok(cmd) = parse_command(line.as_bytes()) {
            let mut buf = BytesMut::new();
            cmd.encode(&mut buf);
            prop_assert_eq!(parse_command(&buf[..buf.len() - 2]), Ok(cmd));
        }
    }

    #[test]
    fn unstuff_of_stuff_is_identity(
        lines in proptest::collection::vec("[.]{0,2}[a-z .]{0,10}", 0..20),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
    ) {
        let body: Vec<u8> = lines.iter().flat_map(|l| [l.as_bytes(), b"\r\n"].concat()).collect();
        let mut stuffer = DotStuffer::new();
        let mut wire = BytesMut::new();
        stuffer.stuff(&body, &mut wire);
        stuffer.finish(&mut wire);
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(wire.len() + 1)).collect();
        points.sort_unstable();
        points.push(wire.len());
        let mut dec = DataDecoder::new(BodyRules::default());
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        let mut fed = 0;
        let mut ended = false;
        for p in points {
            buf.extend_from_slice(&wire[fed..p]);
            fed = p;
            while let Some(item) = dec.decode(&mut buf) {
                match item {
                    DataItem::Chunk(c) => out.extend_from_slice(&c),
                    DataItem::End => ended = true,
                }
            }
        }
        prop_assert!(ended);
        prop_assert!(buf.is_empty());
        prop_assert_eq!(out, body);
    }

    #[test]
    fn session_is_chunking_invariant(
        bodies in proptest::collection::vec(proptest::collection::vec("[.]{0,2}[a-zA-Z .:]{0,30}", 0..8), 1..4),
        bdat in any::<bool>(),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 1..10),
    ) {
        let mut input = b"EHLO client.example\r\n".to_vec();
        for lines in &bodies {
            input.extend_from_slice(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<bob@example.com>\r\nRCPT TO:<nobody@example.com>\r\n");
            let body: Vec<u8> = lines.iter().flat_map(|l| [l.as_bytes(), b"\r\n"].concat()).collect();
            if bdat {
                input.extend_from_slice(format!("BDAT {} LAST\r\n", body.len()).as_bytes());
                input.extend_from_slice(&body);
            } else {
                input.extend_from_slice(b"DATA\r\n");
                let mut wire = BytesMut::new();
                let mut s = DotStuffer::new();
                s.stuff(&body, &mut wire);
                s.finish(&mut wire);
                input.extend_from_slice(&wire);
            }
        }
        input.extend_from_slice(b"QUIT\r\n");
        let mut whole = Harness::new(config());
        whole.feed(&input, 0);
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(input.len() + 1)).collect();
        points.sort_unstable();
        let mut split = Harness::new(config());
        let mut fed = 0;
        for p in points.into_iter().chain([input.len()]) {
            split.feed(&input[fed..p], 0);
            fed = p;
        }
        prop_assert_eq!(&whole.events, &split.events);
        prop_assert_eq!(&whole.output, &split.output);
        prop_assert_eq!(&whole.messages, &split.messages);
        prop_assert_eq!(whole.messages.len(), bodies.len());
        for (got, lines) in whole.messages.iter().zip(&bodies) {
            let want: Vec<u8> = lines.iter().flat_map(|l| [l.as_bytes(), b"\r\n"].concat()).collect();
            prop_assert_eq!(got, &want);
        }
        prop_assert!(whole.session.is_closed());
    }

    /// Any envelope and body the client sends reaches our server intact: text through DATA
    /// (dot-stuffed) or BDAT, binary through BDAT with BINARYMIME; pipelined or not; the
    /// connection cut anywhere; each recipient gets the server's answer.
    #[test]
    fn client_and_server_deliver_any_message(
        messages in proptest::collection::vec(
            (
                proptest::collection::vec(
                    prop_oneof![Just("bob"), Just("alice"), Just("jones"), Just("nobody"), Just("x.y")],
                    1..4,
                ),
                prop_oneof![
                    proptest::collection::vec("[.]{0,2}[ -~]{0,60}", 0..8)
                        .prop_map(|ls| (None, ls.iter().flat_map(|l| [l.as_bytes(), b"\r\n"].concat()).collect::<Vec<u8>>())),
                    proptest::collection::vec(any::<u8>(), 0..300)
                        .prop_map(|b| (Some(Body::BinaryMime), b)),
                ],
            ),
            1..4,
        ),
        pipelining in any::<bool>(),
        chunking in any::<bool>(),
        step in 1usize..40,
    ) {
        let host = |s: &str| Host::parse(s).unwrap();
        let mut client = ClientConfig::new(host("relay.example.org"));
        client.pipelining = pipelining;
        client.chunking = chunking;
        let users = ["bob", "alice", "jones"];
        let messages: Vec<(Envelope, Vec<u8>)> = messages
            .into_iter()
            .map(|(to, (body_type, body))| {
                let envelope = Envelope {
                    from: ReversePath::Mailbox(Mailbox::new("sender", host("example.org")).unwrap()),
                    params: MailParams { body: body_type, size: Some(body.len() as u64), ..MailParams::default() },
                    recipients: to
                        .iter()
                        .map(|l| (ForwardPath::Mailbox(Mailbox::new(*l, host("example.com")).unwrap()), RcptParams::default()))
                        .collect(),
                };
                (envelope, body)
            })
            .collect();
        let (stored, results) = wire(client, config(), &messages, step);
        let mut want_stored = Vec::new();
        for ((envelope, body), codes) in messages.iter().zip(&results) {
            let binary = envelope.params.body == Some(Body::BinaryMime);
            let sendable = !binary || pipelining;
            let want: Vec<u16> = envelope.recipients.iter().map(|(to, _)| {
                let ForwardPath::Mailbox(m) = to else { unreachable!() };
                match (sendable, users.contains(&m.local_part())) {
                    (false, _) => 554,
                    (true, true) => 250,
                    (true, false) => 550,
                }
            }).collect();
            prop_assert_eq!(codes, &want);
            if sendable && want.contains(&250) {
                want_stored.push(body.clone());
            }
        }
        prop_assert_eq!(results.len(), messages.len());
        prop_assert_eq!(stored, want_stored);
    }
}
