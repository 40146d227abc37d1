//! The DATA decoder gives the same content, end and defect however the input is split, under
//! each bare-line-ending policy; normalizing leaves no bare LF in the content.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use mailwright_smtp::{BodyRules, DataDecoder, DataItem};
use mailwright_smtp::DefectPolicy;

type Decoded = (Vec<u8>, Option<usize>, Option<mailwright_smtp::BodyDefect>);

fn decode(input: &[u8], step: usize, bare: DefectPolicy) -> Decoded {
    let mut decoder = DataDecoder::new(BodyRules {
        max_size: 1000,
        bare_line_ending: bare,
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
    let bare = match data[0] >> 4 {
        0..=4 => DefectPolicy::Reject,
        5..=9 => DefectPolicy::Allow,
        _ => DefectPolicy::Normalize,
    };
    let input = &data[1..];
    let whole = decode(input, input.len().max(1), bare);
    let split = decode(input, step, bare);
    if bare == DefectPolicy::Normalize && whole.2.is_none() {
        for (i, &b) in whole.0.iter().enumerate() {
            assert!(b != b'\n' || (i > 0 && whole.0[i - 1] == b'\r'), "bare LF at {i}");
        }
    }
    if whole.2.is_none() {
        assert_eq!(whole.0, split.0);
    }
    assert_eq!(whole.1, split.1);
    assert_eq!(whole.2, split.2);
});
