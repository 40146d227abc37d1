//! LIST and SELECT/EXAMINE in the example IMAP servers, and news of new messages.
use mailwright_imap::{AnswerError, Atom, Code, Response, ServerSession, State, Status, Text};

use super::store::{FLAGS, Inbox, UIDVALIDITY};

/// LIST: only INBOX exists (and `""`, which asks for the hierarchy delimiter).
pub fn list(s: &mut ServerSession, patterns: &[String]) -> Result<(), AnswerError> {
    for pattern in patterns {
        let (attributes, mailbox) = match pattern.as_str() {
            "" => (vec![Atom::new("Noselect").expect("valid")], String::new()), // the delimiter
            "*" | "%" => (Vec::new(), "INBOX".into()),
            name if name.eq_ignore_ascii_case("INBOX") => (Vec::new(), "INBOX".into()),
            _ => continue,
        };
        s.send(&Response::List {
            attributes,
            delimiter: Some('/'),
            mailbox,
            lsub: false,
            extended: Vec::new(),
        })?;
    }
    s.complete(Status::Ok, None, "LIST completed")
}

/// SELECT or EXAMINE of INBOX.
pub fn select(
    s: &mut ServerSession,
    examine: bool,
    inbox: &Inbox,
    known: &mut u32,
) -> Result<(), AnswerError> {
    // The whole answer clients expect (RFC 9051 §6.3.2); OK enters the Selected state.
    *known = inbox.messages.len() as u32;
    s.send(&Response::Flags(FLAGS.to_vec()))?;
    s.send(&Response::Exists(*known))?;
    s.send(&Response::Recent(0))?;
    let codes = [
        Code::UidValidity(UIDVALIDITY),
        Code::UidNext(inbox.uid_next),
        Code::PermanentFlags {
            flags: FLAGS.to_vec(),
            new_keywords: false,
        },
    ];
    for code in codes {
        s.send(&Response::Untagged {
            status: Status::Ok,
            code: Some(code),
            text: Text::new("Ok").expect("valid"),
        })?;
    }
    let access = if examine {
        Code::ReadOnly
    } else {
        Code::ReadWrite
    };
    s.complete(Status::Ok, Some(access), "SELECT completed")
}

/// Tells a client with the INBOX selected of messages it has not seen announced.
pub fn report_new(
    s: &mut ServerSession,
    inbox: &Inbox,
    known: &mut u32,
) -> Result<(), AnswerError> {
    let exists = inbox.messages.len() as u32;
    if matches!(s.state(), State::Selected { .. }) && exists > *known {
        s.send(&Response::Exists(exists))?;
        *known = exists;
    }
    Ok(())
}
