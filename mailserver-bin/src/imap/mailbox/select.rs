//! SELECT and EXAMINE, with CONDSTORE and QRESYNC (RFC 7162).

use mailwright_imap::{
    Code, FetchValue, Mailbox, Response, SelectParams, SequenceSet, ServerSession, Status,
};

use super::common::{block, note_changes};
use super::selected::{Entry, Selected, View, Views, send_flag_list};
use super::session::User;
use crate::conn::Answered;

impl User {
    pub(super) fn select(
        &mut self,
        session: &mut ServerSession,
        m: &Mailbox,
        params: &SelectParams,
        read_only: bool,
    ) {
        if params.qresync.is_some() && !session.is_enabled("QRESYNC") {
            session
                .complete(Status::Bad, None, "ENABLE QRESYNC first")
                .answered();
            return;
        }
        if params.condstore {
            session.enable("CONDSTORE");
        }
        // RFC 7162 §3.2.11: the end of the previous mailbox's answers, whatever follows.
        if self.selected.take().is_some() {
            session
                .send(&Response::ok(Some(Code::Closed), "Previous mailbox closed"))
                .answered();
        }
        let Some(storage) = self.existing_folder(session, m) else {
            return;
        };
        // A list's archive is read, never changed.
        let read_only = read_only || super::shared::is_shared(&storage);
        let md = match self.folder_maildir(&storage) {
            Ok(md) => md,
            Err(e) => return self.internal_error(session, "SELECT", &e),
        };
        let listings = &self.listings;
        let rev2 = session.is_enabled("IMAP4rev2");
        let opened = block(|| -> Result<_, mailwright_maildir::Error> {
            let (stamp, listing) = listings.scan_stamped(&md)?;
            let mut views = Views::Listing(listing.messages.len());
            let mut renamed = Vec::new();
            // Messages in new/ are \Recent to the first session that selects them.
            if !read_only && listing.summary.in_new > 0 {
                let mut each: Vec<View> = (0..listing.messages.len())
                    .map(|k| View::shared(k, false))
                    .collect();
                for (k, m) in listing.messages.iter().enumerate() {
                    // Only the session whose rename moves it claims it.
                    if let Some(moved) = md.claim_new(m)? {
                        renamed.push(moved.clone());
                        each[k] = View {
                            entry: Entry::Own(Box::new(moved)),
                            recent: !rev2,
                            gone: false,
                        };
                    }
                }
                views = Views::Each(each);
            }
            let keywords = listing.keywords.clone();
            Ok((stamp, listing, views, keywords, renamed))
        });
        let (stamp, listing, views, keywords, renamed) = match opened {
            Ok(v) => v,
            Err(e) => return self.internal_error(session, "SELECT", &e),
        };
        note_changes(&self.listings, &mut self.recheck, &md, &renamed, &[]);
        send_flag_list(session, &keywords, read_only);
        let (exists, recent) = match &views {
            Views::Listing(n) => (*n, 0),
            Views::Each(v) => (v.len(), v.iter().filter(|v| v.recent).count()),
        };
        session.send(&Response::Exists(exists as u32)).answered();
        // RFC 9051 dropped RECENT and the UNSEEN code.
        if !rev2 {
            session.send(&Response::Recent(recent as u32)).answered();
        }
        if !rev2 && let Some(first) = listing.summary.first_unseen {
            session
                .send(&Response::ok(
                    Some(Code::Unseen(first as u32 + 1)),
                    "First unseen",
                ))
                .answered();
        }
        session
            .send(&Response::ok(
                Some(Code::UidValidity(listing.uid_validity)),
                "UIDs valid",
            ))
            .answered();
        session
            .send(&Response::ok(
                Some(Code::UidNext(listing.next_uid)),
                "Predicted next UID",
            ))
            .answered();
        session
            .send(&Response::ok(
                Some(Code::HighestModSeq(listing.highest_modseq)),
                "Highest",
            ))
            .answered();
        let selected = Selected {
            stamp,
            _seat: self.seats.take(md.path()),
            maildir: md,
            read_only,
            uid_validity: listing.uid_validity,
            next_uid: listing.next_uid,
            listing,
            views,
            aligned: true,
            keywords,
            saved: Vec::new(),
        };
        if let Some(q) = &params.qresync
            && q.uid_validity == selected.uid_validity
        {
            self.resync(session, &selected, q);
        }
        self.selected = Some(selected);
        let (code, text) = if read_only {
            (Code::ReadOnly, "EXAMINE completed")
        } else {
            (Code::ReadWrite, "SELECT completed")
        };
        session.complete(Status::Ok, Some(code), text).answered();
    }

    /// Turns CONDSTORE on for a command that uses it (RFC 7162 §3.1); a mailbox selected
    /// before gets its HIGHESTMODSEQ now, as SELECT would have said.
    pub(super) fn condstore_enabled(&self, session: &mut ServerSession) {
        if session.enable("CONDSTORE")
            && let Some(sel) = &self.selected
        {
            let highest = sel.messages().map(|m| m.modseq).max().unwrap_or(0);
            session
                .send(&Response::ok(Some(Code::HighestModSeq(highest)), "Highest"))
                .answered();
        }
    }

    /// QRESYNC (RFC 7162 §3.2.5): what changed since the client's MODSEQ, among the UIDs it
    /// knows: the expunged as `VANISHED (EARLIER)`, the rest as FETCH with flags and MODSEQ.
    pub(super) fn resync(
        &self,
        session: &mut ServerSession,
        sel: &Selected,
        q: &mailwright_imap::QResync,
    ) {
        let largest = sel.next_uid.saturating_sub(1);
        let known = |uid: u32| {
            q.known_uids
                .as_ref()
                .is_none_or(|k| k.contains(uid, largest))
        };
        let vanished = self.vanished(sel, q.modseq, &known);
        if let Some(uids) = vanished {
            session
                .send(&Response::Vanished {
                    earlier: true,
                    uids,
                })
                .answered();
        }
        for (i, m) in sel.messages().enumerate() {
            if m.modseq > q.modseq && known(m.uid) {
                session
                    .send(&Response::Fetch {
                        seq: i as u32 + 1,
                        items: vec![
                            FetchValue::Uid(m.uid),
                            FetchValue::Flags(sel.flags(i)),
                            FetchValue::ModSeq(m.modseq),
                        ],
                    })
                    .answered();
            }
        }
    }

    /// The UIDs `known` to the client that were expunged after `modseq`; when the MODSEQ log
    /// does not reach back that far, every known UID below UIDNEXT that is not in the mailbox
    /// (RFC 7162 §3.2.5.2 lets a server name more than it must). `None` when there are none.
    pub(super) fn vanished(
        &self,
        sel: &Selected,
        modseq: u64,
        known: &dyn Fn(u32) -> bool,
    ) -> Option<SequenceSet> {
        let logged = block(|| {
            self.listings
                .modseqs()
                .vanished_since(&sel.maildir, sel.uid_validity, modseq)
        });
        let uids: Vec<u32> = match logged {
            Ok(Some(uids)) => uids.into_iter().filter(|&u| known(u)).collect(),
            Ok(None) | Err(_) => {
                let present: std::collections::HashSet<u32> =
                    sel.messages().map(|m| m.uid).collect();
                (1..sel.next_uid)
                    .filter(|u| known(*u) && !present.contains(u))
                    .collect()
            }
        };
        SequenceSet::from_numbers(&uids).ok()
    }
}
