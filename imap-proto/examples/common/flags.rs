//! STORE in the example IMAP servers.
use mailwright_imap::{
    AnswerError, FetchValue, Flag, Response, SequenceSet, ServerSession, State, Status, StoreMode,
};

use super::store::{FLAGS, Inbox, chosen};

/// STORE of the flags in `FLAGS`; others (and any STORE after EXAMINE) get NO.
pub fn store(
    s: &mut ServerSession,
    uid: bool,
    set: &SequenceSet,
    mode: StoreMode,
    silent: bool,
    flags: &[Flag],
    inbox: &mut Inbox,
) -> Result<(), AnswerError> {
    if matches!(s.state(), State::Selected { read_only: true })
        || flags.iter().any(|f| !FLAGS.contains(f))
    {
        return s.complete(Status::No, None, "Only \\Answered \\Flagged \\Seen \\Draft");
    }
    for (seq, i) in chosen(uid, set, inbox) {
        let message = &mut inbox.messages[i];
        match mode {
            StoreMode::Replace => message.flags = flags.to_vec(),
            StoreMode::Add => message.flags.extend_from_slice(flags),
            StoreMode::Remove => message.flags.retain(|f| !flags.contains(f)),
        }
        message.flags.sort();
        message.flags.dedup();
        if !silent {
            let mut items = vec![FetchValue::Flags(message.flags.clone())];
            items.extend(uid.then_some(FetchValue::Uid(message.uid)));
            s.send(&Response::Fetch { seq, items })?;
        }
    }
    s.complete(Status::Ok, None, "STORE completed")
}
