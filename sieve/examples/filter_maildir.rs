//! Runs a Sieve script over every message of a Maildir (`cur/` and `new/`), as Pigeonhole's
//! `sieve-filter` does in its dry run: nothing is moved, each message's outcome is counted.
//! `benches/sieve-filter.sh` times it against `sieve-filter` on the same messages.
//!
//! `cargo run -p mailwright-sieve --example filter_maildir -- SCRIPT MAILDIR`

use std::collections::BTreeMap;

use mailwright_sieve::{Action, Envelope, Limits, NoHost, ParsedMessage, Script};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [script, maildir] = args.as_slice() else {
        return Err("usage: filter_maildir SCRIPT MAILDIR".into());
    };
    let limits = Limits::default();
    let script = Script::compile(&std::fs::read_to_string(script)?, &limits)?;
    let mut files = Vec::new();
    for sub in ["cur", "new"] {
        for entry in std::fs::read_dir(std::path::Path::new(maildir).join(sub))? {
            files.push(entry?.path());
        }
    }
    files.sort();
    let envelope = Envelope {
        from: String::new(),
        to: "user@example.com".into(),
        auth: None,
    };
    // Where the messages would go: "keep" or the folder.
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    for path in &files {
        let message = ParsedMessage::parse(&std::fs::read(path)?);
        let outcome = script.run(&message, &envelope, &NoHost, &limits)?;
        for action in &outcome.actions {
            let place = match action {
                Action::FileInto { mailbox, .. } => mailbox.clone(),
                Action::Keep { .. } => "keep".into(),
                Action::Discard => "discard".into(),
                _ => continue,
            };
            *outcomes.entry(place).or_default() += 1;
        }
        if outcome.implicit_keep {
            *outcomes.entry("keep".into()).or_default() += 1;
        }
    }
    println!("{} messages", files.len());
    for (place, n) in outcomes {
        println!("{n:>8}  {place}");
    }
    Ok(())
}
