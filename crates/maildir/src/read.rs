//! Reading a Maildir as Dovecot does: messages in `new/` and `cur/`, UIDs from
//! `dovecot-uidlist` (kept stable forever, extended for new files), keywords from
//! `dovecot-keywords`, and flags in file names (`:2,<flags>`).

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::{Error, Maildir};

/// Where a message file lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subdir {
    /// `new/`: not yet seen by any client.
    New,
    /// `cur/`.
    Cur,
}

/// One message of a scanned Maildir.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Its UID (stable across sessions, restarts and moves between `new/` and `cur/`).
    pub uid: u32,
    /// The file name up to `:` (the part that never changes).
    pub base: Arc<str>,
    /// The current file name.
    pub name: Arc<str>,
    /// `new/` or `cur/`.
    pub subdir: Subdir,
    /// Flags after `:2,`, ASCII-sorted (`DFRST` then keyword letters).
    pub flags: Arc<str>,
    /// Octets on disk.
    pub size: u64,
    /// RFC822.SIZE: octets with CRLF line ends, what IMAP and POP3 report.
    pub vsize: u64,
    /// A POP3 UIDL kept from an earlier server (uidlist `P` field).
    pub pop3_uidl: Option<String>,
    /// Its MODSEQ (RFC 7162), once a [`crate::ModSeqs`] log has seen this listing; else 0.
    pub modseq: u64,
}

impl Message {
    /// Whether the flags contain `flag` (a letter).
    pub fn has_flag(&self, flag: char) -> bool {
        self.flags.contains(flag)
    }
}

/// A scanned Maildir folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    /// UIDVALIDITY.
    pub uid_validity: u32,
    /// The UID the next new message will get.
    pub next_uid: u32,
    /// Messages in UID order.
    pub messages: Vec<Message>,
    /// The folder's highest MODSEQ, once a [`crate::ModSeqs`] log has seen this listing.
    pub highest_modseq: u64,
    /// Counts over `messages`, worked out once per scan so that SELECT and STATUS of a large
    /// folder do not walk it again.
    pub summary: Summary,
    /// The folder's `dovecot-keywords` as it was at the scan (index, name).
    pub keywords: Vec<(u32, String)>,
}

/// Counts over a folder's messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Summary {
    /// Messages still in `new/`.
    pub in_new: usize,
    /// Messages without the `S` (seen) flag.
    pub unseen: usize,
    /// The position of the first of them.
    pub first_unseen: Option<usize>,
    /// Messages with the `T` (trashed, IMAP `\Deleted`) flag.
    pub deleted: usize,
    /// The sum of the messages' virtual (CRLF) sizes.
    pub vsize: u64,
}

impl Summary {
    pub fn of(messages: &[Message]) -> Self {
        let mut s = Summary::default();
        for (i, m) in messages.iter().enumerate() {
            if m.subdir == Subdir::New {
                s.in_new += 1;
            }
            if !m.has_flag('S') {
                s.unseen += 1;
                s.first_unseen.get_or_insert(i);
            }
            if m.has_flag('T') {
                s.deleted += 1;
            }
            s.vsize += m.vsize;
        }
        s
    }
}

impl Listing {
    /// The POP3 UIDL of a message: a migrated one if the uidlist has it, else Dovecot 2.3's
    /// default `pop3_uidl_format = %08Xu%08Xv`, so clients moving from Dovecot keep theirs.
    pub fn uidl(&self, message: &Message) -> String {
        pop3_uidl(message, self.uid_validity)
    }
}

/// The order new files get UIDs in: by delivery time, the seconds and then the microseconds
/// (`M<usec>`) compared as numbers, as Dovecot's `maildir_filename_sort_cmp` does; a plain
/// string order puts `M99999` after `M123456`.
fn delivery_order(a: &str, b: &str) -> std::cmp::Ordering {
    fn key(name: &str) -> (u64, u64) {
        let digits = |s: &str| -> (u64, usize) {
            let n = s.bytes().take_while(u8::is_ascii_digit).count();
            (s[..n].parse().unwrap_or(0), n)
        };
        let (secs, n) = digits(name);
        let usec = name[n..]
            .strip_prefix(".M")
            .map_or(0, |rest| digits(rest).0);
        (secs, usec)
    }
    key(a).cmp(&key(b)).then_with(|| a.cmp(b))
}

/// A message's POP3 UIDL: the one kept in the uidlist (`P` field) if any, else what Dovecot
/// 2.3 sends by default (`pop3_uidl_format = %08Xu%08Xv`, which it renders in lower-case hex:
/// checked against Dovecot 2.3.19 in the integration tests).
pub fn pop3_uidl(message: &Message, uid_validity: u32) -> String {
    message
        .pop3_uidl
        .clone()
        .unwrap_or_else(|| format!("{:08x}{:08x}", message.uid, uid_validity))
}

/// A `dovecot-uidlist` record.
#[derive(Debug, Clone)]
struct Record {
    uid: u32,
    /// Extension fields as written (`P...`, `W...`, `G...`), kept on rewrite.
    fields: Vec<String>,
    name: String,
}

#[derive(Debug, Clone)]
struct Uidlist {
    uid_validity: u32,
    next_uid: u32,
    /// Header fields other than V and N (e.g. G), kept on rewrite.
    extra_header: Vec<String>,
    records: Vec<Record>,
}

fn base_name(name: &str) -> &str {
    name.split_once(':').map_or(name, |(b, _)| b)
}

fn parse_uidlist(text: &str) -> Option<Uidlist> {
    let mut lines = text.lines();
    let header = lines.next()?;
    let mut words = header.split(' ');
    let version = words.next()?;
    let mut list = Uidlist {
        uid_validity: 0,
        next_uid: 1,
        extra_header: Vec::new(),
        records: Vec::new(),
    };
    match version {
        "1" => {
            list.uid_validity = words.next()?.parse().ok()?;
            list.next_uid = words.next()?.parse().ok()?;
        }
        "3" => {
            for w in words {
                match w.split_at_checked(1) {
                    Some(("V", v)) => list.uid_validity = v.parse().ok()?,
                    Some(("N", n)) => list.next_uid = n.parse().ok()?,
                    Some(_) => list.extra_header.push(w.to_owned()),
                    None => {}
                }
            }
        }
        _ => return None,
    }
    for line in lines {
        let (head, name) = if version == "1" {
            line.split_once(' ')?
        } else {
            line.split_once(" :").or_else(|| line.split_once(':'))?
        };
        let mut parts = head.split(' ');
        let uid: u32 = parts.next()?.parse().ok()?;
        list.records.push(Record {
            uid,
            fields: parts.filter(|p| !p.is_empty()).map(str::to_owned).collect(),
            name: name.to_owned(),
        });
    }
    Some(list)
}

/// The uidlist's text, with the records `keep` keeps.
fn encode_uidlist(list: &Uidlist, keep: impl Fn(&Record) -> bool) -> String {
    use std::fmt::Write as _;
    let mut out = format!("3 V{} N{}", list.uid_validity, list.next_uid);
    for h in &list.extra_header {
        out.push(' ');
        out.push_str(h);
    }
    out.push('\n');
    for r in list.records.iter().filter(|r| keep(r)) {
        let _ = write!(out, "{}", r.uid);
        for f in &r.fields {
            out.push(' ');
            out.push_str(f);
        }
        out.push_str(" :");
        out.push_str(&r.name);
        out.push('\n');
    }
    out
}

/// `S=` and `W=` from a Maildir file name.
fn sizes_from_name(name: &str) -> (Option<u64>, Option<u64>) {
    let base = base_name(name);
    let mut s = None;
    let mut w = None;
    for part in base.split(',').skip(1) {
        if let Some(v) = part.strip_prefix("S=") {
            s = v.parse().ok();
        } else if let Some(v) = part.strip_prefix("W=") {
            w = v.parse().ok();
        }
    }
    (s, w)
}

fn flags_of(name: &str) -> String {
    name.split_once(":2,")
        .map_or(String::new(), |(_, f)| f.to_owned())
}

/// The size with CRLF line ends, reading the file (only when the name does not say).
fn compute_vsize(path: &Path) -> Result<u64, Error> {
    let mut file = File::open(path).map_err(|e| Error::from_io("reading", path, e))?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut prev = b'\n';
    let mut total = 0u64;
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| Error::from_io("reading", path, e))?;
        if n == 0 {
            return Ok(total);
        }
        let chunk = &buf[..n];
        total += n as u64;
        for i in memchr::memchr_iter(b'\n', chunk) {
            let before = if i == 0 { prev } else { chunk[i - 1] };
            if before != b'\r' {
                total += 1;
            }
        }
        prev = chunk[n - 1];
    }
}

/// A dot-lock: `<file>.lock` created exclusively; the new content is written into it and
/// renamed over the file, which both publishes the content and releases the lock (Dovecot's
/// way for `dovecot-uidlist` and `dovecot-keywords`).
pub(crate) struct DotLock {
    path: PathBuf,
    target: PathBuf,
    file: Option<File>,
}

impl DotLock {
    pub(crate) fn acquire(target: &Path) -> Result<Self, Error> {
        let mut path = target.as_os_str().to_owned();
        path.push(".lock");
        let path = PathBuf::from(path);
        let deadline = SystemTime::now() + Duration::from_secs(10);
        loop {
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
            {
                Ok(file) => {
                    return Ok(Self {
                        path,
                        target: target.to_owned(),
                        file: Some(file),
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    // A lock older than two minutes belongs to a crashed writer (Dovecot's
                    // stale timeout is of the same order).
                    let stale = fs::metadata(&path)
                        .and_then(|m| m.modified())
                        .map(|t| t.elapsed().unwrap_or_default() > Duration::from_secs(120))
                        .unwrap_or(false);
                    if stale {
                        let _ = fs::remove_file(&path);
                    } else if SystemTime::now() > deadline {
                        return Err(Error::from_io(
                            "locking",
                            &path,
                            io::Error::from(io::ErrorKind::WouldBlock),
                        ));
                    } else {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                }
                Err(e) => return Err(Error::from_io("locking", &path, e)),
            }
        }
    }

    pub(crate) fn commit(mut self, content: &[u8]) -> Result<(), Error> {
        let Some(mut file) = self.file.take() else {
            return Ok(());
        };
        file.write_all(content)
            .and_then(|_| file.sync_all())
            .map_err(|e| Error::from_io("writing", &self.path, e))?;
        fs::rename(&self.path, &self.target)
            .map_err(|e| Error::from_io("renaming", &self.target, e))?;
        Ok(())
    }
}

impl Drop for DotLock {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = fs::remove_file(&self.path);
        }
    }
}

fn random_u128() -> u128 {
    let mut bytes = [0u8; 16];
    let ok = File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .is_ok();
    if ok {
        u128::from_le_bytes(bytes)
    } else {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos()
            ^ u128::from(std::process::id())
    }
}

impl Maildir {
    fn list_dir(&self, subdir: Subdir) -> Result<Vec<String>, Error> {
        match subdir {
            Subdir::New => self.list_new(),
            Subdir::Cur => self.list_cur(),
        }
    }

    /// The path of a message.
    pub fn message_path(&self, message: &Message) -> PathBuf {
        let sub = match message.subdir {
            Subdir::New => "new",
            Subdir::Cur => "cur",
        };
        self.path().join(sub).join(&*message.name)
    }

    /// Lists the folder with UIDs: files known to `dovecot-uidlist` keep theirs; new files get
    /// the next ones, in file-name (delivery) order, and the uidlist is rewritten under its
    /// dot-lock. A missing uidlist starts a new UIDVALIDITY.
    pub fn scan(&self) -> Result<Listing, Error> {
        let uidlist_path = self.path().join("dovecot-uidlist");
        let mut files: Vec<(String, Subdir)> = Vec::new();
        for sub in [Subdir::New, Subdir::Cur] {
            for name in self.list_dir(sub)? {
                files.push((name, sub));
            }
        }
        // A uidlist we cannot read is an error, never a reason to start over: a new one would
        // renumber every message and make every client download the mailbox again.
        let read = |p: &Path| match fs::read_to_string(p) {
            Ok(t) => parse_uidlist(&t).map(Some).ok_or_else(|| Error::Io {
                action: "parsing",
                path: p.to_owned(),
                source: io::Error::new(
                    io::ErrorKind::InvalidData,
                    "not a dovecot-uidlist this reader understands",
                ),
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::from_io("reading", p, e)),
        };
        let mut list = read(&uidlist_path)?;
        let known = |list: &Option<Uidlist>| -> HashMap<String, usize> {
            list.as_ref()
                .map(|l| {
                    l.records
                        .iter()
                        .enumerate()
                        .map(|(i, r)| (base_name(&r.name).to_owned(), i))
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut index = known(&list);
        let unknown = files.iter().any(|(n, _)| !index.contains_key(base_name(n)));
        if unknown || list.is_none() {
            // Assign UIDs under the lock, re-reading what another writer may have added.
            let lock = DotLock::acquire(&uidlist_path)?;
            let reread = read(&uidlist_path)?;
            // Unchanged meanwhile (a writer that drops records shortens the list, one that
            // adds raises N): the index of the first read still holds.
            let unchanged = match (&list, &reread) {
                (Some(a), Some(b)) => {
                    (a.uid_validity, a.next_uid, a.records.len())
                        == (b.uid_validity, b.next_uid, b.records.len())
                }
                (None, None) => true,
                _ => false,
            };
            list = reread;
            if !unchanged {
                index = known(&list);
            }
            let mut l = list.unwrap_or_else(|| Uidlist {
                uid_validity: (SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_secs() as u32)
                    .max(1),
                next_uid: 1,
                extra_header: vec![format!("G{:032x}", random_u128())],
                records: Vec::new(),
            });
            let mut new_files: Vec<&(String, Subdir)> = files
                .iter()
                .filter(|(n, _)| !index.contains_key(base_name(n)))
                .collect();
            new_files.sort_by(|a, b| delivery_order(base_name(&a.0), base_name(&b.0)));
            for (name, _) in new_files {
                index.insert(base_name(name).to_owned(), l.records.len());
                l.records.push(Record {
                    uid: l.next_uid,
                    fields: Vec::new(),
                    name: name.clone(),
                });
                l.next_uid += 1;
            }
            // Files that are gone drop out of the file; their UIDs are never reused. (They
            // stay in `l` for now, so the index's positions hold.)
            let present: std::collections::HashSet<&str> =
                files.iter().map(|(n, _)| base_name(n)).collect();
            lock.commit(encode_uidlist(&l, |r| present.contains(base_name(&r.name))).as_bytes())?;
            list = Some(l);
        }
        let list = list.unwrap_or_else(|| Uidlist {
            uid_validity: 1,
            next_uid: 1,
            extra_header: Vec::new(),
            records: Vec::new(),
        });
        let mut messages = Vec::with_capacity(files.len());
        for (name, subdir) in files {
            let Some(&i) = index.get(base_name(&name)) else {
                continue;
            };
            let record = &list.records[i];
            let field = |key: char| {
                record
                    .fields
                    .iter()
                    .find_map(|f| f.strip_prefix(key).map(str::to_owned))
            };
            let (s, w) = sizes_from_name(&name);
            // Only a name without its sizes (not Dovecot's, not ours) costs a path and a stat.
            let path = || {
                self.path()
                    .join(if subdir == Subdir::New { "new" } else { "cur" })
                    .join(&name)
            };
            let size = match s {
                Some(s) => s,
                None => {
                    let path = path();
                    fs::metadata(&path)
                        .map_err(|e| Error::from_io("reading", &path, e))?
                        .len()
                }
            };
            let vsize = match w.or_else(|| field('W').and_then(|v| v.parse().ok())) {
                Some(w) => w,
                None => compute_vsize(&path())?,
            };
            messages.push(Message {
                uid: record.uid,
                base: base_name(&name).into(),
                flags: flags_of(&name).into(),
                name: name.into(),
                subdir,
                size,
                vsize,
                pop3_uidl: field('P'),
                modseq: 0,
            });
        }
        messages.sort_by_key(|m| m.uid);
        Ok(Listing {
            uid_validity: list.uid_validity,
            next_uid: list.next_uid,
            summary: Summary::of(&messages),
            messages,
            highest_modseq: 0,
            keywords: self.keywords()?,
        })
    }

    /// The letter for `keyword` in file names, adding it to `dovecot-keywords` if needed
    /// (letters `a`-`z` are keywords 0-25).
    pub fn keyword_letter(&self, keyword: &str) -> Result<char, Error> {
        let path = self.path().join("dovecot-keywords");
        let parse = |text: &str| -> Vec<(u32, String)> {
            text.lines()
                .filter_map(|l| l.split_once(' '))
                .filter_map(|(i, k)| Some((i.parse().ok()?, k.to_owned())))
                .collect()
        };
        let read = || match fs::read_to_string(&path) {
            Ok(t) => Ok(parse(&t)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(Error::from_io("reading", &path, e)),
        };
        let letter = |i: u32| char::from(b'a' + i as u8);
        if let Some((i, _)) = read()?.iter().find(|(_, k)| k == keyword) {
            return Ok(letter(*i));
        }
        let lock = DotLock::acquire(&path)?;
        let mut entries = read()?;
        if let Some((i, _)) = entries.iter().find(|(_, k)| k == keyword) {
            return Ok(letter(*i));
        }
        let free = (0..26)
            .find(|i| entries.iter().all(|(j, _)| j != i))
            .ok_or_else(|| Error::Io {
                action: "adding keyword to",
                path: path.clone(),
                source: io::Error::other("all 26 keyword letters are in use"),
            })?;
        entries.push((free, keyword.to_owned()));
        entries.sort();
        let text: String = entries.iter().map(|(i, k)| format!("{i} {k}\n")).collect();
        lock.commit(text.as_bytes())?;
        Ok(letter(free))
    }

    /// Adds flags (letters) to a message, moving it to `cur/` as `base:2,<sorted flags>`.
    /// Returns the message as it now is.
    pub fn add_flags(&self, message: &Message, add: &str) -> Result<Message, Error> {
        let all: String = message.flags.chars().chain(add.chars()).collect();
        self.set_flags(message, &all)
    }

    /// Replaces a message's flags (letters), moving it to `cur/` as `base:2,<sorted flags>`.
    /// Returns the message as it now is.
    pub fn set_flags(&self, message: &Message, flags: &str) -> Result<Message, Error> {
        let mut flags: Vec<char> = flags.chars().collect();
        flags.sort_unstable();
        flags.dedup();
        let flags: String = flags.into_iter().collect();
        if *flags == *message.flags && message.subdir == Subdir::Cur {
            return Ok(message.clone());
        }
        let name = format!("{}:2,{flags}", message.base);
        let from = self.message_path(message);
        let to = self.path().join("cur").join(&name);
        if let Err(e) = fs::rename(&from, &to) {
            if e.kind() != io::ErrorKind::NotFound {
                return Err(Error::from_io("renaming", &from, e));
            }
            // Another session renamed it (new flags) since we looked: find it under its
            // current name; if it is gone, it was expunged.
            let prefix = format!("{}:", message.base);
            let current = self
                .list_cur()?
                .into_iter()
                .find(|n| n.starts_with(&prefix) || **n == *message.base)
                .ok_or_else(|| Error::from_io("renaming", &from, e))?;
            let from = self.path().join("cur").join(current);
            fs::rename(&from, &to).map_err(|e| Error::from_io("renaming", &from, e))?;
        }
        Ok(Message {
            name: name.into(),
            subdir: Subdir::Cur,
            flags: flags.into(),
            ..message.clone()
        })
    }

    /// Removes a message for good.
    pub fn expunge(&self, message: &Message) -> Result<(), Error> {
        let path = self.message_path(message);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::from_io("removing", &path, e)),
        }
    }

    /// Makes renames and removals in `new/` and `cur/` durable.
    pub fn sync(&self) -> Result<(), Error> {
        crate::sync_dir(&self.path().join("new"))?;
        crate::sync_dir(&self.path().join("cur"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Delivery;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("maildir-read-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    fn deliver(md: &Maildir, body: &[u8]) {
        let mut d = Delivery::begin(md, "host").unwrap();
        d.write(body).unwrap();
        d.commit(&[]).unwrap();
    }

    #[test]
    fn uids_are_stable_and_extended() {
        let dir = temp("stable");
        let md = Maildir::new(&dir);
        deliver(&md, b"a\r\n");
        deliver(&md, b"b\n");
        let first = md.scan().unwrap();
        assert_eq!(
            first.messages.iter().map(|m| m.uid).collect::<Vec<_>>(),
            [1, 2]
        );
        assert_eq!(first.messages[1].vsize, 3);
        deliver(&md, b"c\r\n");
        let moved = md.add_flags(&first.messages[0], "S").unwrap();
        assert!(moved.name.ends_with(":2,S"));
        let second = md.scan().unwrap();
        assert_eq!(second.uid_validity, first.uid_validity);
        assert_eq!(
            second.messages.iter().map(|m| m.uid).collect::<Vec<_>>(),
            [1, 2, 3]
        );
        assert_eq!(second.messages[0].subdir, Subdir::Cur);
        assert_eq!(
            first.uidl(&first.messages[0]),
            second.uidl(&second.messages[0])
        );
        md.expunge(&second.messages[1]).unwrap();
        deliver(&md, b"d\r\n");
        let third = md.scan().unwrap();
        assert_eq!(
            third.messages.iter().map(|m| m.uid).collect::<Vec<_>>(),
            [1, 3, 4],
            "UIDs are never reused"
        );
        // The expunged message left the uidlist when the new one was numbered.
        let uidlist = fs::read_to_string(dir.join("dovecot-uidlist")).unwrap();
        assert!(
            uidlist.starts_with(&format!("3 V{} N5", third.uid_validity)),
            "{uidlist}"
        );
        let uids: Vec<&str> = uidlist
            .lines()
            .skip(1)
            .map(|l| l.split(' ').next().unwrap())
            .collect();
        assert_eq!(uids, ["1", "3", "4"], "{uidlist}");
        assert_eq!(md.scan().unwrap().messages, third.messages);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn reads_a_dovecot_uidlist_with_pop3_uidls() {
        let dir = temp("dovecot");
        let md = Maildir::new(&dir);
        md.create().unwrap();
        fs::write(
            dir.join("cur/1491941793.M41850P8566.mx1,S=5,W=6:2,S"),
            b"abc\nd",
        )
        .unwrap();
        fs::write(dir.join("new/1491941794.M1P1.mx1"), b"x\ny\n").unwrap();
        fs::write(
            dir.join("dovecot-uidlist"),
            "3 V1491941700 N20 G0123456789abcdef0123456789abcdef\n\
             17 P000000a1legacy W6 :1491941793.M41850P8566.mx1,S=5,W=6:2,\n\
             19 :1491941794.M1P1.mx1\n",
        )
        .unwrap();
        let l = md.scan().unwrap();
        assert_eq!(l.uid_validity, 1491941700);
        assert_eq!(l.messages.len(), 2);
        assert_eq!((l.messages[0].uid, l.messages[0].vsize), (17, 6));
        assert_eq!(l.uidl(&l.messages[0]), "000000a1legacy");
        assert_eq!(
            (l.messages[1].uid, l.messages[1].size, l.messages[1].vsize),
            (19, 4, 6)
        );
        assert_eq!(
            l.uidl(&l.messages[1]),
            format!("{:08x}{:08x}", 19, 1491941700)
        );
        // Nothing new: the uidlist is left as it was.
        assert!(
            fs::read_to_string(dir.join("dovecot-uidlist"))
                .unwrap()
                .contains("P000000a1legacy")
        );
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn new_files_are_numbered_in_delivery_order() {
        let mut names = vec![
            "1700000001.M5P1.h",
            "1700000000.M999999P1.h",
            "1700000000.M99999P1.h",
            "1700000000.M123456P1.h",
            "custom-name",
        ];
        names.sort_by(|a, b| delivery_order(a, b));
        assert_eq!(
            names,
            [
                "custom-name",
                "1700000000.M99999P1.h",
                "1700000000.M123456P1.h",
                "1700000000.M999999P1.h",
                "1700000001.M5P1.h",
            ]
        );
    }

    #[test]
    fn an_unreadable_uidlist_is_an_error_and_is_left_alone() {
        let dir = temp("bad-uidlist");
        let md = Maildir::new(&dir);
        deliver(&md, b"a\r\n");
        fs::write(dir.join("dovecot-uidlist"), "7 something from the future\n").unwrap();
        assert!(md.scan().is_err());
        assert_eq!(
            fs::read_to_string(dir.join("dovecot-uidlist")).unwrap(),
            "7 something from the future\n"
        );
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn keywords() {
        let dir = temp("keywords");
        let md = Maildir::new(&dir);
        md.create().unwrap();
        fs::write(dir.join("dovecot-keywords"), "0 $Junk\n1 $Forwarded\n").unwrap();
        assert_eq!(md.keyword_letter("$Junk").unwrap(), 'a');
        assert_eq!(md.keyword_letter("$POP3Deleted").unwrap(), 'c');
        assert_eq!(md.keyword_letter("$POP3Deleted").unwrap(), 'c');
        assert!(
            fs::read_to_string(dir.join("dovecot-keywords"))
                .unwrap()
                .contains("2 $POP3Deleted")
        );
        fs::remove_dir_all(dir).unwrap();
    }
}
