//! A folder's stamp: the times, inodes and sizes of `new/`, `cur/`, `dovecot-uidlist` and
//! `dovecot-keywords`, which every change to a Maildir moves, and whether each was older than
//! a clock tick when taken (see the `cache` module's note on why a fresh time vouches for
//! nothing yet).

use std::os::unix::fs::MetadataExt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::{Maildir, Unchanged};

/// How old every time in a folder must be before a stamp of it can be trusted: more than a
/// kernel clock tick (at most 10 ms).
pub const SETTLE: Duration = Duration::from_millis(50);
/// The same, on a file system whose times have whole seconds.
pub const SETTLE_COARSE: Duration = Duration::from_secs(2);

pub(crate) const PARTS: [&str; 4] = ["new", "cur", "dovecot-uidlist", "dovecot-keywords"];

/// The times, inodes and sizes of what changes when a folder changes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FolderStamp {
    pub(crate) parts: [Option<(i64, i64, u64, u64)>; 4],
    /// Whether each part's time was older than a clock tick.
    pub(crate) settled: [bool; 4],
}

impl FolderStamp {
    /// Stamps `maildir` now.
    pub fn of(maildir: &Maildir) -> Self {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let parts = PARTS.map(|p| {
            let m = std::fs::metadata(maildir.path().join(p)).ok()?;
            Some((m.mtime(), m.mtime_nsec(), m.ino(), m.size()))
        });
        let fine = parts.iter().flatten().any(|p| p.1 != 0);
        let settle = if fine { SETTLE } else { SETTLE_COARSE };
        let settled = parts.map(|part| {
            part.is_none_or(|(secs, nanos, _, _)| {
                let mtime = Duration::new(
                    u64::try_from(secs).unwrap_or(0),
                    u32::try_from(nanos).unwrap_or(0),
                );
                mtime + settle <= now
            })
        });
        Self { parts, settled }
    }

    /// Whether every part's time was older than a clock tick when this stamp was taken (else a
    /// listing made after it is to be checked again once they are).
    pub fn is_settled(&self) -> bool {
        self.settled.iter().all(|&s| s)
    }

    /// Whether a listing made after `earlier` was taken still stands now: nothing changed
    /// since, or it is too early to tell (see the module's note).
    pub fn unchanged_since(&self, earlier: &FolderStamp) -> bool {
        (0..PARTS.len()).all(|i| self.part_unchanged_since(earlier, i))
    }

    /// Whether `dovecot-keywords` is as it was when `earlier` was taken (keywords read after
    /// it still stand).
    pub fn keywords_unchanged_since(&self, earlier: &FolderStamp) -> bool {
        self.part_unchanged_since(earlier, 3)
    }

    /// The parts for which a listing made after `earlier` was taken still stands now.
    pub fn unchanged_parts_since(&self, earlier: &FolderStamp) -> Unchanged {
        Unchanged {
            new: self.part_unchanged_since(earlier, 0),
            cur: self.part_unchanged_since(earlier, 1),
            uidlist: self.part_unchanged_since(earlier, 2),
        }
    }

    /// This stamp with the uidlist as a scan left it when it wrote it (`written`): the listing
    /// accounts for that file. Any later change to it changes its size (records are appended)
    /// or its inode (it is replaced), so this part needs no settling (Dovecot tells uidlist
    /// changes by the same two).
    pub(crate) fn with_uidlist_written(
        mut self,
        written: Option<crate::dotlock::FileStamp>,
    ) -> Self {
        if let Some(w) = written {
            self.parts[2] = Some(w);
            self.settled[2] = true;
        }
        self
    }

    /// This stamp with the directories' parts as they are in `now`, vouching for them only
    /// once they are checked again.
    pub(crate) fn with_dirs_of(&self, now: &FolderStamp) -> Self {
        let mut stamp = self.clone();
        for i in 0..2 {
            stamp.parts[i] = now.parts[i];
            stamp.settled[i] = false;
        }
        stamp
    }

    /// Whether every part has the time, inode and size it had in `earlier`, settled or not.
    pub(crate) fn same_parts(&self, earlier: &FolderStamp) -> bool {
        self.parts == earlier.parts
    }

    /// This stamp vouching for `cur/` only once it is checked again (this process just
    /// added to it).
    pub(crate) fn with_cur_unsettled(mut self) -> Self {
        self.settled[1] = false;
        self
    }

    fn part_unchanged_since(&self, earlier: &FolderStamp, i: usize) -> bool {
        // Unsettled then and settled now: the time to check it again has come.
        self.parts[i] == earlier.parts[i] && (earlier.settled[i] || !self.settled[i])
    }
}
