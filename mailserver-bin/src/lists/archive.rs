//! What a list keeps on disk: its archive, a Maildir of every post it sent (when its
//! `archive` setting is on) in the mail store where IMAP finds it
//! ([`Accounts::list_archive`](crate::accounts::Accounts::list_archive)); and under
//! `<data_dir>/lists/<address>/`, `digest/`, a Maildir of the posts its digest members have
//! not had yet (emptied by each digest), with `digest.last` holding when the last digest
//! went out. A post is stored once, and hard-linked into the other where they share a file
//! system.

use std::path::{Path, PathBuf};

use mailwright_maildir::{Delivery, Error, Maildir};

/// One list's directory.
#[derive(Debug, Clone)]
pub struct ListStore {
    dir: PathBuf,
    archive: PathBuf,
}

impl ListStore {
    /// The directory of `list` under the data directory, and its archive.
    pub fn of(data_dir: &Path, list: &str, archive: PathBuf) -> Self {
        Self {
            dir: data_dir.join("lists").join(list.to_ascii_lowercase()),
            archive,
        }
    }

    /// Every post the list sent (while its archive was on).
    pub fn archive(&self) -> Maildir {
        Maildir::new(self.archive.clone())
    }

    fn digest(&self) -> Maildir {
        Maildir::new(self.dir.join("digest"))
    }

    /// Keeps `post` (the list's copy) in the archive, for the next digest, or both; when
    /// it returns, what it kept is on disk.
    pub fn keep(&self, post: &[u8], archive: bool, digest: bool, host: &str) -> Result<(), Error> {
        let places: Vec<Maildir> = [(archive, self.archive()), (digest, self.digest())]
            .into_iter()
            .filter_map(|(on, m)| on.then_some(m))
            .collect();
        let Some((first, also)) = places.split_first() else {
            return Ok(());
        };
        for m in also {
            m.create()?;
        }
        let mut delivery = Delivery::begin(first, host)?;
        delivery.write(post)?;
        delivery.commit(&also.iter().collect::<Vec<_>>())?;
        Ok(())
    }

    /// The posts for a digest at `now`, oldest first (each one's file name and text), when
    /// one is due: `interval` seconds after the last one (or after the oldest post, before
    /// the first digest), or sooner once `max_posts` wait. Empty when none is due. At most
    /// `max_posts` (at least one) are read, so a digest holds no more than that many posts
    /// in memory; the rest wait for the next one, which is due at once if enough remain.
    pub fn due_digest(
        &self,
        now: u64,
        interval: u64,
        max_posts: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, Error> {
        let names = self.digest_names()?;
        let since = self
            .last_digest()
            .or_else(|| names.first().map(|name| delivered_at(name)));
        let due = matches!(since, Some(t) if now >= t.saturating_add(interval) || names.len() >= max_posts);
        if !due {
            return Ok(Vec::new());
        }
        let new = self.digest().path().join("new");
        names
            .into_iter()
            .take(max_posts.max(1))
            .map(|name| {
                let path = new.join(&name);
                std::fs::read(&path)
                    .map(|text| (name, text))
                    .map_err(|e| Error::Io {
                        action: "reading",
                        path,
                        source: e,
                    })
            })
            .collect()
    }

    /// The names of the posts waiting for the digest, oldest first.
    fn digest_names(&self) -> Result<Vec<String>, Error> {
        let mut names = self.digest().list_new()?;
        names.sort_by_key(|n| delivery_order(n));
        Ok(names)
    }

    /// The posts named went out in a digest at `now`: they leave the digest's folder, and
    /// the time is kept.
    pub fn digested(&self, names: &[String], now: u64) -> Result<(), Error> {
        let new = self.digest().path().join("new");
        for name in names {
            let path = new.join(name);
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(Error::Io {
                        action: "removing",
                        path,
                        source: e,
                    });
                }
            }
        }
        let last = self.dir.join("digest.last");
        crate::tls::write_synced(&last, format!("{now}\n").as_bytes(), 0o600).map_err(|e| {
            Error::Io {
                action: "writing",
                path: last,
                source: e,
            }
        })
    }

    /// When the last digest went out (seconds since the epoch), if one did.
    pub fn last_digest(&self) -> Option<u64> {
        std::fs::read_to_string(self.dir.join("digest.last"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }
}

/// When a message was delivered: the seconds a Maildir name begins with.
fn delivered_at(name: &str) -> u64 {
    name.split('.')
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// The order of delivery: the seconds, then the microseconds (`SECONDS.MMICROS…`, not
/// zero-padded), then the name.
fn delivery_order(name: &str) -> (u64, u64, String) {
    let micros = name
        .split('.')
        .nth(1)
        .and_then(|p| p.strip_prefix('M'))
        .map(|p| {
            p.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
        })
        .and_then(|d| d.parse().ok())
        .unwrap_or(0);
    (delivered_at(name), micros, name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_post_kept_for_both_leaves_only_the_digest_when_digested() {
        let dir = std::env::temp_dir().join(format!("list-store-{}", std::process::id()));
        let store = ListStore::of(&dir, "Team@Example.com", dir.join("mail/.lists/team"));
        store
            .keep(b"Subject: one\r\n\r\n1\r\n", true, true, "mx")
            .unwrap();
        store
            .keep(b"Subject: two\r\n\r\n2\r\n", false, true, "mx")
            .unwrap();
        store
            .keep(b"Subject: three\r\n\r\n3\r\n", true, false, "mx")
            .unwrap();
        store
            .keep(b"Subject: none\r\n\r\n", false, false, "mx")
            .unwrap();
        let posts = store.digest_names().unwrap();
        assert_eq!(posts.len(), 2);
        // Due a day after the first post, or at once with two waiting and a limit of two.
        let first = delivered_at(&posts[0]);
        assert!(store.due_digest(first + 10, 86_400, 50).unwrap().is_empty());
        assert_eq!(
            store.due_digest(first + 86_400, 86_400, 50).unwrap().len(),
            2
        );
        assert_eq!(store.due_digest(first, 86_400, 2).unwrap().len(), 2);
        // With a limit of one, one post is read; the other waits for the next digest.
        let capped = store.due_digest(first, 86_400, 1).unwrap();
        assert_eq!(capped.len(), 1);
        assert_eq!(capped[0].0, posts[0]);
        assert_eq!(capped[0].1, b"Subject: one\r\n\r\n1\r\n");
        assert_eq!(store.archive().list_new().unwrap().len(), 2);
        assert_eq!(store.last_digest(), None);
        store.digested(&posts, 1_700_000_000).unwrap();
        assert!(store.digest_names().unwrap().is_empty());
        store
            .keep(b"Subject: four\r\n\r\n4\r\n", false, true, "mx")
            .unwrap();
        // The next digest counts from the last one.
        assert!(
            store
                .due_digest(1_700_000_010, 3600, 50)
                .unwrap()
                .is_empty()
        );
        assert_eq!(store.due_digest(1_700_003_600, 3600, 50).unwrap().len(), 1);
        assert_eq!(store.archive().list_new().unwrap().len(), 2);
        assert_eq!(store.last_digest(), Some(1_700_000_000));
        assert!(dir.join("mail/.lists/team/new").is_dir());
        assert!(dir.join("lists/team@example.com/digest/new").is_dir());
        assert!(delivery_order("5.M99P1Q1.mx") < delivery_order("5.M100P1Q2.mx"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
