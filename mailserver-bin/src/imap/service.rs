//! What every IMAP session of the process shares: the configuration, accounts, TLS, the
//! limits on connections, the folder listings and header caches, and the IDLE watcher; and
//! how a session's output is written.

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use mailwright_imap::{Atom, ServerSession};
use tokio::io::AsyncWriteExt;
use tokio_rustls::TlsAcceptor;

use super::{headers, idle_watch, mime, seats};
use crate::accounts::Accounts;
use crate::config::Config;
use crate::conn::Conn;

/// Output queued before it is written while producing a long response.
pub(crate) const WRITE_BATCH: usize = 256 * 1024;

pub struct ImapService {
    pub config: Arc<Config>,
    pub accounts: Accounts,
    pub tls: TlsAcceptor,
    pub gate: Arc<crate::conn::Gate>,
    pub active: Arc<AtomicUsize>,
    /// Folder listings shared by every session (and with POP3), so opening a large folder
    /// again is cheap.
    pub listings: Arc<mailwright_maildir::ListingCache>,
    /// Cached header fields of the folders in use (ENVELOPE, HEADER.FIELDS, header SEARCH).
    pub headers: Arc<headers::HeaderCache>,
    /// The sessions in each folder, to let go of what is cached for it when none is left.
    pub seats: Arc<seats::Seats>,
    /// Wakes sessions in IDLE when their folder changes.
    pub watcher: idle_watch::FolderWatcher,
    /// Sessions of each user from each address (`[imap] max_connections_per_user`).
    pub per_user: Arc<crate::conn::Tally<(String, std::net::IpAddr)>>,
}

impl ImapService {
    pub fn new(
        config: Arc<Config>,
        accounts: Accounts,
        tls: TlsAcceptor,
        active: Arc<AtomicUsize>,
        listings: Arc<mailwright_maildir::ListingCache>,
        shared: &crate::conn::Shared,
    ) -> Self {
        let _ = DELIMITER.set(config.imap.separator.as_char());
        mime::set_limits(mime::MimeLimits {
            parts: config.imap.max_mime_parts,
            depth: config.imap.max_mime_depth,
            header_fields: config.imap.max_header_fields,
        });
        let gate = crate::conn::Gate::for_limits("imap", &config.limits, shared);
        let headers = Arc::new(headers::HeaderCache::new(config.imap.header_cache_mb << 20));
        Self {
            gate,
            seats: Arc::new(seats::Seats::new(
                Arc::clone(&listings),
                Arc::clone(&headers),
                Duration::from_secs(config.imap.folder_linger),
            )),
            listings,
            headers,
            watcher: idle_watch::FolderWatcher::new(),
            per_user: crate::conn::Tally::new(config.imap.max_connections_per_user),
            config,
            accounts,
            tls,
            active,
        }
    }

    /// This service with the settings of `config` (a reload), for the sessions that start
    /// from now on: the same gate and per-user count (given the new limits), caches, seats
    /// and watcher. The separator, the caches' sizes and the MIME caps stay as started.
    pub fn reconfigured(&self, config: Arc<Config>) -> Self {
        self.gate.follow(&config.limits);
        self.per_user.set_max(config.imap.max_connections_per_user);
        Self {
            config,
            accounts: self.accounts.clone(),
            tls: self.tls.clone(),
            gate: Arc::clone(&self.gate),
            active: Arc::clone(&self.active),
            listings: Arc::clone(&self.listings),
            headers: Arc::clone(&self.headers),
            seats: Arc::clone(&self.seats),
            watcher: self.watcher.clone(),
            per_user: Arc::clone(&self.per_user),
        }
    }

    /// The capabilities this server implements beyond what the session answers itself.
    fn capabilities(&self) -> Vec<Atom> {
        let mut caps: Vec<Atom> = [
            "IMAP4rev2",
            "IDLE",
            "NAMESPACE",
            "UNSELECT",
            "UIDPLUS",
            "MOVE",
            "CHILDREN",
            "LIST-EXTENDED",
            "LIST-STATUS",
            "SPECIAL-USE",
            "CREATE-SPECIAL-USE",
            "STATUS=SIZE",
            "ESEARCH",
            "CONDSTORE",
            "QRESYNC",
            "UTF8=ACCEPT",
            "QUOTA",
            "QUOTA=RES-STORAGE",
            "QUOTA=RES-MESSAGE",
            "SORT",
            "THREAD=ORDEREDSUBJECT",
            "THREAD=REFERENCES",
        ]
        .into_iter()
        .filter_map(|c| Atom::new(c).ok())
        .collect();
        caps.extend(
            Atom::new(format!(
                "APPENDLIMIT={}",
                self.config.limits.max_message_size
            ))
            .ok(),
        );
        caps
    }

    pub(super) fn session_config(
        &self,
        implicit_tls: bool,
        loopback: bool,
    ) -> mailwright_imap::Config {
        let mut c = mailwright_imap::Config::new(format!("{} IMAP ready", self.config.hostname));
        c.starttls = !implicit_tls;
        c.implicit_tls = implicit_tls;
        // Cleartext credentials never cross a network unless the admin allows it.
        c.allow_plaintext_auth = loopback || self.config.imap.allow_plaintext_auth;
        c.limits.timeout = Duration::from_secs(self.config.imap.timeout);
        c.limits.timeout_before_auth = Duration::from_secs(self.config.imap.timeout_before_auth);
        c.limits.max_auth_failures = self.config.imap.max_auth_failures;
        c.limits.max_errors = self.config.limits.max_errors;
        c.limits.max_append = self.config.limits.max_message_size;
        c.limits.max_line = self.config.imap.max_line;
        c.limits.max_literal = self.config.imap.max_literal;
        c.capabilities = self.capabilities();
        c.enable = ["CONDSTORE", "QRESYNC", "UTF8=ACCEPT", "IMAP4rev2"]
            .into_iter()
            .filter_map(|c| Atom::new(c).ok())
            .collect();
        c.id = vec![("name".into(), "mailserver".into())];
        c
    }
}

/// Writes what the session has queued.
pub(crate) async fn flush(session: &mut ServerSession, conn: &mut Conn) -> std::io::Result<()> {
    while let Some(out) = session.poll_output() {
        conn.write_all(&out).await?;
    }
    conn.flush().await
}

/// The hierarchy separator clients see (`[imap] separator`), set when the service is made;
/// storage names always use Maildir++'s `.`.
static DELIMITER: std::sync::OnceLock<char> = std::sync::OnceLock::new();

/// The separator clients see.
pub(crate) fn delimiter() -> char {
    DELIMITER.get().copied().unwrap_or('.')
}
