//! UIDVALIDITY values for new folders, as Dovecot hands them out: one counter per mail account
//! in `<root>/dovecot-uidvalidity` (the last value given, in hex), each new value the larger
//! of the current time and one past the last. A folder deleted and made again within the same
//! second, or after the clock went back, never gets a value it had before (RFC 9051
//! §2.3.1.1), and Dovecot and this crate, sharing a store, share the counter.

use std::fs::{self, File};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::{Error, Maildir, replace_file, sync_dir};

const FILE: &str = "dovecot-uidvalidity";

impl Maildir {
    /// The account root this folder belongs to: itself for the INBOX, its parent for a
    /// Maildir++ subfolder (`.Name`).
    fn account_root(&self) -> &Path {
        let subfolder = self
            .path()
            .file_name()
            .is_some_and(|n| n.as_encoded_bytes().starts_with(b"."));
        match self.path().parent() {
            Some(parent) if subfolder => parent,
            _ => self.path(),
        }
    }

    /// The next UIDVALIDITY of this folder's account, recorded before it is returned.
    pub(crate) fn next_uid_validity(&self) -> Result<u32, Error> {
        let root = self.account_root();
        // One writer at a time: an advisory lock on the account directory, which a crash
        // cannot leave behind.
        let dir = File::open(root).map_err(|e| Error::from_io("opening", root, e))?;
        dir.lock().map_err(|e| Error::from_io("locking", root, e))?;
        let path = root.join(FILE);
        let last = fs::read_to_string(&path)
            .ok()
            .and_then(|t| u32::from_str_radix(t.trim(), 16).ok())
            .unwrap_or(0);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX));
        let next = now.max(last.saturating_add(1)).max(1);
        let tmp = root.join(format!("{FILE}.tmp"));
        replace_file(&path, &tmp, format!("{next:08x}").as_bytes())?;
        sync_dir(root)?;
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_never_repeat_within_a_second_and_folders_share_the_counter() {
        let dir = std::env::temp_dir().join(format!("uidvalidity-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join(".Work")).unwrap();
        let inbox = Maildir::new(&dir);
        let work = Maildir::new(dir.join(".Work"));
        let a = inbox.next_uid_validity().unwrap();
        let b = work.next_uid_validity().unwrap();
        let c = work.next_uid_validity().unwrap();
        assert!(a < b && b < c, "{a} {b} {c}");
        // As Dovecot writes it: the last value, in hex, at the account root.
        assert_eq!(
            fs::read_to_string(dir.join(FILE)).unwrap(),
            format!("{c:08x}")
        );
        // A value far ahead (a clock that went back since) is still exceeded.
        fs::write(dir.join(FILE), "fffffff0").unwrap();
        assert_eq!(work.next_uid_validity().unwrap(), 0xffff_fff1);
        let _ = fs::remove_dir_all(&dir);
    }
}
