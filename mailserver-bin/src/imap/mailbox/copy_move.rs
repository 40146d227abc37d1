//! COPY and MOVE (RFC 6851), with COPYUID.

use std::collections::HashMap;
use std::io;
use std::sync::Arc;

use mailwright_imap::{Code, Mailbox, Response, SequenceSet, ServerSession, Status};
use mailwright_maildir::Maildir;
use tracing::warn;

use super::common::{block, note_changes, recheck_later};
use super::selected::sorted;
use super::session::User;
use super::tree::storage_name;
use crate::conn::Answered;

impl User {
    pub(super) async fn copy(
        &mut self,
        session: &mut ServerSession,
        uid: bool,
        set: &SequenceSet,
        dest: &Mailbox,
        is_move: bool,
    ) {
        let verb = if is_move { "MOVE" } else { "COPY" };
        if self.refuse_shared(session, dest, verb) || (is_move && !self.writable(session)) {
            return;
        }
        let indices = match self.resolve(set, uid) {
            Ok(i) => i,
            Err(e) => {
                session.complete(Status::Bad, None, e).answered();
                return;
            }
        };
        let storage = match storage_name(dest) {
            Ok(s) => s,
            Err((code, text)) => {
                session.complete(Status::No, code, text).answered();
                return;
            }
        };
        if !self.root.folder_exists(&storage) {
            session
                .complete(Status::No, Some(Code::TryCreate), "Mailbox does not exist")
                .answered();
            return;
        }
        let Some(sel) = self.selected.as_ref() else {
            return;
        };
        let indices: Vec<usize> = indices.into_iter().filter(|&i| !sel.is_gone(i)).collect();
        if indices.is_empty() {
            session
                .complete(
                    Status::Ok,
                    None,
                    &format!("{verb} completed, nothing to do"),
                )
                .answered();
            return;
        }
        let bytes: u64 = indices.iter().map(|&i| sel.msg(i).size).sum();
        if !is_move && self.over_quota(bytes, indices.len() as u64) {
            session
                .complete(Status::No, Some(Code::OverQuota), "Quota exceeded")
                .answered();
            return;
        }
        let host = self.hostname.clone();
        type Copied = (
            Maildir,
            Vec<String>,
            Vec<usize>,
            Arc<mailwright_maildir::Listing>,
        );
        let copied = block(|| -> Result<Copied, mailwright_maildir::Error> {
            let target = self
                .root
                .folder(&storage)
                .map_err(|e| mailwright_maildir::Error::Io {
                    action: "opening",
                    path: self.root.path().to_owned(),
                    source: io::Error::other(e.to_string()),
                })?;
            let mark = self.listings.mark(&target);
            let mut names = Vec::new();
            // The messages copied: one another session expunged meanwhile is not.
            let mut done = Vec::new();
            for &i in &indices {
                let m = &sel.msg(i);
                let flags = flags_in(m, &sel.keywords, &target)?;
                if let Some(name) = sel.maildir.copy_into(m, &target, &flags, &host)? {
                    names.push(name);
                    done.push(i);
                }
            }
            target.sync_cur()?;
            let listing = self.listings.scan_adding(&target, &names, mark)?;
            Ok((target, names, done, listing))
        });
        let (target, names, indices, listing) = match copied {
            Ok(v) => v,
            Err(e) => return self.internal_error(session, verb, &e),
        };
        if indices.is_empty() {
            // RFC 5530: all of them were expunged by another session meanwhile.
            self.sync(session, false);
            session
                .complete(
                    Status::No,
                    Some(Code::ExpungeIssued),
                    "The messages were expunged meanwhile",
                )
                .answered();
            return;
        }
        recheck_later(&mut self.recheck, &self.listings, &target);
        let validity = listing.uid_validity;
        let dest_uids = uids_of(&listing, &names);
        let src_uids: Vec<u32> = indices.iter().map(|&i| sel.msg(i).uid).collect();
        let copied_bytes: u64 = indices.iter().map(|&i| sel.msg(i).size).sum();
        let copyuid = match (
            SequenceSet::from_numbers(&src_uids),
            SequenceSet::from_numbers(&dest_uids),
        ) {
            (Ok(a), Ok(b)) if dest_uids.len() == src_uids.len() && ordered(&dest_uids) => {
                Some(Code::CopyUid(validity, a, b))
            }
            _ => None,
        };
        if is_move {
            if let Some(code) = copyuid.clone() {
                session.send(&Response::ok(Some(code), "Moved")).answered();
            }
            // The copies count, and each source this session removed; one another session
            // expunged meanwhile was taken off the quota by that session.
            let mut change = (copied_bytes as i64, indices.len() as i64);
            if let Some(sel) = self.selected.as_mut() {
                for &i in &indices {
                    let m = sel.msg(i).clone();
                    match block(|| sel.maildir.expunge(&m)) {
                        Ok(true) => change = (change.0 - m.size as i64, change.1 - 1),
                        Ok(false) => {}
                        Err(e) => {
                            warn!(user = %self.username, error = %e, "imap move: removing the source failed");
                        }
                    }
                }
                if let Err(e) = block(|| sel.maildir.sync()) {
                    warn!(user = %self.username, error = %e, "imap move: sync failed");
                }
                note_changes(
                    &self.listings,
                    &mut self.recheck,
                    &sel.maildir,
                    &[],
                    &src_uids,
                );
                sel.remove(session, &indices, true);
            }
            if change != (0, 0) {
                self.account_usage(change.0, change.1);
            }
            self.sync(session, true);
            session
                .complete(Status::Ok, None, "MOVE completed")
                .answered();
        } else {
            self.account_usage(copied_bytes as i64, indices.len() as i64);
            self.sync(session, true);
            session
                .complete(Status::Ok, copyuid, "COPY completed")
                .answered();
        }
    }
}

/// `m`'s flag letters for a copy in `target`: keyword letters are per folder, so they are
/// translated by name.
fn flags_in(
    m: &mailwright_maildir::Message,
    keywords: &[(u32, String)],
    target: &Maildir,
) -> Result<String, mailwright_maildir::Error> {
    let mut letters = String::new();
    for c in m.flags.chars() {
        if c.is_ascii_lowercase() {
            let idx = u32::from(c) - u32::from('a');
            if let Some((_, name)) = keywords.iter().find(|(k, _)| *k == idx) {
                letters.push(target.keyword_letter(name)?);
            }
        } else {
            letters.push(c);
        }
    }
    Ok(sorted(letters.chars()))
}

/// The UIDs the files `names` got in `listing`: among the newest messages, at the end
/// (unless another writer numbered many files at the same time).
fn uids_of(listing: &mailwright_maildir::Listing, names: &[String]) -> Vec<u32> {
    let uids_in = |messages: mailwright_maildir::Iter<'_>| -> Vec<u32> {
        let by_name: HashMap<&str, u32> = messages.map(|m| (&*m.name, m.uid)).collect();
        names
            .iter()
            .filter_map(|n| by_name.get(n.as_str()).copied())
            .collect()
    };
    let recent = listing.messages.len().saturating_sub(2 * names.len() + 16);
    let dest_uids = uids_in(listing.messages.iter_from(recent));
    if dest_uids.len() < names.len() {
        return uids_in(listing.messages.iter());
    }
    dest_uids
}

pub(super) fn ordered(v: &[u32]) -> bool {
    v.windows(2).all(|w| w[0] < w[1])
}
