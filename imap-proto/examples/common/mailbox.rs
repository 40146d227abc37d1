//! The commands of the example IMAP servers, over one INBOX in memory.
use mailwright_imap::{AnswerError, Code, Command, ServerSession, Status};

use super::store::Inbox;
use super::{fetch, flags, select};

/// Answers one command: untagged responses, then the tagged status.
pub fn answer(
    s: &mut ServerSession,
    command: Command,
    inbox: &mut Inbox,
    known: &mut u32,
) -> Result<(), AnswerError> {
    let examine = matches!(command, Command::Examine(..));
    match command {
        Command::List { patterns, .. } => select::list(s, &patterns),
        Command::Select(mailbox, _) | Command::Examine(mailbox, _) if !mailbox.is_inbox() => {
            // Completing with NO leaves the client with no mailbox selected.
            s.complete(Status::No, Some(Code::NonExistent), "No such mailbox")
        }
        Command::Select(..) | Command::Examine(..) => select::select(s, examine, inbox, known),
        Command::Fetch {
            uid,
            set,
            attributes,
            ..
        } => fetch::fetch(s, uid, &set, &attributes, inbox),
        Command::Store {
            uid,
            set,
            mode,
            silent,
            flags,
            ..
        } => flags::store(s, uid, &set, mode, silent, &flags, inbox),
        // NOOP and CHECK are the client asking for news; CLOSE and UNSELECT leave the mailbox
        // (the session changes its state on OK), with nothing to expunge here.
        Command::Noop | Command::Check | Command::Close | Command::Unselect => {
            select::report_new(s, inbox, known)?;
            s.complete(Status::Ok, None, "Completed")
        }
        // Every other command gets an answer too: NO, since this example does not do it.
        _ => s.complete(Status::No, None, "Not supported by this example"),
    }
}
