//! The folder tree of a mailbox: Maildir++ folder names and IMAP names, what exists, is
//! subscribed or has a special use, and LIST pattern matching.

use std::collections::{BTreeMap, HashMap};

use mailwright_imap::decode_mutf7;
use mailwright_imap::{Code, Mailbox};
use mailwright_maildir::Maildir;

use super::common::{DEFAULT_FOLDERS, Refusal, delimiter};

/// The storage name of an IMAP mailbox name (`INBOX`, or modified UTF-7 with Maildir++'s `.`
/// between levels, whatever separator clients see). With `/` as the separator a `.` in a
/// name is refused, as Dovecot refuses it: on disk it would be a level.
pub(super) fn storage_name(m: &Mailbox) -> Result<String, Refusal> {
    if m.is_inbox() {
        return Ok("INBOX".into());
    }
    crate::delivery::folder_storage_name(m.as_str(), delimiter())
        .map_err(|why| (Some(Code::Cannot), why))
}

/// The IMAP name of a storage name: decoded, with the separator clients see between levels.
pub(super) fn display_name(storage: &str) -> String {
    let name = decode_mutf7(storage).unwrap_or_else(|| storage.to_owned());
    match delimiter() {
        '.' => name,
        sep => name.replace('.', &sep.to_string()),
    }
}

/// The folder hierarchy as LIST shows it, by display name.
pub(super) struct FolderTree {
    /// Every name, with its storage name when the folder exists; parents implied by deeper
    /// names have none.
    pub(super) names: BTreeMap<String, Option<String>>,
    /// Special-use attributes of existing folders.
    pub(super) uses: HashMap<String, Vec<String>>,
    /// Subscribed names, in the file's order.
    pub(super) subscribed: Vec<String>,
}

impl FolderTree {
    pub(super) fn read(root: &Maildir) -> Result<Self, mailwright_maildir::Error> {
        let mut names = BTreeMap::new();
        let mut uses = HashMap::new();
        names.insert("INBOX".to_owned(), Some("INBOX".to_owned()));
        for storage in root.list_folders()? {
            let name = display_name(&storage);
            let mut special = root.special_use(&storage)?;
            // Folders made without CREATE (USE ...) get the use their name suggests.
            if special.is_empty()
                && let Some((_, u)) = DEFAULT_FOLDERS.iter().find(|(n, _)| *n == name)
            {
                special.push((*u).to_owned());
            }
            uses.insert(name.clone(), special);
            names.insert(name, Some(storage));
        }
        let implied: Vec<String> = names
            .keys()
            .flat_map(|n| n.match_indices(delimiter()).map(|(i, _)| n[..i].to_owned()))
            .collect();
        for parent in implied {
            names.entry(parent).or_insert(None);
        }
        let subscribed = root
            .subscriptions()?
            .unwrap_or_default()
            .iter()
            .map(|s| {
                if s == "INBOX" {
                    s.clone()
                } else {
                    display_name(s)
                }
            })
            .collect();
        Ok(Self {
            names,
            uses,
            subscribed,
        })
    }

    pub(super) fn exists(&self, name: &str) -> bool {
        matches!(self.names.get(name), Some(Some(_)))
    }

    pub(super) fn is_subscribed(&self, name: &str) -> bool {
        self.subscribed.iter().any(|s| s == name)
    }

    pub(super) fn has_children(&self, name: &str) -> bool {
        let prefix = format!("{name}{}", delimiter());
        self.names
            .range(prefix.clone()..)
            .next()
            .is_some_and(|(n, _)| n.starts_with(&prefix))
    }

    pub(super) fn special_use(&self, name: &str) -> &[String] {
        self.uses.get(name).map_or(&[], Vec::as_slice)
    }
}

/// LIST pattern matching: `*` matches anything, `%` anything but the delimiter. Dynamic
/// programming over one row, so a hostile pattern costs pattern × name steps, not more.
pub(super) fn pattern_match(pattern: &[char], name: &[char]) -> bool {
    // row[j]: whether the pattern from the current position on matches name[j..].
    let sep = delimiter();
    let mut row: Vec<bool> = (0..=name.len()).map(|j| j == name.len()).collect();
    for &p in pattern.iter().rev() {
        let mut next = vec![false; name.len() + 1];
        for j in (0..=name.len()).rev() {
            next[j] = match p {
                '*' => row[j] || (j < name.len() && next[j + 1]),
                '%' => row[j] || (j < name.len() && name[j] != sep && next[j + 1]),
                c => j < name.len() && name[j] == c && row[j + 1],
            };
        }
        row = next;
    }
    row[0]
}

pub(super) fn matches_pattern(pattern: &str, name: &str) -> bool {
    // INBOX matches case-insensitively.
    let pattern =
        if name == "INBOX" && pattern.len() >= 5 && pattern[..5].eq_ignore_ascii_case("INBOX") {
            format!("INBOX{}", &pattern[5..])
        } else {
            pattern.to_owned()
        };
    let n: Vec<char> = name.chars().collect();
    // Runs of wildcards match what their widest member matches; after folding them, a
    // pattern with more literal characters than the name cannot match it.
    let mut p: Vec<char> = Vec::new();
    let mut literals = 0;
    for c in pattern.chars() {
        match (c, p.last_mut()) {
            ('*' | '%', Some(last @ ('*' | '%'))) => {
                if c == '*' {
                    *last = '*';
                }
            }
            ('*' | '%', _) => p.push(c),
            _ => {
                literals += 1;
                if literals > n.len() {
                    return false;
                }
                p.push(c);
            }
        }
    }
    pattern_match(&p, &n)
}

#[cfg(test)]
mod tests {
    use super::matches_pattern;

    #[test]
    pub(super) fn list_patterns() {
        assert!(matches_pattern("*", "Archive.2024"));
        assert!(!matches_pattern("%", "Archive.2024"));
        assert!(matches_pattern("Archive.%", "Archive.2024"));
        assert!(matches_pattern("inbox", "INBOX"));
        assert!(matches_pattern("%*%", "a.b"));
        assert!(!matches_pattern("Arc", "Archive"));
        // Backtracking would take ages on this; the table takes microseconds.
        let hostile = "*a".repeat(200) + "b";
        assert!(!matches_pattern(&hostile, &"a".repeat(300)));
    }
}
