//! SMTP hot paths, reported as throughput (MB/s): command parsing, DATA decoding at several
//! read sizes, dot-stuffing, a whole pipelined session replayed through the server state
//! machine, and the client session sending messages (DATA and BDAT) to a scripted relay.
//!
//! Run: `cargo bench -p benches --bench smtp -- --noplot`

#![allow(clippy::unwrap_used)]

use benches::{body, stuffed, unstuff};
use bytes::BytesMut;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mailwright_smtp::{BodyRules, DotStuffer};
use mailwright_smtp::{
    ClientConfig, ClientEvent, ClientSession, Config, Envelope, Event, ForwardPath, Host,
    MailParams, Mailbox, RcptParams, Reply, ReversePath, ServerSession, TlsPolicy, parse_command,
};
use std::hint::black_box;

const SIMPLE: &[u8] = b"RCPT TO:<alice@example.com>";
const COMPLEX: &[u8] = b"MAIL FROM:<\"john q. public\"@[IPv6:2001:db8::1]> SIZE=1048576 BODY=8BITMIME SMTPUTF8 AUTH=<>";

fn parse(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse_command");
    for (name, line) in [("simple", SIMPLE), ("complex", COMPLEX)] {
        g.throughput(Throughput::Bytes(line.len() as u64));
        g.bench_function(name, |b| b.iter(|| parse_command(black_box(line)).unwrap()));
    }
    g.finish();
}

fn data(c: &mut Criterion) {
    let wire = stuffed(&body(10 << 20));
    let mut g = c.benchmark_group("data_decode");
    g.sample_size(20);
    g.throughput(Throughput::Bytes(wire.len() as u64));
    for read in [1024usize, 16 * 1024, 64 * 1024] {
        g.bench_with_input(BenchmarkId::from_parameter(read), &read, |b, &read| {
            b.iter(|| {
                let rules = BodyRules {
                    max_line: 0,
                    ..BodyRules::default()
                };
                unstuff(&wire, read, rules)
            })
        });
    }
    g.finish();
    let plain = body(10 << 20);
    let mut g = c.benchmark_group("dot_stuff");
    g.sample_size(20);
    g.throughput(Throughput::Bytes(plain.len() as u64));
    g.bench_function("10MiB", |b| {
        b.iter(|| {
            let mut out = BytesMut::with_capacity(plain.len() + plain.len() / 50);
            let mut s = DotStuffer::new();
            s.stuff(black_box(&plain), &mut out);
            s.finish(&mut out);
            out.len()
        })
    });
    g.finish();
}

fn session(c: &mut Criterion) {
    let mut input = b"EHLO client.example.org\r\n".to_vec();
    let message = stuffed(&body(4 * 1024));
    for _ in 0..100 {
        input.extend_from_slice(b"MAIL FROM:<sender@example.org> SIZE=5000\r\nRCPT TO:<alice@example.com>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n");
        input.extend_from_slice(&message);
    }
    input.extend_from_slice(b"QUIT\r\n");
    let mut g = c.benchmark_group("session");
    g.throughput(Throughput::Bytes(input.len() as u64));
    g.bench_function("100_messages_4KiB_pipelined", |b| {
        b.iter(|| {
            let mut s = ServerSession::new(Config::new("mx.example.com"));
            let mut rest = &input[..];
            let mut out = 0usize;
            loop {
                while let Some(event) = s.poll_event() {
                    match event {
                        Event::MessageEnd { .. } => s.finish_message(Reply::queued("Q")).unwrap(),
                        Event::MessageChunk(c) => out += c.len(),
                        Event::Quit => {}
                        _ => s.accept().unwrap(),
                    }
                }
                while let Some(o) = s.poll_output() {
                    out += o.len();
                }
                if rest.is_empty() || s.is_closed() {
                    return out;
                }
                let n = s.input_capacity().min(16 * 1024).min(rest.len());
                s.receive(&rest[..n]).unwrap();
                rest = &rest[n..];
            }
        })
    });
    g.finish();
}

/// The client's side of a relay: 100 messages of 4 KiB to two recipients, the server's
/// replies scripted, pipelined; what goes out is counted.
fn client(c: &mut Criterion) {
    let message = body(4 * 1024);
    let host = |s: &str| Host::parse(s).unwrap();
    let envelope = Envelope {
        from: ReversePath::Mailbox(Mailbox::new("sender", host("example.org")).unwrap()),
        params: MailParams {
            size: Some(message.len() as u64),
            ..MailParams::default()
        },
        recipients: ["alice", "bob"]
            .iter()
            .map(|u| {
                let to = Mailbox::new(*u, host("example.com")).unwrap();
                (ForwardPath::Mailbox(to), RcptParams::default())
            })
            .collect(),
    };
    let mut g = c.benchmark_group("client");
    g.throughput(Throughput::Bytes(100 * message.len() as u64));
    for chunking in [false, true] {
        let name = if chunking {
            "100_messages_4KiB_bdat"
        } else {
            "100_messages_4KiB_data"
        };
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut config = ClientConfig::new(host("relay.example.org"));
                config.tls = TlsPolicy::None;
                config.chunking = chunking;
                let mut s = ClientSession::new(config);
                s.receive(
                    b"220 mx\r\n250-mx\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 8BITMIME\r\n",
                );
                let mut sent = 0usize;
                let mut left = 100;
                loop {
                    match s.poll_event() {
                        Some(ClientEvent::Ready) if left > 0 => {
                            left -= 1;
                            s.send_message(envelope.clone()).unwrap();
                            s.receive(b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n");
                            if !chunking {
                                s.receive(b"354 go\r\n");
                            }
                        }
                        Some(ClientEvent::Ready) => return sent,
                        Some(ClientEvent::SendBody) => {
                            s.send_body(&message).unwrap();
                            s.end_body().unwrap();
                            if chunking {
                                s.receive(b"250 2.0.0 chunk\r\n");
                            }
                            s.receive(b"250 2.0.0 Ok: queued\r\n");
                        }
                        Some(_) => {}
                        None => panic!("client stalled"),
                    }
                    while let Some(o) = s.poll_output() {
                        sent += black_box(o.len());
                    }
                }
            })
        });
    }
    g.finish();
}

criterion_group!(benches, parse, data, session, client);
criterion_main!(benches);
