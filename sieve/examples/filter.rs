//! Runs a Sieve script over a message, as a mail server would at delivery, and prints what
//! it decided.
//!
//! `cargo run -p mailwright-sieve --example filter -- SCRIPT MESSAGE [SENDER RECIPIENT]`

use mailwright_sieve::{Envelope, Limits, NoHost, ParsedMessage, Script};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [script, message, rest @ ..] = args.as_slice() else {
        return Err("usage: filter SCRIPT MESSAGE [SENDER RECIPIENT]".into());
    };
    let limits = Limits::default();
    // Errors say where: "line 3, column 5: unknown command \"filinto\"".
    let script = Script::compile(&std::fs::read_to_string(script)?, &limits)?;
    let message = ParsedMessage::parse(&std::fs::read(message)?);
    let envelope = Envelope {
        from: rest.first().cloned().unwrap_or_default(),
        to: rest
            .get(1)
            .cloned()
            .unwrap_or_else(|| "user@example.com".into()),
        auth: None,
    };
    let outcome = script.run(&message, &envelope, &NoHost, &limits)?;
    for action in &outcome.actions {
        println!("{action:?}");
    }
    if outcome.implicit_keep {
        println!("implicit keep, flags {:?}", outcome.keep_flags);
    }
    Ok(())
}
