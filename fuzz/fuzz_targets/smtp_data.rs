//! The DATA decoder gives the same content, end and defect however the input is split.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use smtp_proto::frame::{BodyRules, DataDecoder, DataItem};

fn decode(input: &[u8], step: usize) -> (Vec<u8>, Option<usize>, Option<smtp_proto::BodyDefect>) {
    let mut decoder = DataDecoder::new(BodyRules {
        max_size: 1000,
        ..BodyRules::default()
    });
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut fed = 0;
    while fed < input.len() {
        let n = step.min(input.len() - fed);
        buf.extend_from_slice(&input[fed..fed + n]);
        fed += n;
        while let Some(item) = decoder.decode(&mut buf) {
            match item {
                DataItem::Chunk(c) => out.extend_from_slice(&c),
                DataItem::End => return (out, Some(fed - buf.len()), decoder.defect()),
            }
        }
        // Only a line-initial ".", ".\r" or nothing may be held back.
        assert!(buf.len() <= 2, "decoder kept {} octets", buf.len());
    }
    (out, None, decoder.defect())
}

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        return;
    }
    let step = usize::from(data[0] % 16) + 1;
    let input = &data[1..];
    let whole = decode(input, input.len().max(1));
    let split = decode(input, step);
    if whole.2.is_none() {
        assert_eq!(whole.0, split.0);
    }
    assert_eq!(whole.1, split.1);
    assert_eq!(whole.2, split.2);
});
