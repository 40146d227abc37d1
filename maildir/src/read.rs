//! Reading a Maildir as Dovecot does: messages in `new/` and `cur/`, UIDs from
//! `dovecot-uidlist` (kept stable forever, extended for new files), keywords from
//! `dovecot-keywords`, and flags in file names (`:2,<flags>`).

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::dotlock::{DotLock, FileStamp};
use crate::listing::{Summary, UidlistRead};
use crate::message::{FlagStrings, NameMap, NameSet, names_digest};
use crate::uidlist::{self, Record, RecordRef, Totals, Uidlist, base_name};
use crate::{Error, Listing, Maildir, Message, Subdir};

/// Which parts of a folder are known unchanged since an earlier listing of it was made (see
/// [`crate::FolderStamp`]), so [`Maildir::rescan`] can take them from that listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Unchanged {
    /// `new/`: no file came, went or was renamed.
    pub new: bool,
    /// `cur/`.
    pub cur: bool,
    /// `dovecot-uidlist`.
    pub uidlist: bool,
}

/// The messages a rescan takes from the earlier listing as they were: those of its
/// directories that did not change.
#[derive(Debug, Clone, Copy)]
struct Kept<'a>(Option<(&'a Listing, Unchanged)>);

impl<'a> Kept<'a> {
    /// Whether `subdir`'s messages are taken from the earlier listing.
    fn has(&self, subdir: Subdir) -> bool {
        self.0.is_some_and(|(_, unchanged)| match subdir {
            Subdir::New => unchanged.new,
            Subdir::Cur => unchanged.cur,
        })
    }

    fn messages(&self) -> impl Iterator<Item = &'a Message> + use<'a> {
        let this = *self;
        self.0
            .into_iter()
            .flat_map(|(l, _)| &l.messages)
            .filter(move |m| this.has(m.subdir))
    }

    fn len(&self) -> usize {
        let Some((l, _)) = self.0 else {
            return 0;
        };
        let in_new = l.summary.in_new;
        usize::from(self.has(Subdir::New)) * in_new
            + usize::from(self.has(Subdir::Cur)) * (l.messages.len() - in_new)
    }
}

/// What [`Maildir::number`] found: the folder's UIDVALIDITY and next UID, each file's
/// record, and the uidlist's stamp if it wrote it.
struct Numbering {
    uid_validity: u32,
    next_uid: u32,
    records: Vec<Numbered>,
    written: Option<FileStamp>,
    /// How much of the uidlist the numbering read or wrote.
    read: Option<UidlistRead>,
}

/// What the uidlist says of one file.
#[derive(Debug, Clone)]
pub(crate) struct Numbered {
    pub(crate) uid: u32,
    /// A POP3 UIDL kept from an earlier server (`P` field).
    pub(crate) pop3_uidl: Option<String>,
    /// The size with CRLF line ends (`W` field).
    pub(crate) vsize: Option<u64>,
}

impl From<RecordRef<'_>> for Numbered {
    fn from(r: RecordRef<'_>) -> Self {
        Numbered {
            uid: r.uid,
            pop3_uidl: r.field('P').map(str::to_owned),
            vsize: r.field('W').and_then(|w| w.parse().ok()),
        }
    }
}

/// A file's text and inode, `None` when there is no such file.
fn read_text_and_inode(path: &Path) -> Result<Option<(String, u64)>, Error> {
    use std::os::unix::fs::MetadataExt;
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::from_io("reading", path, e)),
    };
    let mut text = String::new();
    file.metadata()
        .and_then(|m| file.read_to_string(&mut text).map(|_| m.ino()))
        .map(|ino| Some((text, ino)))
        .map_err(|e| Error::from_io("reading", path, e))
}

/// Whether `base` is the base name of the file name `name` (without searching `name`).
fn is_base_of(base: &str, name: &str) -> bool {
    name.starts_with(base) && matches!(name.as_bytes().get(base.len()), None | Some(b':'))
}

/// A uidlist we cannot read is an error, never a reason to start over: a new one would
/// renumber every message and make every client download the mailbox again.
fn unreadable(path: &Path) -> Error {
    Error::Io {
        action: "parsing",
        path: path.to_owned(),
        source: io::Error::new(
            io::ErrorKind::InvalidData,
            "not a dovecot-uidlist this reader understands",
        ),
    }
}

/// What orders new files for their UIDs: by delivery time, the seconds and then the
/// microseconds (`M<usec>`) compared as numbers, as Dovecot's `maildir_filename_sort_cmp`
/// does (a plain string order puts `M99999` after `M123456`), then the whole name.
pub(crate) fn delivery_key(name: &str) -> (u64, u64, &str) {
    let digits = |s: &str| -> (u64, usize) {
        let n = s.bytes().take_while(u8::is_ascii_digit).count();
        (s[..n].parse().unwrap_or(0), n)
    };
    let (secs, n) = digits(name);
    let usec = name[n..]
        .strip_prefix(".M")
        .map_or(0, |rest| digits(rest).0);
    (secs, usec, name)
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
        self.file_path(message.subdir, &message.name)
    }

    /// The path of the file `name` in `subdir`.
    pub fn file_path(&self, subdir: Subdir, name: &str) -> PathBuf {
        let sub = match subdir {
            Subdir::New => "new",
            Subdir::Cur => "cur",
        };
        self.path().join(sub).join(name)
    }

    /// Lists the folder with UIDs: files known to `dovecot-uidlist` keep theirs; new files get
    /// the next ones, in file-name (delivery) order, appended to the uidlist under its
    /// dot-lock. A missing uidlist starts a new UIDVALIDITY.
    pub fn scan(&self) -> Result<Listing, Error> {
        // Without an earlier listing there is always a new one.
        Ok(self.rescan(None)?.unwrap_or_default())
    }

    /// [`Maildir::scan`], taking what `earlier` (a listing of this folder) says for the parts
    /// that are known unchanged since it was made, and the UIDs of files it had: after a
    /// delivery to a large folder only `new/` is read, and the uidlist only to number the
    /// new file. `None` when nothing changed since `earlier`.
    pub fn rescan(&self, earlier: Option<(&Listing, Unchanged)>) -> Result<Option<Listing>, Error> {
        self.rescan_adding(earlier, &[])
    }

    /// [`Maildir::rescan`], knowing that this process put the files `added` into `cur/` since
    /// `earlier` was made (APPEND, COPY): they are numbered without matching `cur/` to
    /// `earlier` file by file.
    pub fn rescan_adding(
        &self,
        earlier: Option<(&Listing, Unchanged)>,
        added: &[String],
    ) -> Result<Option<Listing>, Error> {
        self.rescan_noting(earlier, added)
            .map(|(listing, _)| listing)
    }

    /// [`Maildir::rescan_adding`], also telling the uidlist's stamp as this scan wrote it (if
    /// it did): the listing accounts for that state of the file.
    pub(crate) fn rescan_noting(
        &self,
        earlier: Option<(&Listing, Unchanged)>,
        added: &[String],
    ) -> Result<(Option<Listing>, Option<FileStamp>), Error> {
        let mut written = None;
        let mut flags = FlagStrings::default();
        let mut kept = Kept(earlier);
        let added = if earlier.is_some() { added } else { &[] };
        // Files read from a directory, not yet matched to a message of `earlier`.
        let mut found: Vec<(String, Subdir)> = Vec::new();
        for sub in [Subdir::New, Subdir::Cur] {
            if kept.has(sub) {
                continue;
            }
            let names = self.list_dir(sub)?;
            // cur/ read again (its time changed, or was too fresh to trust) usually holds what
            // it held and what was added: the earlier listing already says what the rest are.
            let added_digest = names_digest(added.iter().map(String::as_str));
            if sub == Subdir::Cur
                && let Some((earlier, unchanged)) = earlier
                && names.len() == earlier.messages.len() - earlier.summary.in_new + added.len()
                && names_digest(names.iter().map(String::as_str))
                    == earlier.cur_digest.wrapping_add(added_digest)
            {
                kept = Kept(Some((
                    earlier,
                    Unchanged {
                        cur: true,
                        ..unchanged
                    },
                )));
                continue;
            }
            found.extend(names.into_iter().map(|n| (n, sub)));
        }
        // The messages of `earlier` among them (files added are new).
        let mut matched: Vec<Message> = Vec::new();
        let mut same = earlier.is_some();
        if let Some((earlier, _)) = earlier
            && !found.is_empty()
        {
            // Files only ever move from new/ to cur/, so new/ alone is matched against the
            // messages that were in new/.
            let all = found.iter().any(|(_, sub)| *sub == Subdir::Cur);
            let by_base: NameMap<&str, &Message> = earlier
                .messages
                .iter()
                .filter(|m| all || m.subdir == Subdir::New)
                .map(|m| (&*m.base, m))
                .collect();
            found.retain(|(name, sub)| match by_base.get(base_name(name)) {
                Some(m) => {
                    same &= *m.name == **name && m.subdir == *sub;
                    matched.push(m.found_as(name, *sub, &mut flags));
                    false
                }
                None => true,
            });
        }
        if let Some((earlier, _)) = earlier {
            // And none of those that were there is gone.
            same &= matched.len() == earlier.messages.len() - kept.len();
        }
        if kept.has(Subdir::Cur) {
            found.extend(added.iter().map(|name| (name.clone(), Subdir::Cur)));
        }
        same &= found.is_empty();
        let mut numbered = Vec::new();
        let mut uidlist_read = earlier.and_then(|(e, _)| e.uidlist_read);
        let (uid_validity, next_uid) = match earlier {
            Some((earlier, unchanged)) if unchanged.uidlist && found.is_empty() => {
                (earlier.uid_validity, earlier.next_uid)
            }
            _ => match self.number(&found, &kept, &matched, found.len() == added.len())? {
                Some(Numbering {
                    uid_validity: validity,
                    next_uid: next,
                    records,
                    written: w,
                    read,
                }) => {
                    written = w;
                    numbered = records;
                    uidlist_read = read.or(uidlist_read);
                    (validity, next)
                }
                // The uidlist is gone or of another UIDVALIDITY: what `earlier` says is void.
                None => return self.rescan_noting(None, &[]),
            },
        };
        let keywords = self.keywords()?;
        if let Some((earlier, _)) = earlier
            && same
            && (uid_validity, next_uid) == (earlier.uid_validity, earlier.next_uid)
            && keywords == earlier.keywords
        {
            return Ok((None, written));
        }
        let mut messages: Vec<Message> = Vec::with_capacity(kept.len() + matched.len());
        messages.extend(kept.messages().cloned());
        messages.append(&mut matched);
        for ((name, subdir), record) in found.into_iter().zip(numbered) {
            messages.push(self.message(name, subdir, record, &mut flags)?);
        }
        messages.sort_by_key(|m| m.uid);
        // A file moved from new/ to cur/ between the two directory reads shows up in both:
        // keep the one in cur/.
        messages.dedup_by(|later, first| {
            later.uid == first.uid && {
                if later.subdir == Subdir::Cur {
                    std::mem::swap(later, first);
                }
                true
            }
        });
        let cur_digest = match earlier {
            Some((earlier, _)) if kept.has(Subdir::Cur) => earlier
                .cur_digest
                .wrapping_add(names_digest(added.iter().map(String::as_str))),
            _ => names_digest(
                messages
                    .iter()
                    .filter(|m| m.subdir == Subdir::Cur)
                    .map(|m| &*m.name),
            ),
        };
        let listing = Listing {
            uid_validity,
            next_uid,
            summary: Summary::of(&messages),
            messages: messages.into(),
            highest_modseq: 0,
            keywords,
            cur_digest,
            uidlist_read,
        };
        Ok((Some(listing), written))
    }

    /// The whole uidlist written again: the records `read` holds (a new list when none),
    /// with `fresh` added, and those of files gone dropped when there are `stale` ones.
    fn rewritten_uidlist(
        &self,
        path: &Path,
        read: Option<&str>,
        uid_validity: u32,
        next_uid: u32,
        fresh: impl Iterator<Item = Record>,
        stale: usize,
    ) -> Result<String, Error> {
        let mut list = match read {
            Some(text) => uidlist::parse(text).ok_or_else(|| unreadable(path))?,
            None => Uidlist {
                uid_validity,
                next_uid: 1,
                extra_header: vec![format!("G{:032x}", random_u128())],
                records: Vec::new(),
            },
        };
        list.next_uid = next_uid;
        let first_fresh = list.records.len();
        list.records.extend(fresh);
        let fresh_uids = list.records.get(first_fresh).map_or(next_uid, |r| r.uid)..next_uid;
        Ok(if stale == 0 {
            // Every record is of a present file (a new list, or one being upgraded).
            uidlist::encode(&list, |_| true)
        } else {
            // Dropping the record of a file that still exists would give it a new UID
            // at the next scan, so what is present is read again here, under the
            // lock, rather than taken from listings that may be behind.
            let present = self.present_bases()?;
            uidlist::encode(&list, |r| {
                fresh_uids.contains(&r.uid) || present.contains(base_name(&r.name))
            })
        })
    }

    /// The UIDVALIDITY, the next UID and the record of each of `files` (by base name) from the
    /// uidlist, numbering those it lacks under its dot-lock. `None` when `earlier` is there
    /// and the uidlist no longer matches it (gone, or of another UIDVALIDITY).
    /// The folder's other messages are those `kept` from the earlier listing and `matched`.
    /// `all_new`: the files are known to have no record yet (this process just made them),
    /// so the list is only read under the lock.
    fn number(
        &self,
        files: &[(String, Subdir)],
        kept: &Kept<'_>,
        matched: &[Message],
        all_new: bool,
    ) -> Result<Option<Numbering>, Error> {
        let earlier = kept.0.map(|(l, _)| l);
        let path = self.path().join("dovecot-uidlist");
        let mut wanted: NameMap<&str, usize> = NameMap::default();
        wanted.reserve(files.len());
        // A file moved from new/ to cur/ between the two directory reads is found twice; both
        // get its one record (and the listing keeps the one in cur/).
        let mut twins: Vec<(usize, usize)> = Vec::new();
        for (i, (name, _)) in files.iter().enumerate() {
            if let Some(first) = wanted.insert(base_name(name), i) {
                twins.push((first, i));
            }
        }
        let copy_twins = |numbered: &mut Vec<Option<Numbered>>| {
            for &(first, last) in twins.iter().rev() {
                numbered[first] = numbered[last].clone();
            }
        };
        let mut numbered: Vec<Option<Numbered>> = vec![None; files.len()];
        let lookup = |numbered: &mut Vec<Option<Numbered>>| look_up(&path, &wanted, numbered);
        let valid = |read: &Option<(String, Totals, u64)>| match (earlier, read) {
            (Some(e), Some((_, t, _))) => e.uid_validity == t.uid_validity,
            (Some(_), None) => false,
            (None, _) => true,
        };
        if !all_new || files.is_empty() {
            let read = lookup(&mut numbered)?;
            if !valid(&read) {
                return Ok(None);
            }
            copy_twins(&mut numbered);
            if let Some((text, totals, ino)) = &read
                && numbered.iter().all(Option::is_some)
            {
                let numbered = numbered.into_iter().flatten().collect();
                return Ok(Some(Numbering {
                    uid_validity: totals.uid_validity,
                    next_uid: totals.next_uid,
                    records: numbered,
                    written: None,
                    read: Some(UidlistRead {
                        ino: *ino,
                        len: text.len() as u64,
                        totals: *totals,
                    }),
                }));
            }
        }
        // An empty folder with no uidlist yet on a full disk is read as empty rather than
        // refused: nothing is numbered, so nothing can be numbered twice; the list is made
        // at the next scan that has room.
        let unwritten = |e: Error| match e {
            Error::NoSpace { .. } if files.is_empty() => Ok(Some(Numbering {
                uid_validity: (SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_secs() as u32)
                    .max(1),
                next_uid: 1,
                records: Vec::new(),
                written: None,
                read: None,
            })),
            e => Err(e),
        };
        // Number the rest under the lock, reading again what another writer may have added.
        let lock = match DotLock::acquire(&path) {
            Ok(lock) => lock,
            Err(e) => return unwritten(e),
        };
        let read = lookup(&mut numbered)?;
        if !valid(&read) {
            return Ok(None);
        }
        let (uid_validity, mut next_uid) = match &read {
            Some((_, t, _)) => (t.uid_validity, t.next_uid),
            // A new list: a value this account never gave before (a folder deleted and made
            // again must not get its old one back).
            None => match self.next_uid_validity() {
                Ok(v) => (v, 1),
                Err(e) => return unwritten(e),
            },
        };
        let mut fresh: Vec<usize> = wanted
            .values()
            .copied()
            .filter(|&i| numbered[i].is_none())
            .collect();
        // Numbering a large folder for the first time sorts every file: work each key out once.
        fresh.sort_by_cached_key(|&i| delivery_key(base_name(&files[i].0)));
        let order = assign_uids(&fresh, &mut next_uid, &mut numbered);
        let mut appended = String::new();
        for &(uid, i) in &order {
            uidlist::encode_record(&mut appended, uid, &[], &files[i].0);
        }
        copy_twins(&mut numbered);
        // Records of files that are gone stay until they are a quarter of the file, as in
        // Dovecot: appending costs a line, rewriting the whole list.
        let present = kept.len() + matched.len() + files.len();
        let recorded = read.as_ref().map_or(0, |(_, t, _)| t.records) + fresh.len();
        let stale = recorded.saturating_sub(present);
        let (written, records) = match &read {
            Some((_, t, _)) if t.version == 3 && t.clean_end && stale * 4 < recorded => {
                (Some(lock.append(appended.as_bytes())?), recorded)
            }
            _ => {
                let fresh_records = order.iter().map(|&(uid, i)| Record {
                    uid,
                    fields: Vec::new(),
                    name: base_name(&files[i].0).to_owned(),
                });
                let text = read.as_ref().map(|(text, _, _)| text.as_str());
                let list = self.rewritten_uidlist(
                    &path,
                    text,
                    uid_validity,
                    next_uid,
                    fresh_records,
                    stale,
                )?;
                match lock.commit(list.as_bytes()) {
                    Ok(written) => (written, list.matches('\n').count().saturating_sub(1)),
                    Err(e) => return unwritten(e),
                }
            }
        };
        let numbered = numbered.into_iter().flatten().collect();
        Ok(Some(Numbering {
            uid_validity,
            next_uid,
            records: numbered,
            written,
            read: written.map(|(_, _, ino, len)| UidlistRead {
                ino,
                len,
                totals: Totals {
                    version: 3,
                    uid_validity,
                    next_uid,
                    records,
                    clean_end: true,
                },
            }),
        }))
    }

    /// The base names of the files in `new/` and `cur/`, each directory read twice: a file
    /// renamed while a directory is read may be listed under neither name (POSIX leaves it
    /// open), but not in two reads.
    fn present_bases(&self) -> Result<NameSet<String>, Error> {
        let mut present = NameSet::default();
        for _ in 0..2 {
            for sub in [Subdir::New, Subdir::Cur] {
                for name in self.list_dir(sub)? {
                    let base_len = base_name(&name).len();
                    let mut name = name;
                    name.truncate(base_len);
                    present.insert(name);
                }
            }
        }
        Ok(present)
    }

    /// The message for a file first seen in this scan.
    pub(crate) fn message(
        &self,
        name: String,
        subdir: Subdir,
        record: Numbered,
        flags: &mut FlagStrings,
    ) -> Result<Message, Error> {
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
        let vsize = match w.or(record.vsize) {
            Some(w) => w,
            None => compute_vsize(&path())?,
        };
        Ok(Message {
            uid: record.uid,
            base: base_name(&name).into(),
            flags: flags.of(&name),
            name: name.into(),
            subdir,
            size,
            vsize,
            pop3_uidl: record.pop3_uidl,
            modseq: 0,
        })
    }

    /// Makes renames and removals in `new/` and `cur/` durable.
    pub fn sync(&self) -> Result<(), Error> {
        crate::sync_dir(&self.path().join("new"))?;
        crate::sync_dir(&self.path().join("cur"))
    }
}

/// Reads the uidlist at `path`, filling in `numbered[i]` for each name `wanted` maps to `i`
/// (the last record of a name wins, as in Dovecot); the text, its totals and its inode, or
/// `None` when there is no uidlist.
/// Gives each of the `fresh` files (indices, in delivery order) a UID from
/// `next_uid` on, recording it in `numbered`; returns (UID, index) in UID order.
fn assign_uids(
    fresh: &[usize],
    next_uid: &mut u32,
    numbered: &mut [Option<Numbered>],
) -> Vec<(u32, usize)> {
    let mut order = Vec::with_capacity(fresh.len());
    for &i in fresh {
        numbered[i] = Some(Numbered {
            uid: *next_uid,
            pop3_uidl: None,
            vsize: None,
        });
        order.push((*next_uid, i));
        *next_uid += 1;
    }
    order
}

fn look_up(
    path: &Path,
    wanted: &NameMap<&str, usize>,
    numbered: &mut [Option<Numbered>],
) -> Result<Option<(String, Totals, u64)>, Error> {
    let Some((text, ino)) = read_text_and_inode(path)? else {
        return Ok(None);
    };
    // A few new files (the usual case) are looked for by length first: hashing every
    // name of a large list costs more.
    let few: Vec<(&str, usize)> = if wanted.len() <= 16 {
        wanted.iter().map(|(&b, &i)| (b, i)).collect()
    } else {
        Vec::new()
    };
    let totals = uidlist::read(
        &text,
        |_| {},
        |r| {
            let i = if few.is_empty() {
                wanted.get(base_name(r.name)).copied()
            } else {
                few.iter()
                    .find(|(b, _)| is_base_of(b, r.name))
                    .map(|&(_, i)| i)
            };
            if let Some(i) = i {
                numbered[i] = Some(Numbered::from(r));
            }
        },
    )
    .ok_or_else(|| unreadable(path))?;
    Ok(Some((text, totals, ino)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Delivery;
    use std::io::Write;

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
    fn a_flag_change_is_applied_to_what_another_writer_renamed_meanwhile() {
        let dir = temp("cas");
        let md = Maildir::new(&dir);
        deliver(&md, b"a\r\n");
        let seen_by_us = md.scan().unwrap().messages[0].clone();
        // Another session (or Dovecot) flags it \Answered and then \Flagged meanwhile.
        let other = md.add_flags(&seen_by_us, "R").unwrap();
        md.add_flags(&other, "F").unwrap();
        // Our +\Seen, from a view that knows neither, keeps both.
        let ours = md.add_flags(&seen_by_us, "S").unwrap();
        assert_eq!(&*ours.flags, "FRS");
        // Our -\Answered from the same stale view removes only that.
        let removed = md
            .update_flags(&seen_by_us, |f| f.replace('R', ""))
            .unwrap()
            .unwrap();
        assert_eq!(&*removed.flags, "FS");
        // A change that is nothing by a stale view is still applied to the file: the view
        // lacks S, the file has it, and -S must take it away.
        let gone = md
            .update_flags(&seen_by_us, |f| f.replace('S', ""))
            .unwrap()
            .unwrap();
        assert_eq!(&*gone.flags, "F");
        assert_eq!(md.list_cur().unwrap().len(), 1);
        // An expunge from a stale view removes the file under its current name, and only
        // the first of two expunges of one message removes it (its size counts once).
        assert!(md.expunge(&seen_by_us).unwrap());
        assert!(!md.expunge(&gone).unwrap());
        assert!(md.list_cur().unwrap().is_empty());
        assert!(
            md.update_flags(&seen_by_us, |f| f.to_owned())
                .unwrap()
                .is_none()
        );
        let _ = fs::remove_dir_all(&dir);
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
        names.sort_by_key(|n| delivery_key(n));
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
    fn a_file_seen_in_new_and_cur_is_one_message() {
        // What a scan sees when the file moves from new/ to cur/ between its two reads.
        let dir = temp("moving");
        let md = Maildir::new(&dir);
        deliver(&md, b"a\r\n");
        let name = md.list_new().unwrap().remove(0);
        fs::hard_link(
            dir.join("new").join(&name),
            dir.join(format!("cur/{name}:2,S")),
        )
        .unwrap();
        let l = md.scan().unwrap();
        assert_eq!(l.messages.len(), 1);
        assert_eq!(
            (l.messages[0].subdir, &*l.messages[0].flags),
            (Subdir::Cur, "S")
        );
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_rescan_numbers_new_files_after_every_record_and_keeps_known_ones() {
        let dir = temp("rescan");
        let md = Maildir::new(&dir);
        deliver(&md, b"a\r\n");
        deliver(&md, b"b\r\n");
        let first = md.scan().unwrap();
        // Another writer numbered a file we have not seen yet, and appended its record
        // without raising the header's N (as Dovecot does).
        deliver(&md, b"c\r\n");
        let third = md
            .list_new()
            .unwrap()
            .into_iter()
            .find(|n| first.messages.iter().all(|m| *m.name != **n))
            .unwrap();
        let mut f = fs::OpenOptions::new()
            .append(true)
            .open(dir.join("dovecot-uidlist"))
            .unwrap();
        writeln!(f, "7 W3 :{third}").unwrap();
        deliver(&md, b"d\r\n");
        let all = Unchanged {
            new: false,
            cur: true,
            uidlist: false,
        };
        let l = md.rescan(Some((&first, all))).unwrap().unwrap();
        let uids: Vec<u32> = l.messages.iter().map(|m| m.uid).collect();
        assert_eq!(uids, [1, 2, 7, 8]);
        assert_eq!(l.next_uid, 9);
        assert!(l.messages.iter().take(2).eq(first.messages.iter()));
        assert_eq!(md.scan().unwrap(), l);
        // Nothing changed since: the earlier listing stands.
        assert_eq!(md.rescan(Some((&l, all))).unwrap(), None);
        let none = Unchanged::default();
        assert_eq!(md.rescan(Some((&l, none))).unwrap(), None);
        // A uidlist started over (another UIDVALIDITY) voids what the earlier listing says.
        fs::remove_file(dir.join("dovecot-uidlist")).unwrap();
        let restarted = md.rescan(Some((&l, all))).unwrap().unwrap();
        assert_eq!(restarted.messages.len(), 4);
        assert_eq!(restarted.next_uid, 5);
        fs::remove_dir_all(dir).unwrap();
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
}
