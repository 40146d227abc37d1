//! The accounts store: domains, mailboxes and aliases in SQLite or PostfixAdmin's MariaDB, in
//! PostfixAdmin's table shapes (`domain`, `mailbox`, `alias` with comma-separated `goto`),
//! and users of an LDAP directory. This file opens the store and answers lookups (delivery,
//! login, policies); `admin` holds the writes the CLI makes, `types` what every part uses,
//! and `backend` opens the store (`sqlite`, `mysql`, `ldap`).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sqlx::AnyPool;
use sqlx::Row;

use crate::config::AccountsUrl;

mod admin;
mod admins;
mod app_passwords;
mod audit;
pub mod backend;
mod cache;
mod forwarding;
mod lists;
mod sessions;
mod spam_policy;
mod types;
mod usage;

pub use admins::{Admin, ApiToken};
pub use app_passwords::AppPassword;
pub use audit::Change;
use backend::ldap::Directory;
use cache::LookupCache;
pub use lists::{
    Archive, ListSetting, MailingList, Pending, Posting, Receives, ReplyTo, Role, Subscription,
};
pub use sessions::StoredSession;
pub use types::{
    AccountsError, DomainLimits, LocalMailbox, Resolution, display_domain, domain_of, human_size,
    normalize_address, normalize_domain, parse_size, spam_tenths,
};
use types::{MAX_ALIAS_EXPANSIONS, megabytes, split_address, split_goto};

#[derive(Debug, Clone)]
pub struct Accounts {
    pool: AnyPool,
    /// Where the usage tally of every delivery and expunge is written (`quota2`): for SQLite
    /// connections whose commits are not synced one by one (`synchronous = NORMAL`, still
    /// atomic; made durable by the next synced commit or checkpoint). The tally is derived
    /// from the store, like `maildirsize` (which Dovecot does not sync either): a power cut
    /// can lose its last changes, which `quota recalc` counts again, never a message. Its
    /// own sync was one of four per APPEND (benches/imap-scale.sh). Else the same pool.
    tally_pool: AnyPool,
    /// Usage changes not yet written to `quota2` (see the `usage` module).
    pending: Arc<types::PendingUsage>,
    mail_root: PathBuf,
    cache: Arc<LookupCache>,
    /// Users in an LDAP directory, for addresses of our domains the database has no mailbox
    /// for.
    directory: Option<Arc<Directory>>,
    /// The database has PostfixAdmin 4's `mailbox.smtp_active` (a 3.3 database has not).
    smtp_active_column: bool,
    /// The scheme of the decoy hash an unknown user's password is checked against, so that a
    /// wrong password costs the same whether the user exists or not (the scheme new passwords
    /// get, which most stored hashes have).
    decoy_scheme: crate::password::Scheme,
}

/// The files of a SQLite database (the file and its write-ahead log), whose stamp tells the
/// lookup cache whether anything changed; none for MariaDB.
fn database_files(url: &AccountsUrl) -> Vec<PathBuf> {
    match url {
        AccountsUrl::Sqlite(path) => {
            let mut wal = path.as_os_str().to_owned();
            wal.push("-wal");
            vec![path.clone(), PathBuf::from(wal)]
        }
        AccountsUrl::MySql(_) => Vec::new(),
    }
}

impl Accounts {
    pub async fn open(url: &AccountsUrl, mail_root: &Path) -> Result<Self, AccountsError> {
        let backend::Pools {
            main: pool,
            tally: tally_pool,
            smtp_active_column,
        } = backend::open(url).await?;
        Ok(Self {
            pool,
            tally_pool,
            pending: Arc::default(),
            mail_root: mail_root.to_owned(),
            cache: Arc::new(LookupCache::new(Duration::ZERO, database_files(url))),
            directory: None,
            smtp_active_column,
            decoy_scheme: crate::password::Scheme::Argon2id,
        })
    }

    /// Also looks users up in an LDAP directory (`[ldap]`).
    pub fn with_directory(mut self, directory: Directory) -> Self {
        self.directory = Some(Arc::new(directory));
        // The directory's changes leave no trace in the database's files.
        self.cache = Arc::new(LookupCache::new(self.cache.ttl(), Vec::new()));
        self
    }

    /// The directory's mailbox for `address` of an active local domain, if there is one.
    async fn directory_mailbox(
        &self,
        address: &str,
        domain_quota: u64,
    ) -> Result<Option<LocalMailbox>, AccountsError> {
        let Some(directory) = &self.directory else {
            return Ok(None);
        };
        Ok(directory
            .mailbox(address)
            .await?
            .map(|mb| LocalMailbox { domain_quota, ..mb }))
    }

    /// The directory's alias targets for `address`, if the directory has it as an alias.
    async fn directory_alias(&self, address: &str) -> Result<Option<Vec<String>>, AccountsError> {
        match &self.directory {
            Some(directory) => Ok(directory.alias(address).await?),
            None => Ok(None),
        }
    }

    /// Whether `password` logs `address` in to the mail protocols: their own password (see
    /// [`Accounts::authenticate_primary`]) or one of their app passwords. `Err` means the
    /// answer is unknown (a backend is down): a temporary failure.
    pub async fn authenticate(
        &self,
        address: &str,
        password: String,
        default_scheme: crate::password::StoredScheme,
    ) -> Result<bool, AccountsError> {
        if self
            .authenticate_primary(address, password.clone(), default_scheme)
            .await?
        {
            return Ok(true);
        }
        self.is_app_password(address, password, default_scheme)
            .await
    }

    /// Whether `password` is `address`'s own (not an app password; what the console takes):
    /// checked against the stored hash (`default_scheme` for hashes without a `{SCHEME}`
    /// prefix), or by the LDAP directory for users only it has. `Err` means the answer is
    /// unknown (a backend is down): a temporary failure.
    pub async fn authenticate_primary(
        &self,
        address: &str,
        password: String,
        default_scheme: crate::password::StoredScheme,
    ) -> Result<bool, AccountsError> {
        if let Some(hash) = crate::metrics::timed("accounts", self.password_hash(address)).await? {
            return Ok(tokio::task::spawn_blocking(move || {
                crate::password::verify_with_default(&hash, &password, default_scheme)
            })
            .await
            .unwrap_or(false));
        }
        if let Ok(address) = normalize_address(address)
            && let Some(directory) = &self.directory
            && self.active_domain_quota(&address).await?.is_some()
        {
            // One directory search and one bind: the domain is checked in the database.
            return Ok(
                crate::metrics::timed("ldap", directory.authenticate(&address, &password)).await?,
            );
        }
        // No such user: the same work as a wrong password of a real one, so the answer's time
        // does not tell which addresses exist.
        let scheme = self.decoy_scheme;
        let _ = tokio::task::spawn_blocking(move || {
            crate::password::verify_with_default(
                crate::password::decoy(scheme),
                &password,
                crate::password::StoredScheme::CRYPT,
            )
        })
        .await;
        Ok(false)
    }

    /// The quota of the address's domain (octets, 0: none) when the domain is one of ours
    /// and active; `None` otherwise.
    async fn active_domain_quota(&self, address: &str) -> Result<Option<u64>, AccountsError> {
        let Some((_, domain)) = split_address(address) else {
            return Ok(None);
        };
        let quota: Option<i64> = sqlx::query_scalar(
            "SELECT CAST(quota AS SIGNED) FROM domain
             WHERE domain = ? AND active = 1 AND domain <> 'ALL'",
        )
        .bind(domain)
        .fetch_optional(&self.pool)
        .await?;
        Ok(quota.map(megabytes))
    }

    /// Checks unknown users' passwords against a decoy hash of `scheme` (`[accounts]
    /// password_scheme`).
    pub fn with_decoy_scheme(mut self, scheme: crate::password::Scheme) -> Self {
        self.decoy_scheme = scheme;
        self
    }

    /// Keeps recipient and mailbox lookups for `ttl` (`[accounts] cache_ttl`): changes made
    /// meanwhile, by the admin CLI or PostfixAdmin, show once their entry expires.
    pub fn with_cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache = Arc::new(self.cache.with_ttl(ttl));
        self
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Writes a consistent copy of the SQLite database to `to` (which must not exist) while
    /// others go on using it: SQLite's `VACUUM INTO`.
    pub async fn backup_sqlite(&self, to: &Path) -> Result<(), AccountsError> {
        sqlx::query("VACUUM INTO ?")
            .bind(to.to_string_lossy().into_owned())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    // ---- domains ----

    /// Whether we accept mail for `domain` (an active row, PostfixAdmin's `ALL` pseudo row excluded).
    pub async fn is_local_domain(&self, domain: &str) -> Result<bool, AccountsError> {
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM domain WHERE domain = ? AND active = 1 AND backupmx = 0 AND domain <> 'ALL'
             UNION ALL
             SELECT 1 FROM alias_domain a JOIN domain d ON d.domain = a.target_domain
             WHERE a.alias_domain = ? AND a.active = 1 AND d.active = 1",
        )
        .bind(domain.trim_end_matches('.'))
        .bind(domain.trim_end_matches('.'))
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.is_some())
    }

    /// Whether the user may send through submission (PostfixAdmin's `smtp_active`); reading
    /// mail is not affected. Users without the column, or from the directory, may.
    pub async fn may_submit(&self, address: &str) -> Result<bool, AccountsError> {
        if !self.smtp_active_column {
            return Ok(true);
        }
        let Ok(address) = normalize_address(address) else {
            return Ok(false);
        };
        let row = sqlx::query(
            "SELECT CAST(smtp_active AS SIGNED) AS smtp FROM mailbox WHERE username = ?",
        )
        .bind(&address)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(row) => row.try_get::<i64, _>("smtp")? != 0,
            None => true,
        })
    }

    // ---- users ----

    /// The oldest active mailbox of `domain` (where its postmaster mail goes when nothing
    /// else is said: in iRedMail the first account of a domain is its postmaster).
    pub async fn first_mailbox(&self, domain: &str) -> Result<Option<String>, AccountsError> {
        Ok(sqlx::query_scalar(
            "SELECT username FROM mailbox WHERE domain = ? AND active = 1
             ORDER BY created, username LIMIT 1",
        )
        .bind(domain)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// The stored hash of an active user, for authentication.
    pub async fn password_hash(&self, address: &str) -> Result<Option<String>, AccountsError> {
        let Ok(address) = normalize_address(address) else {
            return Ok(None);
        };
        Ok(sqlx::query_scalar(
            "SELECT m.password FROM mailbox m JOIN domain d ON d.domain = m.domain
             WHERE m.username = ? AND m.active = 1 AND d.active = 1",
        )
        .bind(address)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// An active user's mailbox (for logins): the user and its domain must be active.
    pub async fn mailbox(&self, address: &str) -> Result<Option<LocalMailbox>, AccountsError> {
        let Ok(address) = normalize_address(address) else {
            return Ok(None);
        };
        if let Some(known) = self.cache.get(&self.cache.mailboxes, &address) {
            return Ok(known);
        }
        let stamp = self.cache.stamp();
        let mailbox = self.mailbox_uncached(address.clone()).await?;
        self.cache
            .put(&self.cache.mailboxes, &address, stamp, mailbox.clone());
        Ok(mailbox)
    }

    async fn mailbox_uncached(
        &self,
        address: String,
    ) -> Result<Option<LocalMailbox>, AccountsError> {
        let row = sqlx::query(
            "SELECT m.maildir, m.domain, CAST(m.quota AS SIGNED) AS quota,
                    CAST(d.quota AS SIGNED) AS domain_quota,
                    (SELECT CAST(messages AS SIGNED) FROM message_quota WHERE username = m.username)
                        AS message_quota,
                    (SELECT junk_score FROM spam_policy WHERE username = m.username)
                        AS junk_score
             FROM mailbox m JOIN domain d ON d.domain = m.domain
             WHERE m.username = ? AND m.active = 1 AND d.active = 1",
        )
        .bind(&address)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            if self.directory.is_none() {
                return Ok(None);
            }
            // Not in the database: the directory's, if the domain is ours and active.
            return match self.active_domain_quota(&address).await? {
                Some(q) => self.directory_mailbox(&address, q).await,
                None => Ok(None),
            };
        };
        let maildir: String = row.try_get("maildir")?;
        let quota: i64 = row.try_get("quota")?;
        let domain_quota: i64 = row.try_get("domain_quota")?;
        let message_quota: Option<i64> = row.try_get("message_quota")?;
        Ok(Some(LocalMailbox {
            maildir: self.maildir_path(&maildir),
            username: address,
            quota: quota.max(0) as u64,
            message_quota: message_quota.map(|m| m.max(0) as u64),
            spam_junk_tenths: row
                .try_get::<Option<f64>, _>("junk_score")?
                .map(spam_tenths),
            domain: row.try_get("domain")?,
            domain_quota: megabytes(domain_quota),
        }))
    }

    /// Every mailbox's own message limit, where it has one.
    pub async fn message_quotas(
        &self,
    ) -> Result<std::collections::HashMap<String, u64>, AccountsError> {
        let rows =
            sqlx::query("SELECT username, CAST(messages AS SIGNED) AS messages FROM message_quota")
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get::<String, _>("username")?.to_lowercase(),
                    r.try_get::<i64, _>("messages")?.max(0) as u64,
                ))
            })
            .collect()
    }

    /// A domain's PostfixAdmin limits.
    pub async fn domain_limits(&self, domain: &str) -> Result<DomainLimits, AccountsError> {
        let row = sqlx::query(
            "SELECT CAST(mailboxes AS SIGNED) AS mailboxes, CAST(aliases AS SIGNED) AS aliases,
                    CAST(maxquota AS SIGNED) AS maxquota FROM domain WHERE domain = ?",
        )
        .bind(domain)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| AccountsError::UnknownDomain(domain.to_owned()))?;
        Ok(DomainLimits {
            mailboxes: row.try_get("mailboxes")?,
            aliases: row.try_get("aliases")?,
            max_quota_mb: row.try_get("maxquota")?,
        })
    }

    /// Quotas of users, for `user list`.
    pub async fn quotas(&self) -> Result<std::collections::HashMap<String, u64>, AccountsError> {
        let rows = sqlx::query("SELECT username, CAST(quota AS SIGNED) AS quota FROM mailbox")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("username")?,
                    r.try_get::<i64, _>("quota")?.max(0) as u64,
                ))
            })
            .collect()
    }

    /// A user's own POP3 delete policy, if set; a value in the table that is none of them
    /// is an error naming the row.
    pub async fn pop3_policy(
        &self,
        address: &str,
    ) -> Result<Option<crate::config::DeletePolicy>, AccountsError> {
        let stored: Option<String> =
            sqlx::query_scalar("SELECT delete_policy FROM pop3_policy WHERE username = ?")
                .bind(address)
                .fetch_optional(&self.pool)
                .await?;
        stored
            .map(|value| {
                crate::config::DeletePolicy::parse(&value).ok_or_else(|| {
                    AccountsError::BadStoredValue {
                        table: "pop3_policy",
                        column: "delete_policy",
                        row: address.to_owned(),
                        value,
                        expected: "expunge, keep, seen",
                    }
                })
            })
            .transpose()
    }

    fn maildir_path(&self, maildir: &str) -> PathBuf {
        let p = Path::new(maildir);
        if p.is_absolute() {
            p.to_owned()
        } else {
            self.mail_root.join(p)
        }
    }

    // ---- aliases ----

    async fn alias_targets(&self, address: &str) -> Result<Option<Vec<String>>, AccountsError> {
        let goto: Option<String> = sqlx::query_scalar("SELECT goto FROM alias WHERE address = ?")
            .bind(address)
            .fetch_optional(&self.pool)
            .await?;
        Ok(goto.map(|g| split_goto(&g)))
    }

    async fn active_alias(&self, address: &str) -> Result<Option<Vec<String>>, AccountsError> {
        let goto: Option<String> =
            sqlx::query_scalar("SELECT goto FROM alias WHERE address = ? AND active = 1")
                .bind(address)
                .fetch_optional(&self.pool)
                .await?;
        Ok(goto.map(|g| split_goto(&g)))
    }

    /// One round trip: whether the address's domain is ours and active, its active alias
    /// targets, and its active mailbox.
    async fn lookup(&self, address: &str, domain: &str) -> Result<Lookup, AccountsError> {
        let row = sqlx::query(
            "SELECT
                (SELECT 1 FROM domain WHERE domain = ? AND active = 1 AND backupmx = 0 AND domain <> 'ALL') AS local,
                (SELECT 1 FROM domain WHERE domain = ? AND active = 1 AND backupmx <> 0) AS backup,
                (SELECT goto FROM alias WHERE address = ? AND active = 1) AS goto,
                (SELECT maildir FROM mailbox WHERE username = ? AND active = 1) AS maildir,
                (SELECT quota FROM mailbox WHERE username = ? AND active = 1) AS quota,
                (SELECT CAST(messages AS SIGNED) FROM message_quota WHERE username = ?) AS message_quota,
                (SELECT junk_score FROM spam_policy WHERE username = ?) AS junk_score,
                (SELECT CAST(quota AS SIGNED) FROM domain WHERE domain = ?) AS domain_quota,
                (SELECT target_domain FROM alias_domain WHERE alias_domain = ? AND active = 1) AS target,
                (SELECT 1 FROM mailing_list WHERE address = ? AND active = 1) AS list",
        )
        .bind(domain)
        .bind(domain)
        .bind(address)
        .bind(address)
        .bind(address)
        .bind(address)
        .bind(address)
        .bind(domain)
        .bind(domain)
        .bind(address)
        .fetch_one(&self.pool)
        .await?;
        let domain_quota: Option<i64> = row.try_get("domain_quota")?;
        let list: Option<i64> = row.try_get("list")?;
        let local: Option<i64> = row.try_get("local")?;
        let backup: Option<i64> = row.try_get("backup")?;
        let goto: Option<String> = row.try_get("goto")?;
        let maildir: Option<String> = row.try_get("maildir")?;
        let target: Option<String> = row.try_get("target")?;
        let quota: Option<i64> = row.try_get("quota")?;
        let message_quota: Option<i64> = row.try_get("message_quota")?;
        let junk_score: Option<f64> = row.try_get("junk_score")?;
        Ok(Lookup {
            list: list.is_some(),
            alias_domain_target: target,
            local_domain: local.is_some(),
            backup_mx: backup.is_some(),
            domain_quota: megabytes(domain_quota.unwrap_or(0)),
            alias: goto.map(|g| split_goto(&g)),
            mailbox: maildir.map(|m| LocalMailbox {
                username: address.to_owned(),
                maildir: self.maildir_path(&m),
                quota: quota.unwrap_or(0).max(0) as u64,
                message_quota: message_quota.map(|m| m.max(0) as u64),
                spam_junk_tenths: junk_score.map(spam_tenths),
                domain: domain.to_owned(),
                domain_quota: megabytes(domain_quota.unwrap_or(0)),
            }),
        })
    }

    /// Resolves a recipient: exact alias first (a self-reference in its targets means "keep a
    /// copy"), then the mailbox, then the domain's catch-all; alias targets resolve recursively.
    pub async fn resolve(&self, address: &str) -> Result<Resolution, AccountsError> {
        let Ok(address) = normalize_address(address) else {
            return Ok(Resolution::Unknown);
        };
        if let Some(known) = self.cache.get(&self.cache.resolved, &address) {
            return Ok(known);
        }
        let stamp = self.cache.stamp();
        let resolution = crate::metrics::timed("accounts", self.resolve_uncached(&address)).await?;
        self.cache
            .put(&self.cache.resolved, &address, stamp, resolution.clone());
        Ok(resolution)
    }

    /// Whether `login` may use `sender` as its envelope sender (Postfix's
    /// `reject_sender_login_mismatch` over PostfixAdmin's maps): its own address, or an alias
    /// (also through an alias domain) whose targets lead to it. A catch-all does not count,
    /// or every address of the domain would be the login's.
    pub async fn may_send_as(&self, login: &str, sender: &str) -> Result<bool, AccountsError> {
        let (Ok(login), Ok(sender)) = (normalize_address(login), normalize_address(sender)) else {
            return Ok(false);
        };
        let mut seen = HashSet::new();
        let mut queue = vec![sender];
        while let Some(addr) = queue.pop() {
            if addr == login {
                return Ok(true);
            }
            if !seen.insert(addr.clone()) || seen.len() > MAX_ALIAS_EXPANSIONS {
                continue;
            }
            let Some((local, d)) = split_address(&addr) else {
                continue;
            };
            let found = self.lookup(&addr, d).await?;
            if !found.local_domain {
                if let Some(target) = &found.alias_domain_target {
                    queue.push(format!("{local}@{target}"));
                }
                continue;
            }
            match found.alias {
                Some(targets) => queue.extend(targets),
                None if found.mailbox.is_none() => {
                    queue.extend(self.directory_alias(&addr).await?.into_iter().flatten());
                }
                None => {}
            }
        }
        Ok(false)
    }

    async fn resolve_uncached(&self, address: &str) -> Result<Resolution, AccountsError> {
        let address = address.to_owned();
        let mut found: Vec<LocalMailbox> = Vec::new();
        let mut forwards = Vec::new();
        // A list's command address is the list's to answer.
        if self.list_command_of(&address).await?.is_some() {
            return Ok(Resolution::List(address));
        }
        let mut seen = HashSet::new();
        // A list's owner address (and, until bounces are processed, its bounce address)
        // reaches its owners, as an alias would.
        let mut queue = match self.list_owners_of(&address).await? {
            Some(owners) => owners.into_iter().map(|o| (o, false)).collect(),
            None => vec![(address.clone(), false)],
        };
        let mut expansions = 0;
        while let Some((addr, mailbox_only)) = queue.pop() {
            if !seen.insert((addr.clone(), mailbox_only)) {
                continue;
            }
            expansions += 1;
            if expansions > MAX_ALIAS_EXPANSIONS {
                tracing::warn!(%address, "alias expansion limit reached");
                break;
            }
            let Some((_, d)) = split_address(&addr) else {
                continue;
            };
            let found_here = self.lookup(&addr, d).await?;
            if !found_here.local_domain
                && let Some(target) = &found_here.alias_domain_target
            {
                // user@alias.example is user@target.example, catch-all included (as Postfix's
                // PostfixAdmin maps resolve it).
                let local = addr.rsplit_once('@').map_or("", |(l, _)| l);
                queue.push((format!("{local}@{target}"), mailbox_only));
                continue;
            }
            if !found_here.local_domain {
                if addr == address && found_here.backup_mx {
                    return Ok(Resolution::Relay(address));
                }
                if addr == address {
                    return Ok(Resolution::NotOurDomain);
                }
                forwards.push(addr);
                continue;
            }
            // A list is itself: what its members get is the list's to decide (`crate::lists`).
            if found_here.list && addr == address {
                return Ok(Resolution::List(address));
            }
            if !mailbox_only && let Some(targets) = found_here.alias {
                for t in targets {
                    let self_reference = t == addr;
                    // PostfixAdmin gives every mailbox an alias to itself: the mailbox this
                    // lookup found already is the one it names (one query, not two).
                    if self_reference
                        && let Some(mb) = &found_here.mailbox
                        && seen.insert((t.clone(), true))
                    {
                        if !found.contains(mb) {
                            found.push(mb.clone());
                        }
                        continue;
                    }
                    queue.push((t, self_reference));
                }
                continue;
            }
            let mailbox = match found_here.mailbox {
                Some(mb) => Some(mb),
                None => {
                    self.directory_mailbox(&addr, found_here.domain_quota)
                        .await?
                }
            };
            if let Some(mb) = mailbox {
                if !found.contains(&mb) {
                    found.push(mb);
                }
                continue;
            }
            if mailbox_only {
                continue;
            }
            if let Some(targets) = self.directory_alias(&addr).await? {
                queue.extend(targets.into_iter().map(|t| (t, false)));
                continue;
            }
            if let Some(targets) = self.active_alias(&format!("@{d}")).await? {
                for t in targets {
                    queue.push((t, false));
                }
            } else if addr != address {
                tracing::warn!(%address, target = %addr, "alias target does not exist");
            }
        }
        if !forwards.is_empty() {
            return Ok(Resolution::Forward {
                local: found,
                remote: forwards,
            });
        }
        if found.is_empty() {
            return Ok(Resolution::Unknown);
        }
        Ok(Resolution::Local(found))
    }
}

struct Lookup {
    /// The address is an active mailing list.
    list: bool,
    /// The address's domain is an alias domain of this one (PostfixAdmin `alias_domain`).
    alias_domain_target: Option<String>,
    local_domain: bool,
    /// A domain we are a backup MX for.
    backup_mx: bool,
    /// The domain's quota for all its mailboxes (octets; 0: none).
    domain_quota: u64,
    alias: Option<Vec<String>>,
    mailbox: Option<LocalMailbox>,
}

#[cfg(test)]
mod tests;
