//! Canonical re-parse: whatever parses, encodes to a line that parses to the same command.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use mailwright_smtp::parse_command;

fuzz_target!(|data: &[u8]| {
    if let Ok(command) = parse_command(data) {
        let mut encoded = BytesMut::new();
        command.encode(&mut encoded);
        let line = &encoded[..encoded.len() - 2];
        assert_eq!(
            parse_command(line),
            Ok(command),
            "{:?}",
            String::from_utf8_lossy(line)
        );
    }
});
