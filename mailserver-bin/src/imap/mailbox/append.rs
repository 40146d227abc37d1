//! APPEND, streamed into a delivery as the literal arrives.

use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use mailwright_imap::{AppendHead, Code, ServerSession, Status};
use mailwright_maildir::{Delivery, Maildir};
use tracing::warn;

use super::common::{block, recheck_later, store_refusal};
use super::selected::flags_to_letters;
use super::session::{Append, User};
use super::tree::storage_name;
use crate::conn::Answered;

/// APPENDs up to this size are held in memory until their end (a session holds one at a
/// time); larger ones are streamed into their file as they arrive.
const HELD_APPEND: u64 = 64 * 1024;

impl User {
    pub fn append_start(&mut self, session: &mut ServerSession, head: AppendHead) {
        if self.shared_folder(&head.mailbox).is_some() {
            session
                .reject_append(
                    Some(Code::NoPerm),
                    "APPEND: the list archives are read-only",
                )
                .answered();
            return;
        }
        let storage = match storage_name(&head.mailbox) {
            Ok(s) => s,
            Err((code, text)) => {
                session.reject_append(code, text).answered();
                return;
            }
        };
        if !self.root.folder_exists(&storage) {
            session
                .reject_append(Some(Code::TryCreate), "Mailbox does not exist")
                .answered();
            return;
        }
        if self.over_quota(head.size, 1) {
            session
                .reject_append(Some(Code::OverQuota), "Quota exceeded")
                .answered();
            return;
        }
        if !self.disk_reserve.room_for(self.root.path(), head.size) {
            session
                .reject_append(Some(Code::OverQuota), "Not enough disk space")
                .answered();
            return;
        }
        // A small message is held in memory: one hop to a blocking thread at its end
        // instead of one per step.
        let held = head.size <= HELD_APPEND;
        let begun = match held {
            true => self
                .root
                .folder(&storage)
                .map(|f| (f, None))
                .map_err(|e| e.to_string()),
            false => block(|| -> Result<(Maildir, Option<Delivery>), String> {
                let folder = self.root.folder(&storage).map_err(|e| e.to_string())?;
                let d = Delivery::begin(&folder, &self.hostname).map_err(|e| e.to_string())?;
                Ok((folder, Some(d)))
            }),
        };
        match begun {
            Ok((folder, delivery)) => {
                self.append = Some(Append {
                    delivery,
                    held: held.then(|| Vec::with_capacity(head.size as usize)),
                    folder,
                    head,
                    failed: None,
                });
                session.accept_append().answered();
            }
            Err(e) => {
                warn!(user = %self.username, error = %e, "imap append could not start");
                session
                    .reject_append(Some(Code::ServerBug), "Internal error, see the server log")
                    .answered();
            }
        }
    }

    pub fn append_chunk(&mut self, chunk: &Bytes) {
        let Some(a) = self.append.as_mut() else {
            return;
        };
        if a.failed.is_some() {
            return;
        }
        if let Some(held) = a.held.as_mut() {
            held.extend_from_slice(chunk);
            return;
        }
        if let Some(d) = a.delivery.as_mut()
            && let Err(e) = block(|| d.write(chunk))
        {
            a.failed = Some(e.to_string());
        }
    }

    pub fn append_abort(&mut self) {
        if let Some(mut a) = self.append.take()
            && let Some(d) = a.delivery.take()
        {
            d.abort();
        }
    }

    pub async fn append_end(&mut self, session: &mut ServerSession) {
        let Some(mut a) = self.append.take() else {
            session
                .complete(Status::No, Some(Code::ServerBug), "No APPEND in progress")
                .answered();
            return;
        };
        if let Some(e) = a.failed {
            warn!(user = %self.username, error = %e, "imap append failed");
            let (code, text) = store_refusal(&e);
            session.complete(Status::No, Some(code), text).answered();
            return;
        }
        let delivery = a.delivery.take();
        let held = a.held.take();
        let size = match (&delivery, &held) {
            (Some(d), _) => d.size(),
            (None, Some(h)) => h.len() as u64,
            (None, None) => return,
        };
        let date = a.head.date.map(|d| {
            let secs = d.to_unix();
            if secs >= 0 {
                UNIX_EPOCH + Duration::from_secs(secs as u64)
            } else {
                UNIX_EPOCH
            }
        });
        let stored = block(|| {
            let letters =
                flags_to_letters(&a.head.flags, &a.folder).map_err(|(_, t)| t.to_owned())?;
            let delivery = match (delivery, held) {
                (Some(d), _) => d,
                (None, held) => {
                    let mut d =
                        Delivery::begin(&a.folder, &self.hostname).map_err(|e| e.to_string())?;
                    d.write(held.as_deref().unwrap_or_default())
                        .map_err(|e| e.to_string())?;
                    d
                }
            };
            let (name, stamp, listing) = self
                .listings
                .append_stamped(&a.folder, delivery, &letters, date)
                .map_err(|e| e.to_string())?;
            self.account_usage_here(size as i64, 1);
            // The newest messages are last (unless another writer numbered many files at
            // the same time).
            let recent = listing.messages.len().saturating_sub(64);
            let uid = listing
                .messages
                .iter_from(recent)
                .chain(listing.messages.iter().take(recent))
                .find(|m| *m.name == *name)
                .map(|m| m.uid);
            // Stored: what follows may not turn the answer into a NO (the client would
            // store it again).
            let keywords = a
                .folder
                .keywords()
                .unwrap_or_else(|_| listing.keywords.clone());
            Ok::<_, String>((stamp, listing, keywords, uid))
        });
        match stored {
            Ok((stamp, listing, keywords, uid)) => {
                recheck_later(&mut self.recheck, &self.listings, &a.folder);
                let here = self
                    .selected
                    .as_ref()
                    .is_some_and(|sel| sel.maildir.path() == a.folder.path());
                match here {
                    // The selected folder as the APPEND left it: not looked at again.
                    true => self.sync_to(session, true, stamp, &listing, keywords),
                    false => self.sync(session, true),
                }
                let code = uid.map(|u| Code::AppendUid(listing.uid_validity, u));
                session
                    .complete(Status::Ok, code, "APPEND completed")
                    .answered();
            }
            Err(e) => {
                warn!(user = %self.username, error = %e, "imap append failed");
                let (code, text) = store_refusal(&e);
                session.complete(Status::No, Some(code), text).answered();
            }
        }
    }
}
