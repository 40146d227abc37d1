//! A folder's listing kept on disk (`mailserver.listing`, beside `mailserver.modseq`; Dovecot
//! ignores both), so the first look at a large folder after a restart reads one file instead
//! of `cur/`: 100,000 messages took 255 ms to scan (benches/imap-scale.sh).
//!
//! The file holds the [`FolderStamp`] that vouched for the listing when it was written. A
//! stamp taken now that equals it (and is settled) proves that nothing in the folder changed
//! since, as it does for a listing kept in memory; when only some parts changed (mail
//! delivered into `new/` meanwhile), the snapshot is the earlier listing a rescan of those
//! parts starts from. It is only a cache: unreadable, of another version or not matching, it
//! is ignored, and the folder is scanned.
//!
//! Format, one record per line, fields separated by one space; a header, then the message
//! records chunk after chunk, so that each chunk can be read when it is first needed
//! (see the `messages` module):
//! ```text
//! mailserver-listing 2
//! S <part>x4                   (a part: <secs>,<nanos>,<inode>,<size> or -)
//! L <uidvalidity> <next uid> <highest modseq> <cur digest> <uidlist>
//!                              (uidlist: <inode>,<length>,<records>,<next uid> or -)
//! U <in new> <unseen> <first unseen or -> <deleted> <vsize>
//! K <index> <keyword>
//! C <messages> <first uid> <last uid> <octets>     (one per chunk, in order)
//! B <octets of the records> <their CRC-32>
//! M <uid> <modseq> <size> <vsize> <n|c> <pop3 uidl or -> <file name>
//! ```
//! A file whose length is not the header's plus `B`'s, or whose records do not have `B`'s
//! CRC-32, is not read: checking it costs 2 ms at 100,000 messages (8 MB), reading every
//! record into memory cost 23-27 ms.

use std::fmt::Write as _;
use std::fs;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::listing::UidlistRead;
use crate::message::FlagStrings;
use crate::uidlist::{Totals, base_name};
use crate::{Error, FolderStamp, Listing, Maildir, Message, Messages, Subdir, Summary};

const FILE: &str = "mailserver.listing";
const MAGIC: &str = "mailserver-listing 2";

impl Maildir {
    /// Writes `listing`, vouched for by the settled `stamp`, as this folder's snapshot
    /// (replacing the last one atomically).
    pub(crate) fn save_listing(&self, stamp: &FolderStamp, listing: &Listing) -> Result<(), Error> {
        let mut records = String::with_capacity(listing.messages.len() * 96);
        let mut chunks = String::new();
        for chunk in listing.messages.chunks() {
            let (Some(first), Some(last)) = (chunk.first(), chunk.last()) else {
                continue;
            };
            let before = records.len();
            for m in chunk {
                let _ = writeln!(
                    records,
                    "M {} {} {} {} {} {} {}",
                    m.uid,
                    m.modseq,
                    m.size,
                    m.vsize,
                    if m.subdir == Subdir::New { 'n' } else { 'c' },
                    m.pop3_uidl.as_deref().unwrap_or("-"),
                    m.name
                );
            }
            let _ = writeln!(
                chunks,
                "C {} {} {} {}",
                chunk.len(),
                first.uid,
                last.uid,
                records.len() - before
            );
        }
        let mut text = String::with_capacity(256 + chunks.len() + records.len());
        text.push_str(MAGIC);
        text.push_str("\nS");
        for part in &stamp.parts {
            match part {
                Some((secs, nanos, ino, size)) => {
                    let _ = write!(text, " {secs},{nanos},{ino},{size}");
                }
                None => text.push_str(" -"),
            }
        }
        let _ = write!(
            text,
            "\nL {} {} {} {} ",
            listing.uid_validity, listing.next_uid, listing.highest_modseq, listing.cur_digest
        );
        match listing.uidlist_read {
            Some(u) if u.totals.version == 3 && u.totals.clean_end => {
                let t = u.totals;
                let _ = write!(text, "{},{},{},{}", u.ino, u.len, t.records, t.next_uid);
            }
            _ => text.push('-'),
        }
        let s = &listing.summary;
        let _ = write!(text, "\nU {} {} ", s.in_new, s.unseen);
        match s.first_unseen {
            Some(i) => _ = write!(text, "{i}"),
            None => text.push('-'),
        }
        let _ = writeln!(text, " {} {}", s.deleted, s.vsize);
        for (index, keyword) in &listing.keywords {
            let _ = writeln!(text, "K {index} {keyword}");
        }
        text.push_str(&chunks);
        let _ = writeln!(
            text,
            "B {} {}",
            records.len(),
            crc32fast::hash(records.as_bytes())
        );
        text.push_str(&records);
        let tmp = self
            .path()
            .join(format!("tmp/{FILE}.{}", std::process::id()));
        crate::replace_file(&self.path().join(FILE), &tmp, text.as_bytes())
    }

    /// The folder's snapshot and the stamp that vouched for it, if there is a readable one.
    /// Its messages stay in the file until first used.
    pub(crate) fn load_listing(&self) -> Option<(FolderStamp, Listing)> {
        let file = fs::File::open(self.path().join(FILE)).ok()?;
        let length = file.metadata().ok()?.len();
        let mut lines = Lines::new(&file);
        let (stamp, mut listing, chunks, body) = parse_header(&mut lines)?;
        let start = lines.offset;
        (start + body.octets == length).then_some(())?;
        (lines.rest_crc()? == (body.octets, body.crc)).then_some(())?;
        let file = Arc::new(SnapshotFile {
            file,
            failed: Arc::default(),
        });
        let mut offset = start;
        for c in chunks {
            let octets = c.octets;
            listing.messages.push_stored(Stored {
                file: Arc::clone(&file),
                offset,
                octets,
                count: c.count,
                uids: c.uids,
            });
            offset += octets;
        }
        Some((stamp, listing))
    }
}

/// A snapshot file that chunks of a listing are read from; kept open by them (a newer
/// snapshot replaces the name, not this file).
#[derive(Debug)]
struct SnapshotFile {
    file: fs::File,
    /// Set when a chunk of it could not be read back.
    failed: Arc<AtomicBool>,
}

/// A chunk of messages still in a snapshot file.
#[derive(Debug, Clone)]
pub(crate) struct Stored {
    file: Arc<SnapshotFile>,
    offset: u64,
    octets: u64,
    /// How many messages.
    pub(crate) count: usize,
    /// The first and the last UID.
    pub(crate) uids: (u32, u32),
}

impl Stored {
    /// The chunk's messages. The file was checked whole when it was opened, so this cannot
    /// fail unless the file was written over in place or the disk failed; then the messages
    /// are stand-ins with plausible UIDs that name no file (every use of one is an error,
    /// never another message), and [`Messages::damaged`] tells the listing's keeper to
    /// read the folder again.
    pub(crate) fn read(&self) -> Vec<Message> {
        if let Some(messages) = self.try_read() {
            return messages;
        }
        self.file.failed.store(true, Ordering::SeqCst);
        let (first, last) = self.uids;
        let name: Arc<str> = Arc::from("\0unreadable");
        (0..self.count)
            .map(|i| Message {
                uid: if i + 1 == self.count {
                    last
                } else {
                    first.saturating_add(u32::try_from(i).unwrap_or(u32::MAX))
                },
                base: Arc::clone(&name),
                name: Arc::clone(&name),
                subdir: Subdir::Cur,
                flags: Arc::from(""),
                size: 0,
                vsize: 0,
                pop3_uidl: None,
                modseq: 0,
            })
            .collect()
    }

    /// The flag set when a chunk of this snapshot could not be read back.
    pub(crate) fn damage(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.file.failed)
    }

    fn try_read(&self) -> Option<Vec<Message>> {
        let mut bytes = vec![0; usize::try_from(self.octets).ok()?];
        self.file.file.read_exact_at(&mut bytes, self.offset).ok()?;
        parse_chunk(&bytes, self.count, self.uids)
    }
}

/// The records of one chunk: exactly `count` of them, in UID order from `uids.0` to `uids.1`.
fn parse_chunk(bytes: &[u8], count: usize, uids: (u32, u32)) -> Option<Vec<Message>> {
    let text = std::str::from_utf8(bytes).ok()?.strip_suffix('\n')?;
    let mut flags = FlagStrings::default();
    let mut messages = Vec::with_capacity(count);
    for line in text.split('\n') {
        let m = message(line.strip_prefix("M ")?, &mut flags)?;
        if messages.last().is_some_and(|p: &Message| p.uid >= m.uid) {
            return None;
        }
        messages.push(m);
    }
    let ends = (messages.first()?.uid, messages.last()?.uid);
    (messages.len() == count && ends == uids).then_some(messages)
}

/// The lines of a file, read a block at a time, without copying a line out unless it spans
/// two blocks.
struct Lines<R> {
    source: R,
    block: Vec<u8>,
    /// The unread part of `block`.
    at: usize,
    end: usize,
    /// A line that spans two blocks.
    spanning: Vec<u8>,
    /// Where in the file the next line starts.
    offset: u64,
}

impl<R: Read> Lines<R> {
    fn new(source: R) -> Self {
        Self::with_block(source, 1 << 16)
    }

    fn with_block(source: R, size: usize) -> Self {
        Lines {
            source,
            block: vec![0; size],
            at: 0,
            end: 0,
            spanning: Vec::new(),
            offset: 0,
        }
    }

    /// The next line without its newline; `None` at the end, on an error, or for a line
    /// that is not UTF-8 (the file is ours: such a file is not read).
    fn next_line(&mut self) -> Option<Option<&str>> {
        self.spanning.clear();
        loop {
            if let Some(n) = memchr::memchr(b'\n', &self.block[self.at..self.end]) {
                let line = self.at..self.at + n;
                self.at += n + 1;
                self.offset += (self.spanning.len() + n + 1) as u64;
                let bytes = if self.spanning.is_empty() {
                    &self.block[line]
                } else {
                    self.spanning.extend_from_slice(&self.block[line]);
                    &self.spanning[..]
                };
                return Some(std::str::from_utf8(bytes).ok());
            }
            self.spanning
                .extend_from_slice(&self.block[self.at..self.end]);
            if !self.fill() {
                return Some(None);
            }
            if self.end == 0 {
                // A last line without its newline: the file was cut short.
                return match self.spanning.is_empty() {
                    true => None,
                    false => Some(None),
                };
            }
        }
    }

    /// Reads the next block; false on an error.
    fn fill(&mut self) -> bool {
        self.at = 0;
        self.end = loop {
            match self.source.read(&mut self.block) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        };
        true
    }

    /// The length and CRC-32 of everything after the last line read.
    fn rest_crc(&mut self) -> Option<(u64, u32)> {
        let mut crc = crc32fast::Hasher::new();
        let mut octets = 0u64;
        while self.at < self.end {
            crc.update(&self.block[self.at..self.end]);
            octets += (self.end - self.at) as u64;
            self.fill().then_some(())?;
        }
        Some((octets, crc.finalize()))
    }
}

/// A chunk as the header lists it.
#[derive(Debug, PartialEq)]
struct ChunkEntry {
    count: usize,
    uids: (u32, u32),
    octets: u64,
}

/// The records' length and CRC-32.
#[derive(Debug, PartialEq)]
struct Body {
    octets: u64,
    crc: u32,
}

/// The header, up to and with its `B` line: the stamp, the listing without its messages,
/// and where its chunks are.
fn parse_header(
    lines: &mut Lines<impl Read>,
) -> Option<(FolderStamp, Listing, Vec<ChunkEntry>, Body)> {
    (lines.next_line()?? == MAGIC).then_some(())?;
    let mut stamp = FolderStamp {
        parts: [None; 4],
        settled: [true; 4],
    };
    let line = lines.next_line()??;
    let mut parts = line.strip_prefix("S ")?.split(' ');
    for slot in &mut stamp.parts {
        let part = parts.next()?;
        if part != "-" {
            let mut f = part.split(',');
            *slot = Some((
                f.next()?.parse().ok()?,
                f.next()?.parse().ok()?,
                f.next()?.parse().ok()?,
                f.next()?.parse().ok()?,
            ));
        }
    }
    let line = lines.next_line()??;
    let mut head = line.strip_prefix("L ")?.split(' ');
    let mut listing = Listing {
        uid_validity: head.next()?.parse().ok()?,
        next_uid: head.next()?.parse().ok()?,
        highest_modseq: head.next()?.parse().ok()?,
        cur_digest: head.next()?.parse().ok()?,
        ..Listing::default()
    };
    let uidlist = head.next()?;
    if uidlist != "-" {
        let mut f = uidlist.split(',');
        listing.uidlist_read = Some(UidlistRead {
            ino: f.next()?.parse().ok()?,
            len: f.next()?.parse().ok()?,
            totals: Totals {
                version: 3,
                uid_validity: listing.uid_validity,
                records: f.next()?.parse().ok()?,
                next_uid: f.next()?.parse().ok()?,
                clean_end: true,
            },
        });
    }
    let line = lines.next_line()??;
    let mut u = line.strip_prefix("U ")?.split(' ');
    listing.summary = Summary {
        in_new: u.next()?.parse().ok()?,
        unseen: u.next()?.parse().ok()?,
        first_unseen: match u.next()? {
            "-" => None,
            i => Some(i.parse().ok()?),
        },
        deleted: u.next()?.parse().ok()?,
        vsize: u.next()?.parse().ok()?,
    };
    let mut chunks: Vec<ChunkEntry> = Vec::new();
    let mut messages = 0usize;
    loop {
        let line = lines.next_line()??;
        if let Some(keyword) = line.strip_prefix("K ") {
            let (index, name) = keyword.split_once(' ')?;
            listing
                .keywords
                .push((index.parse().ok()?, name.to_owned()));
        } else if let Some(chunk) = line.strip_prefix("C ") {
            let mut f = chunk.split(' ');
            let c = ChunkEntry {
                count: f.next()?.parse().ok()?,
                uids: (f.next()?.parse().ok()?, f.next()?.parse().ok()?),
                octets: f.next()?.parse().ok()?,
            };
            // Each chunk holds `count` distinct UIDs in its range, above the last chunk's.
            let span = u64::from(c.uids.1.checked_sub(c.uids.0)?) + 1;
            let after_last = chunks.last().is_none_or(|p| p.uids.1 < c.uids.0);
            (c.count > 0 && c.count as u64 <= span && after_last).then_some(())?;
            messages += c.count;
            chunks.push(c);
        } else if let Some(body) = line.strip_prefix("B ") {
            let (octets, crc) = body.split_once(' ')?;
            let body = Body {
                octets: octets.parse().ok()?,
                crc: crc.parse().ok()?,
            };
            let listed: u64 = chunks.iter().map(|c| c.octets).sum();
            (listed == body.octets && messages <= listing.next_uid as usize).then_some(())?;
            listing.messages = Messages::default();
            return Some((stamp, listing, chunks, body));
        } else {
            return None;
        }
    }
}

/// One `M` record (without its `M `).
fn message(record: &str, flags: &mut FlagStrings) -> Option<Message> {
    let mut rest = record;
    let mut field = || -> Option<&str> {
        let end = memchr::memchr(b' ', rest.as_bytes())?;
        let (field, after) = (&rest[..end], &rest[end + 1..]);
        rest = after;
        Some(field)
    };
    let uid = field()?.parse().ok()?;
    let modseq = field()?.parse().ok()?;
    let size = field()?.parse().ok()?;
    let vsize = field()?.parse().ok()?;
    let subdir = match field()? {
        "n" => Subdir::New,
        "c" => Subdir::Cur,
        _ => return None,
    };
    let pop3_uidl = match field()? {
        "-" => None,
        u => Some(u.to_owned()),
    };
    let name = rest;
    Some(Message {
        uid,
        base: Arc::from(base_name(name)),
        flags: flags.of(name),
        name: Arc::from(name),
        subdir,
        size,
        vsize,
        pop3_uidl,
        modseq,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Any header is read or refused, never a panic (the file is ours, but disks and
        /// people err), and reads the same in blocks of any size.
        #[test]
        fn any_header_is_read_or_refused(
            text in "(mailserver-listing 2\nS - - - -\nL 1 9 3 4 -\nU 0 1 - 0 5\n)?(K [0-9] [a-z]{0,5}\n|C [0-9] [0-9] [0-9] [0-9]\n|B [0-9] [0-9]\n|M [0-9 ]{0,12}\n){0,8}"
        ) {
            let whole = parse_header(&mut Lines::new(text.as_bytes()));
            for size in [1, 7, 64] {
                let small = parse_header(&mut Lines::with_block(text.as_bytes(), size));
                proptest::prop_assert_eq!(format!("{small:?}"), format!("{whole:?}"));
            }
        }

        /// Any chunk's records are read or refused, never a panic.
        #[test]
        fn any_chunk_is_read_or_refused(
            text in "(M [0-9 ]{0,12}[nc -~]{0,30}\n){0,4}",
            count in 0usize..5,
            first in 0u32..5,
            last in 0u32..20,
        ) {
            if let Some(messages) = parse_chunk(text.as_bytes(), count, (first, last)) {
                proptest::prop_assert_eq!(messages.len(), count);
            }
        }
    }

    fn folder(name: &str) -> (std::path::PathBuf, Maildir, Arc<Listing>) {
        let dir = std::env::temp_dir().join(format!("maildir-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let md = Maildir::new(&dir);
        for i in 0..1200 {
            let mut d = crate::Delivery::begin(&md, "host").unwrap();
            d.write(format!("Subject: {i}\r\n\r\nbody\r\n").as_bytes())
                .unwrap();
            d.commit_to_cur(["S", "", "FS"][i % 3], None).unwrap();
        }
        let mut d = crate::Delivery::begin(&md, "host").unwrap();
        d.write(b"Subject: new\r\n\r\n").unwrap();
        d.commit(&[]).unwrap();
        md.keyword_letter("$Junk").unwrap();
        let listing = crate::ListingCache::new(10_000).scan(&md).unwrap();
        (dir, md, listing)
    }

    #[test]
    fn a_listing_reads_back_as_written_and_a_torn_or_changed_file_not_at_all() {
        let (dir, md, listing) = folder("snapshot");
        let stamp = FolderStamp::of(&md);
        md.save_listing(&stamp, &listing).unwrap();
        let (read_stamp, read) = md.load_listing().unwrap();
        // Nothing read yet but the header: the summary comes from there.
        assert_eq!(read.summary, listing.summary);
        assert_eq!(read.summary.first_unseen, Some(1));
        assert_eq!(read.messages.len(), 1201);
        assert_eq!(read, *listing);
        assert_eq!(read.uidlist_read, listing.uidlist_read);
        assert_eq!(read_stamp.parts, stamp.parts);
        assert!(!read.messages.damaged());
        let text = fs::read(dir.join(FILE)).unwrap();
        // Cut anywhere, it is not read.
        for cut in [text.len() - 2, text.len() - 20, 300, 30, 5] {
            fs::write(dir.join(FILE), &text[..cut]).unwrap();
            assert!(md.load_listing().is_none(), "cut at {cut}");
        }
        // A digit changed in a record: the CRC tells.
        let mut changed = text.clone();
        let at = changed.len() - 60;
        let digit = changed[at..].iter().position(u8::is_ascii_digit).unwrap() + at;
        changed[digit] = if changed[digit] == b'1' { b'2' } else { b'1' };
        fs::write(dir.join(FILE), &changed).unwrap();
        assert!(md.load_listing().is_none());
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_chunk_that_cannot_be_read_back_gives_stand_ins_and_marks_the_listing() {
        let (dir, md, listing) = folder("snapshot-damage");
        md.save_listing(&FolderStamp::of(&md), &listing).unwrap();
        let (_, read) = md.load_listing().unwrap();
        // Written over in place after it was checked (nothing of ours does that).
        let file = fs::OpenOptions::new()
            .write(true)
            .open(dir.join(FILE))
            .unwrap();
        let length = file.metadata().unwrap().len();
        file.write_all_at(b"\n\n\n", length - 100).unwrap();
        // The first chunk reads back; the last one does not.
        assert_eq!(read.messages[0], listing.messages[0]);
        assert!(!read.messages.damaged());
        let last = read.messages.last().unwrap();
        assert!(read.messages.damaged());
        assert_eq!(last.uid, listing.messages.last().unwrap().uid);
        assert!(last.name.contains('\0'));
        let uids: Vec<u32> = read.messages.iter().map(|m| m.uid).collect();
        assert!(uids.windows(2).all(|w| w[0] < w[1]));
        // The cache does not build on it: the folder is read again.
        let cache = crate::ListingCache::new(10_000);
        let again = cache.scan(&md).unwrap();
        assert!(!again.messages.damaged());
        let diff: Vec<_> = again
            .messages
            .iter()
            .zip(listing.messages.iter())
            .filter(|(a, b)| a != b)
            .take(2)
            .collect();
        assert!(diff.is_empty(), "{diff:?}");
        assert_eq!(again.messages.len(), listing.messages.len());
        let _ = fs::remove_dir_all(&dir);
    }
}
