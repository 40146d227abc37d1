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
//! Format, one record per line, fields separated by one space:
//! ```text
//! mailserver-listing 1
//! S <part>x4                   (a part: <secs>,<nanos>,<inode>,<size> or -)
//! L <uidvalidity> <next uid> <highest modseq> <cur digest> <uidlist>
//!                              (uidlist: <inode>,<length>,<records>,<next uid> or -)
//! K <index> <keyword>
//! M <uid> <modseq> <size> <vsize> <n|c> <pop3 uidl or -> <file name>
//! E <number of M records>
//! ```

use std::fmt::Write as _;
use std::fs;
use std::io::Read;
use std::sync::Arc;

use crate::listing::UidlistRead;
use crate::message::FlagStrings;
use crate::uidlist::{Totals, base_name};
use crate::{Error, FolderStamp, Listing, Maildir, Message, Messages, Subdir, Summary};

const FILE: &str = "mailserver.listing";
const MAGIC: &str = "mailserver-listing 1";

impl Maildir {
    /// Writes `listing`, vouched for by the settled `stamp`, as this folder's snapshot
    /// (replacing the last one atomically).
    pub(crate) fn save_listing(&self, stamp: &FolderStamp, listing: &Listing) -> Result<(), Error> {
        let mut text = String::with_capacity(64 + listing.messages.len() * 96);
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
        text.push('\n');
        for (index, keyword) in &listing.keywords {
            let _ = writeln!(text, "K {index} {keyword}");
        }
        for m in &listing.messages {
            let _ = writeln!(
                text,
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
        // The count last: a file cut short anywhere is not read.
        let _ = writeln!(text, "E {}", listing.messages.len());
        let tmp = self
            .path()
            .join(format!("tmp/{FILE}.{}", std::process::id()));
        crate::replace_file(&self.path().join(FILE), &tmp, text.as_bytes())
    }

    /// The folder's snapshot and the stamp that vouched for it, if there is a readable one.
    pub(crate) fn load_listing(&self) -> Option<(FolderStamp, Listing)> {
        let file = fs::File::open(self.path().join(FILE)).ok()?;
        parse(Lines::new(file))
    }
}

/// The lines of a file, read a block at a time: the file is as large as the listing it
/// makes, so it is not read whole (both at once would double the memory a large folder's
/// first look takes), and no line is copied out unless it spans two blocks.
struct Lines<R> {
    source: R,
    block: Vec<u8>,
    /// The unread part of `block`.
    at: usize,
    end: usize,
    /// A line that spans two blocks.
    spanning: Vec<u8>,
}

impl<R: Read> Lines<R> {
    fn new(source: R) -> Self {
        Lines {
            source,
            block: vec![0; 1 << 18],
            at: 0,
            end: 0,
            spanning: Vec::new(),
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
            self.at = 0;
            self.end = loop {
                match self.source.read(&mut self.block) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => return Some(None),
                }
            };
            if self.end == 0 {
                // A last line without its newline: the file was cut short.
                return match self.spanning.is_empty() {
                    true => None,
                    false => Some(None),
                };
            }
        }
    }
}

fn parse(mut lines: Lines<impl Read>) -> Option<(FolderStamp, Listing)> {
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
    let mut flags = FlagStrings::default();
    let mut messages = Messages::default();
    let mut complete = false;
    // 100,000 records are read on the first look at a folder after a restart: fields are
    // found with memchr rather than a searcher per line.
    while let Some(line) = lines.next_line() {
        let line = line?;
        if let Some(record) = line.strip_prefix("M ") {
            if complete {
                // Nothing may follow the count.
                return None;
            }
            messages.push(message(record, &mut flags)?);
        } else if let Some(keyword) = line.strip_prefix("K ") {
            let (index, name) = keyword.split_once(' ')?;
            listing
                .keywords
                .push((index.parse().ok()?, name.to_owned()));
        } else if let Some(count) = line.strip_prefix("E ") {
            complete = count.parse() == Ok(messages.len());
        } else if !line.is_empty() {
            return None;
        }
    }
    complete.then_some(())?;
    listing.summary = Summary::of(&messages);
    listing.messages = messages;
    Some((stamp, listing))
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
        /// Any file is read or refused, never a panic (it is ours, but disks and people err).
        #[test]
        fn any_text_is_read_or_refused(
            text in "(mailserver-listing 1\nS - - - -\nL 1 2 3 4 -\n)?(M [0-9 ]{0,12}[nc -~]{0,30}\n|K [0-9] [a-z]{0,5}\n|E [0-9]\n){0,8}"
        ) {
            let _ = parse(Lines::new(text.as_bytes()));
            // Read in blocks of any size, a file reads the same.
            for size in [1, 7, 64] {
                let mut small = Lines::new(text.as_bytes());
                small.block.truncate(size);
                proptest::prop_assert_eq!(parse(small), parse(Lines::new(text.as_bytes())));
            }
        }
    }

    #[test]
    fn a_listing_reads_back_as_written_and_a_torn_file_not_at_all() {
        let dir = std::env::temp_dir().join(format!("maildir-snapshot-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let md = Maildir::new(&dir);
        for (i, flags) in ["S", "", "FS"].iter().enumerate() {
            let mut d = crate::Delivery::begin(&md, "host").unwrap();
            d.write(format!("Subject: {i}\r\n\r\nbody\r\n").as_bytes())
                .unwrap();
            d.commit_to_cur(flags, None).unwrap();
        }
        let mut d = crate::Delivery::begin(&md, "host").unwrap();
        d.write(b"Subject: new\r\n\r\n").unwrap();
        d.commit(&[]).unwrap();
        md.keyword_letter("$Junk").unwrap();
        let cache = crate::ListingCache::new(100);
        let listing = cache.scan(&md).unwrap();
        let stamp = FolderStamp::of(&md);
        md.save_listing(&stamp, &listing).unwrap();
        let (read_stamp, read) = md.load_listing().unwrap();
        assert_eq!(read, *listing);
        assert_eq!(read.uidlist_read, listing.uidlist_read);
        assert_eq!(read_stamp.parts, stamp.parts);
        assert_eq!(read.summary.first_unseen, Some(1));
        // Cut anywhere, it is not read.
        let text = fs::read_to_string(dir.join(FILE)).unwrap();
        for cut in [text.len() - 2, text.len() - 20, 30, 5] {
            fs::write(dir.join(FILE), &text[..cut]).unwrap();
            assert!(md.load_listing().is_none(), "cut at {cut}");
        }
        let _ = fs::remove_dir_all(&dir);
    }
}
