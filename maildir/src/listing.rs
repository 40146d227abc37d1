//! A scanned folder ([`Listing`]) and the changes made to it in memory: this process's own
//! flag changes, expunges and additions are taken in by patching the listing rather than by
//! reading the folder again.

use std::borrow::Cow;

use crate::Messages;
use crate::message::{Message, NameSet, Subdir, name_hash, pop3_uidl};
use crate::uidlist::{Totals, base_name};

/// A scanned Maildir folder.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    /// UIDVALIDITY.
    pub uid_validity: u32,
    /// The UID the next new message will get.
    pub next_uid: u32,
    /// Messages in UID order.
    pub messages: Messages,
    /// The folder's highest MODSEQ, once a [`crate::ModSeqs`] log has seen this listing.
    pub highest_modseq: u64,
    /// Counts over `messages`, worked out once per scan so that SELECT and STATUS of a large
    /// folder do not walk it again.
    pub summary: Summary,
    /// The folder's `dovecot-keywords` as it was at the scan (index, name).
    pub keywords: Vec<(u32, String)>,
    /// [`names_digest`](crate::message::names_digest) of the names in `cur/`: a rescan that reads `cur/` again and finds
    /// the same digest (and count) takes its messages as they were.
    pub(crate) cur_digest: u64,
    /// How much of `dovecot-uidlist` this listing accounts for: what is appended after that
    /// is all a writer must read to number a new file.
    pub(crate) uidlist_read: Option<UidlistRead>,
}

/// Listings are equal when they list the same: how they were read does not count.
impl PartialEq for Listing {
    fn eq(&self, other: &Self) -> bool {
        (
            self.uid_validity,
            self.next_uid,
            self.highest_modseq,
            self.summary,
            &self.keywords,
            self.cur_digest,
        ) == (
            other.uid_validity,
            other.next_uid,
            other.highest_modseq,
            other.summary,
            &other.keywords,
            other.cur_digest,
        ) && self.messages == other.messages
    }
}

impl Eq for Listing {}

/// A `dovecot-uidlist` read up to `len` octets: its inode, and what that part says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UidlistRead {
    pub(crate) ino: u64,
    pub(crate) len: u64,
    pub(crate) totals: Totals,
}

/// Counts over a folder's messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Summary {
    /// Messages still in `new/`.
    pub in_new: usize,
    /// Messages without the `S` (seen) flag.
    pub unseen: usize,
    /// The position of the first of them.
    pub first_unseen: Option<usize>,
    /// Messages with the `T` (trashed, IMAP `\Deleted`) flag.
    pub deleted: usize,
    /// The sum of the messages' virtual (CRLF) sizes.
    pub vsize: u64,
}

impl Summary {
    /// The counts over `messages` (in UID order).
    pub fn of<'a>(messages: impl IntoIterator<Item = &'a Message>) -> Self {
        let mut s = Summary::default();
        for (i, m) in messages.into_iter().enumerate() {
            s.count(m, 1);
            if !m.has_flag('S') {
                s.first_unseen.get_or_insert(i);
            }
        }
        s
    }

    /// Adds `m` to the counts (`sign` 1), or takes it out (-1); leaves `first_unseen`.
    fn count(&mut self, m: &Message, sign: i8) {
        let add = |n: &mut usize, yes: bool| {
            if yes {
                *n = if sign > 0 {
                    *n + 1
                } else {
                    n.saturating_sub(1)
                };
            }
        };
        add(&mut self.in_new, m.subdir == Subdir::New);
        add(&mut self.unseen, !m.has_flag('S'));
        add(&mut self.deleted, m.has_flag('T'));
        self.vsize = if sign > 0 {
            self.vsize + m.vsize
        } else {
            self.vsize.saturating_sub(m.vsize)
        };
    }
}

impl Listing {
    /// This listing after changes this process made itself: `renamed` are messages as they
    /// now are (given new flags, or moved to `cur/`), `removed` the UIDs of messages it
    /// removed. `None` when one of them is not in it as it should be.
    pub(crate) fn patched(&self, renamed: &[Message], removed: &[u32]) -> Option<Listing> {
        let mut listing = self.clone();
        // The first unseen message unless a change below says otherwise (by UID: positions
        // move with removals).
        let first_unseen = self.summary.first_unseen.map(|i| self.messages[i].uid);
        let mut lowest_change = u32::MAX;
        for new in renamed {
            let i = listing.messages.position(new.uid)?;
            let old = listing.messages[i].clone();
            if old.base != new.base {
                return None;
            }
            listing.digest(&old, -1);
            listing.summary.count(&old, -1);
            listing.digest(new, 1);
            listing.summary.count(new, 1);
            lowest_change = lowest_change.min(new.uid);
            // Its MODSEQ is the log's to tell.
            if let Some(m) = listing.messages.get_mut(i) {
                *m = Message {
                    modseq: 0,
                    ..new.clone()
                };
            }
        }
        let mut removed = removed.to_vec();
        removed.sort_unstable();
        removed.dedup();
        for &uid in &removed {
            let i = listing.messages.position(uid)?;
            let old = listing.messages[i].clone();
            listing.digest(&old, -1);
            listing.summary.count(&old, -1);
            lowest_change = lowest_change.min(uid);
        }
        listing.messages.remove_uids(&removed);
        listing.find_first_unseen(first_unseen, lowest_change);
        Some(listing)
    }

    /// This listing with `added` (new files, above every UID it has) after its messages.
    pub(crate) fn with_added(&self, added: Vec<Message>) -> Listing {
        let mut listing = self.clone();
        let first_unseen = self.summary.first_unseen.map(|i| self.messages[i].uid);
        let lowest = added.first().map_or(u32::MAX, |m| m.uid);
        for m in added {
            listing.digest(&m, 1);
            listing.summary.count(&m, 1);
            listing.next_uid = listing.next_uid.max(m.uid + 1);
            listing.messages.push(m);
        }
        listing.find_first_unseen(first_unseen, lowest);
        listing
    }

    /// Those of `names` (files just put into the folder) that this listing does not hold
    /// among its messages numbered `floor` or later: a scan since found and numbered the rest.
    pub(crate) fn lacking<'a>(&self, names: &'a [String], floor: u32) -> Cow<'a, [String]> {
        let from = self.messages.partition_point(|m| m.uid < floor);
        if from == self.messages.len() {
            return Cow::Borrowed(names);
        }
        let held: NameSet<&str> = self.messages.iter_from(from).map(|m| &*m.base).collect();
        if !names.iter().any(|n| held.contains(base_name(n))) {
            return Cow::Borrowed(names);
        }
        Cow::Owned(
            names
                .iter()
                .filter(|n| !held.contains(base_name(n)))
                .cloned()
                .collect(),
        )
    }

    /// Adds `m`'s name to the digest of `cur/` (`sign` 1) or takes it out (-1).
    fn digest(&mut self, m: &Message, sign: i8) {
        if m.subdir == Subdir::Cur {
            let h = name_hash(&m.name);
            self.cur_digest = if sign > 0 {
                self.cur_digest.wrapping_add(h)
            } else {
                self.cur_digest.wrapping_sub(h)
            };
        }
    }

    /// Sets `summary.first_unseen` after changes to messages with UIDs from `lowest_change`
    /// on, given the UID that was first unseen before them: only the messages from the lower
    /// of the two are looked at.
    fn find_first_unseen(&mut self, before: Option<u32>, lowest_change: u32) {
        let from = before.map_or(lowest_change, |b| b.min(lowest_change));
        let start = self.messages.partition_point(|m| m.uid < from);
        let unchanged_before = match before {
            Some(b) if b < lowest_change => Some(start),
            _ => None,
        };
        self.summary.first_unseen = unchanged_before.or_else(|| {
            self.messages
                .iter_from(start)
                .position(|m| !m.has_flag('S'))
                .map(|k| start + k)
        });
    }

    /// The POP3 UIDL of a message: a migrated one if the uidlist has it, else Dovecot 2.3's
    /// default `pop3_uidl_format = %08Xu%08Xv`, so clients moving from Dovecot keep theirs.
    pub fn uidl(&self, message: &Message) -> String {
        pop3_uidl(message, self.uid_validity)
    }
}
