//! Our parsers against the fastest public peers, in the same run: SMTP command parsing and
//! DATA dot-unstuffing against Stalwart's `smtp-proto` 0.2, IMAP command parsing against
//! `imap-codec` 1.0. Each pair is a criterion group, ours first, so `critcmp`-style reading is
//! one line per command.
//!
//! Run: `cargo bench -p benches --bench peers -- --noplot` (or `benches/parsers.sh`, which
//! alternates ours and the peer's runs and prints the ratios).
//!
//! What each side does, so the figures are read fairly:
//! - SMTP: ours parses a line whose CRLF the session's framing already found (memchr), into
//!   owned, validated values (domains and address literals checked, ESMTP parameters typed,
//!   xtext decoded); Stalwart's parses from a byte iterator up to and including the LF, and
//!   borrows where it can. Both are given the same command text.
//! - DATA: ours decodes with the default rules (bare CR or LF defects and the SMTP smuggling
//!   forms are detected, line lengths counted) and hands out chunks without copying; Stalwart's
//!   `DataReceiver` copies every octet into a `Vec` and does not unstuff a dot at the very
//!   start of the data (it only looks for CRLF `.`).
//! - IMAP: both parse one complete command line with its CRLF into typed values.
//!
//! Measured 2026-12-04, evening (`ROUNDS=3 benches/parsers.sh`, this 2-core machine, three
//! runs of three rounds), peer time / our time, above 1 = ours faster: SMTP MAIL simple
//! 1.12-1.66, MAIL with parameters 1.20-1.30 (0.65-1.18 in a run with one slow round), RCPT
//! simple 1.17-1.67, RCPT with NOTIFY/ORCPT 1.00-1.10, AUTH 1.04-1.24 (after the base64
//! table), DATA/RSET/QUIT 0.87-1.93 (14.2-16.4 ns against 13.8-27.6: even), EHLO 0.60-1.11;
//! DATA unstuffing 0.80-1.21 (1.05-1.08 and 1.01-1.21 in two runs); IMAP noop 1.62-1.92,
//! status 1.69-1.82, select 2.28-2.91, uid_fetch 2.74-2.81, uid_store 2.97-3.29, search
//! 3.96-4.22. A round can slow one side by 30-60 %: read the ranges, not one figure.
//! EHLO is the one command below 1 in most rounds: Stalwart's borrows the name (a `Cow`) and
//! checks only its length; ours checks it as a domain and owns it (an allocation and a free,
//! about 7 ns, and a UTF-8 check, about 5). 2026-12-06, after the domain check took eight
//! octets at a time (`FILTER=smtp_command ROUNDS=5 benches/parsers.sh`): EHLO 45.3-46.7 ns
//! against 42.1-44.2 (0.90-0.97, was 0.82-0.97), the others 1.03-1.57. Later that day, with
//! `EHLO name` sent past the general path's blank scans straight to the name check
//! (`FILTER=smtp_command/ehlo ROUNDS=4 benches/parsers.sh`): 39.4-40.9 ns against 42.1-56.9
//! (1.04-1.45; 43.7-47.8 against 42.4-48.9 just before). Then `FILTER=smtp_command ROUNDS=5`
//! found AUTH (0.90-0.96) and RCPT with NOTIFY/ORCPT (0.93-0.97) below 1; with `AUTH mech
//! response` sent straight to a one-pass check (one UTF-8 check, PLAIN/LOGIN before the
//! mechanism list) and ESMTP values read against an xtext table, ORCPT not read twice and
//! NOTIFY items told apart by length (three rounds): AUTH 32.9-34.0 ns against 42.8-44.6
//! (1.26-1.35), RCPT DSN 113-118 against 129-130 (1.09-1.15), MAIL with parameters 1.15-1.20.

#![allow(clippy::unwrap_used)]

use benches::{body, stuffed, unstuff};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use imap_codec::{CommandCodec, decode::Decoder};
use mailwright_smtp::BodyRules;
use std::hint::black_box;

/// The SMTP commands of a session, each with its CRLF.
const SMTP: &[(&str, &[u8])] = &[
    ("ehlo", b"EHLO mail.client.example.org\r\n"),
    ("mail_simple", b"MAIL FROM:<alice@example.com>\r\n"),
    (
        "mail_params",
        b"MAIL FROM:<alice@example.com> SIZE=1048576 BODY=8BITMIME SMTPUTF8\r\n",
    ),
    ("rcpt_simple", b"RCPT TO:<bob@example.net>\r\n"),
    (
        "rcpt_dsn",
        b"RCPT TO:<bob@example.net> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@example.net\r\n",
    ),
    ("data", b"DATA\r\n"),
    ("auth_plain", b"AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n"),
    ("rset", b"RSET\r\n"),
    ("quit", b"QUIT\r\n"),
];

/// IMAP commands a client sends most, each with its CRLF.
const IMAP: &[(&str, &[u8])] = &[
    ("select", b"a1 SELECT INBOX\r\n"),
    (
        "uid_fetch",
        b"a2 UID FETCH 1:* (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To Subject Date)])\r\n",
    ),
    ("uid_store", b"a3 UID STORE 4827 +FLAGS.SILENT (\\Seen $Junk)\r\n"),
    (
        "search",
        b"a4 UID SEARCH SINCE 1-Jan-2026 NOT DELETED OR FROM alice SUBJECT \"report\"\r\n",
    ),
    ("status", b"a5 STATUS \"Sent Items\" (MESSAGES UNSEEN UIDNEXT)\r\n"),
    ("noop", b"a6 NOOP\r\n"),
];

fn smtp_commands(c: &mut Criterion) {
    for (name, wire) in SMTP {
        let line = &wire[..wire.len() - 2];
        let mut g = c.benchmark_group(format!("smtp_command/{name}"));
        g.throughput(Throughput::Bytes(wire.len() as u64));
        g.bench_function("ours", |b| {
            b.iter(|| mailwright_smtp::parse_command(black_box(line)).unwrap())
        });
        g.bench_function("stalwart", |b| {
            b.iter(|| smtp_proto::Request::parse(&mut black_box(*wire).iter()).unwrap())
        });
        g.finish();
    }
}

fn unstuffing(c: &mut Criterion) {
    let wire = stuffed(&body(1 << 20));
    let read = 16 * 1024;
    let mut g = c.benchmark_group("data_unstuff/1MiB_16KiB_reads");
    g.throughput(Throughput::Bytes(wire.len() as u64));
    g.bench_function("ours", |b| {
        b.iter(|| unstuff(&wire, read, BodyRules::default()))
    });
    g.bench_function("stalwart", |b| {
        b.iter(|| {
            let mut receiver = smtp_proto::request::receiver::DataReceiver::new();
            let mut message = Vec::with_capacity(wire.len());
            for piece in wire.chunks(read) {
                if receiver.ingest(&mut piece.iter(), &mut message) {
                    break;
                }
            }
            message.len()
        })
    });
    g.finish();
}

fn imap_commands(c: &mut Criterion) {
    let codec = CommandCodec::default();
    for (name, wire) in IMAP {
        let mut g = c.benchmark_group(format!("imap_command/{name}"));
        g.throughput(Throughput::Bytes(wire.len() as u64));
        g.bench_function("ours", |b| {
            b.iter(|| mailwright_imap::parse_command(black_box(wire)).unwrap())
        });
        g.bench_function("imap-codec", |b| {
            b.iter(|| codec.decode(black_box(wire)).unwrap())
        });
        g.finish();
    }
}

criterion_group!(benches, smtp_commands, unstuffing, imap_commands);
criterion_main!(benches);
