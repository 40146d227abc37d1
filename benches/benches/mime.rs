//! FETCH BODYSTRUCTURE ENVELOPE: our MIME walker (`mailserver-bin`'s `imap::mime`, which keeps
//! header values raw as IMAP serves them) against mail-parser 0.11 parsing the same message.
//! mail-parser's side is a lower bound on what using it would cost: it parses and decodes
//! every header and body part, and building the two IMAP answers from its result would come
//! on top.
//!
//! Run: `cargo bench -p benches --bench mime -- --noplot`
#![allow(clippy::unwrap_used)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mail_parser::MessageParser;
use mailserver::bench_api::structure_and_envelope;

const HEADER: &str = "Return-Path: <alice@example.org>\r\n\
Received: from mx.example.org (mx.example.org [192.0.2.1])\r\n\tby mail.example.com with ESMTPS id 4XyZ; Tue, 3 Dec 2024 10:00:00 +0000\r\n\
DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.org; s=s1;\r\n\th=from:to:subject:date; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;\r\n\tb=dGVzdA==\r\n\
From: =?UTF-8?Q?Alice_M=C3=BCller?= <alice@example.org>\r\n\
To: Bob <bob@example.com>, \"Carol, C.\" <carol@example.com>\r\n\
Cc: team@example.com\r\n\
Subject: =?UTF-8?B?UXVhcnRlcmx5IHJlcG9ydCDigJMgZmluYWw=?=\r\n\
Date: Tue, 3 Dec 2024 10:00:00 +0000\r\n\
Message-ID: <20241203100000.1234@example.org>\r\n\
In-Reply-To: <20241202090000.99@example.com>\r\n\
References: <20241201080000.1@example.com> <20241202090000.99@example.com>\r\n\
MIME-Version: 1.0\r\n";

fn text_paragraphs(n: usize) -> String {
    "The quarterly figures are attached; see the summary below for the main points.\r\n".repeat(n)
}

fn base64_lines(octets: usize) -> String {
    "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0\r\n"
        .repeat(octets / 57)
}

/// A 4 KB plain-text message, a 60 KB multipart/alternative + one attachment, and a 1 MB
/// message with two attachments and a forwarded message.
fn messages() -> Vec<(&'static str, Vec<u8>)> {
    let plain = format!(
        "{HEADER}Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{}",
        text_paragraphs(45)
    );
    let mixed = format!(
        "{HEADER}Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n\
--outer\r\nContent-Type: multipart/alternative; boundary=\"inner\"\r\n\r\n\
--inner\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{t}\r\n\
--inner\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<p>{t}</p>\r\n\
--inner--\r\n\
--outer\r\nContent-Type: application/pdf; name=\"report.pdf\"\r\nContent-Disposition: attachment; filename=\"report.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{b}\
--outer--\r\n",
        t = text_paragraphs(10),
        b = base64_lines(40_000)
    );
    let large = format!(
        "{HEADER}Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n\
--outer\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{t}\r\n\
--outer\r\nContent-Type: image/jpeg; name=\"photo.jpg\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{b}\
--outer\r\nContent-Type: message/rfc822\r\n\r\n{HEADER}Content-Type: text/plain\r\n\r\n{t}\r\n\
--outer\r\nContent-Type: application/zip; name*=UTF-8''r%C3%A9sum%C3%A9.zip\r\nContent-Transfer-Encoding: base64\r\n\r\n{b}\
--outer--\r\n",
        t = text_paragraphs(20),
        b = base64_lines(350_000)
    );
    vec![
        ("plain_4KB", plain.into_bytes()),
        ("mixed_60KB", mixed.into_bytes()),
        ("mixed_1MB", large.into_bytes()),
    ]
}

fn structure(c: &mut Criterion) {
    let mut g = c.benchmark_group("bodystructure_envelope");
    for (name, message) in messages() {
        g.throughput(Throughput::Bytes(message.len() as u64));
        g.bench_function(format!("ours/{name}"), |b| {
            b.iter(|| structure_and_envelope(&message))
        });
        g.bench_function(format!("mail-parser/{name}"), |b| {
            b.iter(|| {
                let parsed = MessageParser::default().parse(&message).unwrap();
                std::hint::black_box(parsed.subject());
                parsed.parts.len()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, structure);
criterion_main!(benches);
