//! A message as a folder's listing holds it (its UID, file name, flags and sizes), and the
//! small things every listing is made of: where a file lives, shared flag strings, the fast
//! hash of file names, POP3 UIDLs.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

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
    /// A rescan keeps it for the messages it takes unchanged from the earlier listing.
    pub modseq: u64,
}

impl Message {
    /// This message as a directory read found it now (the same base name, so the same
    /// message): under `name` in `subdir`.
    /// Its MODSEQ is left to a log to tell again (0).
    pub(crate) fn found_as(&self, name: &str, subdir: Subdir, flags: &mut FlagStrings) -> Message {
        if *self.name == *name && self.subdir == subdir {
            return Message {
                modseq: 0,
                ..self.clone()
            };
        }
        Message {
            name: name.into(),
            subdir,
            flags: flags.of(name),
            modseq: 0,
            ..self.clone()
        }
    }

    /// Whether the flags contain `flag` (a letter).
    pub fn has_flag(&self, flag: char) -> bool {
        self.flags.contains(flag)
    }
}

/// A fast hash for the file names of maps rebuilt on every rescan of a large folder (the
/// default SipHash costs several times more). The names are the mailbox's own, chosen by the
/// delivering server, so there is no one to flood the map.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct NameHasher(u64);

impl Hasher for NameHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut h = self.0;
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            let w = <[u8; 8]>::try_from(w).map_or(0, u64::from_le_bytes);
            h = (h.rotate_left(5) ^ w).wrapping_mul(K);
        }
        for &b in words.remainder() {
            h = (h.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
        self.0 = h;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

pub(crate) type NameMap<K, V> = HashMap<K, V, BuildHasherDefault<NameHasher>>;
pub(crate) type NameSet<K> = HashSet<K, BuildHasherDefault<NameHasher>>;

/// A digest of a set of file names: the sum of a hash of each (so the order they are listed
/// in does not matter, and one name can be swapped for another by subtracting and adding).
pub(crate) fn names_digest<'a>(names: impl Iterator<Item = &'a str>) -> u64 {
    names.fold(0u64, |sum, name| sum.wrapping_add(name_hash(name)))
}

/// One name's part of [`names_digest`]: the fast hash, mixed so each bit depends on all.
pub(crate) fn name_hash(name: &str) -> u64 {
    let mut h = NameHasher::default();
    h.write(name.as_bytes());
    let mut x = h.finish() ^ name.len() as u64;
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The flag strings of a scan, shared: a folder has few distinct ones, so its messages point
/// at the same few strings (less memory, and comparing them mostly compares pointers).
#[derive(Debug, Default)]
pub(crate) struct FlagStrings(Vec<Arc<str>>);

impl FlagStrings {
    /// At most this many distinct strings are shared (keywords make many combinations).
    const MAX: usize = 64;

    /// The flags in a file name (after `:2,`).
    pub(crate) fn of(&mut self, name: &str) -> Arc<str> {
        // A base name has no `:`, so the flags follow the first one.
        let flags = memchr::memchr(b':', name.as_bytes())
            .and_then(|i| name[i + 1..].strip_prefix("2,"))
            .unwrap_or("");
        if let Some(known) = self.0.iter().find(|f| ***f == *flags) {
            return Arc::clone(known);
        }
        let new: Arc<str> = flags.into();
        if self.0.len() < Self::MAX {
            self.0.push(Arc::clone(&new));
        }
        new
    }
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

/// A message file's content with CRLF line ends (files may hold bare LFs, as Maildir
/// writers other than us leave them): all of it, or when `header_only` at least its header
/// (read in 16 KB steps until the blank line).
pub fn read_message(path: &std::path::Path, header_only: bool) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut data = Vec::new();
    if header_only {
        let mut chunk = vec![0u8; 16 * 1024];
        loop {
            let n = file.read(&mut chunk)?;
            if n == 0 {
                break;
            }
            data.extend_from_slice(&chunk[..n]);
            if memchr::memmem::find(&data, b"\n\r\n").is_some()
                || memchr::memmem::find(&data, b"\n\n").is_some()
                || data.starts_with(b"\r\n")
                || data.starts_with(b"\n")
            {
                break;
            }
        }
    } else {
        file.read_to_end(&mut data)?;
    }
    Ok(to_crlf(data))
}

/// `data` with CRLF line ends (a bare LF becomes CRLF; a CRLF stays).
pub fn to_crlf(data: Vec<u8>) -> Vec<u8> {
    let bare = memchr::memchr_iter(b'\n', &data)
        .filter(|&i| i == 0 || data[i - 1] != b'\r')
        .count();
    if bare == 0 {
        return data;
    }
    let mut out = Vec::with_capacity(data.len() + bare);
    let mut last = 0;
    for i in memchr::memchr_iter(b'\n', &data) {
        if i == 0 || data[i - 1] != b'\r' {
            out.extend_from_slice(&data[last..i]);
            out.extend_from_slice(b"\r\n");
            last = i + 1;
        }
    }
    out.extend_from_slice(&data[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_line_feeds_become_crlf() {
        assert_eq!(to_crlf(b"a\nb\r\nc\n".to_vec()), b"a\r\nb\r\nc\r\n");
        assert_eq!(to_crlf(b"\n".to_vec()), b"\r\n");
        assert_eq!(to_crlf(b"x\r\n".to_vec()), b"x\r\n");
    }
}
