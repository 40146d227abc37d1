//! Telling a session what changed in its selected folder since it last heard: flags, new
//! messages (and whose `\Recent` they are), expunges, new keywords.
//!
//! The common change (a flag set, a message appended, by this session or another) leaves
//! every message where it was in the listing: the session then looks only at the chunks of
//! the listing that changed ([`mailwright_maildir::Messages::changed_since`]), so the cost of a change
//! does not grow with the folder. Anything else (an expunge) walks the whole folder.

use std::ops::Range;
use std::sync::Arc;

use mailwright_imap::{FetchValue, Response, ServerSession};
use mailwright_maildir::{FolderStamp, Listing, Subdir};
use tracing::warn;

use super::common::{block, note_changes};
use super::selected::{Entry, Selected, View, Views, send_flag_list, send_vanished};
use super::session::User;
use crate::conn::Answered;

impl User {
    /// Tells the client what changed in the selected mailbox since it last heard. EXPUNGE is
    /// only sent when `allow_expunge` (not during FETCH, STORE or SEARCH, RFC 9051 §7.5.1).
    pub fn sync(&mut self, session: &mut ServerSession, allow_expunge: bool) {
        let Some(sel) = self.selected.as_mut() else {
            return;
        };
        let stamp = FolderStamp::of(&sel.maildir);
        let pending_gone =
            allow_expunge && matches!(&sel.views, Views::Each(v) if v.iter().any(|v| v.gone));
        if stamp.unchanged_since(&sel.stamp) && !pending_gone {
            return;
        }
        let listings = &self.listings;
        // The usual case after this session's own change: the shared listing still stands
        // and the keywords are as they were, so nothing is read and the thread need not be
        // handed off (two hand-offs were 2.9 of 11.5 context switches of an APPEND and a
        // NOOP).
        let kept = listings
            .kept(&sel.maildir, &stamp)
            .filter(|_| stamp.keywords_unchanged_since(&sel.stamp));
        let scanned = match kept {
            Some(kept) => Ok((kept, sel.keywords.clone())),
            None => block(|| {
                Ok::<_, mailwright_maildir::Error>((
                    listings.scan_stamped(&sel.maildir)?,
                    sel.maildir.keywords()?,
                ))
            }),
        };
        match scanned {
            Ok(((stamp, listing), keywords)) => {
                self.sync_to(session, allow_expunge, stamp, &listing, keywords);
            }
            Err(e) => {
                warn!(user = %self.username, error = %e, "imap: rescanning the mailbox failed");
            }
        }
    }

    /// [`User::sync`] with the selected folder as `listing` holds it (with its `stamp` and
    /// `keywords`), as a change this session just made to it left it (an APPEND): the folder
    /// is not looked at again.
    pub(super) fn sync_to(
        &mut self,
        session: &mut ServerSession,
        allow_expunge: bool,
        stamp: FolderStamp,
        listing: &Arc<Listing>,
        keywords: Vec<(u32, String)>,
    ) {
        let Some(sel) = self.selected.as_mut() else {
            return;
        };
        let pending_gone =
            allow_expunge && matches!(&sel.views, Views::Each(v) if v.iter().any(|v| v.gone));
        // The stamp the listing stands for: one that still asks to look again when the
        // listing holds changes of this process not yet checked against the directories.
        sel.stamp = stamp;
        if Arc::ptr_eq(listing, &sel.listing) && keywords == sel.keywords && !pending_gone {
            return;
        }
        if keywords != sel.keywords {
            // Another session added a keyword: named before any FETCH carries it.
            send_flag_list(session, &keywords, sel.read_only);
            sel.keywords = keywords;
        }
        sel.next_uid = listing.next_uid;
        let max_known = sel.last_uid();
        let condstore = session.is_enabled("CONDSTORE");
        let in_place = match sel.aligned && !pending_gone {
            true => listing.messages.changed_since(&sel.listing.messages),
            false => None,
        };
        match in_place {
            Some(ranges) => update_in_place(sel, listing, ranges, session, condstore),
            None => walk_all(sel, listing, session, allow_expunge, condstore),
        }
        let first_new = listing.messages.partition_point(|m| m.uid <= max_known);
        if first_new == listing.messages.len() {
            return;
        }
        // IMAP4rev2 has no \Recent (RFC 9051 §E).
        let rev2 = session.is_enabled("IMAP4rev2");
        let to_claim = !sel.read_only
            && listing
                .messages
                .iter_from(first_new)
                .any(|m| m.subdir == Subdir::New);
        let mut claimed = Vec::new();
        match &mut sel.views {
            Views::Listing(n) if *n == first_new && !to_claim => *n = listing.messages.len(),
            _ => {
                if sel.len() != first_new {
                    sel.aligned = false;
                }
                for (k, m) in (first_new..).zip(listing.messages.iter_from(first_new)) {
                    // \Recent to the one session that moves it out of new/ (RFC 3501
                    // §2.3.2), not to every session that has the folder selected.
                    let moved = match sel.read_only {
                        false => block(|| sel.maildir.claim_new(m)).unwrap_or_else(|e| {
                            warn!(error = %e, "imap: moving new mail to cur/ failed");
                            None
                        }),
                        true => None,
                    };
                    let view = match moved {
                        Some(moved) => {
                            claimed.push(moved.clone());
                            View {
                                entry: Entry::Own(Box::new(moved)),
                                recent: !rev2,
                                gone: false,
                            }
                        }
                        None => View::shared(k, false),
                    };
                    sel.each().push(view);
                }
            }
        }
        note_changes(
            &self.listings,
            &mut self.recheck,
            &sel.maildir,
            &claimed,
            &[],
        );
        session.send(&Response::Exists(sel.len() as u32)).answered();
        if !rev2 {
            let recent = match &sel.views {
                Views::Listing(_) => 0,
                Views::Each(v) => v.iter().filter(|v| v.recent).count(),
            };
            session.send(&Response::Recent(recent as u32)).answered();
        }
    }
}

/// Points the session at `listing`, which has every message of the session's listing at
/// the same index, changed only inside `ranges`: only those are looked at.
fn update_in_place(
    sel: &mut Selected,
    listing: &Arc<Listing>,
    ranges: Vec<Range<usize>>,
    session: &mut ServerSession,
    condstore: bool,
) {
    let old_listing = std::mem::replace(&mut sel.listing, Arc::clone(listing));
    for i in ranges.into_iter().flatten() {
        let own = match &sel.views {
            Views::Each(v) => match &v[i].entry {
                Entry::Own(m) => Some((Arc::clone(&m.flags), m.modseq)),
                Entry::Shared(_) => None,
            },
            Views::Listing(_) => None,
        };
        let old = &old_listing.messages[i];
        let (flags, modseq) = own.clone().unwrap_or((Arc::clone(&old.flags), old.modseq));
        let now = &listing.messages[i];
        if now.modseq < modseq {
            // The listing is behind what this session already shows: keep that (see
            // `walk_all`).
            if own.is_none() {
                sel.set_msg(i, old.clone());
            }
            continue;
        }
        if own.is_some() {
            sel.each()[i].entry = Entry::Shared(i as u32);
        }
        if !Arc::ptr_eq(&now.flags, &flags) && now.flags != flags {
            send_flags(sel, session, i, condstore);
        }
    }
}

/// Points every view still there into `listing`, walking both in UID order, and tells of
/// flags changed and messages expunged (or keeps those until `allow_expunge`).
fn walk_all(
    sel: &mut Selected,
    listing: &Arc<Listing>,
    session: &mut ServerSession,
    allow_expunge: bool,
    condstore: bool,
) {
    let qresync = session.is_enabled("QRESYNC");
    let old_views = std::mem::take(sel.each());
    *sel.each() = Vec::with_capacity(old_views.len());
    let old_listing = std::mem::replace(&mut sel.listing, Arc::clone(listing));
    let mut vanished: Vec<u32> = Vec::new();
    let mut aligned = true;
    // Cursors, not indexing: both listings are read in order.
    let mut olds = old_listing.messages.iter().enumerate();
    let mut news = listing.messages.iter().enumerate().peekable();
    let mut shared_old = None;
    for view in old_views {
        let old = match &view.entry {
            Entry::Shared(k) => {
                let k = *k as usize;
                if shared_old.is_none_or(|(i, _)| i != k) {
                    shared_old = olds.find(|(i, _)| *i == k);
                }
                match shared_old {
                    Some((_, m)) => m,
                    None => &old_listing.messages[k],
                }
            }
            Entry::Own(m) => &**m,
        };
        let uid = old.uid;
        while news.next_if(|(_, m)| m.uid < uid).is_some() {}
        let (j, now) = match news.peek() {
            Some(&(j, m)) if m.uid == uid => (j, Some(m)),
            _ => (0, None),
        };
        if let Some(now) = now
            && !view.gone
        {
            aligned &= j == sel.len();
            if now.modseq < old.modseq {
                // The shared listing is behind what this session already holds (its own
                // change, or a newer listing it saw): keep that until the listing catches
                // up, so a MODSEQ never goes back for the client (RFC 7162 §3.1).
                let entry = match view.entry {
                    Entry::Own(m) => Entry::Own(m),
                    Entry::Shared(_) => Entry::Own(Box::new(old.clone())),
                };
                sel.each().push(View { entry, ..view });
                continue;
            }
            let changed = !Arc::ptr_eq(&now.flags, &old.flags) && now.flags != old.flags;
            sel.each().push(View {
                entry: Entry::Shared(j as u32),
                ..view
            });
            if changed {
                send_flags(sel, session, sel.len() - 1, condstore);
            }
        } else if allow_expunge {
            if qresync {
                vanished.push(uid);
            } else {
                session
                    .send(&Response::Expunge(sel.len() as u32 + 1))
                    .answered();
            }
        } else {
            // Shown until the client may be told: keep what it was.
            let entry = match view.entry {
                Entry::Own(m) => Entry::Own(m),
                Entry::Shared(_) => Entry::Own(Box::new(old.clone())),
            };
            sel.each().push(View {
                entry,
                recent: view.recent,
                gone: true,
            });
            aligned = false;
        }
    }
    sel.aligned = aligned;
    send_vanished(session, &vanished);
}

/// `* n FETCH (UID FLAGS [MODSEQ])` for the message at `i`.
fn send_flags(sel: &Selected, session: &mut ServerSession, i: usize, condstore: bool) {
    let mut items = vec![
        FetchValue::Uid(sel.msg(i).uid),
        FetchValue::Flags(sel.flags(i)),
    ];
    if condstore {
        items.push(FetchValue::ModSeq(sel.msg(i).modseq));
    }
    session
        .send(&Response::Fetch {
            seq: i as u32 + 1,
            items,
        })
        .answered();
}
