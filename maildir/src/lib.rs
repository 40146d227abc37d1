#![doc = include_str!("../README.md")]
// Denied, not forbidden: `durable` makes two system calls std has no wrapper for.
#![deny(unsafe_code)]
#![deny(missing_docs)]

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use thiserror::Error;

mod add;
mod amend;
mod backup;
mod cache;
mod dirsync;
mod dotlock;
mod durable;
mod flags;
mod folders;
mod keywords;
mod listing;
mod message;
mod messages;
mod modseq;
mod quota;
mod read;
mod scripts;
mod snapshot;
mod stamp;
mod uidlist;
mod uidvalidity;

pub use amend::copy_replacing;
pub use backup::{SnapshotStats, copy_file, snapshot_tree};
pub use cache::{AddMark, ListingCache, OWN_CHANGE_CHECK};
pub use dirsync::{DirSyncStats, dir_sync_stats};
pub(crate) use dirsync::{count_file_syncs, sync_after_change};
pub use durable::{NameSync, name_sync, rename_durably, set_name_sync};
pub use folders::{FolderError, validate_folder_name};
pub use listing::{Listing, Summary};
pub use message::{Message, Subdir, pop3_uidl, read_message, to_crlf};
pub use messages::{Iter, Messages};
pub use modseq::ModSeqs;
pub use quota::{QuotaLimits, Usage};
pub use read::Unchanged;
pub use scripts::{ScriptError, SieveScripts, validate_script_name};
pub use stamp::{FolderStamp, SETTLE, SETTLE_COARSE};

/// What went wrong, and on which path.
#[derive(Debug, Error)]
pub enum Error {
    /// The disk or the user's file system quota is full (ENOSPC, EDQUOT).
    #[error("no space left on device writing {path}")]
    NoSpace {
        /// The file or directory.
        path: PathBuf,
    },
    /// Permission denied.
    #[error("permission denied on {path}")]
    PermissionDenied {
        /// The file or directory.
        path: PathBuf,
    },
    /// Any other I/O error.
    #[error("{action} {path}: {source}")]
    Io {
        /// What we were doing.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
}

impl Error {
    pub(crate) fn from_io(action: &'static str, path: &Path, source: io::Error) -> Self {
        // ENOSPC = 28, EDQUOT = 122 on Linux.
        match (source.kind(), source.raw_os_error()) {
            (io::ErrorKind::StorageFull, _) | (_, Some(28 | 122)) => Error::NoSpace {
                path: path.to_owned(),
            },
            (io::ErrorKind::PermissionDenied, _) => Error::PermissionDenied {
                path: path.to_owned(),
            },
            _ => Error::Io {
                action,
                path: path.to_owned(),
                source,
            },
        }
    }
}

/// A Maildir: a directory with `tmp/`, `new/` and `cur/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Maildir {
    root: PathBuf,
}

impl Maildir {
    /// A Maildir at `root`; nothing is touched until it is used.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The root directory.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// Creates `tmp/`, `new/` and `cur/` (mode 0700) if missing, durably.
    pub fn create(&self) -> Result<(), Error> {
        if self.root.join("tmp").is_dir()
            && self.root.join("new").is_dir()
            && self.root.join("cur").is_dir()
        {
            return Ok(());
        }
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true).mode(0o700);
        // A mailbox (not one of its folders, `.Name`) keeps its usage from the start: its
        // `maildirsize` is there before `new/` and `cur/`, so no delivery (another process's
        // too, which finds the directories made) can store a message it does not count.
        let folder = self
            .root
            .file_name()
            .is_some_and(|n| n.as_encoded_bytes().starts_with(b"."));
        for sub in ["tmp", "new", "cur"] {
            let dir = self.root.join(sub);
            builder
                .create(&dir)
                .map_err(|e| Error::from_io("creating", &dir, e))?;
            if sub == "tmp" && !folder {
                self.start_maildirsize()?;
            }
        }
        // The new directory entries must survive a crash as much as the message will.
        sync_dir(&self.root)?;
        if let Some(parent) = self.root.parent() {
            sync_dir(parent)?;
        }
        Ok(())
    }

    /// Names of the messages in `new/` (not yet seen by a mail client), in no particular order.
    pub fn list_new(&self) -> Result<Vec<String>, Error> {
        list(&self.root.join("new"))
    }

    /// Names of the messages in `cur/`, in no particular order.
    pub fn list_cur(&self) -> Result<Vec<String>, Error> {
        list(&self.root.join("cur"))
    }
}

fn list(dir: &Path) -> Result<Vec<String>, Error> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::from_io("listing", dir, e)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::from_io("listing", dir, e))?;
        if let Some(name) = entry.file_name().to_str()
            && !name.starts_with('.')
        {
            names.push(name.to_owned());
        }
    }
    Ok(names)
}

impl Maildir {
    /// Removes the files in `tmp/` (its own and every folder's) last written more than
    /// `older_than` ago: deliveries a crash cut off, which nobody will finish. Younger ones
    /// may be a delivery in progress (of this process or another program), as Dovecot
    /// assumes when it removes them after 36 hours. Returns how many it removed.
    pub fn clean_tmp(&self, older_than: std::time::Duration) -> Result<usize, Error> {
        let mut tmps = vec![self.path().join("tmp")];
        for folder in self.list_folders()? {
            tmps.push(self.path().join(format!(".{folder}")).join("tmp"));
        }
        let now = SystemTime::now();
        let mut removed = 0;
        for tmp in tmps {
            let entries = match fs::read_dir(&tmp) {
                Ok(e) => e,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::from_io("listing", &tmp, e)),
            };
            for entry in entries.flatten() {
                let old = entry.metadata().ok().filter(|m| m.is_file()).and_then(|m| {
                    let written = m.modified().ok()?;
                    Some(
                        now.duration_since(written)
                            .is_ok_and(|age| age > older_than),
                    )
                });
                if old == Some(true) && fs::remove_file(entry.path()).is_ok() {
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }
}

/// Replaces `path` with `content` atomically: written to `tmp` (mode 0600) and synced, then
/// renamed over it, so a crash leaves the old file or the new one, never a partial one; on
/// failure (a full disk) `tmp` is removed. The directory is not synced: callers that need
/// the rename itself durable call [`sync_dir`].
pub(crate) fn replace_file(path: &Path, tmp: &Path, content: &[u8]) -> Result<(), Error> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(tmp)
        .and_then(|mut f| {
            f.write_all(content)?;
            f.sync_data()
        })
        .and_then(|()| fs::rename(tmp, path))
        .map_err(|e| {
            let _ = fs::remove_file(tmp);
            Error::from_io("writing", path, e)
        })
}

pub(crate) fn sync_dir(dir: &Path) -> Result<(), Error> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::from_io("syncing directory", dir, e))
}

static DELIVERIES: AtomicU64 = AtomicU64::new(0);

/// A new file name, unique on this host: `<secs>.M<usec>P<pid>Q<n>.<host>`.
pub(crate) fn unique_base_name(host: &str) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let n = DELIVERIES.fetch_add(1, Ordering::Relaxed);
    format!(
        "{}.M{}P{}Q{}.{}",
        now.as_secs(),
        now.subsec_micros(),
        std::process::id(),
        n,
        safe_host(host)
    )
}

/// Escapes the host name as the Maildir spec asks: `/` and `:` would break the name.
fn safe_host(host: &str) -> String {
    host.replace('/', "\\057").replace(':', "\\072")
}

/// A message being written into a Maildir's `tmp/`.
#[derive(Debug)]
pub struct Delivery {
    maildir: Maildir,
    base_name: String,
    tmp_path: PathBuf,
    file: Option<BufWriter<File>>,
    size: u64,
    vsize: u64,
    last_byte: u8,
    /// Flag letters to store it with (then into `cur/`); `None`: into `new/`.
    flags: Option<String>,
}

/// `letters` sorted, each once (a Maildir info part).
fn info_letters(letters: &str) -> String {
    let mut letters: Vec<char> = letters.chars().collect();
    letters.sort_unstable();
    letters.dedup();
    letters.into_iter().collect()
}

/// Runs `sync` on every item: one at a time for a few, on up to `SYNC_THREADS` threads for
/// many (one message to a large list writes a file and a directory per mailbox). A disk
/// takes flushes of different files together; one at a time, a 1,000-member list's copies
/// waited 0.56 s for theirs (benches/list-fanout.sh). The first error is returned (a thread
/// stops at its first).
fn in_parallel<T: Sync>(
    items: &[T],
    sync: impl Fn(&T) -> Result<(), Error> + Sync,
) -> Result<(), Error> {
    const SYNC_THREADS: usize = 8;
    const ALONE: usize = 16;
    if items.len() <= ALONE {
        return items.iter().try_for_each(&sync);
    }
    let chunk = items.len().div_ceil(SYNC_THREADS);
    std::thread::scope(|scope| {
        let workers: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(|| part.iter().map(&sync).find(Result::is_err)))
            .collect();
        let mut first = Ok(());
        for w in workers {
            let outcome = w.join().unwrap_or_else(|_| {
                Some(Err(Error::Io {
                    action: "syncing",
                    path: PathBuf::new(),
                    source: io::Error::other("a sync thread panicked"),
                }))
            });
            if let (Ok(()), Some(e)) = (&first, outcome) {
                first = e;
            }
        }
        first
    })
}

impl Delivery {
    /// Creates the Maildir if needed and opens a new file in its `tmp/`.
    pub fn begin(maildir: &Maildir, host: &str) -> Result<Self, Error> {
        maildir.create()?;
        let base_name = unique_base_name(host);
        let tmp_path = maildir.root.join("tmp").join(&base_name);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp_path)
            .map_err(|e| Error::from_io("creating", &tmp_path, e))?;
        Ok(Self {
            maildir: maildir.clone(),
            base_name,
            tmp_path,
            file: Some(BufWriter::with_capacity(64 * 1024, file)),
            size: 0,
            vsize: 0,
            last_byte: b'\n',
            flags: None,
        })
    }

    /// Stores it with these flag letters (`S` seen, `F` flagged, …) when committed by
    /// [`Delivery::commit_all`]: into `cur/`, as a message already looked at would be.
    pub fn set_flags(&mut self, letters: &str) {
        self.flags = Some(info_letters(letters));
    }

    /// Octets written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends part of the message.
    pub fn write(&mut self, chunk: &[u8]) -> Result<(), Error> {
        let Some(file) = self.file.as_mut() else {
            return Ok(());
        };
        file.write_all(chunk)
            .map_err(|e| Error::from_io("writing", &self.tmp_path, e))?;
        // W= is the size with CRLF line ends: count the LFs that lack their CR.
        let mut prev = self.last_byte;
        let mut bare = 0u64;
        for i in memchr::memchr_iter(b'\n', chunk) {
            let before = if i == 0 { prev } else { chunk[i - 1] };
            if before != b'\r' {
                bare += 1;
            }
        }
        if let Some(&last) = chunk.last() {
            prev = last;
        }
        self.last_byte = prev;
        self.size += chunk.len() as u64;
        self.vsize += chunk.len() as u64 + bare;
        Ok(())
    }

    /// Makes the message durable in this Maildir's `new/`, and in each of `also` (hard links
    /// where the file system allows, copies otherwise). Returns the final paths, this Maildir's
    /// first. When it returns `Ok`, every copy is on disk.
    pub fn commit(self, also: &[&Maildir]) -> Result<Vec<PathBuf>, Error> {
        let also: Vec<(Maildir, Option<String>)> =
            also.iter().map(|&md| (md.clone(), None)).collect();
        self.commit_linked(&also)
    }

    /// Makes several messages durable in their Maildirs' `new/` together: every file synced,
    /// then every one renamed, then each directory synced once. This is what one message to
    /// several recipients needs when each copy differs (its own `Delivered-To:`), at the cost
    /// of one file sync per copy and one directory sync per folder. Where the file system
    /// lets a file's sync carry its new name (see [`NameSync`]), every file is written out,
    /// then renamed, then synced: one flush per copy and none per folder. The syncs run one after
    /// another: run at once on threads of their own they took less time per message but cost
    /// more CPU, and ten sessions of 5-recipient mail then stored 3,426-3,661 copies/s
    /// against 4,643-5,401 one after another (smtp-source, 3 alternating pairs). When it
    /// returns `Ok`, every copy is on disk; on an error none is left visible. Returns the
    /// paths in order.
    pub fn commit_all(deliveries: Vec<Delivery>) -> Result<Vec<PathBuf>, Error> {
        let mut pending = Vec::with_capacity(deliveries.len());
        let mut files = Vec::with_capacity(deliveries.len());
        let mut result = Ok(());
        for mut d in deliveries {
            if result.is_ok() {
                result = d.finish().map(|(file, name)| {
                    files.push((file, d.tmp_path.clone()));
                    let target = match &d.flags {
                        Some(f) => d.maildir.root.join("cur").join(format!("{name}:2,{f}")),
                        None => d.maildir.root.join("new").join(name),
                    };
                    pending.push((d.tmp_path.clone(), target));
                });
            }
            // Dropping a Delivery removes its tmp file only while it is unfinished; `finish`
            // finished it, so the file stays for the rename below.
            if result.is_err() {
                let _ = fs::remove_file(&d.tmp_path);
            }
        }
        let sync = |(file, path): &(File, PathBuf)| {
            file.sync_all()
                .map_err(|e| Error::from_io("syncing", path, e))
        };
        // One flush per copy where the file system lets the file's sync carry its new name.
        let by_file = files.iter().all(|(file, _)| durable::file_sync_names(file));
        if result.is_ok() {
            result = match by_file {
                true => files.iter().try_for_each(|(file, path)| {
                    durable::write_out(file).map_err(|e| Error::from_io("writing", path, e))
                }),
                false => in_parallel(&files, sync),
            };
        }
        let mut renamed: Vec<PathBuf> = Vec::with_capacity(pending.len());
        if result.is_ok() {
            result = (|| {
                for (tmp, target) in &pending {
                    fs::rename(tmp, target).map_err(|e| Error::from_io("renaming", target, e))?;
                    renamed.push(target.clone());
                }
                if by_file {
                    in_parallel(&files, sync)?;
                    count_file_syncs(files.len() as u64);
                    return Ok(());
                }
                let mut dirs: Vec<&Path> = renamed.iter().filter_map(|p| p.parent()).collect();
                dirs.sort();
                dirs.dedup();
                in_parallel(&dirs, |dir| sync_after_change(dir))
            })();
        }
        drop(files);
        match result {
            Ok(()) => Ok(renamed),
            Err(e) => {
                for (tmp, target) in &pending {
                    let _ = fs::remove_file(tmp);
                    let _ = fs::remove_file(target);
                }
                Err(e)
            }
        }
    }

    /// Makes the message durable where it goes (its Maildir's `new/`, or the folder and
    /// flags it was given) and in each of `also` (a Maildir, with flag letters to store it
    /// into `cur/` with, or `None` for `new/`), as one file hard-linked into each: one copy
    /// written however many recipients (copied where a link crosses file systems). Dovecot's
    /// LMTP stores a message to several recipients so. The file is synced once (where its
    /// sync carries its name, see [`NameSync`]; else its folder too), and each other folder
    /// once, shared with whoever else made a name there meanwhile (a group commit). When it
    /// returns `Ok`, every copy is on disk; on an error none is left visible. Returns the
    /// paths, this delivery's first, then `also`'s in order.
    pub fn commit_linked(
        mut self,
        also: &[(Maildir, Option<String>)],
    ) -> Result<Vec<PathBuf>, Error> {
        let (file, name) = self.finish()?;
        let place = |md: &Maildir, flags: Option<&str>| match flags {
            Some(f) => md
                .root
                .join("cur")
                .join(format!("{name}:2,{}", info_letters(f))),
            None => md.root.join("new").join(&name),
        };
        let own = place(&self.maildir, self.flags.as_deref());
        let by_file = durable::file_sync_names(&file);
        let mut made: Vec<PathBuf> = Vec::with_capacity(1 + also.len());
        let result = (|| {
            match by_file {
                true => durable::write_out(&file),
                false => file.sync_all(),
            }
            .map_err(|e| Error::from_io("syncing", &self.tmp_path, e))?;
            for (md, flags) in also {
                md.create()?;
                let target = place(md, flags.as_deref());
                link_or_copy(&self.tmp_path, md, &target)?;
                made.push(target);
            }
            fs::rename(&self.tmp_path, &own).map_err(|e| Error::from_io("renaming", &own, e))?;
            made.insert(0, own.clone());
            let mut dirs: Vec<&Path> = made.iter().filter_map(|p| p.parent()).collect();
            if by_file {
                file.sync_all()
                    .map_err(|e| Error::from_io("syncing", &own, e))?;
                count_file_syncs(1);
                // The file's sync carried its own name, not the links' (ext4 without a
                // journal writes one parent only).
                let own_dir = own.parent();
                dirs.retain(|d| Some(*d) != own_dir);
            }
            dirs.sort();
            dirs.dedup();
            dirs.into_iter().try_for_each(sync_after_change)
        })();
        match result {
            Ok(()) => Ok(made),
            Err(e) => {
                for p in &made {
                    let _ = fs::remove_file(p);
                }
                let _ = fs::remove_file(&self.tmp_path);
                Err(e)
            }
        }
    }

    /// Flushes the file in `tmp/`, finishing the writing; returns it (to sync) and its final
    /// name.
    fn finish(&mut self) -> Result<(File, String), Error> {
        let Some(writer) = self.file.take() else {
            return Err(Error::Io {
                action: "committing",
                path: self.tmp_path.clone(),
                source: io::Error::other("delivery already finished"),
            });
        };
        let file = writer
            .into_inner()
            .map_err(|e| Error::from_io("writing", &self.tmp_path, e.into_error()))?;
        let name = format!("{},S={},W={}", self.base_name, self.size, self.vsize);
        Ok((file, name))
    }

    /// Stores the message into `cur/` with `flags` (letters) and, if given, `internal_date` as
    /// its modification time (IMAP APPEND), durably. Returns the file name.
    pub fn commit_to_cur(
        self,
        flags: &str,
        internal_date: Option<SystemTime>,
    ) -> Result<String, Error> {
        let placed = self.place_in_cur(flags, internal_date)?;
        let name = placed.name.clone();
        placed.settle()?;
        Ok(name)
    }

    /// The first half of [`Delivery::commit_to_cur`]: the data written out and the file
    /// renamed into `cur/`, visible but not yet durable; [`Placed::settle`] finishes. In
    /// between, the caller may start other writes that the same wait then covers (the
    /// uidlist record numbering it).
    pub(crate) fn place_in_cur(
        mut self,
        flags: &str,
        internal_date: Option<SystemTime>,
    ) -> Result<Placed, Error> {
        let Some(writer) = self.file.take() else {
            return Err(Error::Io {
                action: "committing",
                path: self.tmp_path.clone(),
                source: io::Error::other("delivery already finished"),
            });
        };
        let result = (|| {
            let file = writer
                .into_inner()
                .map_err(|e| Error::from_io("writing", &self.tmp_path, e.into_error()))?;
            if let Some(t) = internal_date {
                file.set_modified(t)
                    .map_err(|e| Error::from_io("setting the date of", &self.tmp_path, e))?;
            }
            let by_file = durable::file_sync_names(&file);
            match by_file {
                true => durable::write_out(&file),
                false => file.sync_all(),
            }
            .map_err(|e| Error::from_io("syncing", &self.tmp_path, e))?;
            let name = format!(
                "{},S={},W={}:2,{}",
                self.base_name,
                self.size,
                self.vsize,
                info_letters(flags)
            );
            let target = self.maildir.root.join("cur").join(&name);
            fs::rename(&self.tmp_path, &target)
                .map_err(|e| Error::from_io("renaming", &target, e))?;
            Ok(Placed {
                file: Some(file),
                target,
                name,
                by_file,
            })
        })();
        if result.is_err() {
            let _ = fs::remove_file(&self.tmp_path);
        }
        result
    }

    /// Abandons the message and removes its temporary file.
    pub fn abort(mut self) {
        self.discard();
    }

    fn discard(&mut self) {
        if self.file.take().is_some() {
            let _ = fs::remove_file(&self.tmp_path);
        }
    }
}

impl Drop for Delivery {
    fn drop(&mut self) {
        self.discard();
    }
}

/// A message file renamed into `cur/` whose data is written out but whose name and inode
/// are not yet durable ([`Delivery::place_in_cur`]). Dropped unsettled, it is removed: what
/// is not durable is not left visible.
#[derive(Debug)]
pub(crate) struct Placed {
    file: Option<File>,
    target: PathBuf,
    /// Its file name in `cur/`.
    pub(crate) name: String,
    by_file: bool,
}

impl Placed {
    /// Makes the file and its name durable (one `fsync` of the file where that carries the
    /// name, else of `cur/`); on failure the file is removed.
    pub(crate) fn settle(mut self) -> Result<(), Error> {
        let Some(file) = self.file.take() else {
            return Ok(());
        };
        let synced = match self.by_file {
            true => file
                .sync_all()
                .map_err(|e| Error::from_io("syncing", &self.target, e)),
            false => self.target.parent().map_or(Ok(()), sync_after_change),
        };
        if let Err(e) = synced {
            // Not durable: not visible either.
            let _ = fs::remove_file(&self.target);
            return Err(e);
        }
        if self.by_file {
            count_file_syncs(1);
        }
        Ok(())
    }
}

impl Drop for Placed {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = fs::remove_file(&self.target);
        }
    }
}

impl Maildir {
    /// Stores another copy of the message file `source` (of a Maildir on the same file
    /// system, just committed) here, durably: a hard link under the same base name, into
    /// `cur/` with `flags` letters when given, else `new/`. Returns its path.
    pub fn link_copy(&self, source: &Path, flags: Option<&str>) -> Result<PathBuf, Error> {
        self.create()?;
        let file_name = source
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| Error::Io {
                action: "copying",
                path: source.to_owned(),
                source: io::Error::other("not a message file name"),
            })?;
        let base = file_name.split_once(":2,").map_or(file_name, |(b, _)| b);
        let target = match flags {
            Some(f) => self
                .root
                .join("cur")
                .join(format!("{base}:2,{}", info_letters(f))),
            None => self.root.join("new").join(base),
        };
        match fs::hard_link(source, &target) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(18) => {
                // EXDEV: another file system; copy through tmp/.
                let tmp = self.root.join("tmp").join(base);
                fs::copy(source, &tmp)
                    .and_then(|_| File::open(&tmp)?.sync_all())
                    .and_then(|()| fs::rename(&tmp, &target))
                    .map_err(|e| {
                        let _ = fs::remove_file(&tmp);
                        Error::from_io("copying", &target, e)
                    })?;
            }
            Err(e) => return Err(Error::from_io("linking", &target, e)),
        }
        if let Some(dir) = target.parent()
            && let Err(e) = sync_after_change(dir)
        {
            let _ = fs::remove_file(&target);
            return Err(e);
        }
        Ok(target)
    }
}

/// Gives the file `source` the new name `target` in `md` (which must not exist): a hard
/// link, or where that crosses file systems a synced copy through `md`'s `tmp/`.
fn link_or_copy(source: &Path, md: &Maildir, target: &Path) -> Result<(), Error> {
    match fs::hard_link(source, target) {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(18) => {
            // EXDEV: another file system.
            let tmp = md.root.join("tmp").join(unique_base_name("copy"));
            let copied = fs::copy(source, &tmp)
                .and_then(|_| File::open(&tmp)?.sync_all())
                .and_then(|()| fs::rename(&tmp, target));
            copied.map_err(|e| {
                let _ = fs::remove_file(&tmp);
                Error::from_io("copying", target, e)
            })
        }
        Err(e) => Err(Error::from_io("linking", target, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp_is_empty(md: &Maildir) -> bool {
        fs::read_dir(md.path().join("tmp"))
            .unwrap()
            .next()
            .is_none()
    }

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("maildir-test-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn deliver_creates_layout_and_names() {
        let dir = temp("names");
        let md = Maildir::new(dir.join("a"));
        let mut d = Delivery::begin(&md, "mx/1:2").unwrap();
        d.write(b"a\r\nb\n").unwrap();
        d.write(b"\nc").unwrap();
        let paths = d.commit(&[]).unwrap();
        let name = paths[0].file_name().unwrap().to_str().unwrap().to_owned();
        assert!(name.contains(".mx\\0571\\0722,S=7,W=9"), "{name}");
        assert!(md.path().join("cur").is_dir());
        assert_eq!(md.list_new().unwrap(), vec![name]);
        assert!(tmp_is_empty(&md));
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_placed_file_is_visible_until_settled_and_gone_if_never_settled() {
        let dir = temp("placed");
        let md = Maildir::new(dir.join("a"));
        let placed = |body: &[u8]| {
            let mut d = Delivery::begin(&md, "host").unwrap();
            d.write(body).unwrap();
            d.place_in_cur("S", None).unwrap()
        };
        let kept = placed(b"kept\r\n");
        let dropped = placed(b"dropped\r\n");
        let in_cur = || {
            let mut names: Vec<String> = fs::read_dir(md.path().join("cur"))
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
            names.sort();
            names
        };
        let mut both = vec![kept.name.clone(), dropped.name.clone()];
        both.sort();
        assert_eq!(in_cur(), both, "renamed in before they are durable");
        let kept_name = kept.name.clone();
        kept.settle().unwrap();
        // Not made durable (an error on the way, say): not left visible either.
        drop(dropped);
        assert_eq!(in_cur(), vec![kept_name]);
        assert!(tmp_is_empty(&md));
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn either_name_sync_stores_every_copy_whole_and_leaves_tmp_empty() {
        // The default picks the one-flush order on ext4/XFS/btrfs, the strict one elsewhere;
        // each is run here whatever this file system is (the setting is process-wide, and
        // other tests running meanwhile are correct under either).
        for (i, how) in [NameSync::Directory, NameSync::Auto]
            .into_iter()
            .enumerate()
        {
            set_name_sync(how);
            assert_eq!(name_sync(), how);
            let dir = temp(&format!("name-sync-{i}"));
            let mds: Vec<Maildir> = (0..3)
                .map(|k| Maildir::new(dir.join(format!("m{k}"))))
                .collect();
            let deliveries = mds
                .iter()
                .map(|md| {
                    let mut d = Delivery::begin(md, "host").unwrap();
                    d.write(b"Subject: s\r\n\r\nbody\r\n").unwrap();
                    d
                })
                .collect();
            let paths = Delivery::commit_all(deliveries).unwrap();
            assert_eq!(paths.len(), 3);
            if how == NameSync::Directory {
                let file = File::open(&paths[0]).unwrap();
                assert!(!durable::file_sync_names(&file));
            }
            let mut d = Delivery::begin(&mds[0], "host").unwrap();
            d.write(b"Subject: a\r\n\r\nappended\r\n").unwrap();
            let name = d.commit_to_cur("S", None).unwrap();
            assert!(name.ends_with(":2,S"), "{name}");
            for (md, path) in mds.iter().zip(&paths) {
                assert_eq!(fs::read(path).unwrap(), b"Subject: s\r\n\r\nbody\r\n");
                assert!(tmp_is_empty(md));
            }
            let appended = fs::read(mds[0].path().join("cur").join(&name)).unwrap();
            assert_eq!(appended, b"Subject: a\r\n\r\nappended\r\n");
            fs::remove_dir_all(dir).unwrap();
        }
    }

    #[test]
    fn many_deliveries_commit_together_each_whole() {
        // Over the threshold where files and directories are synced by several threads.
        let dir = temp("many");
        let deliveries: Vec<Delivery> = (0..40)
            .map(|i| {
                let md = Maildir::new(dir.join(format!("m{i}")));
                let mut d = Delivery::begin(&md, "host").unwrap();
                d.write(format!("Subject: {i}\r\n\r\nx\r\n").as_bytes())
                    .unwrap();
                d
            })
            .collect();
        let paths = Delivery::commit_all(deliveries).unwrap();
        assert_eq!(paths.len(), 40);
        for (i, path) in paths.iter().enumerate() {
            assert!(path.starts_with(dir.join(format!("m{i}/new"))), "{path:?}");
            assert_eq!(
                fs::read_to_string(path).unwrap(),
                format!("Subject: {i}\r\n\r\nx\r\n")
            );
        }
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn clean_tmp_removes_only_what_is_old_enough() {
        let dir = temp("clean-tmp");
        let md = Maildir::new(&dir);
        md.create().unwrap();
        md.create_folder("Sent").unwrap();
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(40 * 3600);
        for path in [dir.join("tmp/left"), dir.join(".Sent/tmp/left")] {
            let f = File::create(&path).unwrap();
            f.set_modified(old).unwrap();
        }
        File::create(dir.join("tmp/in-progress")).unwrap();
        let day = std::time::Duration::from_secs(36 * 3600);
        assert_eq!(md.clean_tmp(day).unwrap(), 2);
        assert!(dir.join("tmp/in-progress").exists());
        assert!(!dir.join("tmp/left").exists() && !dir.join(".Sent/tmp/left").exists());
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn dropped_delivery_leaves_nothing() {
        let dir = temp("drop");
        let md = Maildir::new(&dir);
        let mut d = Delivery::begin(&md, "h").unwrap();
        d.write(b"partial").unwrap();
        drop(d);
        assert!(md.list_new().unwrap().is_empty());
        assert!(fs::read_dir(dir.join("tmp")).unwrap().next().is_none());
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn several_mailboxes_get_the_same_bytes() {
        let dir = temp("multi");
        let a = Maildir::new(dir.join("a"));
        let b = Maildir::new(dir.join("b"));
        let c = Maildir::new(dir.join("c"));
        let mut d = Delivery::begin(&a, "h").unwrap();
        d.write(b"hello\r\n").unwrap();
        let paths = d.commit(&[&b, &c]).unwrap();
        assert_eq!(paths.len(), 3);
        for p in &paths {
            assert_eq!(fs::read(p).unwrap(), b"hello\r\n");
        }
        assert_eq!(b.list_new().unwrap().len(), 1);
        assert!(fs::read_dir(dir.join("a/tmp")).unwrap().next().is_none());
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn unwritable_mailbox_is_a_typed_error() {
        let dir = temp("perm");
        fs::create_dir_all(&dir).unwrap();
        let file = dir.join("not-a-dir");
        fs::write(&file, b"x").unwrap();
        let err = Delivery::begin(&Maildir::new(file.join("sub")), "h").unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{err}");
        fs::remove_dir_all(dir).unwrap();
    }
}
