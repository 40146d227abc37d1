//! The IMAP command parser on arbitrary input, with modified UTF-7 and with UTF-8 mailbox
//! names: no panic, and whatever it accepts, the client encoder writes back in a form the
//! default parser reads as the same command.
#![no_main]

use mailwright_imap::ParseOptions;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for utf8_names in [false, true] {
        let options = ParseOptions { utf8_names };
        if let Some(Ok(head)) = mailwright_imap::fuzzing::parse_append_head(data, options) {
            assert_eq!(mailwright_imap::fuzzing::frame_tag(data), Some(head.tag));
        }
        if let Ok((tag, command)) = mailwright_imap::parse_command_with(data, options) {
            let wire = command.encode(&tag);
            let (again_tag, again) = mailwright_imap::parse_command(&wire).unwrap_or_else(|e| {
                panic!(
                    "{e}: {:?} from {:?}",
                    String::from_utf8_lossy(&wire),
                    command
                )
            });
            assert_eq!(again_tag, tag);
            assert_eq!(again, command);
        }
    }
});
