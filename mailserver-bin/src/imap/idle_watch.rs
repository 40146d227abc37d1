//! Wakes IDLE sessions as soon as their folder changes: inotify watches on the folder's `new/`
//! and `cur/` (deliveries, flag renames and expunges all create, rename or remove entries
//! there), read by one thread for the whole process and shared by every session idling on the
//! same folder. Where inotify cannot help (not available, the watch limit reached, a file
//! system that does not report) a session falls back to polling; either way the wake-up only
//! says "look again", and the session's own scan decides what changed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use inotify::{EventMask, Inotify, WatchDescriptor, WatchMask, Watches};
use tokio::sync::watch;
use tracing::warn;

/// One folder's watches and the sessions waiting on it.
#[derive(Debug)]
struct Folder {
    descriptors: Vec<WatchDescriptor>,
    changes: watch::Sender<u64>,
    sessions: usize,
}

#[derive(Debug)]
struct State {
    watches: Watches,
    folders: HashMap<PathBuf, Folder>,
    by_descriptor: HashMap<WatchDescriptor, PathBuf>,
}

/// The process's folder watcher.
#[derive(Debug, Clone)]
pub struct FolderWatcher {
    state: Option<Arc<Mutex<State>>>,
}

impl FolderWatcher {
    /// Starts the reading thread; without inotify every [`FolderWatcher::watch`] is `None`.
    pub fn new() -> Self {
        let mut inotify = match Inotify::init() {
            Ok(i) => i,
            Err(e) => {
                warn!(error = %e, "imap: inotify unavailable; IDLE polls");
                return Self { state: None };
            }
        };
        let state = Arc::new(Mutex::new(State {
            watches: inotify.watches(),
            folders: HashMap::new(),
            by_descriptor: HashMap::new(),
        }));
        let reader = Arc::clone(&state);
        let spawned = std::thread::Builder::new()
            .name("imap-folder-watch".into())
            .spawn(move || {
                let mut buffer = vec![0u8; 64 * 1024];
                loop {
                    let events = match inotify.read_events_blocking(&mut buffer) {
                        Ok(events) => events,
                        Err(e) => {
                            warn!(error = %e, "imap: reading inotify events failed; IDLE polls");
                            break;
                        }
                    };
                    let state = lock(&reader);
                    for event in events {
                        if event.mask.contains(EventMask::Q_OVERFLOW) {
                            // Events were lost: every folder may have changed.
                            state.folders.values().for_each(|f| bump(&f.changes));
                        } else if let Some(folder) = state
                            .by_descriptor
                            .get(&event.wd)
                            .and_then(|p| state.folders.get(p))
                        {
                            bump(&folder.changes);
                        }
                    }
                }
            });
        if let Err(e) = spawned {
            warn!(error = %e, "imap: cannot start the folder watcher; IDLE polls");
            return Self { state: None };
        }
        Self { state: Some(state) }
    }

    /// Watches the folder at `dir` for as long as the returned guard lives; `None` when it
    /// cannot be watched (the caller polls instead).
    pub fn watch(&self, dir: &Path) -> Option<FolderWatch> {
        let shared = self.state.as_ref()?;
        let mut state = lock(shared);
        if let Some(folder) = state.folders.get_mut(dir) {
            folder.sessions += 1;
            let changes = folder.changes.subscribe();
            return Some(FolderWatch {
                changes,
                dir: dir.to_owned(),
                state: Arc::clone(shared),
            });
        }
        let mask = WatchMask::CREATE
            | WatchMask::DELETE
            | WatchMask::MOVED_FROM
            | WatchMask::MOVED_TO
            | WatchMask::ATTRIB;
        let mut descriptors = Vec::new();
        for sub in ["new", "cur"] {
            match state.watches.add(dir.join(sub), mask) {
                Ok(wd) => descriptors.push(wd),
                Err(e) => {
                    warn!(dir = %dir.display(), error = %e, "imap: cannot watch a folder; IDLE polls");
                    for wd in descriptors {
                        let _ = state.watches.remove(wd);
                    }
                    return None;
                }
            }
        }
        let (changes, receiver) = watch::channel(0);
        for wd in &descriptors {
            state.by_descriptor.insert(wd.clone(), dir.to_owned());
        }
        state.folders.insert(
            dir.to_owned(),
            Folder {
                descriptors,
                changes,
                sessions: 1,
            },
        );
        Some(FolderWatch {
            changes: receiver,
            dir: dir.to_owned(),
            state: Arc::clone(shared),
        })
    }
}

/// A session's interest in one folder.
#[derive(Debug)]
pub struct FolderWatch {
    changes: watch::Receiver<u64>,
    dir: PathBuf,
    state: Arc<Mutex<State>>,
}

impl FolderWatch {
    /// Resolves once the folder changed since the last call (at once if it did meanwhile).
    pub async fn changed(&mut self) {
        if self.changes.changed().await.is_err() {
            // The watcher is gone; nothing will wake us.
            std::future::pending::<()>().await;
        }
    }
}

impl Drop for FolderWatch {
    fn drop(&mut self) {
        let mut state = lock(&self.state);
        let last = match state.folders.get_mut(&self.dir) {
            Some(folder) => {
                folder.sessions -= 1;
                folder.sessions == 0
            }
            None => false,
        };
        if last && let Some(folder) = state.folders.remove(&self.dir) {
            for wd in folder.descriptors {
                state.by_descriptor.remove(&wd);
                // Fails harmlessly when the directory is gone (the kernel dropped it).
                let _ = state.watches.remove(wd);
            }
        }
    }
}

fn bump(changes: &watch::Sender<u64>) {
    changes.send_modify(|n| *n = n.wrapping_add(1));
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}
