//! Properties: command and response round trips, the message encoder's chunking invariance and
//! inverse, and the session's chunking invariance.
#![allow(clippy::unwrap_used)]

mod support;

use bytes::BytesMut;
use mailwright_pop3::{Command, RespCode, Response, Secret, parse_command, parse_response};
use mailwright_pop3::{CrlfSize, MessageEncoder, decode_multiline};
use proptest::prelude::*;
use support::{Harness, config};

fn command() -> impl Strategy<Value = Command> {
    let word = "[!-~]{1,40}";
    prop_oneof![
        word.prop_map(Command::User),
        "[!-~][ -~]{0,40}".prop_map(|p| Command::Pass(Secret::new(p))),
        (word, "[0-9a-f]{32}").prop_map(|(name, digest)| Command::Apop { name, digest }),
        Just(Command::Auth {
            mechanism: None,
            initial_response: None
        }),
        (
            "[A-Z0-9-]{1,20}",
            proptest::option::of("[A-Za-z0-9+/]{1,40}={0,2}")
        )
            .prop_map(|(m, ir)| Command::Auth {
                mechanism: Some(m),
                initial_response: ir.map(Secret::new)
            }),
        Just(Command::Stat),
        proptest::option::of(any::<u32>()).prop_map(Command::List),
        any::<u32>().prop_map(Command::Retr),
        any::<u32>().prop_map(Command::Dele),
        Just(Command::Noop),
        Just(Command::Rset),
        Just(Command::Quit),
        (any::<u32>(), any::<u32>()).prop_map(|(msg, lines)| Command::Top { msg, lines }),
        proptest::option::of(any::<u32>()).prop_map(Command::Uidl),
        Just(Command::Capa),
        Just(Command::Stls),
    ]
}

fn response() -> impl Strategy<Value = Response> {
    let code = proptest::option::of(prop_oneof![
        Just(RespCode::InUse),
        Just(RespCode::LoginDelay),
        Just(RespCode::SysTemp),
        Just(RespCode::SysPerm),
        Just(RespCode::Auth),
    ]);
    (any::<bool>(), code, "([A-Za-z0-9][ -~]{0,80})?").prop_map(|(ok, code, text)| {
        if ok {
            Response::ok(text).unwrap()
        } else {
            Response::err(code, text).unwrap()
        }
    })
}

/// The content RETR must deliver: every line ending in CRLF.
fn crlf(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, b) in message.iter().enumerate() {
        if *b == b'\n' && (i == 0 || message[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(*b);
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

proptest! {
    #[test]
    fn command_roundtrip(cmd in command()) {
        let mut buf = BytesMut::new();
        cmd.encode(&mut buf);
        prop_assert_eq!(parse_command(&buf[..buf.len() - 2]), Ok(cmd));
    }

    #[test]
    fn response_roundtrip(r in response()) {
        let mut buf = BytesMut::new();
        r.encode(&mut buf);
        prop_assert_eq!(parse_response(&buf[..buf.len() - 2]), Ok(r));
    }

    #[test]
    fn parsers_never_panic(line in proptest::collection::vec(any::<u8>(), 0..100)) {
        let _ = parse_command(&line);
        let _ = parse_response(&line);
    }

    #[test]
    fn encoder_is_chunking_invariant_and_decodes_back(
        lines in proptest::collection::vec("[.]{0,2}[a-z .]{0,8}(\r\n|\n)", 0..12),
        last in "[a-z.]{0,4}",
        cut in any::<prop::sample::Index>(),
    ) {
        let message: Vec<u8> = [lines.concat(), last].concat().into_bytes();
        let encode = |parts: &[&[u8]]| {
            let mut e = MessageEncoder::new(None);
            let mut out = BytesMut::new();
            for p in parts { e.encode(p, &mut out); }
            e.finish(&mut out);
            out.to_vec()
        };
        let whole = encode(&[&message]);
        let at = cut.index(message.len() + 1);
        prop_assert_eq!(&encode(&[&message[..at], &message[at..]]), &whole);
        let (decoded, ended) = decode_multiline(&whole);
        prop_assert!(ended);
        prop_assert_eq!(&decoded, &crlf(&message));
        // The size LIST announces is what RETR sends, however the file is read.
        let mut size = CrlfSize::new();
        size.update(&message[..at]);
        size.update(&message[at..]);
        prop_assert_eq!(size.total(), decoded.len() as u64);
    }

    #[test]
    fn session_is_chunking_invariant(
        commands in proptest::collection::vec(prop_oneof![
            Just("STAT"), Just("LIST"), Just("LIST 1"), Just("LIST 3"), Just("UIDL"), Just("UIDL 2"),
            Just("RETR 1"), Just("RETR 2"), Just("TOP 1 1"), Just("TOP 2 0"), Just("DELE 1"),
            Just("DELE 2"), Just("RSET"), Just("NOOP"), Just("CAPA"), Just("BOGUS"),
        ], 0..15),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 1..8),
        chunk in 1usize..50,
    ) {
        let mut c = config();
        c.allow_plaintext_auth = true;
        let mut input = b"USER mrose\r\nPASS tanstaaf\r\n".to_vec();
        for cmd in &commands {
            input.extend_from_slice(cmd.as_bytes());
            input.extend_from_slice(b"\r\n");
        }
        input.extend_from_slice(b"QUIT\r\n");
        let mut whole = Harness::new(c.clone());
        whole.feed(&input, 0);
        let mut split = Harness::new(c);
        split.chunk = chunk;
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(input.len() + 1)).collect();
        points.sort_unstable();
        let mut fed = 0;
        for p in points.into_iter().chain([input.len()]) {
            split.feed(&input[fed..p], 0);
            fed = p;
        }
        prop_assert_eq!(&whole.events, &split.events);
        prop_assert_eq!(&whole.output, &split.output);
        prop_assert_eq!(&whole.committed, &split.committed);
        prop_assert!(whole.session.is_closed());
    }
}
