//! MODSEQ (RFC 7162 CONDSTORE and QRESYNC) for Maildir folders, whose flags live in file
//! names that anyone may rename.
//!
//! Each folder has a log beside Dovecot's files, `mailserver.modseq`, which Dovecot ignores:
//! a header line `mailserver-modseq 1 <uidvalidity> <history start>`, then one record per
//! change, `<uid> <modseq> +<flags>` for a message with those flags, or `<uid> <modseq> -` for
//! an expunged one; the last record of a UID wins. Changes are found by comparing each fresh
//! listing with what the log last recorded ([`ModSeqs::reconcile`]), so renames by other
//! software get a MODSEQ too. The log is rewritten when it has grown to twice what it
//! describes.
//!
//! A new log (none yet, torn beyond use, or another UIDVALIDITY) starts at the current time in
//! microseconds, above any MODSEQ handed out before it: a client that synced with an earlier
//! log, or with Dovecot, never sees a value go backwards. Expunges older than a log's start are
//! not known; [`ModSeqs::vanished_since`] says so, and the caller reports every missing UID.
//! Records are appended without fsync (they are recomputable, and Dovecot treats its index the
//! same way). Loading a log moves its highest MODSEQ up to the current time too, so records a
//! power cut lost cannot make a value be handed out twice.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::{Error, Listing, Maildir};

const FILE: &str = "mailserver.modseq";
const MAGIC: &str = "mailserver-modseq 1";

/// One folder's MODSEQ state.
#[derive(Debug, Default)]
struct FolderLog {
    uid_validity: u32,
    /// The first MODSEQ of this log; expunges before it are unknown.
    history_start: u64,
    highest: u64,
    /// Each present message's MODSEQ and the flags it had then.
    messages: HashMap<u32, (u64, Arc<str>)>,
    /// Each expunged UID's MODSEQ.
    expunged: BTreeMap<u32, u64>,
    /// Records in the file, to know when it is worth rewriting.
    records: usize,
    /// Whether a file with this header exists.
    on_disk: bool,
}

impl FolderLog {
    fn path(md: &Maildir) -> PathBuf {
        md.path().join(FILE)
    }

    /// The folder's log from disk; empty (not `on_disk`) when missing or unreadable.
    fn load(md: &Maildir) -> Result<Self, Error> {
        let path = Self::path(md);
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) if e.kind() == io::ErrorKind::InvalidData => return Ok(Self::default()),
            Err(e) => return Err(Error::from_io("reading", &path, e)),
        };
        let mut lines = text.split_inclusive('\n');
        let header = lines.next().unwrap_or_default();
        let mut fields = header.trim_end().rsplitn(3, ' ');
        let (Some(start), Some(validity), Some(MAGIC)) = (
            fields.next().and_then(|s| s.parse::<u64>().ok()),
            fields.next().and_then(|s| s.parse::<u32>().ok()),
            fields.next(),
        ) else {
            return Ok(Self::default());
        };
        let mut log = Self {
            uid_validity: validity,
            history_start: start,
            highest: start,
            on_disk: true,
            ..Self::default()
        };
        for line in lines {
            // A torn last record (no newline) is as if never written.
            let Some(line) = line.strip_suffix('\n') else {
                break;
            };
            let mut parts = line.splitn(3, ' ');
            let (Some(uid), Some(modseq), Some(state)) = (
                parts.next().and_then(|s| s.parse::<u32>().ok()),
                parts.next().and_then(|s| s.parse::<u64>().ok()),
                parts.next(),
            ) else {
                break;
            };
            log.records += 1;
            log.highest = log.highest.max(modseq);
            if let Some(flags) = state.strip_prefix('+') {
                log.expunged.remove(&uid);
                log.messages.insert(uid, (modseq, flags.into()));
            } else {
                log.messages.remove(&uid);
                log.expunged.insert(uid, modseq);
            }
        }
        // Records lost with a power cut may have handed out MODSEQs above the last one kept;
        // the clock has passed them all (a log never takes more than one per microsecond).
        log.highest = log.highest.max(now_modseq());
        Ok(log)
    }

    /// Gives `listing` its MODSEQs, recording what changed since the last listing.
    fn reconcile(&mut self, md: &Maildir, listing: &mut Listing) -> Result<(), Error> {
        let fresh = !self.on_disk || self.uid_validity != listing.uid_validity;
        if fresh {
            let start = now_modseq().max(self.highest + 1);
            *self = Self {
                uid_validity: listing.uid_validity,
                history_start: start,
                highest: start,
                ..Self::default()
            };
        }
        let mut appended = String::new();
        for m in listing.messages.iter_mut() {
            // Even a message a rescan took unchanged from an earlier listing is looked up:
            // its name may have left and come back (flags set, then cleared, by other
            // sessions), and the log has the MODSEQ of the last of those changes. A lookup
            // per message is a few milliseconds at 100,000 messages.
            match self.messages.get_mut(&m.uid) {
                Some((modseq, flags)) if same(flags, &m.flags) => m.modseq = *modseq,
                _ => {
                    // Everything a new log starts with shares its first MODSEQ.
                    if !fresh {
                        self.highest += 1;
                    }
                    m.modseq = self.highest;
                    self.messages
                        .insert(m.uid, (self.highest, Arc::clone(&m.flags)));
                    self.expunged.remove(&m.uid);
                    appended.push_str(&format!("{} {} +{}\n", m.uid, self.highest, m.flags));
                }
            }
        }
        // Every UID of the listing is now known; any other known one was expunged.
        if self.messages.len() > listing.messages.len() {
            let present: std::collections::HashSet<u32> =
                listing.messages.iter().map(|m| m.uid).collect();
            let mut gone: Vec<u32> = self
                .messages
                .keys()
                .copied()
                .filter(|uid| !present.contains(uid))
                .collect();
            gone.sort_unstable();
            for uid in gone {
                self.highest += 1;
                self.messages.remove(&uid);
                self.expunged.insert(uid, self.highest);
                appended.push_str(&format!("{uid} {} -\n", self.highest));
            }
        }
        listing.highest_modseq = self.highest;
        self.write(md, fresh, &appended)
    }

    /// [`FolderLog::reconcile`] for a listing that differs from one already reconciled only
    /// in the messages with the UIDs `changed` (flags changed, or added) and those `removed`:
    /// only those are looked up, so a change costs the same in a folder of any size.
    fn reconcile_changed(
        &mut self,
        md: &Maildir,
        listing: &mut Listing,
        changed: &[u32],
        removed: &[u32],
    ) -> Result<(), Error> {
        if !self.on_disk || self.uid_validity != listing.uid_validity {
            return self.reconcile(md, listing);
        }
        let mut appended = String::new();
        for &uid in changed {
            let Some(m) = listing
                .messages
                .position(uid)
                .and_then(|i| listing.messages.get_mut(i))
            else {
                continue;
            };
            match self.messages.get(&uid) {
                Some((modseq, flags)) if same(flags, &m.flags) => m.modseq = *modseq,
                _ => {
                    self.highest += 1;
                    m.modseq = self.highest;
                    self.messages
                        .insert(uid, (self.highest, Arc::clone(&m.flags)));
                    self.expunged.remove(&uid);
                    appended.push_str(&format!("{uid} {} +{}\n", self.highest, m.flags));
                }
            }
        }
        for &uid in removed {
            if self.messages.remove(&uid).is_some() {
                self.highest += 1;
                self.expunged.insert(uid, self.highest);
                appended.push_str(&format!("{uid} {} -\n", self.highest));
            }
        }
        listing.highest_modseq = self.highest;
        self.write(md, false, &appended)
    }

    /// Writes what changed (`appended` records), or the whole log when it is `fresh` or has
    /// grown to twice what it describes.
    fn write(&mut self, md: &Maildir, fresh: bool, appended: &str) -> Result<(), Error> {
        let written =
            if fresh || self.records > 2 * (self.messages.len() + self.expunged.len()) + 1024 {
                self.rewrite(md)
            } else if !appended.is_empty() {
                self.records += appended.lines().count();
                self.append(md, appended)
            } else {
                Ok(())
            };
        match written {
            // A full disk: the log in memory is right and the one on disk lags, which it may
            // (it is not fsynced either): a log read back starts above every MODSEQ handed out.
            Err(Error::NoSpace { .. }) => Ok(()),
            other => other,
        }
    }

    fn append(&self, md: &Maildir, records: &str) -> Result<(), Error> {
        let path = Self::path(md);
        OpenOptions::new()
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(records.as_bytes()))
            .map_err(|e| Error::from_io("appending to", &path, e))
    }

    /// Writes the whole state as a new file, replacing the old one atomically.
    fn rewrite(&mut self, md: &Maildir) -> Result<(), Error> {
        let path = Self::path(md);
        let tmp = md.path().join(format!("{FILE}.tmp.{}", std::process::id()));
        let mut text = format!("{MAGIC} {} {}\n", self.uid_validity, self.history_start);
        let mut uids: Vec<(&u32, &(u64, Arc<str>))> = self.messages.iter().collect();
        uids.sort_unstable_by_key(|(uid, _)| **uid);
        for (uid, (modseq, flags)) in uids {
            text.push_str(&format!("{uid} {modseq} +{flags}\n"));
        }
        for (uid, modseq) in &self.expunged {
            text.push_str(&format!("{uid} {modseq} -\n"));
        }
        // A crash cannot leave an empty file under the real name, nor a full disk a
        // half-written one.
        crate::replace_file(&path, &tmp, text.as_bytes())?;
        self.records = self.messages.len() + self.expunged.len();
        self.on_disk = true;
        Ok(())
    }
}

/// Whether two flag strings are equal, cheaply when they are one string (as a listing's
/// unchanged messages and the log's record of them are).
fn same(a: &Arc<str>, b: &Arc<str>) -> bool {
    Arc::ptr_eq(a, b) || a == b
}

/// A MODSEQ above any a log started earlier could have reached: the time in microseconds.
fn now_modseq() -> u64 {
    let micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| d.as_micros());
    u64::try_from(micros).unwrap_or(u64::MAX >> 1)
}

/// The MODSEQ logs of the folders a process works on, shared by all its sessions.
#[derive(Debug)]
pub struct ModSeqs {
    folders: Mutex<HashMap<PathBuf, Arc<Mutex<FolderLog>>>>,
    /// How many messages the logs kept in memory may describe in all.
    max_messages: usize,
}

impl ModSeqs {
    /// Logs kept in memory for up to `max_messages` messages in all (the rest are read again
    /// when needed).
    pub fn new(max_messages: usize) -> Self {
        Self {
            folders: Mutex::new(HashMap::new()),
            max_messages,
        }
    }

    fn folder(&self, md: &Maildir) -> Result<Arc<Mutex<FolderLog>>, Error> {
        if let Some(log) = self.lock().get(md.path()) {
            return Ok(Arc::clone(log));
        }
        let log = FolderLog::load(md)?;
        let mut folders = self.lock();
        // Another session may have loaded it meanwhile; theirs is as good and may be newer.
        if let Some(existing) = folders.get(md.path()) {
            return Ok(Arc::clone(existing));
        }
        let held: usize = folders.values().map(|l| lock_log(l).messages.len()).sum();
        if held + log.messages.len() > self.max_messages {
            // Make room by forgetting other folders (a reload costs a read, nothing else).
            folders.retain(|_, l| Arc::strong_count(l) > 1);
        }
        let log = Arc::new(Mutex::new(log));
        folders.insert(md.path().to_owned(), Arc::clone(&log));
        Ok(log)
    }

    /// Sets the MODSEQ of each message in a fresh `listing` of `md` and its highest MODSEQ:
    /// unchanged messages keep theirs; new ones, ones whose flags changed and the expunged get
    /// new ones, which are logged.
    pub fn reconcile(&self, md: &Maildir, listing: &mut Listing) -> Result<(), Error> {
        let log = self.folder(md)?;
        let mut log = lock_log(&log);
        log.reconcile(md, listing)
    }

    /// [`ModSeqs::reconcile`] for `listing` made from one already reconciled by changing the
    /// messages `changed` (by UID) and removing those `removed`: only those are looked up.
    pub fn reconcile_changed(
        &self,
        md: &Maildir,
        listing: &mut Listing,
        changed: &[u32],
        removed: &[u32],
    ) -> Result<(), Error> {
        let log = self.folder(md)?;
        let mut log = lock_log(&log);
        log.reconcile_changed(md, listing, changed, removed)
    }

    /// Records flags just given to messages (by UID), so their MODSEQs are known without a
    /// rescan; returns each one's MODSEQ, in order. Flags that equal the recorded ones keep
    /// their MODSEQ. `None` when the log is not of `uid_validity` (a rescan will tell).
    pub fn record_flags(
        &self,
        md: &Maildir,
        uid_validity: u32,
        changes: &[(u32, Arc<str>)],
    ) -> Result<Option<Vec<u64>>, Error> {
        let log = self.folder(md)?;
        let mut log = lock_log(&log);
        if !log.on_disk || log.uid_validity != uid_validity {
            return Ok(None);
        }
        let mut modseqs = Vec::with_capacity(changes.len());
        let mut appended = String::new();
        for (uid, flags) in changes {
            match log.messages.get(uid) {
                Some((modseq, recorded)) if recorded == flags => modseqs.push(*modseq),
                _ => {
                    log.highest += 1;
                    let modseq = log.highest;
                    log.messages.insert(*uid, (modseq, Arc::clone(flags)));
                    log.expunged.remove(uid);
                    appended.push_str(&format!("{uid} {modseq} +{flags}\n"));
                    modseqs.push(modseq);
                }
            }
        }
        if !appended.is_empty() {
            log.records += changes.len();
            log.append(md, &appended)?;
        }
        Ok(Some(modseqs))
    }

    /// The UIDs expunged at a MODSEQ above `modseq`, in order; `None` when the log does not
    /// reach back that far (or is of another UIDVALIDITY), so any missing UID may be one.
    pub fn vanished_since(
        &self,
        md: &Maildir,
        uid_validity: u32,
        modseq: u64,
    ) -> Result<Option<Vec<u32>>, Error> {
        let log = self.folder(md)?;
        let log = lock_log(&log);
        if !log.on_disk || log.uid_validity != uid_validity || modseq < log.history_start {
            return Ok(None);
        }
        Ok(Some(
            log.expunged
                .iter()
                .filter(|&(_, &m)| m > modseq)
                .map(|(&uid, _)| uid)
                .collect(),
        ))
    }

    /// Drops `md`'s log from memory (it is read again when needed).
    pub fn forget(&self, md: &Maildir) {
        self.lock().remove(md.path());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, Arc<Mutex<FolderLog>>>> {
        self.folders.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn lock_log(log: &Mutex<FolderLog>) -> std::sync::MutexGuard<'_, FolderLog> {
    log.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Delivery;

    fn deliver(md: &Maildir, subject: &str) {
        let mut d = Delivery::begin(md, "host").unwrap();
        d.write(format!("Subject: {subject}\r\n\r\n").as_bytes())
            .unwrap();
        d.commit(&[]).unwrap();
    }

    fn listed(modseqs: &ModSeqs, md: &Maildir) -> Listing {
        let mut listing = md.scan().unwrap();
        modseqs.reconcile(md, &mut listing).unwrap();
        listing
    }

    #[test]
    fn changes_get_new_modseqs_and_survive_a_restart() {
        let dir = std::env::temp_dir().join(format!("maildir-modseq-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let md = Maildir::new(&dir);
        for s in ["one", "two", "three"] {
            deliver(&md, s);
        }
        let modseqs = ModSeqs::new(1000);
        let first = listed(&modseqs, &md);
        let start = first.highest_modseq;
        assert!(start > 1_600_000_000_000_000, "starts at the time: {start}");
        assert!(first.messages.iter().all(|m| m.modseq == start));
        // Unchanged: the same values, nothing logged.
        let again = listed(&modseqs, &md);
        assert_eq!(again.highest_modseq, start);
        let records = fs::read_to_string(dir.join(FILE)).unwrap().lines().count();
        // A flag change and an expunge, each a step up.
        let flagged = md.set_flags(&again.messages[0], "S").unwrap();
        md.expunge(&again.messages[2]).unwrap();
        let changed = listed(&modseqs, &md);
        assert_eq!(changed.highest_modseq, start + 2);
        assert_eq!(changed.messages[0].uid, flagged.uid);
        assert_eq!(changed.messages[0].modseq, start + 1);
        assert_eq!(changed.messages[1].modseq, start);
        assert_eq!(
            fs::read_to_string(dir.join(FILE)).unwrap().lines().count(),
            records + 2
        );
        let gone = again.messages[2].uid;
        assert_eq!(
            modseqs
                .vanished_since(&md, changed.uid_validity, start + 1)
                .unwrap(),
            Some(vec![gone])
        );
        assert_eq!(
            modseqs
                .vanished_since(&md, changed.uid_validity, start + 2)
                .unwrap(),
            Some(vec![])
        );
        assert_eq!(
            modseqs
                .vanished_since(&md, changed.uid_validity, start - 1)
                .unwrap(),
            None
        );
        // Flags recorded as they are stored keep their MODSEQ through the next rescan.
        let stored = md.set_flags(&changed.messages[1], "F").unwrap();
        let recorded = modseqs
            .record_flags(&md, changed.uid_validity, &[(stored.uid, "F".into())])
            .unwrap();
        assert_eq!(recorded, Some(vec![start + 3]));
        let rescanned = listed(&modseqs, &md);
        assert_eq!(rescanned.messages[1].modseq, start + 3);
        assert_eq!(rescanned.highest_modseq, start + 3);
        md.set_flags(&rescanned.messages[1], "").unwrap();
        assert_eq!(listed(&modseqs, &md).messages[1].modseq, start + 4);
        // Another process (a restart) reads the same values back, and hands out new ones
        // above the clock, past any a lost record may have held.
        let restarted = ModSeqs::new(1000);
        let before = now_modseq();
        let reread = listed(&restarted, &md);
        assert!(reread.highest_modseq >= before);
        assert_eq!(
            reread.messages.iter().map(|m| m.modseq).collect::<Vec<_>>(),
            [start + 1, start + 4]
        );
        let flagged = md.set_flags(&reread.messages[0], "FS").unwrap();
        let after_restart = listed(&restarted, &md);
        assert_eq!(after_restart.messages[0].uid, flagged.uid);
        assert!(after_restart.messages[0].modseq > before);
        // A torn last record is ignored; a lost log starts again above everything.
        let mut f = OpenOptions::new()
            .append(true)
            .open(dir.join(FILE))
            .unwrap();
        f.write_all(b"99 12").unwrap();
        let torn = listed(&ModSeqs::new(1000), &md);
        assert_eq!(torn.messages[1].modseq, start + 4);
        fs::remove_file(dir.join(FILE)).unwrap();
        let rebuilt = listed(&ModSeqs::new(1000), &md);
        assert!(rebuilt.highest_modseq > start + 4);
        assert_eq!(
            ModSeqs::new(10)
                .vanished_since(&md, rebuilt.uid_validity, start)
                .unwrap(),
            None
        );
        let _ = fs::remove_dir_all(&dir);
    }
}
