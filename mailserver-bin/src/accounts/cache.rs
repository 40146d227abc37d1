//! Recent recipient and login lookups, so a busy server does not ask the database for the
//! same address over and over (each query is a round trip to the SQLite worker thread or to
//! MariaDB). An answer is kept:
//! - for `[accounts] cache_ttl` seconds when that is set (changes made meanwhile, by the admin
//!   CLI or PostfixAdmin, show once the entry expires);
//! - and, with SQLite (no LDAP directory), for as long as the database's files are unchanged:
//!   their inode, size and modification time are read before the query and again before the
//!   answer is reused, as Postfix's daemons watch their map files. Every write to the database
//!   (ours, the CLI's, `sqlite3` by hand) changes the file or its write-ahead log, so a change
//!   shows at the next lookup. A modification time can only tell writes apart that are a clock
//!   tick apart (the kernel stamps files from a coarse clock), so an answer is kept this way
//!   only when the files were last written at least [`QUIET`] before the query: any later
//!   write then has a later time.
//!
//! Errors are never kept, so a database that is down still gives temporary failures.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use super::types::{LocalMailbox, Resolution};

/// Addresses a cache holds before it starts over (a bound, not a tuning knob).
const CACHE_ENTRIES: usize = 100_000;

/// How long the database's files must have been left alone for a stamp to vouch for an
/// answer: well above a kernel clock tick (at most 10 ms).
const QUIET: Duration = Duration::from_millis(50);

/// The database files' inode, size and modification time, in order (`None` for a missing
/// one, as a write-ahead log between checkpoints may be).
pub(super) type Stamp = Vec<Option<(u64, u64, SystemTime)>>;

#[derive(Debug, Clone)]
pub(super) enum Valid {
    Until(Instant),
    While(Stamp),
}

pub(super) type Entries<T> = Mutex<HashMap<String, (Valid, T)>>;

#[derive(Debug, Default)]
pub(super) struct LookupCache {
    ttl: Duration,
    /// The SQLite database's files (empty: no stamp to go by).
    files: Vec<PathBuf>,
    pub(super) resolved: Entries<Resolution>,
    pub(super) mailboxes: Entries<Option<LocalMailbox>>,
}

impl LookupCache {
    pub(super) fn new(ttl: Duration, files: Vec<PathBuf>) -> Self {
        Self {
            ttl,
            files,
            ..Self::default()
        }
    }

    pub(super) fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The same files, answers kept for `ttl` too.
    pub(super) fn with_ttl(&self, ttl: Duration) -> Self {
        Self::new(ttl, self.files.clone())
    }

    /// The files' stamp now, to take before a query whose answer is to be kept; `None` when
    /// there are no files to go by or they were written too recently to tell a later write
    /// from this one.
    pub(super) fn stamp(&self) -> Option<Stamp> {
        if self.files.is_empty() {
            return None;
        }
        let now = SystemTime::now();
        let mut stamp = Vec::with_capacity(self.files.len());
        for f in &self.files {
            use std::os::unix::fs::MetadataExt;
            match std::fs::metadata(f) {
                Ok(m) => {
                    let modified = m.modified().ok()?;
                    if now.duration_since(modified).unwrap_or_default() < QUIET {
                        return None;
                    }
                    stamp.push(Some((m.ino(), m.size(), modified)));
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => stamp.push(None),
                Err(_) => return None,
            }
        }
        Some(stamp)
    }

    /// The files' stamp as they are (whatever their age), to compare with a kept one.
    fn current(&self) -> Stamp {
        use std::os::unix::fs::MetadataExt;
        self.files
            .iter()
            .map(|f| {
                let m = std::fs::metadata(f).ok()?;
                Some((m.ino(), m.size(), m.modified().ok()?))
            })
            .collect()
    }

    pub(super) fn get<T: Clone>(&self, map: &Entries<T>, key: &str) -> Option<T> {
        if self.ttl.is_zero() && self.files.is_empty() {
            return None;
        }
        let kept = {
            let map = map.lock().unwrap_or_else(PoisonError::into_inner);
            map.get(key).cloned()?
        };
        match kept {
            (Valid::Until(t), v) if Instant::now() < t => Some(v),
            (Valid::While(s), v) if s == self.current() => Some(v),
            _ => None,
        }
    }

    /// Keeps `value` for `key`: for the TTL when there is one, else while the files keep
    /// `stamp` (taken before the query; `None`: not kept).
    pub(super) fn put<T>(&self, map: &Entries<T>, key: &str, stamp: Option<Stamp>, value: T) {
        let valid = match stamp {
            _ if !self.ttl.is_zero() => Valid::Until(Instant::now() + self.ttl),
            Some(s) => Valid::While(s),
            None => return,
        };
        let mut map = map.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= CACHE_ENTRIES {
            map.clear();
        }
        map.insert(key.to_owned(), (valid, value));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// An answer is kept while the database's files are unchanged and dropped by any write;
    /// nothing is kept when the files were written just before the query.
    #[test]
    fn an_answer_is_kept_until_the_database_changes() {
        let dir = std::env::temp_dir().join(format!("lookup-cache-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("accounts.db");
        let wal = dir.join("accounts.db-wal");
        std::fs::write(&db, b"one").unwrap();
        let cache = LookupCache::new(Duration::ZERO, vec![db.clone(), wal.clone()]);
        let map: Entries<u32> = Mutex::default();
        assert!(cache.stamp().is_none(), "written just now");
        std::thread::sleep(QUIET * 2);
        let stamp = cache.stamp();
        assert!(stamp.is_some());
        cache.put(&map, "a@example.com", stamp, 1);
        assert_eq!(cache.get(&map, "a@example.com"), Some(1));
        // A write to the log (a commit), even of the same size.
        std::fs::write(&wal, b"x").unwrap();
        assert_eq!(cache.get(&map, "a@example.com"), None);
        std::thread::sleep(QUIET * 2);
        cache.put(&map, "a@example.com", cache.stamp(), 2);
        assert_eq!(cache.get(&map, "a@example.com"), Some(2));
        std::fs::write(&wal, b"y").unwrap();
        assert_eq!(
            cache.get(&map, "a@example.com"),
            None,
            "same size, later time"
        );
        // No files (MariaDB) and no TTL: nothing kept.
        let off = LookupCache::new(Duration::ZERO, Vec::new());
        off.put(&map, "b@example.com", off.stamp(), 3);
        assert_eq!(off.get(&map, "b@example.com"), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
