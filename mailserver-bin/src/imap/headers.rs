//! A cache of the header fields clients fetch and search most (those of ENVELOPE, and the
//! ones Thunderbird and Roundcube list in `BODY.PEEK[HEADER.FIELDS (...)]`), so that listing
//! a large folder does not open every message file again.
//!
//! Per folder, the cache is a file beside Dovecot's, `mailserver.headers`, which Dovecot
//! ignores: a version line, then one record per message, `<base name> TAB <length> LF` and
//! that many octets (the selected header lines, CRLF, and the blank line). Maildir files never
//! change under a base name, so a record stays true until the message is gone; records of
//! expunged messages are dropped when the file is loaded with too many of them. It is only a
//! cache: unreadable or torn records are skipped and rebuilt from the messages, and nothing is
//! fsynced. In memory, folders are kept up to a byte budget shared by all sessions.
//!
//! BODYSTRUCTUREs are kept the same way in `mailserver.structures`, each record the structure
//! as a FETCH response carries it (extension data included), so that a message list showing
//! attachment icons reads no message again, even after a restart. Internal dates (the files'
//! modification times) are kept in `mailserver.dates` as decimal Unix seconds, so that FETCH
//! INTERNALDATE, SEARCH SINCE and SORT ARRIVAL need no `stat` per message.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use bytes::Bytes;
use mailwright_imap::{BodyStructure, SortCriterion};
use mailwright_maildir::{Listing, Maildir, Message};
use tracing::warn;

use super::mime;

const HEADERS_FILE: &str = "mailserver.headers";
/// Version 2 keeps more fields than version 1, whose files are therefore written anew.
const HEADERS_VERSION: &[u8] = b"mailserver-headers 2\n";
const STRUCTURES_FILE: &str = "mailserver.structures";
const STRUCTURES_VERSION: &[u8] = b"mailserver-structures 1\n";
const DATES_FILE: &str = "mailserver.dates";
const DATES_VERSION: &[u8] = b"mailserver-dates 1\n";

/// The fields kept: ENVELOPE's, and those the message lists of Thunderbird, Roundcube,
/// Apple Mail and K-9 ask for. A request for any other field reads the message.
pub const CACHED_FIELDS: [&str; 27] = [
    "Date",
    "Subject",
    "From",
    "Sender",
    "Reply-To",
    "To",
    "Cc",
    "Bcc",
    "In-Reply-To",
    "Message-ID",
    "References",
    "Content-Type",
    "Priority",
    "X-Priority",
    "Importance",
    "Newsgroups",
    "List-Id",
    "List-Post",
    "Disposition-Notification-To",
    "Mail-Reply-To",
    "Mail-Followup-To",
    "X-Uniform-Type-Identifier",
    "X-Universally-Unique-Identifier",
    "X-Spam-Flag",
    "X-Spam-Status",
    "Chat-Version",
    "X-K9mail-Identity",
];

/// Whether the field `name` is cached.
pub fn covers_field(name: &str) -> bool {
    CACHED_FIELDS.iter().any(|c| c.eq_ignore_ascii_case(name))
}

/// Whether every field in `names` is cached.
pub fn covers(names: &[String]) -> bool {
    names.iter().all(|n| covers_field(n))
}

/// The cached part of a message's header (CRLF header lines, then the blank line).
pub fn extract(header: &[u8]) -> Bytes {
    let names: Vec<String> = CACHED_FIELDS.iter().map(|s| (*s).to_owned()).collect();
    Bytes::from(mime::header_fields(header, &names, false))
}

/// A file of records `<base name> TAB <length> LF <octets>` under a version line, and what
/// has not been written to it yet.
#[derive(Debug)]
struct RecordFile {
    name: &'static str,
    version: &'static [u8],
    /// Records not yet appended to the file.
    pending: Vec<u8>,
    /// The file needs writing from scratch (missing, torn, or mostly expunged records).
    rewrite: bool,
}

impl RecordFile {
    /// Reads the file's records of `live` messages.
    fn load(
        maildir: &Maildir,
        name: &'static str,
        version: &'static [u8],
        live: &HashSet<&str>,
    ) -> (Self, Records) {
        let data = std::fs::read(maildir.path().join(name)).unwrap_or_default();
        let missing = data.is_empty();
        let (records, count, torn) = parse(Bytes::from(data), version, live);
        let stale = count - records.index.len().min(count);
        let file = RecordFile {
            name,
            version,
            pending: Vec::new(),
            rewrite: missing || torn || stale > 1000 && stale * 2 > count,
        };
        (file, records)
    }

    fn append(&mut self, base: &str, octets: &[u8]) {
        self.pending
            .extend_from_slice(format!("{base}\t{}\n", octets.len()).as_bytes());
        self.pending.extend_from_slice(octets);
    }

    /// Writes what was appended since the last flush, or all of `records` when the file must
    /// be written anew.
    fn flush(&mut self, maildir: &Maildir, records: &Records) {
        if self.pending.is_empty() && !self.rewrite {
            return;
        }
        let path = maildir.path().join(self.name);
        let result = if self.rewrite {
            let mut all = self.version.to_vec();
            for (base, octets) in records.iter() {
                all.extend_from_slice(format!("{base}\t{}\n", octets.len()).as_bytes());
                all.extend_from_slice(&octets);
            }
            let tmp = maildir.path().join(format!("{}.tmp", self.name));
            std::fs::write(&tmp, &all).and_then(|()| std::fs::rename(&tmp, &path))
        } else {
            std::fs::OpenOptions::new()
                .append(true)
                .open(&path)
                .and_then(|mut f| f.write_all(&self.pending))
        };
        if let Err(e) = result {
            warn!(path = %path.display(), error = %e, "imap: writing a cache file failed");
        }
        self.pending.clear();
        self.rewrite = false;
    }
}

/// Records by message base name. Those read from a file stay in its bytes and are found
/// through a sorted index of name hashes (24 octets a record; a map of owned names cost
/// about 120, 12 MB for a 100,000-message folder); those added since are in a map.
#[derive(Debug, Default)]
struct Records {
    /// The file as read.
    data: Bytes,
    /// (hash of the base name, where the name starts, where the record's octets start, how
    /// many), by hash.
    index: Vec<(u64, u32, u32, u32)>,
    added: HashMap<String, Bytes>,
}

impl Records {
    fn get(&self, base: &str) -> Option<Bytes> {
        if let Some(r) = self.added.get(base) {
            return Some(r.clone());
        }
        self.find(base)
            .map(|&(_, _, at, len)| self.data.slice(at as usize..(at + len) as usize))
    }

    fn find(&self, base: &str) -> Option<&(u64, u32, u32, u32)> {
        let hash = name_hash(base);
        let first = self.index.partition_point(|e| e.0 < hash);
        self.index[first..]
            .iter()
            .take_while(|e| e.0 == hash)
            .find(|&&(_, name_at, _, _)| {
                // The name as the file has it, followed by its tab: no two names are taken
                // for one.
                let name_at = name_at as usize;
                self.data.get(name_at..name_at + base.len()) == Some(base.as_bytes())
                    && self.data.get(name_at + base.len()) == Some(&b'\t')
            })
    }

    fn insert(&mut self, base: &str, record: Bytes) {
        self.added.insert(base.to_owned(), record);
    }

    /// Every record, as (base name, octets).
    fn iter(&self) -> impl Iterator<Item = (&str, Bytes)> {
        let from_file = self.index.iter().filter_map(|&(_, name_at, at, len)| {
            let name = &self.data[name_at as usize..];
            let name = std::str::from_utf8(&name[..memchr::memchr(b'\t', name)?]).ok()?;
            (!self.added.contains_key(name))
                .then(|| (name, self.data.slice(at as usize..(at + len) as usize)))
        });
        from_file.chain(self.added.iter().map(|(b, r)| (b.as_str(), r.clone())))
    }

    /// Octets held: names and records.
    fn size(&self) -> usize {
        self.data.len()
            + self
                .added
                .iter()
                .map(|(b, r)| b.len() + r.len())
                .sum::<usize>()
    }
}

/// The hash a base name is indexed by.
fn name_hash(name: &str) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault};
    BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default().hash_one(name)
}

/// One folder's cached fields and structures by message base name.
#[derive(Debug)]
pub struct FolderHeaders {
    by_base: Records,
    headers_file: RecordFile,
    /// What SORT and THREAD derive from the fields, kept once worked out (memory only).
    keys: HashMap<String, Arc<MessageKeys>>,
    /// BODYSTRUCTUREs in their encoded form: a message list showing attachment icons asks for
    /// them on every page, and each costs a read and parse of the message.
    structures: Records,
    structures_file: RecordFile,
    /// Internal dates, decimal Unix seconds.
    dates: Records,
    dates_file: RecordFile,
    bytes: usize,
    /// The last SORTs of a whole listing, newest first, for the next client asking the same
    /// of it (webmail sorts again on every page).
    sorted: Vec<SortMemo>,
}

/// Sort orders remembered per folder: a few users' or views' orders, at 4 octets a message.
const SORT_MEMOS: usize = 4;

/// A sort order, by position in the listing it was worked out for.
#[derive(Debug)]
struct SortMemo {
    /// Weak, so that a replaced listing goes away; while the memo holds it, no other listing
    /// can have its address.
    listing: Weak<Listing>,
    criteria: Vec<SortCriterion>,
    order: Arc<Vec<u32>>,
}

impl FolderHeaders {
    pub fn get(&self, base: &str) -> Option<Bytes> {
        self.by_base.get(base)
    }

    pub fn keys(&self, base: &str) -> Option<Arc<MessageKeys>> {
        self.keys.get(base).cloned()
    }

    /// The order `criteria` put every message of `listing` in, if that sort is remembered.
    pub fn sorted(
        &self,
        listing: &Arc<Listing>,
        criteria: &[SortCriterion],
    ) -> Option<Arc<Vec<u32>>> {
        self.sorted
            .iter()
            .find(|m| {
                m.criteria == criteria
                    && m.listing
                        .upgrade()
                        .is_some_and(|l| Arc::ptr_eq(&l, listing))
            })
            .map(|m| Arc::clone(&m.order))
    }

    pub fn remember_sort(
        &mut self,
        listing: &Arc<Listing>,
        criteria: &[SortCriterion],
        order: Arc<Vec<u32>>,
    ) {
        // Orders of replaced listings are of no use any more.
        self.sorted.retain(|m| {
            m.criteria != criteria
                && m.listing
                    .upgrade()
                    .is_some_and(|l| Arc::ptr_eq(&l, listing))
        });
        self.sorted.insert(
            0,
            SortMemo {
                listing: Arc::downgrade(listing),
                criteria: criteria.to_vec(),
                order,
            },
        );
        self.sorted.truncate(SORT_MEMOS);
    }

    /// The message's structure, if kept and readable (a damaged record is worked out again).
    pub fn structure(&self, base: &str) -> Option<BodyStructure> {
        BodyStructure::decode(&self.structures.get(base)?).ok()
    }

    pub fn insert_structure(&mut self, base: &str, structure: &BodyStructure) {
        let encoded = structure.encode();
        self.structures_file.append(base, &encoded);
        self.bytes += base.len() + encoded.len();
        self.structures.insert(base, encoded);
    }

    fn internal_time(&self, base: &str) -> Option<i64> {
        std::str::from_utf8(&self.dates.get(base)?)
            .ok()?
            .parse()
            .ok()
    }

    fn insert_internal_time(&mut self, base: &str, secs: i64) {
        let text = Bytes::from(secs.to_string());
        self.dates_file.append(base, &text);
        self.bytes += base.len() + text.len();
        self.dates.insert(base, text);
    }

    pub fn insert_keys(&mut self, base: &str, keys: Arc<MessageKeys>) {
        self.bytes += base.len() + keys.size();
        self.keys.insert(base.to_owned(), keys);
    }

    pub fn insert(&mut self, base: &str, fields: Bytes) {
        self.headers_file.append(base, &fields);
        self.bytes += base.len() + fields.len();
        self.by_base.insert(base, fields);
    }

    /// Writes what was added since the last flush.
    pub fn flush(&mut self, maildir: &Maildir) {
        self.headers_file.flush(maildir, &self.by_base);
        self.structures_file.flush(maildir, &self.structures);
        self.dates_file.flush(maildir, &self.dates);
    }
}

/// A message's internal date in Unix seconds (its file's modification time; the epoch when the
/// file is gone), kept in `cache` once read.
pub fn internal_time(
    cache: Option<&Mutex<FolderHeaders>>,
    maildir: &Maildir,
    msg: &Message,
) -> i64 {
    if let Some(t) = cache.and_then(|c| lock_folder(c).internal_time(&msg.base)) {
        return t;
    }
    match maildir.internal_date(msg) {
        Ok(t) => {
            let secs = unix_secs(t);
            if let Some(c) = cache {
                lock_folder(c).insert_internal_time(&msg.base, secs);
            }
            secs
        }
        Err(_) => 0,
    }
}

/// Parses a cache file: the records of `live` messages (slices of `data`, not copies), how
/// many records there were, and whether the file stopped in the middle of one (everything
/// after it is ignored).
fn parse(data: Bytes, version: &[u8], live: &HashSet<&str>) -> (Records, usize, bool) {
    let mut index = Vec::new();
    let mut records = 0;
    let Some(mut rest) = data.strip_prefix(version) else {
        return (Records::default(), 0, true);
    };
    let mut offset = version.len();
    let mut torn = false;
    while !rest.is_empty() {
        let Some(nl) = memchr::memchr(b'\n', rest) else {
            torn = true;
            break;
        };
        let parsed = std::str::from_utf8(&rest[..nl])
            .ok()
            .and_then(|l| l.split_once('\t'))
            .and_then(|(b, n)| Some((b, n.parse::<usize>().ok()?)));
        let Some((base, len)) = parsed else {
            torn = true;
            break;
        };
        let start = nl + 1;
        // Offsets are kept in 32 bits: a file past 4 GiB is read no further.
        if rest.len() < start + len || offset + start + len > u32::MAX as usize {
            torn = true;
            break;
        }
        records += 1;
        if live.contains(base) {
            index.push((
                name_hash(base),
                offset as u32,
                (offset + start) as u32,
                len as u32,
            ));
        }
        rest = &rest[start + len..];
        offset += start + len;
    }
    // The last record of a name wins (it was appended after the others): sort stably, and
    // drop all but the last of equal names.
    index.sort_by_key(|e| e.0);
    let name_of = |e: &(u64, u32, u32, u32)| {
        let line = &data[e.1 as usize..e.2 as usize];
        &line[..memchr::memchr(b'\t', line).unwrap_or(line.len())]
    };
    let mut kept: Vec<(u64, u32, u32, u32)> = Vec::with_capacity(index.len());
    for e in index {
        // Equal hashes are the last ones kept.
        let same = kept
            .iter()
            .rev()
            .take_while(|k| k.0 == e.0)
            .position(|k| name_of(k) == name_of(&e));
        if let Some(back) = same {
            let i = kept.len() - 1 - back;
            kept[i] = e;
        } else {
            kept.push(e);
        }
    }
    let records_found = Records {
        data,
        index: kept,
        added: HashMap::new(),
    };
    (records_found, records, torn)
}

/// The header caches of the folders sessions use, up to a byte budget in memory.
#[derive(Debug)]
pub struct HeaderCache {
    folders: Mutex<HashMap<PathBuf, Arc<Mutex<FolderHeaders>>>>,
    max_bytes: usize,
    /// Held while a folder's files are loaded: sessions that open it at the same time load
    /// them once.
    loading: Mutex<()>,
}

impl HeaderCache {
    pub fn new(max_bytes: usize) -> Self {
        Self {
            folders: Mutex::new(HashMap::new()),
            max_bytes,
            loading: Mutex::new(()),
        }
    }

    /// The cache of `maildir`, loaded from its file on first use. `live` are the base names
    /// of the messages in the folder now: records of others are dropped.
    pub fn folder<'a>(
        &self,
        maildir: &Maildir,
        live: impl FnOnce() -> HashSet<&'a str>,
    ) -> Arc<Mutex<FolderHeaders>> {
        if let Some(f) = self.lock().get(maildir.path()) {
            return Arc::clone(f);
        }
        let _loading = self.loading.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(f) = self.lock().get(maildir.path()) {
            return Arc::clone(f);
        }
        let live = live();
        let (headers_file, by_base) =
            RecordFile::load(maildir, HEADERS_FILE, HEADERS_VERSION, &live);
        let (structures_file, structures) =
            RecordFile::load(maildir, STRUCTURES_FILE, STRUCTURES_VERSION, &live);
        let (dates_file, dates) = RecordFile::load(maildir, DATES_FILE, DATES_VERSION, &live);
        let bytes = by_base.size() + structures.size() + dates.size();
        let folder = Arc::new(Mutex::new(FolderHeaders {
            by_base,
            headers_file,
            keys: HashMap::new(),
            structures,
            structures_file,
            dates,
            dates_file,
            bytes,
            sorted: Vec::new(),
        }));
        let mut folders = self.lock();
        // Make room: other folders are dropped from memory (their files stay).
        let mut held: usize = folders
            .values()
            .map(|f| lock_folder(f).bytes)
            .sum::<usize>()
            + bytes;
        while held > self.max_bytes {
            let Some(victim) = folders.keys().next().cloned() else {
                break;
            };
            if let Some(f) = folders.remove(&victim) {
                held -= lock_folder(&f).bytes;
            }
        }
        folders.insert(maildir.path().to_owned(), Arc::clone(&folder));
        folder
    }

    /// Drops the folder at `path` from memory (its files stay, and are read again when
    /// needed).
    pub fn release(&self, path: &Path) {
        self.lock().remove(path);
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<PathBuf, Arc<Mutex<FolderHeaders>>>> {
        self.folders.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

pub fn lock_folder(f: &Mutex<FolderHeaders>) -> MutexGuard<'_, FolderHeaders> {
    f.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Seconds since the epoch of a file time.
fn unix_secs(t: std::time::SystemTime) -> i64 {
    match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

/// What SORT and THREAD need of a message's header, worked out once per message and kept in
/// the folder's header cache.
#[derive(Debug)]
pub struct MessageKeys {
    /// The Date field, in seconds since the epoch.
    pub(crate) sent: Option<i64>,
    /// RFC 5256 base subject, in lower case.
    pub(crate) subject: Arc<str>,
    /// Whether the subject marked a reply or forward.
    pub(crate) refwd: bool,
    /// The first From, To and Cc mailbox (local part), in lower case.
    pub(crate) from: Arc<str>,
    pub(crate) to: Arc<str>,
    pub(crate) cc: Arc<str>,
    pub(crate) message_id: Option<String>,
    /// The References IDs, or the first In-Reply-To ID.
    pub(crate) references: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_torn_tails_are_dropped() {
        let dir = std::env::temp_dir().join(format!("imap-headers-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let md = Maildir::new(&dir);
        md.create().unwrap();
        let cache = HeaderCache::new(1 << 20);
        let live: HashSet<&str> = ["a", "b"].into_iter().collect();
        {
            let f = cache.folder(&md, || live.clone());
            let mut f = lock_folder(&f);
            let header = b"Subject: hi\r\nX-Other: no\r\nFrom: a@b\r\n\r\n";
            f.insert("a", extract(header));
            f.insert("b", extract(b"\r\n"));
            f.flush(&md);
        }
        let mut data = std::fs::read(dir.join(HEADERS_FILE)).unwrap();
        let (map, records, torn) = parse(Bytes::from(data.clone()), HEADERS_VERSION, &live);
        assert_eq!((records, torn), (2, false));
        assert_eq!(
            &map.get("a").unwrap()[..],
            b"Subject: hi\r\nFrom: a@b\r\n\r\n"
        );
        assert_eq!(&map.get("b").unwrap()[..], b"\r\n");
        // A later record of a name wins; a name is found whole, not as a prefix.
        let mut again = data.clone();
        again.extend_from_slice(b"a\t3\nnewab\t2\nxy");
        let live_ab: HashSet<&str> = ["a", "b", "ab"].into_iter().collect();
        let (map, records, _) = parse(Bytes::from(again), HEADERS_VERSION, &live_ab);
        assert_eq!(records, 4);
        assert_eq!(&map.get("a").unwrap()[..], b"new");
        assert_eq!(&map.get("ab").unwrap()[..], b"xy");
        assert!(map.get("x").is_none());
        assert_eq!(map.iter().count(), 3);
        data.extend_from_slice(b"c\t99\nshort");
        let (map, records, torn) = parse(Bytes::from(data.clone()), HEADERS_VERSION, &live);
        assert_eq!((map.index.len(), records, torn), (2, 2, true));
        let only_a: HashSet<&str> = ["a"].into_iter().collect();
        assert_eq!(
            parse(Bytes::from(data), HEADERS_VERSION, &only_a)
                .0
                .index
                .len(),
            1
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn structures_survive_a_restart_and_damage_is_worked_out_again() {
        let dir = std::env::temp_dir().join(format!("imap-structures-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let md = Maildir::new(&dir);
        md.create().unwrap();
        let message = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Type: application/pdf; name=\"r\xc3\xa9.pdf\"\r\n\r\nxx\r\n--b--\r\n";
        let structure = mime::body_structure(message, &mime::parse(message));
        let live: HashSet<&str> = ["a", "b"].into_iter().collect();
        {
            let f = HeaderCache::new(1 << 20).folder(&md, || live.clone());
            let mut f = lock_folder(&f);
            f.insert_structure("a", &structure);
            f.flush(&md);
        }
        let f = HeaderCache::new(1 << 20).folder(&md, || live.clone());
        assert_eq!(lock_folder(&f).structure("a"), Some(structure.clone()));
        assert_eq!(lock_folder(&f).structure("b"), None);
        // A record that no longer reads is not an answer.
        lock_folder(&f)
            .structures
            .insert("b", Bytes::from_static(b"(\"text\""));
        assert_eq!(lock_folder(&f).structure("b"), None);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn internal_dates_are_kept_across_restarts() {
        let dir = std::env::temp_dir().join(format!("imap-dates-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let md = Maildir::new(&dir);
        let mut d = mailwright_maildir::Delivery::begin(&md, "test").unwrap();
        d.write(b"Subject: x\r\n\r\nbody\r\n").unwrap();
        let date = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_600_000_000);
        d.commit_to_cur("S", Some(date)).unwrap();
        let listing = md.scan().unwrap();
        let msg = &listing.messages[0];
        let live: HashSet<&str> = [&*msg.base].into_iter().collect();
        {
            let f = HeaderCache::new(1 << 20).folder(&md, || live.clone());
            assert_eq!(internal_time(Some(&f), &md, msg), 1_600_000_000);
            lock_folder(&f).flush(&md);
        }
        let f = HeaderCache::new(1 << 20).folder(&md, || live.clone());
        // Kept: the file's date no longer matters.
        std::fs::File::options()
            .write(true)
            .open(md.message_path(msg))
            .unwrap()
            .set_modified(std::time::UNIX_EPOCH)
            .unwrap();
        assert_eq!(internal_time(Some(&f), &md, msg), 1_600_000_000);
        assert_eq!(internal_time(None, &md, msg), 0);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
