//! Free space: mail is refused before it is received, not half-written, when the file system
//! holding the data directory is nearly full (`[limits] min_free_space`, `min_free_percent`).
//! Below everything that stores mail (SMTP, the queue, IMAP APPEND), and uses nothing else
//! of ours.

use std::path::Path;

/// The octets free to unprivileged users and the size of the file system holding `path`.
pub fn space(path: &Path) -> Option<(u64, u64)> {
    let fs = rustix::fs::statvfs(path).ok()?;
    Some((
        fs.f_bavail.saturating_mul(fs.f_frsize),
        fs.f_blocks.saturating_mul(fs.f_frsize),
    ))
}

/// What must stay free on the file system.
#[derive(Debug, Clone, Copy)]
pub struct Reserve {
    /// Octets.
    pub bytes: u64,
    /// Of the file system's size.
    pub percent: f64,
}

impl Reserve {
    /// Whether `size` more octets fit on the file system holding `path` with the reserve left
    /// free: the smaller of `bytes` and `percent` of its size. A file system that cannot be
    /// asked is taken to have room (writing will then tell).
    pub fn room_for(&self, path: &Path, size: u64) -> bool {
        let Some((free, total)) = space(path) else {
            return true;
        };
        let reserve = self.bytes.min((total as f64 * self.percent / 100.0) as u64);
        let room = free >= reserve.saturating_add(size);
        if !room {
            tracing::warn!(
                path = %path.display(),
                free,
                reserve,
                size,
                "refusing mail: the file system is nearly full"
            );
        }
        room
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reserve_larger_than_the_disk_leaves_no_room() {
        let dir = std::env::temp_dir();
        let none = Reserve {
            bytes: 0,
            percent: 0.0,
        };
        assert!(none.room_for(&dir, 0));
        assert!(!none.room_for(&dir, u64::MAX));
        let all = Reserve {
            bytes: u64::MAX,
            percent: 100.0,
        };
        assert!(!all.room_for(&dir, 1));
    }
}
