//! Which folders IMAP sessions have selected, so that what is cached in memory for a folder
//! (its listing, its MODSEQ log, its header fields) is let go once its last session leaves
//! it. Not at once: after `[imap] folder_linger` seconds with nobody in it, so a webmail that
//! connects again for every page does not load a large folder for each (the files stay on
//! disk, and the listing's snapshot makes the next load a read of one file).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use mailwright_maildir::{ListingCache, Maildir};

use super::headers::HeaderCache;

/// The sessions in each folder, and the caches to empty when a folder has none left.
#[derive(Debug)]
pub struct Seats {
    users: Mutex<HashMap<PathBuf, usize>>,
    listings: Arc<ListingCache>,
    headers: Arc<HeaderCache>,
    linger: Duration,
}

/// One session's place in a folder; leaving it (dropping it) may let the folder go.
#[derive(Debug)]
pub struct Seat {
    seats: Arc<Seats>,
    path: PathBuf,
}

impl Seats {
    pub fn new(listings: Arc<ListingCache>, headers: Arc<HeaderCache>, linger: Duration) -> Self {
        Self {
            users: Mutex::new(HashMap::new()),
            listings,
            headers,
            linger,
        }
    }

    /// A session enters the folder at `path`.
    pub fn take(self: &Arc<Self>, path: &Path) -> Seat {
        *self.lock().entry(path.to_owned()).or_insert(0) += 1;
        Seat {
            seats: Arc::clone(self),
            path: path.to_owned(),
        }
    }

    /// Lets the folder go if nobody is in it.
    fn release_if_empty(&self, path: &Path) {
        if self.lock().contains_key(path) {
            return;
        }
        tracing::debug!(folder = %path.display(), "imap: no session left in the folder; its caches are let go");
        self.listings.release(&Maildir::new(path));
        self.headers.release(path);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, usize>> {
        self.users.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        let empty = {
            let mut users = self.seats.lock();
            match users.get_mut(&self.path) {
                Some(n) if *n > 1 => {
                    *n -= 1;
                    false
                }
                _ => {
                    users.remove(&self.path);
                    true
                }
            }
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if empty {
            let seats = Arc::clone(&self.seats);
            let path = std::mem::take(&mut self.path);
            runtime.spawn(async move {
                tokio::time::sleep(seats.linger).await;
                let _ = tokio::task::spawn_blocking(move || seats.release_if_empty(&path)).await;
            });
        }
    }
}
