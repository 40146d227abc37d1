//! Group commit of directory syncs: a new name in a directory is durable once the directory
//! is synced after it was made, and one sync covers every name made before it started. So
//! when several sessions rename messages into the same `new/` or `cur/` at once, one of them
//! syncs the directory for all that are waiting, instead of each syncing it in turn (ten
//! sessions delivering to one mailbox made ten syncs of its `new/` where two or three do).
//! A caller alone never waits for anybody: its latency is that of its own sync.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, LazyLock, Mutex, MutexGuard, PoisonError};

use crate::Error;

/// How the syncs that make new messages' names durable were shared among the changes
/// (renames into `new/` or `cur/`) since the process started: `changes / syncs` is the
/// batch size the group commit reached (1 when every caller synced alone, and under
/// `NameSync::Auto` on ext4/XFS/btrfs, where each file's own sync carries its name).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DirSyncStats {
    /// Syncs run: a directory's, or a renamed file's own.
    pub syncs: u64,
    /// Changes they made durable.
    pub changes: u64,
}

static SYNCS: AtomicU64 = AtomicU64::new(0);
static CHANGES: AtomicU64 = AtomicU64::new(0);

/// Counts `n` renames made durable each by its file's own sync (a batch of one each).
pub(crate) fn count_file_syncs(n: u64) {
    SYNCS.fetch_add(n, Ordering::Relaxed);
    CHANGES.fetch_add(n, Ordering::Relaxed);
}

/// The name syncs of this process so far (see [`DirSyncStats`]).
pub fn dir_sync_stats() -> DirSyncStats {
    DirSyncStats {
        syncs: SYNCS.load(Ordering::Relaxed),
        changes: CHANGES.load(Ordering::Relaxed),
    }
}

/// The directories being synced, each with its callers' turns.
static DIRS: LazyLock<Mutex<HashMap<PathBuf, Arc<Shared>>>> = LazyLock::new(Mutex::default);

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    done: Condvar,
}

#[derive(Debug, Default)]
struct State {
    /// Changes announced so far (each caller's is its number).
    changes: u64,
    /// Every change up to this one is durable.
    synced: u64,
    /// A sync is running.
    running: bool,
    /// The last failed sync: changes up to this one may not be durable.
    failed: Option<(u64, String)>,
}

/// Makes durable the name(s) the caller just made in `dir` (after its rename returned), by a
/// sync of `dir` that started after that: its own, or one another caller started later.
pub(crate) fn sync_after_change(dir: &Path) -> Result<(), Error> {
    let shared = Arc::clone(lock(&DIRS).entry(dir.to_owned()).or_default());
    let result = shared.sync(dir);
    // Counted and let go under the lock that hands it out, so the last one out sees it.
    let mut dirs = lock(&DIRS);
    let last = Arc::strong_count(&shared) == 2;
    drop(shared);
    if last {
        // Nobody else holds it: forget the directory (a caller that comes after starts anew).
        dirs.remove(dir);
    }
    result
}

impl Shared {
    fn sync(&self, dir: &Path) -> Result<(), Error> {
        let mut s = lock(&self.state);
        s.changes += 1;
        let mine = s.changes;
        loop {
            // A failure that may have left this change out is this caller's, even if a later
            // sync succeeded (a failed sync's error is not reported twice by the kernel).
            if let Some((upto, message)) = &s.failed
                && *upto >= mine
                && s.synced < mine
            {
                return Err(Error::Io {
                    action: "syncing directory",
                    path: dir.to_owned(),
                    source: std::io::Error::other(message.clone()),
                });
            }
            if s.synced >= mine {
                return Ok(());
            }
            if !s.running {
                s.running = true;
                let target = s.changes;
                drop(s);
                let result = crate::sync_dir(dir);
                s = lock(&self.state);
                s.running = false;
                match &result {
                    Ok(()) => {
                        SYNCS.fetch_add(1, Ordering::Relaxed);
                        CHANGES.fetch_add(target.saturating_sub(s.synced), Ordering::Relaxed);
                        s.synced = s.synced.max(target);
                    }
                    Err(e) => {
                        s.failed = Some((target, e.to_string()));
                        // Those it covered stop waiting and take the error (above); the
                        // caller itself returns it as it is.
                        self.done.notify_all();
                        return result;
                    }
                }
                self.done.notify_all();
                continue;
            }
            s = self.done.wait(s).unwrap_or_else(PoisonError::into_inner);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_callers_share_syncs_and_each_returns_after_one_that_covers_it() {
        let dir = std::env::temp_dir().join(format!("maildir-dirsync-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::thread::scope(|scope| {
            for t in 0..16 {
                let dir = &dir;
                scope.spawn(move || {
                    for i in 0..20 {
                        std::fs::write(dir.join(format!("{t}.{i}")), b"x").unwrap();
                        sync_after_change(dir).unwrap();
                    }
                });
            }
        });
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 320);
        // Everyone let go: nothing is kept for the directory.
        assert!(lock(&DIRS).get(&dir).is_none());
        // A directory that cannot be synced: the error, not a hang.
        let gone = dir.join("gone");
        assert!(sync_after_change(&gone).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
