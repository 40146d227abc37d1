//! Properties: the session reads the same commands and says the same things however the
//! client's bytes are cut into reads, and never panics on any input.
#![allow(clippy::unwrap_used)]

use mailwright_managesieve::{Config, Event, Response, ServerSession};
use proptest::prelude::*;

const TRANSCRIPT: &[u8] = b"CAPABILITY\r\nAUTHENTICATE \"PLAIN\" \"AGFsaWNlAHNlY3JldA==\"\r\n\
PUTSCRIPT \"main\" {13+}\r\nkeep;\r\nstop;\r\n\
LISTSCRIPTS\r\nSETACTIVE \"main\"\r\nGETSCRIPT \"main\"\r\nHAVESPACE \"x\" 100\r\n\
RENAMESCRIPT \"main\" \"other\"\r\nCHECKSCRIPT {5+}\r\nkeep;\r\nDELETESCRIPT \"other\"\r\n\
NOOP \"t\"\r\nLOGOUT\r\n";

/// Runs the session over `input` cut at `cuts`; what it said and the events it gave.
fn run(input: &[u8], cuts: &[usize]) -> (Vec<u8>, Vec<Event>) {
    let mut config = Config::new("test", vec!["fileinto".into()]);
    config.allow_plaintext_auth = true;
    let mut session = ServerSession::new(config);
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    points.push(input.len());
    points.sort_unstable();
    let (mut out, mut events, mut at) = (Vec::new(), Vec::new(), 0);
    let mut pending: Vec<u8> = Vec::new();
    for point in points {
        pending.extend_from_slice(&input[at..point]);
        at = point;
        loop {
            while let Some(event) = session.poll_event() {
                let _ = match &event {
                    Event::Login(c) => session.auth_finish(Ok(c.username.clone())),
                    Event::ListScripts => session.answer_list(&[("main".into(), true)]),
                    Event::GetScript { .. } => session.answer_script(b"keep;\r\n"),
                    _ => session.answer(Response::ok("done")),
                };
                events.push(event);
            }
            while let Some(o) = session.poll_output() {
                out.extend_from_slice(&o);
            }
            let room = session.input_capacity().min(pending.len());
            if room == 0 || session.is_closed() {
                break;
            }
            let now: Vec<u8> = pending.drain(..room).collect();
            session.receive(&now).unwrap();
        }
    }
    (out, events)
}

proptest! {
    #[test]
    fn any_cutting_reads_the_same(cuts in proptest::collection::vec(any::<usize>(), 0..20)) {
        let whole = run(TRANSCRIPT, &[]);
        prop_assert_eq!(whole.1.len(), 9);
        prop_assert!(whole.0.ends_with(b"OK \"Logout completed\"\r\n"));
        prop_assert_eq!(run(TRANSCRIPT, &cuts), whole);
    }

    #[test]
    fn any_input_is_answered_without_panic(input in proptest::collection::vec(any::<u8>(), 0..600)) {
        let (out, _) = run(&input, &[7, 100]);
        // Every line the server wrote is one of its forms.
        let text = String::from_utf8_lossy(&out);
        for line in text.split("\r\n").filter(|l| !l.is_empty()) {
            prop_assert!(
                line.starts_with('"') || line.starts_with("OK") || line.starts_with("NO")
                    || line.starts_with("BYE") || line.starts_with('{') || line.starts_with("keep;"),
                "{}", line
            );
        }
    }
}
