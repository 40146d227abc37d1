//! The server side of AUTH PLAIN (with an initial response, as SMTP's `AUTH PLAIN <b64>` or
//! IMAP's SASL-IR send it) and AUTH LOGIN (two challenges), as a protocol crate drives them:
//! the crate frames the lines (`334 ` in SMTP, `+ ` in IMAP and POP3) and checks the password.
//!
//! `cargo run -p mailwright-sasl --example sasl_exchanges`
use mailwright_sasl::{Exchange, Mechanism, Progress, SaslError};

/// Runs one exchange with the client's base64 lines, printing what the server would send.
fn run(mechanism: Mechanism, initial: Option<&str>, mut lines: &[&str]) -> Result<(), SaslError> {
    let mut progress = Exchange::start(mechanism, initial)?;
    loop {
        match progress {
            Progress::Challenge(exchange, prompt) => {
                println!("S: 334 {prompt}");
                let (line, rest) = lines.split_first().expect("the client has an answer");
                println!("C: {line}");
                lines = rest;
                progress = exchange.respond(line.as_bytes())?;
            }
            Progress::Done(credentials) => {
                // The embedder checks the password now (never logging it: it is a Secret).
                let ok = credentials.password.expose() == "secret";
                println!(
                    "authenticated {:?}: {}",
                    credentials.username,
                    if ok { "235" } else { "535" }
                );
                return Ok(());
            }
        }
    }
}

fn main() -> Result<(), SaslError> {
    // "\0alice\0secret" in base64, sent with the command.
    run(Mechanism::Plain, Some("AGFsaWNlAHNlY3JldA=="), &[])?;
    // "alice", then "secret", each after a challenge.
    run(Mechanism::Login, None, &["YWxpY2U=", "c2VjcmV0"])?;
    // A client that cancels with "*" gets an error, which the protocol crate answers (501).
    let cancelled = run(Mechanism::Login, None, &["*"]);
    println!("cancelled: {cancelled:?}");
    assert!(cancelled.is_err());
    Ok(())
}
