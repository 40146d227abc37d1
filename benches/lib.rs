//! Helpers shared by the benchmarks: the mail-like body the DATA benches feed, and the loop
//! that unstuffs it as a session would.

use bytes::BytesMut;
use mailwright_smtp::{BodyRules, DataDecoder, DataItem, DotStuffer};

/// `size` octets or a little more of mail-like lines ending in CRLF, a fifth of them starting
/// with a dot.
pub fn body(size: usize) -> Vec<u8> {
    lines(Vec::new(), size, b"\r\n")
}

/// `out` grown to `size` octets or a little more with mail-like lines ending in `eol`, a
/// fifth of them starting with a dot.
pub fn lines(mut out: Vec<u8>, size: usize, eol: &[u8]) -> Vec<u8> {
    out.reserve(size + 100);
    let mut i = 0;
    while out.len() < size {
        if i % 5 == 0 {
            out.push(b'.');
        }
        out.extend_from_slice(
            b"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor",
        );
        out.extend_from_slice(eol);
        i += 1;
    }
    out
}

/// `body` as it travels after DATA: dot-stuffed, with the terminating CRLF.CRLF.
pub fn stuffed(body: &[u8]) -> Vec<u8> {
    let mut wire = BytesMut::new();
    let mut s = DotStuffer::new();
    s.stuff(body, &mut wire);
    s.finish(&mut wire);
    wire.to_vec()
}

/// Unstuffs `wire` arriving in reads of `read` octets, as the session does; the content's
/// length.
pub fn unstuff(wire: &[u8], read: usize, rules: BodyRules) -> usize {
    let mut decoder = DataDecoder::new(rules);
    let mut buf = BytesMut::with_capacity(read * 2);
    let mut total = 0usize;
    for piece in wire.chunks(read) {
        buf.extend_from_slice(piece);
        while let Some(item) = decoder.decode(&mut buf) {
            match item {
                DataItem::Chunk(chunk) => total += chunk.len(),
                DataItem::End => return total,
            }
        }
    }
    total
}
