//! Reusing a folder's listing while nothing in it changed, so opening a large folder again
//! costs four `stat` calls instead of a directory scan, and the parts of it that did not
//! change when something did (after a delivery, only `new/` is read again).
//!
//! Every change to a Maildir changes the modification time of `new/`, `cur/`,
//! `dovecot-uidlist` or `dovecot-keywords` (deliveries, flag renames, expunges and UID
//! assignments all create, rename or remove entries there). File times are coarse, though: the
//! kernel stamps them from a clock that ticks every few milliseconds (and some file systems keep
//! whole seconds), so a change right after a scan can leave every time as it was. A stamp
//! therefore only vouches for a part whose time was older than one tick of that clock when
//! it was taken ([`SETTLE`], or [`crate::SETTLE_COARSE`] where the times carry no nanoseconds).
//! While a part's time is still that fresh, a listing made since is used as it is, and the
//! part is read again once its time has settled: a change made in the same tick shows up
//! that much later, never not at all (Dovecot delays its maildir "dirty" rescans the same
//! way). So a burst of changes costs one more read after it, not one per command in it.
//!
//! Changes this process makes itself are taken into the listing as they are made
//! ([`ListingCache::note_changes`], [`ListingCache::scan_adding`]); the read that checks that
//! nobody else changed the folder in the same clock tick then waits until [`OWN_CHANGE_CHECK`]
//! after the first of them. Reading `cur/` of a 100,000-message folder costs about 35 ms of
//! CPU: once per APPEND or STORE it made each cost 90-200 ms at that size (benches/imap-scale.sh);
//! once per two seconds of changes it is a small fraction of one. Another writer's change made
//! between our last read of the folder and our own change (or in the same tick as it) shows up
//! that much later; any later change of theirs moves a directory's time and is read at once.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::stamp::SETTLE;
use crate::{Error, FolderStamp, Listing, Maildir, Message, ModSeqs};

/// How long after this process's own change to a folder the listing it patched is used
/// without reading the folder's directories again (see the module's note).
pub const OWN_CHANGE_CHECK: Duration = Duration::from_secs(2);

/// A kept listing: the stamp that vouches for it, and, when it holds changes this process
/// made itself that no read of the directories has confirmed yet, when that read is due.
#[derive(Debug, Clone)]
struct Kept {
    stamp: FolderStamp,
    listing: Arc<Listing>,
    check_at: Option<Instant>,
    /// When the folder's snapshot on disk was last written (or read).
    saved_at: Option<Instant>,
    /// Whether this listing differs from that snapshot.
    unsaved: bool,
}

/// How often at most a folder's snapshot is written while it changes (writing one of
/// 100,000 messages costs about 20 ms).
const SAVE_EVERY: Duration = Duration::from_secs(30);
/// Folders smaller than this get no snapshot: scanning them costs less than a millisecond.
const SAVE_FROM: usize = 1000;

impl Kept {
    /// Whether this listing stands for the folder stamped `now` without reading it: nothing
    /// changed since, or only what this process changed itself and the check is not due.
    fn stands(&self, now: &FolderStamp) -> bool {
        now.unchanged_since(&self.stamp)
            || self.check_at.is_some_and(|at| Instant::now() < at) && now.same_parts(&self.stamp)
    }

    /// The listing, with the stamp it is to be given under when it stands at `now`.
    fn current(self, now: FolderStamp) -> (FolderStamp, Arc<Listing>) {
        match self.check_at {
            // Vouched for only until the check: the caller is to look again.
            Some(_) => (self.stamp, self.listing),
            None => (now, self.listing),
        }
    }
}

/// Listings of recently scanned folders, shared by every session of a process, holding at
/// most a given number of messages in all.
#[derive(Debug)]
pub struct ListingCache {
    entries: Mutex<HashMap<PathBuf, Kept>>,
    /// How many times a session has noted its own changes (see [`ListingCache::keep`]).
    notes: std::sync::atomic::AtomicU64,
    max_messages: usize,
    modseqs: ModSeqs,
    own_change_check: Duration,
    /// Scans take turns per folder (by a hash of its path): sessions that open a folder at
    /// the same time then read it once and share the listing, instead of each making one
    /// (ten sessions opening a 100,000-message INBOX held ten copies of it).
    turns: [Mutex<()>; 16],
}

/// Where a folder's numbering stood, as this process knew it, before it added files to the
/// folder (see [`ListingCache::mark`]): any UID given to those files is at least this.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AddMark {
    uid_validity: u32,
    next_uid: u32,
}

impl AddMark {
    /// The first UID that a file added after this mark can have in `listing`: 1 when the
    /// listing is of another UIDVALIDITY (the folder was made again meanwhile).
    fn floor(self, listing: &Listing) -> u32 {
        if listing.uid_validity == self.uid_validity {
            self.next_uid
        } else {
            1
        }
    }
}

/// When a scan began: how many changes sessions had noted by then.
struct Start {
    notes: u64,
}

impl ListingCache {
    /// A cache that keeps listings of up to `max_messages` messages in all.
    pub fn new(max_messages: usize) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            notes: std::sync::atomic::AtomicU64::new(0),
            max_messages,
            modseqs: ModSeqs::new(max_messages),
            own_change_check: OWN_CHANGE_CHECK,
            turns: Default::default(),
        }
    }

    /// The turn of `maildir`'s scans (see `turns`).
    fn turn(&self, maildir: &Maildir) -> std::sync::MutexGuard<'_, ()> {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        maildir.path().hash(&mut h);
        self.turns[h.finish() as usize % self.turns.len()]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// This cache, checking this process's own changes against the directories `after` the
    /// first of them instead of [`OWN_CHANGE_CHECK`].
    #[must_use]
    pub fn with_own_change_check(mut self, after: Duration) -> Self {
        self.own_change_check = after;
        self
    }

    /// How long after this process's own change the folder is read again to check it.
    pub fn own_change_check(&self) -> Duration {
        self.own_change_check
    }

    /// The MODSEQ logs that every listing from here has been reconciled with.
    pub fn modseqs(&self) -> &ModSeqs {
        &self.modseqs
    }

    /// The listing of `maildir`, with MODSEQs: the cached one when the folder is provably
    /// unchanged, else a [`Maildir::rescan`] of what changed since it (kept for next time).
    pub fn scan(&self, maildir: &Maildir) -> Result<Arc<Listing>, Error> {
        self.scan_stamped(maildir).map(|(_, listing)| listing)
    }

    /// The listing this process keeps for `maildir` when `now`, a stamp just taken, shows
    /// that it still stands, with the stamp to give it under (as
    /// [`ListingCache::scan_stamped`] would): no file is read, so it need not be called off
    /// the async threads.
    pub fn kept(
        &self,
        maildir: &Maildir,
        now: &FolderStamp,
    ) -> Option<(FolderStamp, Arc<Listing>)> {
        let kept = self.lock().get(maildir.path()).cloned()?;
        (!kept.listing.messages.damaged() && kept.stands(now)).then(|| kept.current(now.clone()))
    }

    /// [`ListingCache::scan`], with the stamp taken before it: a later stamp equal to it
    /// proves the listing still current.
    pub fn scan_stamped(&self, maildir: &Maildir) -> Result<(FolderStamp, Arc<Listing>), Error> {
        self.scan_adding_stamped(maildir, &[], AddMark::default(), &mut None)
    }

    /// [`ListingCache::scan`] right after this process put the files `added` into `cur/`
    /// (APPEND, COPY): they are numbered without matching the rest of `cur/` file by file
    /// (see [`Maildir::rescan_adding`]).
    ///
    /// `mark` is taken with [`ListingCache::mark`] before the files were put there: another
    /// session's scan may find and number them first, and then they keep the UIDs it gave.
    pub fn scan_adding(
        &self,
        maildir: &Maildir,
        added: &[String],
        mark: AddMark,
    ) -> Result<Arc<Listing>, Error> {
        self.scan_adding_stamped(maildir, added, mark, &mut None)
            .map(|(_, listing)| listing)
    }

    /// Where `maildir`'s numbering stands as far as this process knows, to be taken before it
    /// adds files to it and given to [`ListingCache::scan_adding`] after.
    pub fn mark(&self, maildir: &Maildir) -> AddMark {
        self.lock()
            .get(maildir.path())
            .map_or_else(AddMark::default, |k| AddMark {
                uid_validity: k.listing.uid_validity,
                next_uid: k.listing.next_uid,
            })
    }

    /// Stores `delivery` in `maildir`'s `cur/` with `flags` (letters) and, if given,
    /// `internal_date` as its date (IMAP APPEND), durably, and numbers it: returns its file
    /// name and the folder's listing holding it.
    pub fn append(
        &self,
        maildir: &Maildir,
        delivery: crate::Delivery,
        flags: &str,
        internal_date: Option<std::time::SystemTime>,
    ) -> Result<(String, Arc<Listing>), Error> {
        self.append_stamped(maildir, delivery, flags, internal_date)
            .map(|(name, _, listing)| (name, listing))
    }

    /// [`ListingCache::append`], with the stamp the listing stands for (as
    /// [`ListingCache::scan_stamped`] gives it).
    pub fn append_stamped(
        &self,
        maildir: &Maildir,
        delivery: crate::Delivery,
        flags: &str,
        internal_date: Option<std::time::SystemTime>,
    ) -> Result<(String, FolderStamp, Arc<Listing>), Error> {
        let mark = self.mark(maildir);
        let placed = delivery.place_in_cur(flags, internal_date)?;
        let name = placed.name.clone();
        // Numbered while it is made durable, where the uidlist is only appended to; else
        // made durable after.
        let mut pending = Some(placed);
        let scanned =
            self.scan_adding_stamped(maildir, std::slice::from_ref(&name), mark, &mut pending);
        let settled = pending.take().map_or(Ok(()), crate::Placed::settle);
        let (stamp, listing) = scanned?;
        settled?;
        Ok((name, stamp, listing))
    }

    fn scan_adding_stamped(
        &self,
        maildir: &Maildir,
        added: &[String],
        mark: AddMark,
        unsettled: &mut Option<crate::Placed>,
    ) -> Result<(FolderStamp, Arc<Listing>), Error> {
        let _turn = self.turn(maildir);
        let mut stamp = FolderStamp::of(maildir);
        let start = Start {
            notes: self.notes.load(std::sync::atomic::Ordering::SeqCst),
        };
        let kept = self.lock().get(maildir.path()).cloned();
        // A listing whose snapshot could not be read back holds stand-ins: never built on.
        let cached = kept
            .or_else(|| self.load_snapshot(maildir, &start))
            .filter(|k| !k.listing.messages.damaged());
        // Files another session's scan found and numbered since they were added are in the
        // listing already: numbering them again would give them a second UID.
        let unknown;
        let added = match &cached {
            Some(kept) if !added.is_empty() => {
                unknown = kept.listing.lacking(added, mark.floor(&kept.listing));
                &unknown[..]
            }
            _ => added,
        };
        // What this process added is confirmed by a later read, like a noted change.
        let mut check_at = None;
        let mut listing = match cached {
            Some(kept) if added.is_empty() && kept.stands(&stamp) => {
                return Ok(kept.current(stamp));
            }
            Some(Kept {
                stamp: cached,
                listing,
                check_at: pending,
                ..
            }) => {
                let mut unchanged = stamp.unchanged_parts_since(&cached);
                if !added.is_empty() {
                    check_at =
                        Some(pending.unwrap_or_else(|| Instant::now() + self.own_change_check));
                    if unchanged.new
                        && let Some((mut with, written)) =
                            maildir.add_numbered(&listing, added, unsettled)?
                        && !listing.messages.damaged()
                    {
                        // Only the new files are read: cur/ and new/ as the listing says
                        // (checked at `check_at`).
                        let uids: Vec<u32> = with
                            .messages
                            .iter_from(listing.messages.len())
                            .map(|m| m.uid)
                            .collect();
                        self.modseqs
                            .reconcile_changed(maildir, &mut with, &uids, &[])?;
                        let stamp = stamp
                            .with_cur_unsettled()
                            .with_uidlist_written(Some(written));
                        let with = Arc::new(with);
                        self.keep(maildir, &stamp, &with, &start, check_at);
                        return Ok((stamp, with));
                    }
                    // cur/ changed by what this process added: take the rest of it as it was,
                    // and read it again once its time has settled (another writer may have
                    // changed it too).
                    unchanged.cur = true;
                    stamp = stamp.with_dirs_of(&stamp.clone());
                }
                let (mut rescanned, mut written) =
                    maildir.rescan_noting(Some((&listing, unchanged)), added)?;
                if listing.messages.damaged() {
                    // It turned out to hold stand-ins while it was read: read it all.
                    (rescanned, written) = maildir.rescan_noting(None, &[])?;
                    rescanned = Some(rescanned.unwrap_or_default());
                }
                stamp = stamp.with_uidlist_written(written);
                match rescanned {
                    Some(new) => new,
                    None => {
                        // The same listing, now vouched for by this stamp.
                        self.keep(maildir, &stamp, &listing, &start, check_at);
                        return Ok((stamp, listing));
                    }
                }
            }
            None => {
                let (scanned, written) = maildir.rescan_noting(None, &[])?;
                stamp = stamp.with_uidlist_written(written);
                scanned.unwrap_or_default()
            }
        };
        self.modseqs.reconcile(maildir, &mut listing)?;
        let listing = Arc::new(listing);
        self.keep(maildir, &stamp, &listing, &start, check_at);
        Ok((stamp, listing))
    }

    /// Takes in changes this process made to `maildir` itself (`renamed`: messages as they now
    /// are, with new flags or moved to `cur/`; `removed`: UIDs of messages it removed), so
    /// that the next rescan finds `cur/` as the kept listing says and need not match it file
    /// by file. The folder is still read again before the listing is trusted (another writer
    /// may have changed it in the same clock tick), but that read only compares a digest.
    pub fn note_changes(
        &self,
        maildir: &Maildir,
        renamed: &[Message],
        removed: &[u32],
    ) -> Result<(), Error> {
        self.notes.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let Some(Kept {
            stamp,
            listing,
            check_at,
            saved_at,
            ..
        }) = self.lock().get(maildir.path()).cloned()
        else {
            return Ok(());
        };
        // The directories hold these changes now; what else changed in them since the listing
        // was made shows when they are checked again (the uidlist and keywords keep the
        // stamp the listing had, so a change to them is read at once).
        let stamp = stamp.with_dirs_of(&FolderStamp::of(maildir));
        // Sessions note their renames in no set order: a message another session renamed
        // again since (its name is gone) would be patched back to what this one left. Then
        // nobody's note is trusted for it: the folder is read.
        let current = renamed
            .iter()
            .all(|m| std::fs::symlink_metadata(maildir.message_path(m)).is_ok());
        let Some(mut patched) = listing
            .patched(renamed, removed)
            .filter(|_| current && !listing.messages.damaged())
        else {
            // Not what the cached listing knows (older than this session's view): nobody may
            // be handed it again, as its stamp could vouch for the directories with this
            // change in them (a rename in the same clock tick); the next look reads cur/ file
            // by file.
            let mut entries = self.lock();
            if entries
                .get(maildir.path())
                .is_some_and(|current| Arc::ptr_eq(&current.listing, &listing))
            {
                entries.remove(maildir.path());
            }
            return Ok(());
        };
        let changed: Vec<u32> = renamed.iter().map(|m| m.uid).collect();
        self.modseqs
            .reconcile_changed(maildir, &mut patched, &changed, removed)?;
        let mut entries = self.lock();
        if entries
            .get(maildir.path())
            .is_some_and(|current| Arc::ptr_eq(&current.listing, &listing))
        {
            let kept = Kept {
                stamp,
                listing: Arc::new(patched),
                check_at: Some(check_at.unwrap_or_else(|| Instant::now() + self.own_change_check)),
                saved_at,
                unsaved: true,
            };
            entries.insert(maildir.path().to_owned(), kept);
        } else {
            // Another session put its own listing there meanwhile, which may vouch for the
            // directories as they are now without holding this change: nobody may trust it,
            // the next look reads the folder.
            entries.remove(maildir.path());
        }
        Ok(())
    }

    /// Keeps `listing` as the one `stamp` vouches for, if there is room, unless a session
    /// noted a change of its own since the scan began (`start`): the scan may have read the
    /// directory too early to see that change while its stamp vouches for it, so neither it
    /// nor the listing the note patched may be trusted, and the next look reads the folder.
    fn keep(
        &self,
        maildir: &Maildir,
        stamp: &FolderStamp,
        listing: &Arc<Listing>,
        start: &Start,
        check_at: Option<Instant>,
    ) {
        let save = {
            let mut entries = self.lock();
            if self.notes.load(std::sync::atomic::Ordering::SeqCst) != start.notes {
                entries.remove(maildir.path());
                return;
            }
            if listing.messages.len() > self.max_messages {
                return;
            }
            let previous = entries.remove(maildir.path());
            let (mut saved_at, mut unsaved) = previous.map_or((None, true), |p| {
                (p.saved_at, p.unsaved || !Arc::ptr_eq(&p.listing, listing))
            });
            // A snapshot must be of a listing its stamp vouches for entirely.
            let save = unsaved
                && check_at.is_none()
                && stamp.is_settled()
                && listing.messages.len() >= SAVE_FROM
                && saved_at.is_none_or(|at| at.elapsed() >= SAVE_EVERY);
            if save {
                saved_at = Some(Instant::now());
                unsaved = false;
            }
            let mut held: usize = entries.values().map(|k| k.listing.messages.len()).sum();
            // Make room by dropping other folders (no order: any cached folder is as likely
            // to be opened again as another, and a rescan is only a miss, never wrong).
            while held + listing.messages.len() > self.max_messages {
                let Some(victim) = entries.keys().next().cloned() else {
                    break;
                };
                if let Some(k) = entries.remove(&victim) {
                    held -= k.listing.messages.len();
                }
            }
            let kept = Kept {
                stamp: stamp.clone(),
                listing: Arc::clone(listing),
                check_at,
                saved_at,
                unsaved,
            };
            entries.insert(maildir.path().to_owned(), kept);
            save
        };
        if save {
            // Only a cache: a folder that cannot take it is scanned after a restart.
            let _ = maildir.save_listing(stamp, listing);
        }
    }

    /// The folder's snapshot from disk, kept as its listing (see the `snapshot` module).
    fn load_snapshot(&self, maildir: &Maildir, start: &Start) -> Option<Kept> {
        let (stamp, listing) = maildir.load_listing()?;
        let kept = Kept {
            stamp,
            listing: Arc::new(listing),
            check_at: None,
            saved_at: Some(Instant::now()),
            unsaved: false,
        };
        let mut entries = self.lock();
        if self.notes.load(std::sync::atomic::Ordering::SeqCst) == start.notes
            && kept.listing.messages.len() <= self.max_messages
        {
            entries
                .entry(maildir.path().to_owned())
                .or_insert_with(|| kept.clone());
        }
        Some(kept)
    }

    /// Lets go of what is kept in memory for `maildir` (nobody uses it now): its listing, after
    /// writing its snapshot if that is behind, and its MODSEQ log.
    pub fn release(&self, maildir: &Maildir) {
        // A scan of it may be writing its snapshot: one writer at a time (same tmp name).
        let _turn = self.turn(maildir);
        let kept = self.lock().remove(maildir.path());
        if let Some(k) = kept
            && k.unsaved
            && k.check_at.is_none()
            && k.stamp.is_settled()
            && k.listing.messages.len() >= SAVE_FROM
        {
            let _ = maildir.save_listing(&k.stamp, &k.listing);
        }
        self.modseqs.forget(maildir);
    }

    /// Writes the snapshot of every kept listing that changed since its last one (at
    /// shutdown, so the first look at each folder after a restart reads one file).
    ///
    /// A listing holding this process's own changes not yet checked against the folder (an
    /// APPEND or STORE in the last seconds) is checked first, once its times have settled:
    /// unchecked, it was not written, and the first SELECT of a 100,000-message INBOX after a
    /// restart that followed some APPENDs scanned it (194-214 ms instead of 1.6-1.8).
    pub fn save_all(&self) {
        let unchecked: Vec<PathBuf> = {
            let now = Instant::now();
            let mut entries = self.lock();
            entries
                .iter_mut()
                .filter(|(_, k)| {
                    k.unsaved
                        && k.listing.messages.len() >= SAVE_FROM
                        && (k.check_at.is_some() || !k.stamp.is_settled())
                })
                .map(|(path, k)| {
                    // Due now: the scan below reads what it must instead of trusting it.
                    k.check_at = k.check_at.map(|_| now);
                    path.clone()
                })
                .collect()
        };
        if !unchecked.is_empty() {
            std::thread::sleep(SETTLE);
            for path in unchecked {
                let _ = self.scan(&Maildir::new(path));
            }
        }
        let unsaved: Vec<(PathBuf, Kept)> = self
            .lock()
            .iter_mut()
            .filter(|(_, k)| {
                k.unsaved
                    && k.check_at.is_none()
                    && k.stamp.is_settled()
                    && k.listing.messages.len() >= SAVE_FROM
            })
            .map(|(path, k)| {
                k.unsaved = false;
                k.saved_at = Some(Instant::now());
                (path.clone(), k.clone())
            })
            .collect();
        for (path, k) in unsaved {
            let maildir = Maildir::new(path);
            let _turn = self.turn(&maildir);
            let _ = maildir.save_listing(&k.stamp, &k.listing);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, Kept>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stamp::PARTS;
    use std::os::unix::fs::MetadataExt;
    use std::time::SystemTime;

    fn settle(md: &Maildir) {
        let old = SystemTime::now() - Duration::from_secs(10);
        for p in PARTS {
            if let Ok(f) = std::fs::File::options().write(true).open(md.path().join(p)) {
                f.set_modified(old).unwrap();
            } else if let Ok(d) = std::fs::File::open(md.path().join(p)) {
                let _ = d.set_modified(old);
            }
        }
    }

    /// An empty Maildir of this test's own.
    fn folder(name: &str) -> Maildir {
        let dir = std::env::temp_dir().join(format!("maildir-cache-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Maildir::new(&dir)
    }

    /// A message delivered into new/.
    fn deliver(md: &Maildir, subject: &str) {
        let mut d = crate::Delivery::begin(md, "host").unwrap();
        d.write(format!("Subject: {subject}\r\n\r\n").as_bytes())
            .unwrap();
        d.commit(&[]).unwrap();
    }

    /// A message stored into cur/ as IMAP APPEND does; its file name.
    fn append(md: &Maildir, subject: &str) -> String {
        let mut d = crate::Delivery::begin(md, "host").unwrap();
        d.write(format!("Subject: {subject}\r\n\r\n").as_bytes())
            .unwrap();
        d.commit_to_cur("S", None).unwrap()
    }

    #[test]
    fn reuses_a_settled_listing_and_sees_every_change() {
        let md = folder("settled");
        deliver(&md, "one");
        let cache = ListingCache::new(1000);
        // A delivery in the same clock tick as a scan (new/ keeps the time that scan saw)
        // shows once that time has settled.
        let fresh = SystemTime::now();
        set_time(&md.path().join("new"), fresh);
        let first = cache.scan(&md).unwrap();
        assert_eq!(first.messages.len(), 1);
        deliver(&md, "two");
        set_time(&md.path().join("new"), fresh);
        std::thread::sleep(SETTLE * 2);
        assert_eq!(cache.scan(&md).unwrap().messages.len(), 2);
        settle(&md);
        let second = cache.scan(&md).unwrap();
        assert_eq!(second.messages.len(), 2);
        let third = cache.scan(&md).unwrap();
        assert!(
            Arc::ptr_eq(&second, &third),
            "an unchanged folder is not rescanned"
        );
        deliver(&md, "three");
        assert_eq!(cache.scan(&md).unwrap().messages.len(), 3);
        let _ = std::fs::remove_dir_all(md.path());
    }

    fn set_time(path: &std::path::Path, time: SystemTime) {
        std::fs::File::open(path)
            .unwrap()
            .set_modified(time)
            .unwrap();
    }

    #[test]
    fn rereads_only_what_changed() {
        let md = folder("parts");
        for s in ["one", "two", "three"] {
            deliver(&md, s);
        }
        let cache = ListingCache::new(1000);
        for m in &cache.scan(&md).unwrap().messages {
            md.add_flags(m, "S").unwrap();
        }
        settle(&md);
        let before = cache.scan(&md).unwrap();
        assert!(
            before
                .messages
                .iter()
                .all(|m| m.subdir == crate::Subdir::Cur)
        );
        let uidlist = md.path().join("dovecot-uidlist");
        let inode = || std::fs::metadata(&uidlist).unwrap().ino();
        let first_inode = inode();

        // A delivery: only new/ is read. A rename in cur/ hidden from the stamp (its time put
        // back) proves that cur/ was taken from the cached listing.
        let cur = md.path().join("cur");
        let settled_time = std::fs::metadata(&cur).unwrap().modified().unwrap();
        let hidden = md.set_flags(&before.messages[0], "FS").unwrap();
        set_time(&cur, settled_time);
        deliver(&md, "four");
        let after = cache.scan(&md).unwrap();
        let uids: Vec<u32> = after.messages.iter().map(|m| m.uid).collect();
        assert_eq!(uids, [1, 2, 3, 4]);
        assert_eq!(after.next_uid, 5);
        assert_eq!(
            after.messages[0].flags, before.messages[0].flags,
            "cur/ was not read"
        );
        assert_eq!(after.messages[3].subdir, crate::Subdir::New);
        assert_eq!(inode(), first_inode, "the new record was appended");
        assert!(
            std::fs::read_to_string(&uidlist)
                .unwrap()
                .ends_with(&format!("4 :{}\n", after.messages[3].base))
        );

        // A change within the clock tick of the stamp that read cur/ (cur/'s time is left as
        // that stamp saw it) is seen once that time has settled.
        let fresh = SystemTime::now();
        set_time(&cur, fresh);
        let seen = cache.scan(&md).unwrap();
        assert_eq!(seen.messages[0].name, hidden.name);
        md.set_flags(&hidden, "S").unwrap();
        set_time(&cur, fresh);
        std::thread::sleep(SETTLE * 2);
        let again = cache.scan(&md).unwrap();
        assert_eq!(&*again.messages[0].flags, "S");
        // What the incremental scans found is what a full scan finds.
        let mut full = md.scan().unwrap();
        cache.modseqs().reconcile(&md, &mut full).unwrap();
        assert_eq!(full, *again);
        let _ = std::fs::remove_dir_all(md.path());
    }

    #[test]
    fn files_this_process_added_are_numbered_with_cur_unread() {
        let md = folder("add");
        for s in ["one", "two", "three"] {
            append(&md, s);
        }
        let cache = ListingCache::new(1000);
        cache.scan(&md).unwrap();
        settle(&md);
        let before = cache.scan(&md).unwrap();
        let full = |cache: &ListingCache| {
            let mut full = md.scan().unwrap();
            cache.modseqs().reconcile(&md, &mut full).unwrap();
            full
        };
        // An APPEND: the new file is numbered, the rest of cur/ taken from the listing (and
        // checked once its time has settled).
        let mark = cache.mark(&md);
        let name = append(&md, "four");
        let after = cache
            .scan_adding(&md, std::slice::from_ref(&name), mark)
            .unwrap();
        assert_eq!(after.messages.len(), 4);
        assert_eq!(after.messages[3].uid, before.next_uid);
        assert_eq!(*after.messages[3].name, *name);
        std::thread::sleep(SETTLE * 2);
        assert!(Arc::ptr_eq(&after, &cache.scan(&md).unwrap()));
        assert_eq!(*after, full(&cache));
        // Another writer renamed a file meanwhile: seen when the check of this process's own
        // change is due, when cur/ is read again and does not hold what the listing and the
        // added file say.
        settle(&md);
        cache.scan(&md).unwrap();
        md.set_flags(&after.messages[0], "FS").unwrap();
        let mark = cache.mark(&md);
        let name = append(&md, "five");
        let added = cache.scan_adding(&md, &[name], mark).unwrap();
        assert_eq!(added.messages.len(), 5);
        std::thread::sleep(SETTLE * 2);
        assert_eq!(&*cache.scan(&md).unwrap().messages[0].flags, "S");
        std::thread::sleep(OWN_CHANGE_CHECK);
        let both = cache.scan(&md).unwrap();
        assert_eq!(&*both.messages[0].flags, "FS");
        assert_eq!(*both, full(&cache));
        let _ = std::fs::remove_dir_all(md.path());
    }

    /// Another session's scan that numbers a file between its store and its owner's
    /// numbering (the window an APPEND has) leaves it one record and one UID.
    #[test]
    fn a_file_another_scan_numbered_first_keeps_its_one_uid() {
        let md = folder("numbered-first");
        for s in ["one", "two"] {
            append(&md, s);
        }
        let cache = ListingCache::new(1000);
        cache.scan(&md).unwrap();
        settle(&md);
        cache.scan(&md).unwrap();
        let mark = cache.mark(&md);
        let name = append(&md, "three");
        // The other session: it finds the file in cur/ and numbers it.
        settle(&md);
        let theirs = cache.scan(&md).unwrap();
        assert_eq!(theirs.messages.len(), 3);
        let uid = theirs.messages[2].uid;
        // The owner then numbers what it stored.
        let ours = cache
            .scan_adding(&md, std::slice::from_ref(&name), mark)
            .unwrap();
        let uids: Vec<u32> = ours.messages.iter().map(|m| m.uid).collect();
        assert_eq!(uids, [1, 2, uid]);
        assert_eq!(ours.next_uid, uid + 1);
        let records = std::fs::read_to_string(md.path().join("dovecot-uidlist")).unwrap();
        let base = crate::uidlist::base_name(&name);
        assert_eq!(records.matches(base).count(), 1, "{records}");
        let mut full = md.scan().unwrap();
        cache.modseqs().reconcile(&md, &mut full).unwrap();
        assert_eq!(full, *ours);
        let _ = std::fs::remove_dir_all(md.path());
    }

    /// A process that starts again reads a large folder's snapshot instead of scanning it,
    /// and what changed while it was down is still seen.
    #[test]
    fn the_snapshot_written_at_shutdown_holds_the_last_appends() {
        let md = folder("snapshot-appends");
        md.create().unwrap();
        for i in 0..SAVE_FROM {
            let body = format!("Subject: {i}\r\n\r\nbody\r\n");
            let name = format!("{}.M{i}P1.host,S={}:2,S", 1_700_000_000 + i, body.len());
            std::fs::write(md.path().join("cur").join(name), body).unwrap();
        }
        settle(&md);
        let running = ListingCache::new(100_000);
        running.scan(&md).unwrap();
        // APPENDs just before the shutdown: their check is not due yet.
        for k in 0..3 {
            let mut d = crate::Delivery::begin(&md, "host").unwrap();
            d.write(format!("Subject: late {k}\r\n\r\n").as_bytes())
                .unwrap();
            running.append(&md, d, "S", None).unwrap();
        }
        running.save_all();
        let (_, saved) = md.load_listing().expect("a snapshot");
        assert_eq!(
            saved.messages.len(),
            SAVE_FROM + 3,
            "with the appended messages"
        );
        let restarted = ListingCache::new(100_000);
        let read = restarted.scan(&md).unwrap();
        let mut full = md.scan().unwrap();
        restarted.modseqs().reconcile(&md, &mut full).unwrap();
        full.highest_modseq = read.highest_modseq;
        assert!(*read == full, "the snapshot is what a scan finds");
        let _ = std::fs::remove_dir_all(md.path());
    }

    #[test]
    fn a_restart_reads_the_snapshot_and_sees_what_changed_meanwhile() {
        let md = folder("snapshot");
        md.create().unwrap();
        for i in 0..SAVE_FROM + 10 {
            let body = format!("Subject: {i}\r\n\r\nbody\r\n");
            let name = format!("{}.M{i}P1.host,S={}:2,S", 1_700_000_000 + i, body.len());
            std::fs::write(md.path().join("cur").join(name), body).unwrap();
        }
        settle(&md);
        let full = |cache: &ListingCache| {
            let mut full = md.scan().unwrap();
            cache.modseqs().reconcile(&md, &mut full).unwrap();
            full
        };
        let first = ListingCache::new(100_000);
        let before = first.scan(&md).unwrap();
        assert_eq!(before.messages.len(), SAVE_FROM + 10);
        assert!(
            md.path().join("mailserver.listing").exists(),
            "saved at once"
        );
        // Unchanged: the snapshot is the listing, with its MODSEQs.
        // (A log read back moves its highest MODSEQ up to the clock; the snapshot's stays as
        // it was, which is right: nothing changed.)
        let second = ListingCache::new(100_000);
        let read = second.scan(&md).unwrap();
        assert!(*read == *before, "the snapshot is the listing");
        let mut scanned = full(&second);
        assert!(scanned.highest_modseq >= read.highest_modseq);
        scanned.highest_modseq = read.highest_modseq;
        assert!(*read == scanned, "the snapshot is what a scan finds");
        // Changed while no process was running: a delivery, a flag, an expunge.
        deliver(&md, "new");
        md.set_flags(&before.messages[3], "FS").unwrap();
        md.expunge(&before.messages[7]).unwrap();
        settle(&md);
        let third = ListingCache::new(100_000);
        let after = third.scan(&md).unwrap();
        assert_eq!(after.messages.len(), SAVE_FROM + 10);
        assert_eq!(&*after.messages[3].flags, "FS");
        assert!(after.messages[3].modseq > before.highest_modseq);
        assert!(*after == full(&third), "changes made meanwhile are seen");
        // A snapshot that is not whole is ignored.
        std::fs::write(
            md.path().join("mailserver.listing"),
            "mailserver-listing 1\n",
        )
        .unwrap();
        let fourth = ListingCache::new(100_000);
        assert!(*fourth.scan(&md).unwrap() == full(&fourth));
        let _ = std::fs::remove_dir_all(md.path());
    }

    #[test]
    fn a_change_the_kept_listing_cannot_take_has_it_read_again() {
        let md = folder("untakeable");
        deliver(&md, "one");
        let cache = ListingCache::new(1000);
        cache.scan(&md).unwrap();
        settle(&md);
        let kept = cache.scan(&md).unwrap();
        assert!(Arc::ptr_eq(&kept, &cache.scan(&md).unwrap()));
        // A change to a message the kept listing does not have (one newer than it): the
        // listing could not vouch for the folder with that change in it.
        let mut newer = kept.messages[0].clone();
        newer.uid += 100;
        cache.note_changes(&md, &[newer], &[]).unwrap();
        assert!(!Arc::ptr_eq(&kept, &cache.scan(&md).unwrap()));
        let _ = std::fs::remove_dir_all(md.path());
    }

    #[test]
    fn a_note_behind_another_rename_has_the_folder_read_again() {
        let md = folder("behind");
        deliver(&md, "one");
        let cache = ListingCache::new(1000);
        cache.scan(&md).unwrap();
        settle(&md);
        let kept = cache.scan(&md).unwrap();
        // Two sessions rename the message in turn; the second notes its change first.
        let first = md.set_flags(&kept.messages[0], "S").unwrap();
        let second = md.set_flags(&first, "FS").unwrap();
        cache.note_changes(&md, &[second], &[]).unwrap();
        cache.note_changes(&md, &[first], &[]).unwrap();
        assert_eq!(&*cache.scan(&md).unwrap().messages[0].flags, "FS");
        let _ = std::fs::remove_dir_all(md.path());
    }

    #[test]
    fn own_changes_are_taken_in_and_others_still_seen() {
        let md = folder("own");
        for subject in ["one", "two", "three"] {
            deliver(&md, subject);
        }
        let cache = ListingCache::new(1000);
        for m in &cache.scan(&md).unwrap().messages {
            md.add_flags(m, "S").unwrap();
        }
        settle(&md);
        let before = cache.scan(&md).unwrap();
        // This process's own flag change, noted: the next scan has it without matching cur/.
        let flagged = md.set_flags(&before.messages[1], "FS").unwrap();
        cache.note_changes(&md, &[flagged], &[]).unwrap();
        let now = cache.scan(&md).unwrap();
        assert_eq!(&*now.messages[1].flags, "FS");
        assert!(now.messages[1].modseq > before.messages[1].modseq);
        // Another writer's rename in the same clock tick shows when the check of this
        // process's change is due.
        let cur = md.path().join("cur");
        let time = std::fs::metadata(&cur).unwrap().modified().unwrap();
        md.set_flags(&now.messages[2], "RS").unwrap();
        set_time(&cur, time);
        std::thread::sleep(SETTLE * 2);
        assert_eq!(&*cache.scan(&md).unwrap().messages[2].flags, "S");
        std::thread::sleep(OWN_CHANGE_CHECK);
        let later = cache.scan(&md).unwrap();
        assert_eq!(&*later.messages[2].flags, "RS");
        // A removal, noted.
        md.expunge(&later.messages[0]).unwrap();
        cache
            .note_changes(&md, &[], &[later.messages[0].uid])
            .unwrap();
        let after = cache.scan(&md).unwrap();
        assert_eq!(after.messages.len(), 2);
        let mut full = md.scan().unwrap();
        cache.modseqs().reconcile(&md, &mut full).unwrap();
        assert_eq!(full, *after);
        let _ = std::fs::remove_dir_all(md.path());
    }
}
