//! A user's Sieve scripts, kept as Dovecot's Pigeonhole keeps them so that a host moved from
//! Dovecot (or sharing the store with it) keeps its filters: `<home>/sieve/NAME.sieve`, the
//! active one named by the symbolic link `<home>/.dovecot.sieve` (`sieve/NAME.sieve`), and
//! the errors of the last run that failed in `<home>/.dovecot.sieve.log`. In this store a
//! user's home is the root of their Maildir; Maildir++ folders are directories starting with
//! a dot, so neither the link nor the log is ever taken for one.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, symlink};
use std::path::{Path, PathBuf};

use crate::{Error, replace_file, sync_dir};

/// Why a script operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    /// The name is empty, too long, or holds `/`, a control character or a leading dot.
    #[error("invalid script name {0:?}")]
    BadName(String),
    /// No script has that name.
    #[error("no script named {0:?}")]
    NotFound(String),
    /// A script with the new name exists already.
    #[error("a script named {0:?} exists already")]
    Exists(String),
    /// The active script cannot be deleted (RFC 5804 §2.10: deactivate it first).
    #[error("script {0:?} is active")]
    Active(String),
    /// The file system failed.
    #[error(transparent)]
    Storage(#[from] Error),
}

/// The Sieve scripts of one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SieveScripts {
    home: PathBuf,
}

const LINK: &str = ".dovecot.sieve";
const DIR: &str = "sieve";

/// Whether `name` may name a script: 1 to 255 octets of UTF-8 without `/`, control
/// characters or a leading dot (RFC 5804 §1.6 forbids the controls; the file system the
/// rest).
pub fn validate_script_name(name: &str) -> Result<(), ScriptError> {
    let bad = name.is_empty()
        || name.len() > 255
        || name.starts_with('.')
        || name.chars().any(|c| c == '/' || c.is_control());
    if bad {
        return Err(ScriptError::BadName(name.to_owned()));
    }
    Ok(())
}

impl SieveScripts {
    /// The scripts of the user whose home (Maildir root) is `home`.
    pub fn new(home: impl Into<PathBuf>) -> Self {
        Self { home: home.into() }
    }

    fn dir(&self) -> PathBuf {
        self.home.join(DIR)
    }

    fn file(&self, name: &str) -> Result<PathBuf, ScriptError> {
        validate_script_name(name)?;
        Ok(self.dir().join(format!("{name}.sieve")))
    }

    /// The names of the scripts, sorted, each with whether it is the active one.
    pub fn list(&self) -> Result<Vec<(String, bool)>, Error> {
        let active = self.active()?;
        let dir = self.dir();
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::from_io("listing", &dir, e)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::from_io("listing", &dir, e))?;
            let file_name = entry.file_name();
            let Some(name) = file_name.to_str().and_then(|n| n.strip_suffix(".sieve")) else {
                continue;
            };
            if validate_script_name(name).is_ok() && entry.path().is_file() {
                let is_active = active.as_deref() == Some(name);
                names.push((name.to_owned(), is_active));
            }
        }
        names.sort();
        Ok(names)
    }

    /// The script `name`, if there is one.
    pub fn read(&self, name: &str) -> Result<Option<Vec<u8>>, ScriptError> {
        let path = self.file(name)?;
        match fs::read(&path) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::from_io("reading", &path, e).into()),
        }
    }

    /// Stores `text` as the script `name` (replacing one of that name), durably: written
    /// in full under a temporary name, then renamed.
    pub fn put(&self, name: &str, text: &[u8]) -> Result<(), ScriptError> {
        let path = self.file(name)?;
        let dir = self.dir();
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|e| Error::from_io("creating", &dir, e))?;
        let tmp = dir.join(format!(".{name}.sieve.tmp"));
        replace_file(&path, &tmp, text)?;
        sync_dir(&dir)?;
        Ok(())
    }

    /// The name of the active script: the target of `.dovecot.sieve` when it is a link
    /// into `sieve/`. `None` when there is none, or when `.dovecot.sieve` is a plain file
    /// (as older Dovecot set-ups have it; [`SieveScripts::active_path`] still runs it).
    pub fn active(&self) -> Result<Option<String>, Error> {
        let link = self.home.join(LINK);
        let target = match fs::read_link(&link) {
            Ok(t) => t,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::InvalidInput
                ) =>
            {
                return Ok(None);
            }
            Err(e) => return Err(Error::from_io("reading", &link, e)),
        };
        let name = target
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".sieve"))
            .filter(|n| validate_script_name(n).is_ok());
        Ok(name.map(str::to_owned))
    }

    /// The file to run at delivery: what `.dovecot.sieve` is or points to, when it exists.
    pub fn active_path(&self) -> Option<PathBuf> {
        let link = self.home.join(LINK);
        link.is_file().then_some(link)
    }

    /// Makes `name` the active script, or (`None`) makes none active. The link is replaced in
    /// one rename, so a delivery sees the old script or the new one.
    pub fn activate(&self, name: Option<&str>) -> Result<(), ScriptError> {
        let link = self.home.join(LINK);
        let Some(name) = name else {
            return match fs::remove_file(&link) {
                Ok(()) => Ok(sync_dir(&self.home)?),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(Error::from_io("removing", &link, e).into()),
            };
        };
        if !self.file(name)?.is_file() {
            return Err(ScriptError::NotFound(name.to_owned()));
        }
        let tmp = self.home.join(".dovecot.sieve.tmp");
        let _ = fs::remove_file(&tmp);
        symlink(Path::new(DIR).join(format!("{name}.sieve")), &tmp)
            .and_then(|()| fs::rename(&tmp, &link))
            .map_err(|e| {
                let _ = fs::remove_file(&tmp);
                Error::from_io("linking", &link, e)
            })?;
        sync_dir(&self.home)?;
        Ok(())
    }

    /// Deletes the script `name`, unless it is the active one.
    pub fn delete(&self, name: &str) -> Result<(), ScriptError> {
        let path = self.file(name)?;
        if self.active()?.as_deref() == Some(name) {
            return Err(ScriptError::Active(name.to_owned()));
        }
        match fs::remove_file(&path) {
            Ok(()) => Ok(sync_dir(&self.dir())?),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(ScriptError::NotFound(name.to_owned()))
            }
            Err(e) => Err(Error::from_io("removing", &path, e).into()),
        }
    }

    /// Renames the script `from` to `to`; the active script stays active under its new name.
    pub fn rename(&self, from: &str, to: &str) -> Result<(), ScriptError> {
        let (old, new) = (self.file(from)?, self.file(to)?);
        if !old.is_file() {
            return Err(ScriptError::NotFound(from.to_owned()));
        }
        if new.exists() {
            return Err(ScriptError::Exists(to.to_owned()));
        }
        let was_active = self.active()?.as_deref() == Some(from);
        fs::rename(&old, &new).map_err(|e| Error::from_io("renaming", &old, e))?;
        sync_dir(&self.dir())?;
        if was_active {
            self.activate(Some(to))?;
        }
        Ok(())
    }

    /// The octets all scripts take (for a quota on scripts).
    pub fn used(&self) -> Result<u64, Error> {
        let mut total = 0;
        for (name, _) in self.list()? {
            let path = self.dir().join(format!("{name}.sieve"));
            total += fs::metadata(&path)
                .map_err(|e| Error::from_io("reading", &path, e))?
                .len();
        }
        Ok(total)
    }

    /// Whether `key` (a vacation reply's sender and handle) was answered within the period
    /// that ends now (`now`, Unix seconds); if not, records it as answered until
    /// `now + period`. Kept in `<home>/mailserver.vacation` (one line per key, the expired
    /// ones dropped at each write), under a lock, so two deliveries at once reply once.
    pub fn answered(&self, key: &str, now: u64, period: u64) -> Result<bool, Error> {
        let path = self.home.join("mailserver.vacation");
        let lock_path = self.home.join("mailserver.vacation.lock");
        let lock = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&lock_path)
            .map_err(|e| Error::from_io("creating", &lock_path, e))?;
        lock_exclusive(&lock, &lock_path)?;
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(Error::from_io("reading", &path, e)),
        };
        let key = key.replace(['\n', '\t'], " ");
        let mut kept = String::new();
        let mut seen = false;
        for line in text.lines() {
            let Some((until, k)) = line.split_once('\t') else {
                continue;
            };
            let Ok(until) = until.parse::<u64>() else {
                continue;
            };
            if until > now {
                seen |= k == key;
                kept.push_str(line);
                kept.push('\n');
            }
        }
        if !seen {
            kept.push_str(&format!("{}\t{key}\n", now.saturating_add(period)));
            replace_file(
                &path,
                &self.home.join("mailserver.vacation.tmp"),
                kept.as_bytes(),
            )?;
        }
        Ok(seen)
    }

    /// Whether `key` was recorded by [`SieveScripts::answered`] with a period that runs past
    /// `now` (Unix seconds), without recording anything (Sieve's `duplicate` test).
    pub fn seen(&self, key: &str, now: u64) -> Result<bool, Error> {
        let path = self.home.join("mailserver.vacation");
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(Error::from_io("reading", &path, e)),
        };
        let key = key.replace(['\n', '\t'], " ");
        Ok(text.lines().any(|line| {
            line.split_once('\t')
                .is_some_and(|(until, k)| k == key && until.parse::<u64>().is_ok_and(|u| u > now))
        }))
    }

    /// Where the errors of the active script's last failed run are written, as Pigeonhole
    /// writes them (users and ManageSieve clients look there).
    pub fn error_log(&self) -> PathBuf {
        self.home.join(".dovecot.sieve.log")
    }
}

/// Takes an exclusive lock on `file` for as long as it is open (flock(2), as Dovecot locks
/// its dupes database), through the standard library.
fn lock_exclusive(file: &fs::File, path: &Path) -> Result<(), Error> {
    file.lock().map_err(|e| Error::from_io("locking", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_as_pigeonhole_keeps_them() {
        let home = std::env::temp_dir().join(format!("maildir-scripts-{}", std::process::id()));
        let _ = fs::remove_dir_all(&home);
        fs::create_dir_all(&home).unwrap();
        let s = SieveScripts::new(&home);
        assert!(s.list().unwrap().is_empty());
        s.put("roundcube", b"keep;\n").unwrap();
        s.put("vacation", b"discard;\n").unwrap();
        s.activate(Some("roundcube")).unwrap();
        assert_eq!(
            fs::read_link(home.join(".dovecot.sieve")).unwrap(),
            Path::new("sieve/roundcube.sieve")
        );
        assert_eq!(
            s.list().unwrap(),
            [("roundcube".into(), true), ("vacation".into(), false)]
        );
        assert_eq!(fs::read(s.active_path().unwrap()).unwrap(), b"keep;\n");
        assert!(matches!(s.delete("roundcube"), Err(ScriptError::Active(_))));
        s.rename("roundcube", "main").unwrap();
        assert_eq!(s.active().unwrap().as_deref(), Some("main"));
        assert!(matches!(
            s.rename("vacation", "main"),
            Err(ScriptError::Exists(_))
        ));
        s.activate(None).unwrap();
        assert_eq!(s.active_path(), None);
        s.delete("main").unwrap();
        assert!(matches!(s.read("../x"), Err(ScriptError::BadName(_))));
        assert!(matches!(
            s.activate(Some("gone")),
            Err(ScriptError::NotFound(_))
        ));
        assert_eq!(s.used().unwrap(), 9);
        assert!(!s.answered("a@x\th", 1000, 100).unwrap());
        assert!(s.answered("a@x\th", 1050, 100).unwrap());
        assert!(!s.answered("b@x\th", 1050, 100).unwrap());
        assert!(!s.answered("a@x\th", 1101, 100).unwrap());
        assert!(s.seen("a@x\th", 1150).unwrap());
        assert!(!s.seen("a@x\th", 1300).unwrap());
        let _ = fs::remove_dir_all(&home);
    }
}
