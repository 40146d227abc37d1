//! The data directory's owner: the one `mailserver serve` process that may recover and clean
//! its stores (the queue's `tmp/`, messages never acknowledged). It holds an exclusive `flock`
//! on `<data_dir>/mailserver.pid` for its whole life; the kernel lets go when the process ends,
//! however it ends, so the lock never goes stale. A second daemon on the same directory is
//! refused; admin commands never take it and never recover anything, so they cannot remove a
//! message the daemon is in the middle of queueing.
//!
//! It also tells whether the last owner stopped in order: `<data_dir>/mailserver.running` is
//! made when the daemon starts and removed when it has stopped with no session left in the
//! middle of anything. Found at start, the last run was killed or crashed, and what it was
//! counting may be short (see `delivery::recount`).

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// Held by the daemon while it runs.
#[derive(Debug)]
pub struct Owner {
    _file: File,
    running: PathBuf,
    unclean: bool,
}

impl Owner {
    /// Takes ownership of `data_dir` (created if missing), or says who holds it. `node`: the
    /// directory is shared (`[storage] shared`) and this process owns that node's part of it
    /// (`mailserver.<node>.pid`, its queue), never the others'.
    pub fn acquire(data_dir: &Path, node: Option<&str>) -> Result<Owner, String> {
        std::fs::create_dir_all(data_dir)
            .map_err(|e| format!("cannot create {}: {e}", data_dir.display()))?;
        let named = |file: &str| match node {
            Some(node) => data_dir.join(format!("{file}.{node}")),
            None => data_dir.join(file),
        };
        let path = named("mailserver.pid");
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut pid = String::new();
                let _ = file.read_to_string(&mut pid);
                return Err(format!(
                    "another mailserver (pid {}) is serving {}{}",
                    pid.trim(),
                    data_dir.display(),
                    node.map_or(String::new(), |n| format!(" as node {n}"))
                ));
            }
            Err(TryLockError::Error(e)) => {
                return Err(format!("cannot lock {}: {e}", path.display()));
            }
        }
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| writeln!(file, "{}", std::process::id()))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        let running = named("mailserver.running");
        let unclean = running.exists();
        File::create(&running).map_err(|e| format!("cannot write {}: {e}", running.display()))?;
        Ok(Owner {
            _file: file,
            running,
            unclean,
        })
    }

    /// Whether the last daemon on this data directory ended without stopping in order.
    pub fn last_run_unclean(&self) -> bool {
        self.unclean
    }

    /// Records that this run stopped in order (nothing left half done).
    pub fn stopped_in_order(&self) {
        if let Err(e) = std::fs::remove_file(&self.running) {
            tracing::warn!(path = %self.running.display(), error = %e, "cannot remove; the next start will recount usage");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_owner_is_refused_until_the_first_lets_go() {
        let dir = std::env::temp_dir().join(format!("owner-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let first = Owner::acquire(&dir, None).unwrap();
        let refused = Owner::acquire(&dir, None).unwrap_err();
        assert!(
            refused.contains(&format!("pid {}", std::process::id())),
            "{refused}"
        );
        // It was not told it stopped in order: the next one knows.
        assert!(!first.last_run_unclean());
        drop(first);
        let second = Owner::acquire(&dir, None).unwrap();
        assert!(second.last_run_unclean());
        second.stopped_in_order();
        drop(second);
        assert!(!Owner::acquire(&dir, None).unwrap().last_run_unclean());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
