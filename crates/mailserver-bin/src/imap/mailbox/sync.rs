//! Telling a session what changed in its selected folder since it last heard: flags, new
//! messages (and whose `\Recent` they are), expunges, new keywords.

use super::{
    Arc, Entry, FetchValue, FolderStamp, Response, SequenceSet, ServerSession, User, View, Views,
    block, note_changes, send_flag_list, warn,
};

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
        let scanned = block(|| {
            Ok::<_, maildir::Error>((
                listings.scan_stamped(&sel.maildir)?,
                sel.maildir.keywords()?,
            ))
        });
        let ((stamp, listing), keywords) = match scanned {
            Ok(v) => v,
            Err(e) => {
                warn!(user = %self.username, error = %e, "imap: rescanning the mailbox failed");
                return;
            }
        };
        // The stamp the listing stands for: one that still asks to look again when the
        // listing holds changes of this process not yet checked against the directories.
        sel.stamp = stamp;
        if Arc::ptr_eq(&listing, &sel.listing) && keywords == sel.keywords && !pending_gone {
            return;
        }
        if keywords != sel.keywords {
            // Another session added a keyword: named before any FETCH carries it.
            send_flag_list(session, &keywords, sel.read_only);
            sel.keywords = keywords;
        }
        sel.next_uid = listing.next_uid;
        let max_known = sel.last_uid();
        let (condstore, qresync) = (
            session.is_enabled("CONDSTORE"),
            session.is_enabled("QRESYNC"),
        );
        // Both are in UID order: walk them together, pointing every view still there into the
        // new listing.
        let old_views = std::mem::take(sel.each());
        *sel.each() = Vec::with_capacity(old_views.len());
        let old_listing = std::mem::replace(&mut sel.listing, Arc::clone(&listing));
        let mut vanished: Vec<u32> = Vec::new();
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
                && now.modseq < old.modseq
            {
                // The shared listing is behind what this session already holds (its own
                // change, or a newer listing it saw): keep that until the listing catches up,
                // so a MODSEQ never goes back for the client (RFC 7162 §3.1).
                let entry = match view.entry {
                    Entry::Own(m) => Entry::Own(m),
                    Entry::Shared(_) => Entry::Own(Box::new(old.clone())),
                };
                sel.each().push(View { entry, ..view });
            } else if let Some(now) = now
                && !view.gone
            {
                let now = &now.flags;
                let changed = !Arc::ptr_eq(now, &old.flags) && *now != old.flags;
                sel.each().push(View {
                    entry: Entry::Shared(j as u32),
                    ..view
                });
                if changed {
                    let i = sel.len() - 1;
                    let mut items = vec![FetchValue::Uid(uid), FetchValue::Flags(sel.flags(i))];
                    if condstore {
                        items.push(FetchValue::ModSeq(sel.msg(i).modseq));
                    }
                    let _ = session.send(&Response::Fetch {
                        seq: i as u32 + 1,
                        items,
                    });
                }
            } else if allow_expunge {
                if qresync {
                    vanished.push(uid);
                } else {
                    let _ = session.send(&Response::Expunge(sel.len() as u32 + 1));
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
            }
        }
        if let Ok(uids) = SequenceSet::from_numbers(&vanished) {
            let _ = session.send(&Response::Vanished {
                earlier: false,
                uids,
            });
        }
        let first_new = listing.messages.partition_point(|m| m.uid <= max_known);
        if first_new < listing.messages.len() {
            // IMAP4rev2 has no \Recent (RFC 9051 §E).
            let rev2 = session.is_enabled("IMAP4rev2");
            let mut claimed = Vec::new();
            for (k, m) in (first_new..).zip(listing.messages.iter_from(first_new)) {
                // \Recent to the one session that moves it out of new/ (RFC 3501 §2.3.2),
                // not to every session that has the folder selected.
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
            note_changes(
                &self.listings,
                &mut self.recheck,
                &sel.maildir,
                &claimed,
                &[],
            );
            let _ = session.send(&Response::Exists(sel.len() as u32));
            if !rev2 {
                let recent = sel.each().iter().filter(|v| v.recent).count() as u32;
                let _ = session.send(&Response::Recent(recent));
            }
        }
    }
}
