//! Incremental snapshots of a mail store while it is in use, as rsnapshot makes them: each
//! snapshot is a whole tree, and a message file the previous snapshot already holds (same
//! name, size and modification time; Maildir message files never change, their flags are in
//! their names) is a hard link to it, so unchanged mail costs no space.
//!
//! Consistency with deliveries and flag changes going on: `new/` is read before `cur/` (a
//! message moved from one to the other meanwhile is found in `cur/`), `cur/` is read again
//! until no new name turns up (a message renamed for its flags meanwhile is taken under its
//! new name), and a folder's index files (`dovecot-uidlist`, keywords, MODSEQ log, …) are
//! copied after its messages, so every message copied whose UID was assigned before then
//! keeps it. Modification times are kept: they are the messages' IMAP INTERNALDATE. What is
//! left out: the contents of `tmp/` (deliveries in progress), lock files, and the listing
//! cache (`mailserver.listing`, rebuilt from the folder).

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::Path;

use crate::Error;

/// What a snapshot did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SnapshotStats {
    /// Files in the snapshot.
    pub files: u64,
    /// Of them, hard links to the previous snapshot's copy.
    pub linked: u64,
    /// Octets copied (the rest was linked).
    pub copied_bytes: u64,
}

/// Names never copied: caches rebuilt from the folder, and locks.
fn skipped(name: &str) -> bool {
    name == "mailserver.listing" || name.ends_with(".lock")
}

/// Copies the tree at `src` to `dst` (which must not exist), linking message files that
/// `previous` (the same tree in the previous snapshot) holds unchanged. With no `previous`,
/// everything is copied: also how a snapshot is restored.
pub fn snapshot_tree(
    src: &Path,
    dst: &Path,
    previous: Option<&Path>,
    stats: &mut SnapshotStats,
) -> Result<(), Error> {
    fs::DirBuilder::new()
        .mode(0o700)
        .create(dst)
        .map_err(|e| Error::from_io("creating", dst, e))?;
    let (mut dirs, files) = entries(src)?;
    // `new/` before `cur/`: see the module's notes.
    dirs.sort_by_key(|d| match d.as_str() {
        "new" => 0,
        "cur" => 1,
        _ => 2,
    });
    let messages = matches!(
        src.file_name().and_then(|n| n.to_str()),
        Some("new" | "cur")
    );
    for dir in &dirs {
        let (from, to) = (src.join(dir), dst.join(dir));
        if dir == "tmp" {
            fs::DirBuilder::new()
                .mode(0o700)
                .create(&to)
                .map_err(|e| Error::from_io("creating", &to, e))?;
            continue;
        }
        let before = previous.map(|p| p.join(dir));
        snapshot_tree(&from, &to, before.as_deref(), stats)?;
    }
    let mut done: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut pending = files;
    // A folder's `cur/` is read again until it brings no new name (at most a few rounds).
    for _ in 0..4 {
        for name in pending.iter().filter(|n| !skipped(n)) {
            let prev = previous.filter(|_| messages).map(|p| p.join(name));
            copy_or_link(&src.join(name), &dst.join(name), prev.as_deref(), stats)?;
        }
        done.extend(pending);
        if !messages {
            break;
        }
        pending = entries(src)?
            .1
            .into_iter()
            .filter(|n| !done.contains(n))
            .collect();
        if pending.is_empty() {
            break;
        }
    }
    Ok(())
}

/// The subdirectories and the other entries of `dir` (none when it has gone).
fn entries(dir: &Path) -> Result<(Vec<String>, Vec<String>), Error> {
    let read = match fs::read_dir(dir) {
        Ok(r) => r,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((Vec::new(), Vec::new())),
        Err(e) => return Err(Error::from_io("listing", dir, e)),
    };
    let (mut dirs, mut files) = (Vec::new(), Vec::new());
    for entry in read {
        let entry = entry.map_err(|e| Error::from_io("listing", dir, e))?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        match entry.file_type() {
            Ok(t) if t.is_dir() => dirs.push(name),
            Ok(t) if t.is_file() => files.push(name),
            // Symbolic links, sockets: not part of a store.
            _ => {}
        }
    }
    Ok((dirs, files))
}

/// Links `prev` to `dst` when it is the same file as `src` (same size and time), else
/// copies `src` with its time. A file gone meanwhile (renamed, expunged) is skipped.
fn copy_or_link(
    src: &Path,
    dst: &Path,
    prev: Option<&Path>,
    stats: &mut SnapshotStats,
) -> Result<(), Error> {
    let meta = match fs::metadata(src) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::from_io("reading", src, e)),
    };
    if let Some(prev) = prev
        && let Ok(old) = fs::metadata(prev)
        && old.len() == meta.len()
        && (old.mtime(), old.mtime_nsec()) == (meta.mtime(), meta.mtime_nsec())
    {
        fs::hard_link(prev, dst).map_err(|e| Error::from_io("linking", dst, e))?;
        stats.files += 1;
        stats.linked += 1;
        return Ok(());
    }
    match copy_file(src, dst) {
        Ok(n) => {
            stats.files += 1;
            stats.copied_bytes += n;
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::from_io("copying", src, e)),
    }
}

/// Copies `src` to `dst` with its permissions and modification time; the octets copied.
pub fn copy_file(src: &Path, dst: &Path) -> io::Result<u64> {
    let copied = fs::copy(src, dst)?;
    let modified = fs::metadata(src)?.modified()?;
    fs::File::options()
        .write(true)
        .open(dst)?
        .set_modified(modified)?;
    Ok(copied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unchanged_messages_are_linked_and_indexes_copied() {
        let root = std::env::temp_dir().join(format!("maildir-backup-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let store = root.join("store");
        for d in ["tmp", "new", "cur", ".Sent/cur", ".Sent/new", ".Sent/tmp"] {
            fs::create_dir_all(store.join(d)).unwrap();
        }
        fs::write(store.join("cur/1.M1.host:2,S"), b"one").unwrap();
        fs::write(store.join("new/2.M2.host"), b"two").unwrap();
        fs::write(store.join("tmp/3.M3.host"), b"partial").unwrap();
        fs::write(store.join("dovecot-uidlist"), b"3 V1 N3\n").unwrap();
        fs::write(store.join("mailserver.listing"), b"cache").unwrap();
        fs::write(store.join("dovecot-uidlist.lock"), b"").unwrap();
        let mut first = SnapshotStats::default();
        snapshot_tree(&store, &root.join("a"), None, &mut first).unwrap();
        assert_eq!((first.files, first.linked), (3, 0));
        assert!(!root.join("a/tmp/3.M3.host").exists() && root.join("a/tmp").is_dir());
        assert!(!root.join("a/mailserver.listing").exists());
        assert!(root.join("a/.Sent/cur").is_dir());
        let time = |p: &Path| fs::metadata(p).unwrap().modified().unwrap();
        assert_eq!(
            time(&store.join("cur/1.M1.host:2,S")),
            time(&root.join("a/cur/1.M1.host:2,S"))
        );

        // A new flag renames the file: copied again; the other is linked.
        fs::rename(
            store.join("cur/1.M1.host:2,S"),
            store.join("cur/1.M1.host:2,RS"),
        )
        .unwrap();
        let mut second = SnapshotStats::default();
        snapshot_tree(&store, &root.join("b"), Some(&root.join("a")), &mut second).unwrap();
        assert_eq!((second.files, second.linked), (3, 1));
        let ino = |p: &Path| fs::metadata(p).unwrap().ino();
        assert_eq!(
            ino(&root.join("a/new/2.M2.host")),
            ino(&root.join("b/new/2.M2.host"))
        );
        assert!(root.join("b/cur/1.M1.host:2,RS").exists());
        // Index files are never linked: they change in place of their name.
        assert_ne!(
            ino(&root.join("a/dovecot-uidlist")),
            ino(&root.join("b/dovecot-uidlist"))
        );
        fs::remove_dir_all(&root).unwrap();
    }
}
