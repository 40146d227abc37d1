//! The IMAP command parser on arbitrary input: no panic, and whatever it accepts, the client
//! encoder writes back in a form it parses to the same command.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(Ok(head)) = imap_proto::parse::parse_append_head(data) {
        assert_eq!(imap_proto::parse::frame_tag(data), Some(head.tag));
    }
    if let Ok((tag, command)) = imap_proto::parse_command(data) {
        let wire = command.encode(&tag);
        let (again_tag, again) = imap_proto::parse_command(&wire).unwrap_or_else(|e| {
            panic!(
                "{e}: {:?} from {:?}",
                String::from_utf8_lossy(&wire),
                command
            )
        });
        assert_eq!(again_tag, tag);
        assert_eq!(again, command);
    }
});
