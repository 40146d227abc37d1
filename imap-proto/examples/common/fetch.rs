//! FETCH in the example IMAP servers.
use mailwright_imap::{
    AnswerError, FetchAttr, FetchValue, Flag, Response, SequenceSet, ServerSession, State, Status,
};

use super::store::{Inbox, chosen};

/// FETCH of FLAGS, UID, RFC822.SIZE and BODY[] / BODY.PEEK[]; other items get NO.
pub fn fetch(
    s: &mut ServerSession,
    uid: bool,
    set: &SequenceSet,
    attributes: &[FetchAttr],
    inbox: &mut Inbox,
) -> Result<(), AnswerError> {
    let writable = matches!(s.state(), State::Selected { read_only: false });
    for (seq, i) in chosen(uid, set, inbox) {
        let message = &mut inbox.messages[i];
        let (mut items, mut seen_now) = (Vec::new(), false);
        for attribute in attributes {
            items.push(match attribute {
                FetchAttr::Flags => FetchValue::Flags(message.flags.clone()),
                FetchAttr::Uid => FetchValue::Uid(message.uid),
                FetchAttr::Rfc822Size => FetchValue::Rfc822Size(message.body.len() as u64),
                FetchAttr::BodySection {
                    peek,
                    section,
                    partial: None,
                } if section.part.is_empty() && section.text.is_none() => {
                    // BODY[] without PEEK sets \Seen (unless read-only), and FLAGS is then reported.
                    if !peek && writable && !message.flags.contains(&Flag::Seen) {
                        message.flags.push(Flag::Seen);
                        seen_now = true;
                    }
                    FetchValue::BodySection {
                        section: section.clone(),
                        origin: None,
                        data: Some(message.body.clone().into()),
                    }
                }
                _ => return s.complete(Status::No, None, "Not in this example"),
            });
        }
        // A UID FETCH reply always carries the UID (RFC 9051 §6.4.9).
        if uid && !attributes.contains(&FetchAttr::Uid) {
            items.push(FetchValue::Uid(message.uid));
        }
        if seen_now && !attributes.contains(&FetchAttr::Flags) {
            items.push(FetchValue::Flags(message.flags.clone()));
        }
        s.send(&Response::Fetch { seq, items })?;
    }
    s.complete(Status::Ok, None, "FETCH completed")
}
