//! Numbering what this process just put into `cur/` (APPEND, COPY) without reading the
//! folder again: the records others appended to `dovecot-uidlist` since the listing was made
//! are read, ours appended under the list's dot-lock, and the listing extended, so adding
//! costs the same in a folder of any size.

use std::fs::{self, File, OpenOptions};
use std::path::Path;

use crate::dotlock::{DotLock, FileStamp, file_stamp};
use crate::listing::UidlistRead;
use crate::message::{FlagStrings, NameMap};
use crate::read::{Numbered, delivery_key};
use crate::uidlist::{self, Totals, base_name};
use crate::{Error, Listing, Maildir, Placed, Subdir};

impl Maildir {
    /// `listing` with the files `added` to `cur/` by this process since it was made (APPEND,
    /// COPY), numbered by appending their records to the uidlist under its lock after
    /// reading only what others appended to it since `listing` was made; with the uidlist's
    /// stamp as written. `None` when that cannot be done so (the uidlist was replaced or
    /// needs rewriting, or `listing` does not know how far it read it): then a rescan does it.
    /// Nothing else of the folder is read, so adding costs the same in a folder of any size.
    /// `pending`: a file of `added` not yet durable, settled while its record is written.
    pub(crate) fn add_numbered(
        &self,
        listing: &Listing,
        added: &[String],
        pending: &mut Option<Placed>,
    ) -> Result<Option<(Listing, FileStamp)>, Error> {
        let Some(known) = listing.uidlist_read else {
            return Ok(None);
        };
        let path = self.path().join("dovecot-uidlist");
        let bases: NameMap<&str, usize> = added
            .iter()
            .enumerate()
            .map(|(i, n)| (base_name(n), i))
            .collect();
        let mut uids: Vec<Option<u32>> = vec![None; added.len()];
        // Files placed by `place_numbered` already have their records in the tail: then it is
        // read without the lock (records are appended whole, a line per write). A file this
        // process just placed has none: the list is read once, under the lock, through the
        // descriptor that appends to it.
        let mut lock = match pending {
            Some(_) => Some(DotLock::acquire(&path)?),
            None => None,
        };
        let (mut totals, meta, file) = loop {
            uids.fill(None);
            let file = OpenOptions::new()
                .read(true)
                .append(lock.is_some())
                .open(&path)
                .map_err(|e| Error::from_io("reading", &path, e))?;
            let read = read_tail(&file, &path, &known, |r| {
                if let Some(&i) = bases.get(base_name(r.name)) {
                    uids[i] = Some(r.uid);
                }
            })?;
            match read {
                Some((totals, meta)) if lock.is_some() || uids.iter().all(Option::is_some) => {
                    break (totals, meta, file);
                }
                None if lock.is_some() => return Ok(None),
                _ => lock = Some(DotLock::acquire(&path)?),
            }
        };
        let mut fresh: Vec<usize> = (0..added.len()).filter(|&i| uids[i].is_none()).collect();
        let present = listing.messages.len() + added.len();
        let recorded = totals.records + fresh.len();
        if recorded.saturating_sub(present) * 4 >= recorded {
            // Records of gone files are a quarter of the list: a rescan rewrites it.
            return Ok(None);
        }
        fresh.sort_by_cached_key(|&i| delivery_key(base_name(&added[i])));
        let mut appended = String::new();
        for &i in &fresh {
            uids[i] = Some(totals.next_uid);
            uidlist::encode_record(&mut appended, totals.next_uid, &[], &added[i]);
            totals.next_uid += 1;
        }
        let written = match (appended.is_empty(), lock) {
            (true, _) => file_stamp(&meta),
            (false, Some(lock)) => {
                lock.append_while(&file, meta.len(), appended.as_bytes(), || {
                    pending.take().map_or(Ok(()), Placed::settle)
                })?
            }
            (false, None) => return Ok(None),
        };
        totals.records = recorded;
        let mut names: Vec<(u32, &String)> = added
            .iter()
            .zip(&uids)
            .filter_map(|(n, u)| u.map(|u| (u, n)))
            .collect();
        names.sort_unstable();
        let mut flags = FlagStrings::default();
        let mut messages = Vec::with_capacity(names.len());
        for (uid, name) in names {
            let record = Numbered {
                uid,
                pop3_uidl: None,
                vsize: None,
            };
            messages.push(self.message(name.clone(), Subdir::Cur, record, &mut flags)?);
        }
        let mut listing = listing.with_added(messages);
        listing.next_uid = totals.next_uid;
        listing.keywords = self.keywords()?;
        listing.uidlist_read = Some(UidlistRead {
            ino: written.2,
            len: written.3,
            totals,
        });
        Ok(Some((listing, written)))
    }
}

/// The records appended to the uidlist `file` (at `path`) past `known` (each handed to
/// `each`), with the totals of the whole file and its metadata. `None` when `known` no
/// longer describes the file's start (replaced, or cut short) or when what follows is not
/// whole version 3 records.
fn read_tail(
    file: &File,
    path: &Path,
    known: &UidlistRead,
    each: impl FnMut(uidlist::RecordRef<'_>),
) -> Result<Option<(Totals, fs::Metadata)>, Error> {
    use std::os::unix::fs::{FileExt, MetadataExt};
    let meta = file
        .metadata()
        .map_err(|e| Error::from_io("reading", path, e))?;
    if meta.ino() != known.ino || meta.len() < known.len {
        return Ok(None);
    }
    // What the file held when it was stamped, read in one call (nothing when it did not
    // grow): a record appended since is read next time.
    let Ok(grown) = usize::try_from(meta.len() - known.len) else {
        return Ok(None);
    };
    let mut tail = vec![0; grown];
    if grown > 0 && file.read_exact_at(&mut tail, known.len).is_err() {
        return Ok(None);
    }
    let Ok(tail) = String::from_utf8(tail) else {
        return Ok(None);
    };
    if !(tail.is_empty() || tail.ends_with('\n')) {
        return Ok(None);
    }
    let mut totals = known.totals;
    if uidlist::read_records(&tail, &mut totals, each).is_none()
        || totals.version != 3
        || !totals.clean_end
    {
        return Ok(None);
    }
    Ok(Some((totals, meta)))
}
