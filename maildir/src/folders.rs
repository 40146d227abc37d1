//! Maildir++ folders as Dovecot lays them out: the root is INBOX, and each other folder is a
//! directory `.<name>` beside `cur/`, with `.` separating hierarchy levels (`.Archive.2024`),
//! holding an empty `maildirfolder` file. Names here are storage names: already in modified
//! UTF-7, as on disk. `subscriptions` sits in the root.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::time::SystemTime;

use crate::Message;
use crate::dotlock::DotLock;
use crate::{Error, Maildir, sync_dir, unique_base_name};

/// Why a folder operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum FolderError {
    /// The name cannot be a Maildir++ folder.
    #[error("invalid folder name: {0}")]
    InvalidName(&'static str),
    /// The folder exists already.
    #[error("folder exists")]
    Exists,
    /// No such folder.
    #[error("no such folder")]
    NotFound,
    /// The storage failed.
    #[error(transparent)]
    Storage(#[from] Error),
}

/// Checks a storage name: no empty hierarchy levels, no `/`, nothing that could leave the
/// mailbox directory or collide with Maildir's own files.
pub fn validate_folder_name(name: &str) -> Result<(), FolderError> {
    if name.is_empty() {
        return Err(FolderError::InvalidName("empty name"));
    }
    if name.len() > 200 {
        return Err(FolderError::InvalidName("name too long"));
    }
    if name.contains('/') || name.contains('\0') {
        return Err(FolderError::InvalidName("'/' is not allowed"));
    }
    if name.split('.').any(|level| level.is_empty()) {
        return Err(FolderError::InvalidName("empty hierarchy level"));
    }
    if name.chars().any(|c| c.is_control()) {
        return Err(FolderError::InvalidName(
            "control characters are not allowed",
        ));
    }
    if name.eq_ignore_ascii_case("INBOX") {
        return Err(FolderError::InvalidName("INBOX is not a folder"));
    }
    Ok(())
}

const SUBSCRIPTIONS: &str = "subscriptions";
const SPECIAL_USE: &str = "mailserver-special-use";
const SUBSCRIPTIONS_V2: &str = "V\t2\n\n";

impl Maildir {
    /// The folder `name` (a storage name) under this root; `INBOX` is the root itself.
    pub fn folder(&self, name: &str) -> Result<Maildir, FolderError> {
        if name == "INBOX" {
            return Ok(self.clone());
        }
        validate_folder_name(name)?;
        Ok(Maildir::new(self.path().join(format!(".{name}"))))
    }

    /// Whether a folder exists (INBOX always does).
    pub fn folder_exists(&self, name: &str) -> bool {
        self.folder(name)
            .map(|f| name == "INBOX" || f.path().join("cur").is_dir())
            .unwrap_or(false)
    }

    /// The storage names of all folders, sorted (INBOX not included).
    pub fn list_folders(&self) -> Result<Vec<String>, Error> {
        let entries = match fs::read_dir(self.path()) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::from_io("listing", self.path(), e)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::from_io("listing", self.path(), e))?;
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            let Some(folder) = name.strip_prefix('.') else {
                continue;
            };
            if validate_folder_name(folder).is_ok() && entry.path().join("cur").is_dir() {
                names.push(folder.to_owned());
            }
        }
        names.sort();
        Ok(names)
    }

    /// Creates a folder, durably.
    pub fn create_folder(&self, name: &str) -> Result<Maildir, FolderError> {
        self.create_folder_with_use(name, &[])
    }

    /// Creates a folder with RFC 6154 special-use attributes (names without the backslash,
    /// such as `Sent`), durably. They live in the folder's own `mailserver-special-use` file, so
    /// a RENAME carries them and Dovecot ignores them.
    pub fn create_folder_with_use(
        &self,
        name: &str,
        special_use: &[&str],
    ) -> Result<Maildir, FolderError> {
        let folder = self.folder(name)?;
        if name == "INBOX" || folder.path().exists() {
            return Err(FolderError::Exists);
        }
        self.create()?;
        folder.create()?;
        let marker = folder.path().join("maildirfolder");
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&marker)
            .map_err(|e| Error::from_io("creating", &marker, e))?;
        if !special_use.is_empty() {
            let path = folder.path().join(SPECIAL_USE);
            let mut text = special_use.join("\n");
            text.push('\n');
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .and_then(|mut f| {
                    f.write_all(text.as_bytes())?;
                    f.sync_all()
                })
                .map_err(|e| Error::from_io("writing", &path, e))?;
        }
        sync_dir(folder.path())?;
        Ok(folder)
    }

    /// The folder with special use `special_use` (such as `Junk`): the first that has it, else
    /// the folder called `name`, made (with that use) when there is none.
    pub fn special_folder(&self, special_use: &str, name: &str) -> Result<Maildir, FolderError> {
        for folder in self.list_folders()? {
            if self.special_use(&folder)?.iter().any(|u| u == special_use) {
                return self.folder(&folder);
            }
        }
        match self.create_folder_with_use(name, &[special_use]) {
            Ok(folder) => Ok(folder),
            Err(FolderError::Exists) => self.folder(name),
            Err(e) => Err(e),
        }
    }

    /// The special-use attributes a folder was created with; empty when none were given
    /// (INBOX, folders made by other software, plain CREATE).
    pub fn special_use(&self, name: &str) -> Result<Vec<String>, Error> {
        if name == "INBOX" {
            return Ok(Vec::new());
        }
        let Ok(folder) = self.folder(name) else {
            return Ok(Vec::new());
        };
        let path = folder.path().join(SPECIAL_USE);
        match fs::read_to_string(&path) {
            Ok(text) => Ok(text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(Error::from_io("reading", &path, e)),
        }
    }

    /// Deletes a folder and its messages. Its subfolders stay (RFC 9051 §6.3.4).
    pub fn delete_folder(&self, name: &str) -> Result<(), FolderError> {
        let folder = self.folder(name)?;
        if name == "INBOX" {
            return Err(FolderError::InvalidName("INBOX cannot be deleted"));
        }
        if !folder.path().is_dir() {
            return Err(FolderError::NotFound);
        }
        // Out of sight first, atomically, so no reader sees a half-deleted folder.
        let trash = self
            .path()
            .join("tmp")
            .join(format!("deleted-{}", unique_base_name("x")));
        fs::rename(folder.path(), &trash)
            .map_err(|e| Error::from_io("renaming", folder.path(), e))?;
        sync_dir(self.path())?;
        fs::remove_dir_all(&trash).map_err(|e| Error::from_io("removing", &trash, e))?;
        Ok(())
    }

    /// Renames a folder and its subfolders.
    pub fn rename_folder(&self, from: &str, to: &str) -> Result<(), FolderError> {
        if from == "INBOX" || to == "INBOX" {
            return Err(FolderError::InvalidName("INBOX cannot be renamed here"));
        }
        let source = self.folder(from)?;
        let target = self.folder(to)?;
        if !source.path().is_dir() {
            return Err(FolderError::NotFound);
        }
        if target.path().exists() {
            return Err(FolderError::Exists);
        }
        if to.starts_with(&format!("{from}.")) {
            return Err(FolderError::InvalidName("cannot move a folder into itself"));
        }
        let children: Vec<String> = self
            .list_folders()?
            .into_iter()
            .filter(|n| n.starts_with(&format!("{from}.")))
            .collect();
        for child in &children {
            let new = format!("{to}{}", &child[from.len()..]);
            if self.folder(&new)?.path().exists() {
                return Err(FolderError::Exists);
            }
        }
        fs::rename(source.path(), target.path())
            .map_err(|e| Error::from_io("renaming", source.path(), e))?;
        for child in children {
            let new = format!("{to}{}", &child[from.len()..]);
            let (a, b) = (self.folder(&child)?, self.folder(&new)?);
            fs::rename(a.path(), b.path()).map_err(|e| Error::from_io("renaming", a.path(), e))?;
        }
        sync_dir(self.path())?;
        Ok(())
    }

    /// The subscribed storage names, or `None` when there is no `subscriptions` file yet.
    pub fn subscriptions(&self) -> Result<Option<Vec<String>>, Error> {
        let path = self.path().join(SUBSCRIPTIONS);
        match fs::read_to_string(&path) {
            Ok(text) => Ok(Some(parse_subscriptions(&text))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::from_io("reading", &path, e)),
        }
    }

    /// Subscribes or unsubscribes a storage name, keeping the file's format (Dovecot's
    /// version 2 with tab-separated levels, or the plain one).
    pub fn set_subscribed(&self, name: &str, subscribed: bool) -> Result<(), Error> {
        self.create()?;
        let path = self.path().join(SUBSCRIPTIONS);
        let lock = DotLock::acquire(&path)?;
        let existing = match fs::read_to_string(&path) {
            Ok(t) => Some(t),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(Error::from_io("reading", &path, e)),
        };
        let v2 = existing
            .as_deref()
            .is_some_and(|t| t.starts_with(SUBSCRIPTIONS_V2));
        let mut names = existing
            .as_deref()
            .map(parse_subscriptions)
            .unwrap_or_default();
        names.retain(|n| n != name);
        if subscribed {
            names.push(name.to_owned());
        }
        let mut text = String::new();
        if v2 {
            text.push_str(SUBSCRIPTIONS_V2);
        }
        for n in names {
            if v2 {
                text.push_str(&n.replace('.', "\t"));
            } else {
                text.push_str(&n);
            }
            text.push('\n');
        }
        lock.commit(text.as_bytes()).map(|_| ())
    }

    /// A message's INTERNALDATE: the file's modification time (Dovecot's convention).
    pub fn internal_date(&self, message: &Message) -> Result<SystemTime, Error> {
        let path = self.message_path(message);
        fs::metadata(&path)
            .and_then(|m| m.modified())
            .map_err(|e| Error::from_io("reading", &path, e))
    }

    /// Copies a message into `dest` (another folder) with `flags`, keeping its internal date:
    /// a hard link when possible, else a durable copy. Returns the new file's name in `dest`'s
    /// `cur/`; the copy gets its UID at `dest`'s next scan. Call [`Maildir::sync_cur`] on `dest` after a
    /// batch of copies to make them durable. The message is found under its current name when
    /// another session renamed it (new flags); `None` when it has been expunged.
    pub fn copy_into(
        &self,
        message: &Message,
        dest: &Maildir,
        flags: &str,
        host: &str,
    ) -> Result<Option<String>, Error> {
        dest.create()?;
        let mut current = message.clone();
        for _ in 0..16 {
            match self.copy_file(&current, dest, flags, host) {
                Err(Error::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                    match self.current_name(&current.base)? {
                        Some((name, subdir)) => {
                            current.name = name.into();
                            current.subdir = subdir;
                        }
                        None => return Ok(None),
                    }
                }
                other => return other.map(Some),
            }
        }
        Err(Error::from_io(
            "linking",
            &self.message_path(&current),
            io::Error::other("renamed by others on every attempt"),
        ))
    }

    fn copy_file(
        &self,
        message: &Message,
        dest: &Maildir,
        flags: &str,
        host: &str,
    ) -> Result<String, Error> {
        let source = self.message_path(message);
        let base = format!(
            "{},S={},W={}",
            unique_base_name(host),
            message.size,
            message.vsize
        );
        let name = format!("{base}:2,{flags}");
        let target = dest.path().join("cur").join(&name);
        match fs::hard_link(&source, &target) {
            Ok(()) => Ok(name),
            Err(e) if e.raw_os_error() == Some(18) => {
                // EXDEV: through tmp/, with the date kept.
                let tmp = dest.path().join("tmp").join(&base);
                let mtime = self.internal_date(message)?;
                let result = (|| {
                    fs::copy(&source, &tmp).map_err(|e| Error::from_io("copying", &tmp, e))?;
                    let f = File::options()
                        .write(true)
                        .open(&tmp)
                        .map_err(|e| Error::from_io("opening", &tmp, e))?;
                    f.set_modified(mtime)
                        .and_then(|()| f.sync_all())
                        .map_err(|e| Error::from_io("syncing", &tmp, e))?;
                    fs::rename(&tmp, &target).map_err(|e| Error::from_io("renaming", &target, e))
                })();
                if result.is_err() {
                    let _ = fs::remove_file(&tmp);
                }
                result.map(|()| name)
            }
            Err(e) => Err(Error::from_io("linking", &target, e)),
        }
    }

    /// Makes new entries and renames in `cur/` durable.
    pub fn sync_cur(&self) -> Result<(), Error> {
        sync_dir(&self.path().join("cur"))
    }
}

fn parse_subscriptions(text: &str) -> Vec<String> {
    match text.strip_prefix(SUBSCRIPTIONS_V2) {
        Some(rest) => rest
            .lines()
            .filter(|l| !l.is_empty())
            .map(|l| l.replace('\t', "."))
            .collect(),
        None => text
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Delivery;

    fn temp(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("maildir-folders-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn create_list_rename_delete() {
        let dir = temp("crud");
        let md = Maildir::new(&dir);
        md.create_folder("Sent").unwrap();
        md.create_folder("Archive").unwrap();
        md.create_folder("Archive.2024").unwrap();
        assert!(matches!(md.create_folder("Sent"), Err(FolderError::Exists)));
        assert!(matches!(
            md.create_folder("../x"),
            Err(FolderError::InvalidName(_))
        ));
        assert!(matches!(
            md.create_folder("a..b"),
            Err(FolderError::InvalidName(_))
        ));
        assert!(dir.join(".Archive.2024/maildirfolder").is_file());
        assert_eq!(
            md.list_folders().unwrap(),
            ["Archive", "Archive.2024", "Sent"]
        );
        md.create_folder_with_use("Outbox", &["Sent", "Archive"])
            .unwrap();
        assert_eq!(md.special_use("Outbox").unwrap(), ["Sent", "Archive"]);
        assert!(md.special_use("Sent").unwrap().is_empty());
        md.rename_folder("Outbox", "Gone").unwrap();
        assert_eq!(md.special_use("Gone").unwrap(), ["Sent", "Archive"]);
        md.delete_folder("Gone").unwrap();
        md.rename_folder("Archive", "Old").unwrap();
        assert_eq!(md.list_folders().unwrap(), ["Old", "Old.2024", "Sent"]);
        md.delete_folder("Old").unwrap();
        assert_eq!(md.list_folders().unwrap(), ["Old.2024", "Sent"]);
        assert!(matches!(
            md.delete_folder("Old"),
            Err(FolderError::NotFound)
        ));
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn subscriptions_keep_dovecot_format() {
        let dir = temp("subs");
        let md = Maildir::new(&dir);
        md.create().unwrap();
        assert_eq!(md.subscriptions().unwrap(), None);
        fs::write(dir.join("subscriptions"), "V\t2\n\nINBOX\nArchive\t2024\n").unwrap();
        assert_eq!(
            md.subscriptions().unwrap().unwrap(),
            ["INBOX", "Archive.2024"]
        );
        md.set_subscribed("Sent", true).unwrap();
        md.set_subscribed("INBOX", false).unwrap();
        assert_eq!(
            fs::read_to_string(dir.join("subscriptions")).unwrap(),
            "V\t2\n\nArchive\t2024\nSent\n"
        );
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn append_and_copy_keep_dates_and_get_uids() {
        let dir = temp("copy");
        let md = Maildir::new(&dir);
        let mut d = Delivery::begin(&md, "host").unwrap();
        d.write(b"Subject: x\n\nbody\n").unwrap();
        let date = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
        let name = d.commit_to_cur("SF", Some(date)).unwrap();
        assert!(name.ends_with(",S=17,W=20:2,FS"), "{name}");
        let listing = md.scan().unwrap();
        assert_eq!(listing.messages.len(), 1);
        assert_eq!(md.internal_date(&listing.messages[0]).unwrap(), date);
        let sent = md.create_folder("Sent").unwrap();
        // Another session flags the original meanwhile: the copy follows it to its new name.
        let stale = listing.messages[0].clone();
        md.add_flags(&stale, "R").unwrap();
        let name = md.copy_into(&stale, &sent, "S", "host").unwrap().unwrap();
        let copied = sent.scan().unwrap();
        assert_eq!(*copied.messages[0].name, *name);
        assert_eq!(&*copied.messages[0].flags, "S");
        assert_eq!(sent.internal_date(&copied.messages[0]).unwrap(), date);
        // One expunged meanwhile is not copied.
        md.expunge(&stale).unwrap();
        assert_eq!(md.copy_into(&stale, &sent, "S", "host").unwrap(), None);
        fs::remove_dir_all(dir).unwrap();
    }
}
