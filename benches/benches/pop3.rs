//! POP3 hot path, as throughput: streaming a stored message out as a RETR response
//! (LF to CRLF, dot-stuffing), at several read sizes, and a TOP that stops early.
//!
//! Run: `cargo bench -p benches --bench pop3 -- --noplot`
#![allow(clippy::unwrap_used)]

use bytes::BytesMut;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mailwright_pop3::MessageEncoder;

/// A 10 MiB Maildir file with LF line ends, a fifth of its lines starting with a dot.
fn stored_message(size: usize) -> Vec<u8> {
    benches::lines(
        b"From: a@example.org\nSubject: bench\n\n".to_vec(),
        size,
        b"\n",
    )
}

fn retr(c: &mut Criterion) {
    let message = stored_message(10 << 20);
    let mut g = c.benchmark_group("pop3_retr_encode");
    g.sample_size(20);
    g.throughput(Throughput::Bytes(message.len() as u64));
    for read in [4096usize, 64 * 1024] {
        g.bench_with_input(BenchmarkId::from_parameter(read), &read, |b, &read| {
            let mut out = BytesMut::with_capacity(read * 2);
            b.iter(|| {
                let mut encoder = MessageEncoder::new(None);
                let mut sent = 0usize;
                for chunk in message.chunks(read) {
                    encoder.encode(chunk, &mut out);
                    // The driver hands each batch to the socket; model that by draining.
                    sent += out.split().len();
                }
                encoder.finish(&mut out);
                sent + out.split().len()
            })
        });
    }
    g.finish();
    // TOP stops reading once it has its lines: time, not throughput, is the measure.
    let mut g = c.benchmark_group("pop3_top");
    g.bench_function("top_0_of_10MiB", |b| {
        b.iter(|| {
            let mut encoder = MessageEncoder::new(Some(0));
            let mut out = BytesMut::new();
            for chunk in message.chunks(64 * 1024) {
                encoder.encode(chunk, &mut out);
                if encoder.is_satisfied() {
                    break;
                }
            }
            encoder.finish(&mut out);
            out.len()
        })
    });
    g.finish();
}

criterion_group!(benches, retr);
criterion_main!(benches);
