//! Backups while the server runs (`mailserver backup DEST`, `backup --verify SNAPSHOT`,
//! `restore SNAPSHOT`), as rsnapshot makes them: each snapshot is a directory
//! `DEST/<UTC time>/` holding the whole data directory (mail, queue, DKIM keys, TLS files,
//! SRS secret, bans), the SQLite accounts database copied through SQLite itself (`VACUUM
//! INTO`: one consistent state while the server writes), and the configuration file; message
//! files unchanged since the previous snapshot are hard links to it (see
//! `mailwright_maildir::snapshot_tree`). A `MANIFEST` in `sha256sum` format lists every file
//! with its SHA-256 (taken over from the previous manifest for linked files), so `backup
//! --verify` and `sha256sum -c MANIFEST` both check a snapshot. A snapshot is made under a
//! `.partial-` name and renamed when complete.
//!
//! Restoring into an empty data directory gives back UIDs, UIDVALIDITY, flags, keywords,
//! POP3 UIDLs (all in the Maildir's own files), passwords and keys.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use mailwright_maildir::{SnapshotStats, copy_file, snapshot_tree};
use sha2::{Digest, Sha256};

use crate::AnyError;
use crate::accounts::Accounts;
use crate::config::{AccountsUrl, Config};

const MANIFEST: &str = "MANIFEST";
const INFO: &str = "SNAPSHOT";
const DATABASE: &str = "accounts.db";
const CONFIG: &str = "mailserver.toml";

/// A snapshot made.
#[derive(Debug)]
pub struct Made {
    pub path: PathBuf,
    pub previous: Option<PathBuf>,
    pub stats: SnapshotStats,
    /// What the snapshot does not hold and the admin must back up otherwise.
    pub notes: Vec<String>,
}

/// Makes a snapshot under `dest`.
pub async fn make(
    config: &Config,
    config_path: Option<&Path>,
    accounts: &Accounts,
    dest: &Path,
) -> Result<Made, AnyError> {
    std::fs::create_dir_all(dest).map_err(|e| format!("cannot create {}: {e}", dest.display()))?;
    let name = snapshot_name(dest);
    let previous = latest(dest);
    let partial = dest.join(format!(".partial-{name}"));
    if partial.exists() {
        std::fs::remove_dir_all(&partial)?;
    }
    std::fs::create_dir(&partial)
        .map_err(|e| format!("cannot write in {}: {e}", dest.display()))?;
    let mut notes = Vec::new();
    let database = match config.accounts_url()? {
        AccountsUrl::Sqlite(path) => {
            accounts.backup_sqlite(&partial.join(DATABASE)).await?;
            Some(path)
        }
        AccountsUrl::MySql(_) => {
            notes.push(
                "the accounts are in MariaDB/MySQL: back them up with mariadb-dump \
                 --single-transaction"
                    .to_owned(),
            );
            None
        }
    };
    if config.ldap.is_some() {
        notes.push("users in LDAP: back up the directory with slapcat".to_owned());
    }
    if let Some(path) = config_path {
        copy_file(path, &partial.join(CONFIG))
            .map_err(|e| format!("cannot copy {}: {e}", path.display()))?;
    }
    let data_dir = config.data_dir.clone();
    let (target, before) = (partial.clone(), previous.clone());
    let stats = tokio::task::spawn_blocking(move || -> Result<SnapshotStats, AnyError> {
        let stats = copy_data(&data_dir, database.as_deref(), &target, before.as_deref())?;
        write_info(&target, before.as_deref())?;
        write_manifest(&target, before.as_deref())?;
        Ok(stats)
    })
    .await??;
    let path = dest.join(&name);
    std::fs::rename(&partial, &path)?;
    let dir = std::fs::File::open(dest)?;
    rustix::fs::syncfs(&dir)?;
    Ok(Made {
        path,
        previous,
        stats,
        notes,
    })
}

/// The data directory into `target/data`, but for the database files (copied by SQLite) and
/// what only a running process means.
fn copy_data(
    data_dir: &Path,
    database: Option<&Path>,
    target: &Path,
    previous: Option<&Path>,
) -> Result<SnapshotStats, AnyError> {
    let mut stats = SnapshotStats::default();
    let into = target.join("data");
    std::fs::create_dir(&into)?;
    let db_name = database.and_then(|d| d.file_name()).map(|n| n.to_owned());
    for entry in std::fs::read_dir(data_dir)
        .map_err(|e| format!("cannot read {}: {e}", data_dir.display()))?
    {
        let entry = entry?;
        let name = entry.file_name();
        let text = name.to_string_lossy();
        let is_database = db_name.as_ref().is_some_and(|db| {
            text.strip_prefix(&*db.to_string_lossy())
                .is_some_and(|rest| ["", "-wal", "-shm", "-journal"].contains(&rest))
        });
        if is_database || text == "mailserver.pid" || text == ".ready-probe" {
            continue;
        }
        let before = previous.map(|p| p.join("data").join(&name));
        if entry.file_type()?.is_dir() {
            snapshot_tree(
                &entry.path(),
                &into.join(&name),
                before.as_deref(),
                &mut stats,
            )?;
        } else if entry.file_type()?.is_file() {
            stats.copied_bytes += copy_file(&entry.path(), &into.join(&name))?;
            stats.files += 1;
        }
    }
    Ok(stats)
}

/// `SNAPSHOT`: what this is and which snapshot it links to.
fn write_info(target: &Path, previous: Option<&Path>) -> std::io::Result<()> {
    let previous = previous
        .and_then(|p| p.file_name())
        .map_or_else(|| "-".to_owned(), |n| n.to_string_lossy().into_owned());
    std::fs::write(
        target.join(INFO),
        format!(
            "mailserver-backup 1\nversion {}\ncreated {}\nprevious {previous}\n",
            env!("CARGO_PKG_VERSION"),
            crate::metrics::unix_now()
        ),
    )
}

/// `MANIFEST`: every other file with its SHA-256, in `sha256sum`'s format; a file that is
/// the previous snapshot's (a hard link) keeps the checksum it had there.
fn write_manifest(target: &Path, previous: Option<&Path>) -> Result<(), AnyError> {
    let known: HashMap<String, String> = previous
        .and_then(|p| std::fs::read_to_string(p.join(MANIFEST)).ok())
        .map(|text| {
            parse_manifest(&text)
                .map(|(sum, path)| (path.to_owned(), sum.to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let mut files = Vec::new();
    list_files(target, "", &mut files)?;
    files.sort();
    let mut out = std::io::BufWriter::new(std::fs::File::create(target.join(MANIFEST))?);
    for rel in files {
        let path = target.join(&rel);
        let same_file = previous.and_then(|p| {
            let (a, b) = (
                std::fs::metadata(p.join(&rel)).ok()?,
                std::fs::metadata(&path).ok()?,
            );
            (a.ino() == b.ino() && a.dev() == b.dev()).then_some(())
        });
        let sum = match (same_file, known.get(&rel)) {
            (Some(()), Some(sum)) => sum.clone(),
            _ => sha256_file(&path)?,
        };
        writeln!(out, "{sum}  {rel}")?;
    }
    out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    Ok(())
}

/// The lines of a manifest: checksum and path.
fn parse_manifest(text: &str) -> impl Iterator<Item = (&str, &str)> {
    text.lines().filter_map(|l| l.split_once("  "))
}

fn list_files(root: &Path, rel: &str, out: &mut Vec<String>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(root.join(rel))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        if entry.file_type()?.is_dir() {
            list_files(root, &path, out)?;
        } else if path != MANIFEST {
            out.push(path);
        }
    }
    Ok(())
}

fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// What is wrong with a snapshot: files missing, changed or not in its manifest.
pub fn verify(snapshot: &Path) -> Result<Vec<String>, AnyError> {
    let text = std::fs::read_to_string(snapshot.join(MANIFEST)).map_err(|e| {
        format!(
            "{} is not a complete snapshot (no {MANIFEST}): {e}",
            snapshot.display()
        )
    })?;
    let mut problems = Vec::new();
    let mut listed = std::collections::HashSet::new();
    for (sum, rel) in parse_manifest(&text) {
        // A manifest names files inside its snapshot only.
        if rel.starts_with('/') || rel.split('/').any(|part| part == "..") {
            problems.push(format!("{rel}: not a path inside the snapshot"));
            continue;
        }
        listed.insert(rel.to_owned());
        match sha256_file(&snapshot.join(rel)) {
            Ok(actual) if actual == sum => {}
            Ok(_) => problems.push(format!("{rel}: changed since the backup")),
            Err(e) => problems.push(format!("{rel}: {e}")),
        }
    }
    let mut files = Vec::new();
    list_files(snapshot, "", &mut files)?;
    for rel in files.into_iter().filter(|f| !listed.contains(f)) {
        problems.push(format!("{rel}: not in the manifest"));
    }
    Ok(problems)
}

/// Restores `snapshot` into the configured data directory, which must be empty (or not
/// exist), and the SQLite accounts database, which must not exist. Verifies it first.
pub fn restore(config: &Config, snapshot: &Path) -> Result<Restored, AnyError> {
    let problems = verify(snapshot)?;
    if !problems.is_empty() {
        return Err(format!(
            "the snapshot is damaged, nothing restored:\n  {}",
            problems.join("\n  ")
        )
        .into());
    }
    let data_dir = &config.data_dir;
    if let Ok(mut entries) = std::fs::read_dir(data_dir) {
        if entries.next().is_some() {
            return Err(format!(
                "{} is not empty: restore only into an empty data directory",
                data_dir.display()
            )
            .into());
        }
        std::fs::remove_dir(data_dir)?;
    }
    let mut notes = Vec::new();
    let saved_db = snapshot.join(DATABASE);
    let database = match config.accounts_url()? {
        AccountsUrl::Sqlite(path) if saved_db.exists() => {
            if path.exists() {
                return Err(format!("{} exists: not overwritten", path.display()).into());
            }
            Some(path)
        }
        AccountsUrl::Sqlite(_) => {
            notes.push("the snapshot has no SQLite accounts database".to_owned());
            None
        }
        AccountsUrl::MySql(_) => {
            notes.push("accounts in MariaDB/MySQL: restore them from their dump".to_owned());
            None
        }
    };
    let mut stats = SnapshotStats::default();
    snapshot_tree(&snapshot.join("data"), data_dir, None, &mut stats)?;
    if let Some(path) = database {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        copy_file(&saved_db, &path)?;
    }
    Ok(Restored { stats, notes })
}

/// A snapshot restored.
#[derive(Debug)]
pub struct Restored {
    pub stats: SnapshotStats,
    pub notes: Vec<String>,
}

/// The newest complete snapshot in `dest`.
fn latest(dest: &Path) -> Option<PathBuf> {
    let mut names: Vec<String> = std::fs::read_dir(dest)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.') && dest.join(n).join(MANIFEST).is_file())
        .collect();
    names.sort();
    names.pop().map(|n| dest.join(n))
}

/// `2026-12-05T051627Z` (UTC), with `-2`, `-3`… when taken within the same second; sorts as
/// time does.
fn snapshot_name(dest: &Path) -> String {
    let now = crate::metrics::unix_now();
    let t =
        time::OffsetDateTime::from_unix_timestamp(now).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let base = format!(
        "{:04}-{:02}-{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    let mut name = base.clone();
    let mut n = 1;
    while dest.join(&name).exists() || dest.join(format!(".partial-{name}")).exists() {
        n += 1;
        name = format!("{base}-{n}");
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_naming_files_outside_its_snapshot_is_refused() {
        let dir = std::env::temp_dir().join(format!("backup-verify-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("kept"), b"mail\n").unwrap();
        let sum = sha256_file(&dir.join("kept")).unwrap();
        std::fs::write(
            dir.join(MANIFEST),
            format!("{sum}  kept\n{sum}  ../etc/passwd\n{sum}  /etc/passwd\n"),
        )
        .unwrap();
        let problems = verify(&dir).unwrap();
        assert_eq!(
            problems,
            [
                "../etc/passwd: not a path inside the snapshot",
                "/etc/passwd: not a path inside the snapshot"
            ]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
