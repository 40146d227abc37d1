//! The embedder's side of the example servers: user `alice`, password `secret`, and one
//! maildrop in memory, shared by every connection (DELE then QUIT really removes). The two
//! servers (`*_tokio_server.rs`, `*_blocking_server.rs`) only move bytes and share this.
use std::sync::{Arc, Mutex};

use mailwright_pop3::{Config, Event, MessageInfo, Response, ServerSession};

/// The maildrop: (unique id, message with CRLF line ends).
pub type Maildrop = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// Three small messages.
pub fn maildrop() -> Maildrop {
    let message = |i| {
        (
            format!("uid-{i}"),
            format!("Subject: {i}\r\n\r\n.Body {i}\r\n").into(),
        )
    };
    Arc::new(Mutex::new((1..=3).map(message).collect()))
}

/// A session for one connection; no TLS here, so plaintext login is allowed (loopback only).
pub fn new_session() -> ServerSession {
    let mut config = Config::new("POP3 example ready");
    config.allow_plaintext_auth = true;
    ServerSession::new(config)
}

/// One connection's view of the maildrop.
#[derive(Debug)]
pub struct Connection {
    /// The maildrop as listed at login: the session numbers messages by this listing.
    pub listed: Vec<(String, Vec<u8>)>,
    /// The maildrop itself.
    pub maildrop: Maildrop,
}

impl Connection {
    /// Answers every event the session has, after each `receive` and before writing out the
    /// output. STAT, LIST, UIDL, DELE, RSET and NOOP the session answers itself.
    pub fn answer(&mut self, session: &mut ServerSession) {
        while let Some(event) = session.poll_event() {
            let answered = match event {
                Event::Authenticate {
                    username, password, ..
                } => {
                    if username == "alice" && password.expose() == "secret" {
                        self.listed = self.maildrop.lock().expect("not poisoned").clone();
                        // A size is what RETR sends: CRLF line ends, before dot-stuffing.
                        let info = self.listed.iter().map(|(uid, message)| {
                            MessageInfo::new(message.len() as u64, uid.as_str()).expect("valid")
                        });
                        session.auth_finish(Ok(info.collect()))
                    } else {
                        session.auth_finish(Err(Response::auth_failed()))
                    }
                }
                // The session dot-stuffs and cuts TOP short; a large message goes in chunks.
                Event::Retrieve { index, .. } => (|| {
                    session.retrieve_begin()?;
                    session.retrieve_chunk(&self.listed[index].1)?;
                    session.retrieve_end()
                })(),
                Event::Commit { deleted } => {
                    let mut maildrop = self.maildrop.lock().expect("not poisoned");
                    maildrop.retain(|(uid, _)| !deleted.iter().any(|d| d.uid == *uid));
                    session.commit_finish(Ok(()))
                }
                Event::Quit => Ok(()),
                Event::StartTls => unreachable!("STLS is not offered (config.stls is false)"),
            };
            answered.expect("each event is answered once");
        }
    }
}
