//! Maildir++ quota usage in `maildirsize`, as Dovecot and Courier keep it: line 1 is the
//! limits (`<bytes>S`, with `,<count>C` when messages are limited too), then `<bytes> <count>`
//! lines, one per change, appended atomically. The file covers the whole mailbox, every folder
//! included. It is rebuilt from the message file names when it is missing or unreadable, and
//! compacted to one line with the same sums when it grows past 5120 octets (Dovecot's
//! threshold), so a check never walks the mailbox for every message. This crate's writers
//! (appends, compaction, recount) take turns on an advisory lock (`mailserver.quota.lock`, not
//! Dovecot's dot-lock name): a recount or compaction racing an append would otherwise lose or
//! double it, and the quota would drift from the files.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;

use crate::{Error, Maildir};

/// Octets and messages in a mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// Octets on disk.
    pub bytes: i64,
    /// Messages.
    pub messages: i64,
}

const REBUILD_ABOVE: u64 = 5120;

/// A mailbox's limits; 0 means none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QuotaLimits {
    /// Octets.
    pub bytes: u64,
    /// Messages.
    pub messages: u64,
}

impl QuotaLimits {
    /// Whether anything is limited.
    pub fn any(&self) -> bool {
        self.bytes > 0 || self.messages > 0
    }

    /// Whether `usage` plus `adding` (octets, messages) would pass a limit.
    pub fn exceeded(&self, usage: Usage, adding: (u64, u64)) -> bool {
        let after = |used: i64, more: u64| (used.max(0) as u64).saturating_add(more);
        (self.bytes > 0 && after(usage.bytes, adding.0) > self.bytes)
            || (self.messages > 0 && after(usage.messages, adding.1) > self.messages)
    }

    /// The limits line of `maildirsize`.
    fn line(&self) -> String {
        if self.messages > 0 {
            format!("{}S,{}C", self.bytes, self.messages)
        } else {
            format!("{}S", self.bytes)
        }
    }
}

impl Maildir {
    /// Current usage, from `maildirsize` (rebuilt when needed, or when its limits line is not
    /// `limits` any more).
    pub fn quota_usage(&self, limits: QuotaLimits) -> Result<Usage, Error> {
        let path = self.path().join("maildirsize");
        let text = match fs::read_to_string(&path) {
            Ok(t) => Some(t),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(Error::from_io("reading", &path, e)),
        };
        if let Some(text) = text
            && let Some(usage) = parse(&text)
        {
            let same_limits = text.lines().next() == Some(limits.line().as_str());
            if same_limits && (text.len() as u64) <= REBUILD_ABOVE {
                return Ok(usage);
            }
            let _lock = self.quota_lock()?;
            return self.compact_locked(limits);
        }
        self.rebuild_maildirsize(limits)
    }

    /// What `maildirsize` says now, without counting anything (`None` when it is missing or
    /// unreadable).
    pub fn recorded_usage(&self) -> Option<Usage> {
        parse(&fs::read_to_string(self.path().join("maildirsize")).ok()?)
    }

    /// Held while this crate writes `maildirsize`.
    fn quota_lock(&self) -> Result<File, Error> {
        let path = self.path().join("mailserver.quota.lock");
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(|e| Error::from_io("opening", &path, e))?;
        file.lock()
            .map_err(|e| Error::from_io("locking", &path, e))?;
        Ok(file)
    }

    /// Rewrites `maildirsize` as the limits line of `limits` and one line of its sums (under
    /// the lock). New limits keep the sums: counting the files again instead would count
    /// twice a message another process (a node sharing the store) has stored but not yet
    /// recorded.
    fn compact_locked(&self, limits: QuotaLimits) -> Result<Usage, Error> {
        let path = self.path().join("maildirsize");
        match fs::read_to_string(&path).ok().as_deref().and_then(parse) {
            Some(usage) => {
                self.write_maildirsize(limits, usage)?;
                Ok(usage)
            }
            None => self.rebuild_locked(limits),
        }
    }

    /// Starts `maildirsize` at nothing in a mailbox being made, before `new/` and `cur/` are
    /// (so before any message can be in it): the first deliveries then record themselves one
    /// by one, instead of one of them counting the files while another's is there but not yet
    /// recorded.
    pub(crate) fn start_maildirsize(&self) -> Result<(), Error> {
        let _lock = self.quota_lock()?;
        let path = self.path().join("maildirsize");
        let empty = ["new", "cur"]
            .iter()
            .all(|d| match fs::read_dir(self.path().join(d)) {
                Ok(mut entries) => entries.next().is_none(),
                Err(e) => e.kind() == io::ErrorKind::NotFound,
            });
        if path.exists() || !empty {
            return Ok(());
        }
        self.write_maildirsize(QuotaLimits::default(), Usage::default())
    }

    /// Records a change (a delivery: `+size, +1`; an expunge: `-size, -1`).
    pub fn quota_add(&self, bytes: i64, messages: i64, limits: QuotaLimits) -> Result<(), Error> {
        let path = self.path().join("maildirsize");
        let _lock = self.quota_lock()?;
        if !path.exists() {
            // The rebuild counts the change already, since the files are there.
            self.rebuild_locked(limits)?;
            return Ok(());
        }
        // One write with O_APPEND keeps concurrent appends whole (Maildir++ relies on it,
        // and other programs append without our lock).
        let mut f = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(|e| Error::from_io("opening", &path, e))?;
        f.write_all(format!("{bytes} {messages}\n").as_bytes())
            .map_err(|e| Error::from_io("writing", &path, e))?;
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        if len > REBUILD_ABOVE {
            self.compact_locked(limits)?;
        }
        Ok(())
    }

    /// Recounts from `new/` and `cur/` (sizes from `S=` where the name has it) and replaces
    /// `maildirsize` atomically.
    pub fn rebuild_maildirsize(&self, limits: QuotaLimits) -> Result<Usage, Error> {
        let _lock = self.quota_lock()?;
        self.rebuild_locked(limits)
    }

    fn rebuild_locked(&self, limits: QuotaLimits) -> Result<Usage, Error> {
        let mut usage = Usage::default();
        let mut dirs = vec![self.path().join("new"), self.path().join("cur")];
        for folder in self.list_folders()? {
            let folder = self.path().join(format!(".{folder}"));
            dirs.push(folder.join("new"));
            dirs.push(folder.join("cur"));
        }
        for dir in dirs {
            let entries = match fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::from_io("listing", &dir, e)),
            };
            for entry in entries {
                let entry = entry.map_err(|e| Error::from_io("listing", &dir, e))?;
                let name = entry.file_name();
                let Some(name) = name.to_str() else { continue };
                if name.starts_with('.') {
                    continue;
                }
                let from_name = name
                    .split(':')
                    .next()
                    .and_then(|base| base.split(',').find_map(|p| p.strip_prefix("S=")))
                    .and_then(|s| s.parse::<i64>().ok());
                let size = match from_name {
                    Some(s) => s,
                    None => entry.metadata().map(|m| m.len() as i64).unwrap_or(0),
                };
                usage.bytes += size;
                usage.messages += 1;
            }
        }
        self.write_maildirsize(limits, usage)?;
        Ok(usage)
    }

    /// Replaces `maildirsize` atomically with `limits` and the one line `usage` (under the
    /// lock, so the tmp name is ours alone).
    fn write_maildirsize(&self, limits: QuotaLimits, usage: Usage) -> Result<(), Error> {
        let path = self.path().join("maildirsize");
        let tmp = self
            .path()
            .join(format!("tmp/maildirsize.{}", std::process::id()));
        let content = format!("{}\n{} {}\n", limits.line(), usage.bytes, usage.messages);
        crate::replace_file(&path, &tmp, content.as_bytes())
    }
}

fn parse(text: &str) -> Option<Usage> {
    let mut lines = text.lines();
    lines.next()?;
    let mut usage = Usage::default();
    for line in lines {
        let mut parts = line.split_whitespace();
        let bytes: i64 = parts.next()?.parse().ok()?;
        let messages: i64 = parts.next()?.parse().ok()?;
        usage.bytes += bytes;
        usage.messages += messages;
    }
    // A sum below zero is wrong (Maildir++: recount then).
    (usage.bytes >= 0 && usage.messages >= 0).then_some(usage)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Delivery;

    #[test]
    fn tracks_deliveries_and_rebuilds() {
        let dir = std::env::temp_dir().join(format!("maildir-quota-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let md = Maildir::new(&dir);
        let limits = QuotaLimits {
            bytes: 1000,
            messages: 0,
        };
        let mut d = Delivery::begin(&md, "h").unwrap();
        d.write(&[b'x'; 100]).unwrap();
        d.commit(&[]).unwrap();
        // The mailbox started its maildirsize when it was made; each delivery records itself.
        assert_eq!(md.recorded_usage(), Some(Usage::default()));
        md.quota_add(100, 1, limits).unwrap();
        assert_eq!(
            md.quota_usage(limits).unwrap(),
            Usage {
                bytes: 100,
                messages: 1
            }
        );
        assert!(
            fs::read_to_string(dir.join("maildirsize"))
                .unwrap()
                .starts_with("1000S\n")
        );
        md.quota_add(50, 1, limits).unwrap();
        assert_eq!(
            md.quota_usage(limits).unwrap(),
            Usage {
                bytes: 150,
                messages: 2
            }
        );
        md.quota_add(-50, -1, limits).unwrap();
        assert_eq!(
            md.quota_usage(limits).unwrap(),
            Usage {
                bytes: 100,
                messages: 1
            }
        );
        // Folders count; new limits are written when they change, with the same sums.
        let sent = md.create_folder("Sent").unwrap();
        let mut d = Delivery::begin(&sent, "h").unwrap();
        d.write(&[b'y'; 10]).unwrap();
        d.commit(&[]).unwrap();
        md.quota_add(10, 1, limits).unwrap();
        let both = QuotaLimits {
            bytes: 1000,
            messages: 5,
        };
        assert_eq!(
            md.quota_usage(both).unwrap(),
            Usage {
                bytes: 110,
                messages: 2
            }
        );
        assert!(
            fs::read_to_string(dir.join("maildirsize"))
                .unwrap()
                .starts_with("1000S,5C\n")
        );
        assert!(both.exceeded(
            Usage {
                bytes: 110,
                messages: 5
            },
            (0, 1)
        ));
        assert!(!both.exceeded(
            Usage {
                bytes: 110,
                messages: 4
            },
            (890, 1)
        ));
        assert!(both.exceeded(
            Usage {
                bytes: 110,
                messages: 4
            },
            (891, 1)
        ));
        fs::remove_dir_all(dir.join(".Sent")).unwrap();
        // A corrupt file is rebuilt from the messages.
        fs::write(dir.join("maildirsize"), "garbage\nnot numbers\n").unwrap();
        assert_eq!(
            md.quota_usage(limits).unwrap(),
            Usage {
                bytes: 100,
                messages: 1
            }
        );
        fs::remove_dir_all(dir).unwrap();
    }
}
