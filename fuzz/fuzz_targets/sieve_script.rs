//! Any text compiled as a Sieve script, and what compiles run over a message the input also
//! shapes: no panic, and a run stays within its limits (actions, steps) whatever it says.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailwright_sieve::{Envelope, Limits, NoHost, ParsedMessage, RuntimeError, Script};

fuzz_target!(|data: &[u8]| {
    // The script, then (after a NUL) the message.
    let (script, message) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b"From: a@example.org\r\nTo: b@example.com\r\nSubject: Test ?*\r\n\r\nbody\r\n"[..]),
    };
    let Ok(text) = std::str::from_utf8(script) else {
        return;
    };
    let limits = Limits {
        max_steps: 20_000,
        max_nesting: 16,
        ..Limits::default()
    };
    let Ok(script) = Script::compile(text, &limits) else {
        return;
    };
    let message = ParsedMessage::parse(message);
    let envelope = Envelope {
        from: "a@example.org".into(),
        to: "b+detail@example.com".into(),
        auth: None,
    };
    match script.run(&message, &envelope, &NoHost, &limits) {
        Ok(outcome) => assert!(outcome.actions.len() <= limits.max_actions),
        Err(RuntimeError::TooManySteps(n)) => assert_eq!(n, limits.max_steps),
        Err(_) => {}
    }
});
