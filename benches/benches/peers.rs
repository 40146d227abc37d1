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
//! Measured 2026-12-04 (`ROUNDS=3 benches/parsers.sh`, this 2-core machine), peer time / our
//! time, above 1 = ours faster: SMTP DATA/RSET/QUIT 0.93-0.98, EHLO 0.75-0.80, AUTH
//! 0.70-0.72, MAIL and RCPT 0.48-0.62 (all were 0.36-0.61 before the hand-written
//! scanners); DATA unstuffing 0.81 (was 0.41-0.44); IMAP search 4.38-4.61, uid_fetch
//! 2.86-2.97, uid_store 2.86-2.91, select 2.21-2.31, status 1.75-1.81, noop 1.47-1.48 (were
//! 0.95-3.72). What is left for SMTP is mostly allocation: a
//! mailbox is two owned strings (local part, host) where Stalwart's is one.

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
