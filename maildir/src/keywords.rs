//! `dovecot-keywords`: the names of the keywords a folder's file names carry as the letters
//! `a` to `z` (keyword 0 to 25), as Dovecot keeps them. Only 26 fit, so a slot no message uses
//! any more is given to a new keyword when none is free, a set of new keywords gets letters
//! all together or not at all, and the last slots are kept for the keywords mail clients set
//! by convention (`$Junk`, `$Forwarded`, ...), so that custom ones cannot lock those out.
//!
//! A slot is reclaimed under the `dovecot-keywords` lock, but a writer that got a letter and
//! has not yet renamed its message file holds no lock: in that narrow window the letter can
//! go to another keyword. It needs the folder full and the keyword on no message at all.

use std::fs;
use std::io;

use crate::dotlock::DotLock;
use crate::{Error, Maildir};

/// Letters `a`..=`z`.
const SLOTS: usize = 26;

/// Keywords clients set by convention: the IANA registry's (RFC 5788, 8457, 9051), and
/// Thunderbird's and Roundcube's spam marks; `$POP3Deleted` is ours (and Dovecot's).
const STANDARD: &[&str] = &[
    "$Forwarded",
    "$MDNSent",
    "$Junk",
    "$NotJunk",
    "$Phishing",
    "$Important",
    "$Submitted",
    "$SubmitPending",
    "Junk",
    "NonJunk",
    "$POP3Deleted",
];

/// Slots custom keywords leave free while standard ones have none yet.
const RESERVED: usize = 6;

fn is_standard(keyword: &str) -> bool {
    STANDARD.iter().any(|s| s.eq_ignore_ascii_case(keyword))
}

fn letter(slot: u32) -> char {
    char::from(b'a' + slot as u8)
}

impl Maildir {
    /// Keyword names by slot, from `dovecot-keywords` (none when it does not exist).
    pub fn keywords(&self) -> Result<Vec<(u32, String)>, Error> {
        let path = self.path().join("dovecot-keywords");
        match fs::read_to_string(&path) {
            Ok(text) => Ok(text
                .lines()
                .filter_map(|l| l.split_once(' '))
                .filter_map(|(i, k)| Some((i.parse().ok()?, k.to_owned())))
                .filter(|(i, _)| (*i as usize) < SLOTS)
                .collect()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(Error::from_io("reading", &path, e)),
        }
    }

    /// The letter `keyword` already has, without adding it (reading only: a message cannot
    /// carry a keyword that has no letter).
    pub fn existing_keyword_letter(&self, keyword: &str) -> Result<Option<char>, Error> {
        Ok(find(&self.keywords()?, keyword).map(letter))
    }

    /// The letter for `keyword` in file names, adding it to `dovecot-keywords` if needed. An
    /// error when no slot can be had (see [`Maildir::keyword_letters`]).
    pub fn keyword_letter(&self, keyword: &str) -> Result<char, Error> {
        match self.keyword_letters(&[keyword])? {
            Some(letters) => Ok(letters[0]),
            None => Err(Error::Io {
                action: "adding keyword to",
                path: self.path().join("dovecot-keywords"),
                source: io::Error::other("all 26 keyword letters are in use"),
            }),
        }
    }

    /// The letters for `keywords`, in order, adding the new ones to `dovecot-keywords`: all
    /// of them, or none (`Ok(None)`, nothing written) when they do not fit. They fit when
    /// there are slots for all, counting those whose keyword no message in `cur/` carries any
    /// more (given to new keywords, as Dovecot does), and when custom keywords leave
    /// 6 slots for standard ones not yet named.
    pub fn keyword_letters(&self, keywords: &[&str]) -> Result<Option<Vec<char>>, Error> {
        let all_known = |entries: &[(u32, String)]| -> Option<Vec<char>> {
            keywords
                .iter()
                .map(|k| find(entries, k).map(letter))
                .collect()
        };
        if let Some(letters) = all_known(&self.keywords()?) {
            return Ok(Some(letters));
        }
        let path = self.path().join("dovecot-keywords");
        let lock = DotLock::acquire(&path)?;
        let mut entries = self.keywords()?;
        if let Some(letters) = all_known(&entries) {
            return Ok(Some(letters));
        }
        let mut missing: Vec<&str> = Vec::new();
        for k in keywords {
            if find(&entries, k).is_none() && !missing.contains(k) {
                missing.push(k);
            }
        }
        if !fits(&entries, &missing) {
            let used = self.keyword_slots_in_use()?;
            entries.retain(|(slot, _)| used & (1 << slot) != 0);
            if !fits(&entries, &missing) {
                return Ok(None);
            }
        }
        for k in missing {
            let free = (0..SLOTS as u32)
                .find(|s| entries.iter().all(|(t, _)| t != s))
                .unwrap_or_default();
            entries.push((free, k.to_owned()));
        }
        entries.sort();
        let text: String = entries.iter().map(|(i, k)| format!("{i} {k}\n")).collect();
        lock.commit(text.as_bytes())?;
        Ok(all_known(&entries))
    }

    /// The slots (bit `i` for letter `i`) some message in `cur/` carries in its name.
    fn keyword_slots_in_use(&self) -> Result<u32, Error> {
        let dir = self.path().join("cur");
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(Error::from_io("reading", &dir, e)),
        };
        let mut used = 0u32;
        for entry in entries {
            let entry = entry.map_err(|e| Error::from_io("reading", &dir, e))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if let Some((_, flags)) = name.rsplit_once(":2,") {
                for c in flags.bytes().filter(u8::is_ascii_lowercase) {
                    used |= 1 << (c - b'a');
                }
            }
        }
        Ok(used)
    }
}

/// The slot of `keyword` (names compare exactly, as Dovecot compares them).
fn find(entries: &[(u32, String)], keyword: &str) -> Option<u32> {
    entries.iter().find(|(_, k)| k == keyword).map(|(i, _)| *i)
}

/// Whether `missing` keywords get slots beside `entries`, custom ones leaving the reserve.
fn fits(entries: &[(u32, String)], missing: &[&str]) -> bool {
    let free = SLOTS.saturating_sub(entries.len());
    let standard_unnamed = STANDARD
        .iter()
        .filter(|s| {
            !entries.iter().any(|(_, k)| k.eq_ignore_ascii_case(s))
                && !missing.iter().any(|m| m.eq_ignore_ascii_case(s))
        })
        .count();
    let custom = missing.iter().filter(|m| !is_standard(m)).count();
    missing.len() <= free && custom <= free - RESERVED.min(standard_unnamed).min(free)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(name: &str) -> (std::path::PathBuf, Maildir) {
        let dir = std::env::temp_dir().join(format!("maildir-kw-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let md = Maildir::new(&dir);
        md.create().unwrap();
        (dir, md)
    }

    #[test]
    fn letters_are_stable_and_added_once() {
        let (dir, md) = folder("stable");
        fs::write(dir.join("dovecot-keywords"), "0 $Junk\n1 $Forwarded\n").unwrap();
        assert_eq!(md.keyword_letter("$Junk").unwrap(), 'a');
        assert_eq!(md.keyword_letter("$POP3Deleted").unwrap(), 'c');
        assert_eq!(md.keyword_letter("$POP3Deleted").unwrap(), 'c');
        let file = fs::read_to_string(dir.join("dovecot-keywords")).unwrap();
        assert_eq!(file, "0 $Junk\n1 $Forwarded\n2 $POP3Deleted\n");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn too_many_change_nothing_and_standard_ones_keep_their_slots() {
        let (dir, md) = folder("full");
        let custom: Vec<String> = (0..30).map(|i| format!("custom{i}")).collect();
        let all: Vec<&str> = custom.iter().map(String::as_str).collect();
        // 30 at once: refused, nothing written.
        assert_eq!(md.keyword_letters(&all).unwrap(), None);
        assert!(md.keywords().unwrap().is_empty());
        // One by one (each then carried by a message), custom keywords stop at 20, leaving
        // 6 for standard ones.
        let mut given = 0;
        for k in &all {
            if let Ok(l) = md.keyword_letter(k) {
                given += 1;
                fs::write(
                    dir.join("cur").join(format!("{given}.M1P1.host:2,S{l}")),
                    "x",
                )
                .unwrap();
            }
        }
        assert_eq!(given, SLOTS - RESERVED);
        for k in [
            "$Junk",
            "$NotJunk",
            "$Forwarded",
            "$MDNSent",
            "Junk",
            "NonJunk",
        ] {
            let l = md.keyword_letter(k).unwrap();
            fs::write(dir.join("cur").join(format!("{k}.M1P1.host:2,{l}")), "x").unwrap();
        }
        assert_eq!(md.keywords().unwrap().len(), SLOTS);
        // Full: a new one gets a slot only once no message carries one any more.
        assert!(md.keyword_letter("$Phishing").is_err(), "every slot in use");
        assert_eq!(
            md.keywords().unwrap().len(),
            SLOTS,
            "a refusal changes nothing"
        );
        fs::remove_file(dir.join("cur").join("3.M1P1.host:2,Sc")).unwrap();
        assert_eq!(md.keyword_letter("$Phishing").unwrap(), 'c');
        assert_eq!(md.existing_keyword_letter("custom2").unwrap(), None);
        assert_eq!(md.existing_keyword_letter("custom0").unwrap(), Some('a'));
        fs::remove_dir_all(dir).unwrap();
    }
}
