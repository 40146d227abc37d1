//! Sieve: compiling a 50-rule script (what a user's filter list in Roundcube becomes) and
//! running it over one message, the cost paid per delivered copy.

use criterion::{Criterion, criterion_group, criterion_main};
use mailwright_sieve::{Envelope, Limits, NoHost, ParsedMessage, Script};
use std::hint::black_box;

/// 50 rules of the kinds Roundcube writes: header, address and size tests with :contains,
/// :is and :matches, filing into folders and flagging; none matches the message but the last.
fn script() -> String {
    let mut s = String::from(
        "require [\"fileinto\", \"imap4flags\", \"variables\", \"envelope\", \"mailbox\"];\n",
    );
    for i in 0..49 {
        let rule = match i % 5 {
            0 => format!(
                "if header :contains \"subject\" \"project-{i}\" {{ fileinto \"Projects/{i}\"; stop; }}\n"
            ),
            1 => format!(
                "if address :is \"from\" \"person{i}@example.org\" {{ fileinto :create \"People/{i}\"; }}\n"
            ),
            2 => format!(
                "if header :matches \"list-id\" \"*<list{i}.*>\" {{ fileinto \"Lists/{i}\"; stop; }}\n"
            ),
            3 => format!(
                "if anyof (header :contains \"x-spam-flag\" \"YES{i}\", size :over {}M) {{ discard; stop; }}\n",
                10 + i
            ),
            _ => format!(
                "if envelope :domain :is \"from\" \"domain{i}.example\" {{ addflag \"\\\\Flagged\"; }}\n"
            ),
        };
        s.push_str(&rule);
    }
    s.push_str("if header :matches \"subject\" \"Invoice *\" { fileinto \"Invoices/${1}\"; }\n");
    s
}

const MESSAGE: &[u8] = b"Return-Path: <billing@shop.example>\r\n\
Received: from mx.shop.example by mx.example.com; Mon, 1 Dec 2026 10:00:00 +0000\r\n\
From: Billing <billing@shop.example>\r\nTo: Alice <alice@example.com>\r\n\
Subject: Invoice 2026-12\r\nDate: Mon, 1 Dec 2026 10:00:00 +0000\r\n\
Message-ID: <1@shop.example>\r\nContent-Type: text/plain\r\n\r\nPlease pay.\r\n";

fn sieve(c: &mut Criterion) {
    let limits = Limits::default();
    let text = script();
    c.bench_function("sieve/compile 50 rules", |b| {
        b.iter(|| Script::compile(black_box(&text), &limits).map(|s| s.required().len()))
    });
    let compiled = Script::compile(&text, &limits).expect("the bench script compiles");
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
