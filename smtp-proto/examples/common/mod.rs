//! The embedder's side of the example servers: what each event is answered with. The two
//! servers (`*_tokio_server.rs`, `*_blocking_server.rs`) only move bytes and share this.
use mailwright_smtp::{Config, Event, Reply, ServerSession};

/// A session for one connection: no TLS, no AUTH.
pub fn new_session() -> ServerSession {
    let mut config = Config::new("mx.example.com");
    config.starttls = false; // no certificate in these examples
    ServerSession::new(config)
}

/// One connection's transaction so far.
#[derive(Debug, Default)]
pub struct Mail {
    from: String,
    to: Vec<String>,
    body: Vec<u8>,
}

impl Mail {
    /// Answers every event the session has. Call it after each `receive` and before writing
    /// out the output: the session waits for each decision.
    pub fn answer(&mut self, session: &mut ServerSession) {
        while let Some(event) = session.poll_event() {
            let answered = match event {
                Event::Helo { .. } | Event::MessageStart { .. } => session.accept(),
                Event::MailFrom { from, .. } => {
                    (self.from, self.to) = (from.to_string(), Vec::new());
                    session.accept()
                }
                Event::RcptTo { to, .. } => {
                    self.to.push(to.to_string());
                    session.accept()
                }
                Event::MessageChunk(chunk) => {
                    self.body.extend_from_slice(&chunk);
                    Ok(())
                }
                Event::MessageEnd { size } => {
                    // A real server stores `self.body` durably here, before answering 250.
                    println!("from {} to {:?}: {size} octets", self.from, self.to);
                    self.body.clear();
                    session.finish_message(Reply::queued("1"))
                }
                Event::MessageAborted { .. } | Event::Reset | Event::Quit => {
                    self.body.clear();
                    Ok(())
                }
                // Never sent: the config enables none of STARTTLS, AUTH, VRFY and EXPN.
                Event::StartTls
                | Event::Authenticate { .. }
                | Event::Verify(_)
                | Event::Expand(_) => unreachable!("not enabled"),
            };
            answered.expect("each event is answered once");
        }
    }
}
