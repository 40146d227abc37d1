//! The embedder's side of the example IMAP servers (which only move bytes): user `alice`
//! (password `secret`), one INBOX in memory for every connection; `mailbox.rs` answers commands.
use mailwright_imap::{Atom, Code, Config, Event, Flag, Refusal, ServerSession, Status};

mod fetch;
mod flags;
mod mailbox;
mod select;
mod store;

pub use store::{Shared, inbox};

/// A session for one connection, with IDLE; no TLS, so plaintext login (loopback only).
pub fn new_session() -> ServerSession {
    let mut config = Config::new("IMAP example ready");
    config.allow_plaintext_auth = true;
    config.capabilities = Atom::new("IDLE").into_iter().collect(); // a valid atom: never empty
    ServerSession::new(config)
}

/// One connection: the shared INBOX, and an APPEND being received.
#[derive(Debug)]
pub struct Connection {
    /// The INBOX.
    pub inbox: Shared,
    /// Messages this connection has announced with EXISTS.
    pub known: u32,
    /// The flags and octets of the message being appended.
    pub append: (Vec<Flag>, Vec<u8>),
}

impl Connection {
    /// Answers every event the session has, after each `receive` and before writing out the
    /// output. No event may go unanswered: the session waits for the answer.
    pub fn answer(&mut self, session: &mut ServerSession) {
        while let Some(event) = session.poll_event() {
            let mut inbox = self.inbox.lock().expect("not poisoned");
            let answered = match event {
                Event::Login {
                    username, password, ..
                } => session.auth_finish(if username == "alice" && password.expose() == "secret" {
                    Ok(())
                } else {
                    Err(Refusal::auth_failed())
                }),
                Event::Command { command, .. } => {
                    mailbox::answer(session, command, &mut inbox, &mut self.known)
                }
                Event::AppendStart(head) if head.mailbox.is_inbox() => {
                    self.append = (head.flags, Vec::new());
                    session.accept_append()
                }
                Event::AppendStart(_) => {
                    session.reject_append(Some(Code::TryCreate), "No such mailbox")
                }
                Event::AppendChunk(chunk) => {
                    self.append.1.extend_from_slice(&chunk);
                    Ok(())
                }
                Event::AppendEnd => {
                    let (flags, body) = std::mem::take(&mut self.append);
                    let uid = inbox.store(flags, body);
                    let code = Code::AppendUid(store::UIDVALIDITY, uid);
                    session.complete(Status::Ok, Some(code), "APPEND completed")
                }
                Event::AppendAborted => {
                    self.append.1.clear();
                    Ok(())
                }
                // While idling, new mail would be pushed with `session.send` as it arrives.
                Event::Idle { .. } => session.idle_accept(),
                Event::IdleDone => select::report_new(session, &inbox, &mut self.known)
                    .and_then(|()| session.complete(Status::Ok, None, "IDLE terminated")),
                Event::StartTls => unreachable!("STARTTLS is not offered without a certificate"),
                Event::Logout => Ok(()),
            };
            answered.expect("each event is answered once");
        }
    }
}
