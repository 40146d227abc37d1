//! Sieve: compiling a 50-rule script (what a user's filter list in Roundcube becomes) and
//! running it over one message, the cost paid per delivered copy.

use criterion::{Criterion, criterion_group, criterion_main};
use mailwright_sieve::{Envelope, Limits, NoHost, ParsedMessage, Script};
use std::hint::black_box;

/// 50 rules of the kinds Roundcube writes: header, address and size tests with :contains,
/// :is and :matches, filing into folders and flagging; none matches the message but the last.
/// `benches/sieve-filter.sh` runs the same file under Pigeonhole.
const SCRIPT: &str = include_str!("../sieve-50-rules.sieve");

const MESSAGE: &[u8] = b"Return-Path: <billing@shop.example>\r\n\
Received: from mx.shop.example by mx.example.com; Mon, 1 Dec 2026 10:00:00 +0000\r\n\
From: Billing <billing@shop.example>\r\nTo: Alice <alice@example.com>\r\n\
Subject: Invoice 2026-12\r\nDate: Mon, 1 Dec 2026 10:00:00 +0000\r\n\
Message-ID: <1@shop.example>\r\nContent-Type: text/plain\r\n\r\nPlease pay.\r\n";

fn sieve(c: &mut Criterion) {
    let limits = Limits::default();
    let text = SCRIPT;
    c.bench_function("sieve/compile 50 rules", |b| {
        b.iter(|| Script::compile(black_box(text), &limits).map(|s| s.required().len()))
    });
    let compiled = Script::compile(text, &limits).expect("the bench script compiles");
    let message = ParsedMessage::parse(MESSAGE);
    let envelope = Envelope {
        from: "billing@shop.example".into(),
        to: "alice@example.com".into(),
        auth: None,
    };
    c.bench_function("sieve/run 50 rules", |b| {
        b.iter(|| {
            compiled
                .run(black_box(&message), &envelope, &NoHost, &limits)
                .map(|o| o.actions.len())
        })
    });
    c.bench_function("sieve/parse message + run 50 rules", |b| {
        b.iter(|| {
            let message = ParsedMessage::parse(black_box(MESSAGE));
            compiled
                .run(&message, &envelope, &NoHost, &limits)
                .map(|o| o.actions.len())
        })
    });
}

criterion_group!(benches, sieve);
criterion_main!(benches);
