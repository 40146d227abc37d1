//! The BODYSTRUCTURE decoder on arbitrary input (a damaged cache file, a server's response):
//! no panic, and whatever it reads, the encoder writes in a form that reads back the same.
#![no_main]

use mailwright_imap::BodyStructure;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(structure) = BodyStructure::decode(data) {
        let wire = structure.encode();
        let again = BodyStructure::decode(&wire).unwrap_or_else(|e| {
            panic!("{e}: {:?} from {structure:?}", String::from_utf8_lossy(&wire))
        });
        assert_eq!(again, structure);
    }
});
