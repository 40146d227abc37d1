//! What every part of a mailbox session uses: the folder separator and default folders,
//! refusals, blocking file work, and telling the shared listings of this session's changes.
//! At the bottom of `mailbox`: it imports nothing of it.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use mailwright_imap::Code;
use mailwright_maildir::{ListingCache, Maildir};
use tracing::warn;

use crate::conn::Answered;

/// Folders a new mailbox starts with, and their RFC 6154 special use.
pub const DEFAULT_FOLDERS: [(&str, &str); 5] = [
    ("Drafts", "Drafts"),
    ("Sent", "Sent"),
    ("Junk", "Junk"),
    ("Trash", "Trash"),
    ("Archive", "Archive"),
];

pub(super) use crate::imap::service::delimiter;

/// Messages at least this large, asked for whole, are streamed rather than read into memory.
pub(super) const STREAM_ABOVE: u64 = 1 << 20;

/// Octets read per step of a streamed message.
pub(super) const STREAM_CHUNK: u64 = 256 << 10;

pub(super) type Refusal = (Option<Code>, &'static str);

/// `NO [NONEXISTENT] Mailbox does not exist`: the answer to a command on a folder that is
/// not there (COPY, MOVE and APPEND answer `[TRYCREATE]` instead).
pub(super) fn no_such_mailbox(session: &mut mailwright_imap::ServerSession) {
    session
        .complete(
            mailwright_imap::Status::No,
            Some(Code::NonExistent),
            "Mailbox does not exist",
        )
        .answered();
}

pub(super) fn block<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

/// Tells the shared listings what this session changed in a folder itself, so other sessions
/// (and this one) need not match `cur/` file by file to see it, and has the folder checked
/// again once its times settle (see [`recheck_later`]).
pub(super) fn note_changes(
    listings: &Arc<ListingCache>,
    recheck: &mut Recheck,
    maildir: &Maildir,
    renamed: &[mailwright_maildir::Message],
    removed: &[u32],
) {
    if renamed.is_empty() && removed.is_empty() {
        return;
    }
    if let Err(e) = block(|| listings.note_changes(maildir, renamed, removed)) {
        warn!(error = %e, "imap: noting changes to the folder listing failed");
    }
    recheck_later(recheck, listings, maildir);
}

/// The pending read of a folder this session changed (see [`recheck_later`]).
#[derive(Debug, Default)]
pub(super) struct Recheck(Option<PendingRead>);

#[derive(Debug)]
struct PendingRead {
    folder: std::path::PathBuf,
    /// When the read is due; `None` once it has begun.
    due: Arc<Mutex<Option<Instant>>>,
}

/// Reads `maildir` again through `listings` after this session changed it, once that read is
/// due ([`ListingCache::own_change_check`]): the shared listing was patched with the change, and
/// this read checks that nothing else changed the folder in the same clock tick (reading a
/// large `cur/` takes tens of milliseconds, better spent here than in the client's next
/// command). A change made before the wait ends puts the read off by moving its time, rather
/// than with a new task and timer per APPEND or STORE (a change to another folder starts
/// another read).
pub(super) fn recheck_later(slot: &mut Recheck, listings: &Arc<ListingCache>, maildir: &Maildir) {
    let due = Instant::now() + listings.own_change_check() + mailwright_maildir::SETTLE;
    if let Some(pending) = &slot.0
        && pending.folder == maildir.path()
    {
        let mut at = lock(&pending.due);
        if at.is_some() {
            *at = Some(due);
            return;
        }
    }
    let shared = Arc::new(Mutex::new(Some(due)));
    slot.0 = Some(PendingRead {
        folder: maildir.path().to_owned(),
        due: Arc::clone(&shared),
    });
    let listings = Arc::clone(listings);
    let maildir = maildir.clone();
    tokio::spawn(async move {
        loop {
            let Some(at) = *lock(&shared) else { return };
            tokio::time::sleep_until(at.into()).await;
            let mut now_due = lock(&shared);
            match *now_due {
                Some(at) if at <= Instant::now() => {
                    *now_due = None;
                    break;
                }
                Some(_) => {}
                None => return,
            }
        }
        let read = tokio::task::spawn_blocking(move || listings.scan(&maildir)).await;
        if let Ok(Err(e)) = read {
            warn!(error = %e, "imap: reading a folder again after a change failed");
        }
    });
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// How a message that could not be stored is refused: a full disk (or file-system quota) as
/// Dovecot says it (`NO [OVERQUOTA] Not enough disk space`), anything else as our fault. The
/// partly written file is gone by then (the delivery removes its tmp file).
pub(super) fn store_refusal(error: &str) -> (Code, &'static str) {
    if error.starts_with("no space left on device") {
        (Code::OverQuota, "Not enough disk space")
    } else {
        (Code::ServerBug, "Could not store the message")
    }
}

pub(super) fn atoms(names: &[&str]) -> Vec<mailwright_imap::Atom> {
    names
        .iter()
        .filter_map(|n| mailwright_imap::Atom::new(*n).ok())
        .collect()
}
