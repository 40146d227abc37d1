//! Domains, mailboxes and aliases in an SQLite file, in PostfixAdmin's table shapes (`domain`,
//! `mailbox`, `alias` with comma-separated `goto`), so the same queries serve its MariaDB later.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;
use sqlx::{Executor, Row};
use thiserror::Error;

use crate::directory::{Directory, DirectoryError};

mod usage;

#[derive(Debug, Error)]
pub enum AccountsError {
    #[error(
        "unsupported accounts url {0:?}: use sqlite:PATH or mysql://user:password@host/database"
    )]
    UnsupportedUrl(String),
    #[error("account database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    #[error("cannot create directory for the account database {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0:?} is not a valid domain name")]
    BadDomain(String),
    #[error("{0:?} is not a valid email address")]
    BadAddress(String),
    #[error("domain {0} already exists")]
    DuplicateDomain(String),
    #[error("domain {0} does not exist (add it with `mailserver domain add {0}`)")]
    UnknownDomain(String),
    #[error(
        "domain {domain} still has {mailboxes} mailbox(es) and {aliases} alias(es); remove them first"
    )]
    DomainNotEmpty {
        domain: String,
        mailboxes: i64,
        aliases: i64,
    },
    #[error("user {0} already exists")]
    DuplicateUser(String),
    #[error(
        "domain {domain} may have {} {what}; change it with `mailserver domain limits`",
        if *limit < 0 { "no".to_owned() } else { format!("at most {limit}") }
    )]
    DomainLimit {
        domain: String,
        what: &'static str,
        limit: i64,
    },
    #[error(
        "domain {domain} allows mailboxes of at most {max_mb} MB; a quota of {requested} octets (0 is none) is over it"
    )]
    QuotaOverDomainMax {
        domain: String,
        max_mb: i64,
        requested: u64,
    },
    #[error("user {0} does not exist")]
    UnknownUser(String),
    #[error("alias {0} does not exist")]
    UnknownAlias(String),
    #[error("{0} is already a domain of ours; an alias domain must be a different name")]
    AliasDomainIsDomain(String),
    #[error("alias domain {0} already exists")]
    DuplicateAliasDomain(String),
    #[error("alias domain {0} does not exist")]
    UnknownAliasDomain(String),
    #[error("alias {source_address} has no target {target}")]
    UnknownTarget {
        source_address: String,
        target: String,
    },
    #[error(
        "this database's mailbox table has no smtp_active column (PostfixAdmin adds it from version 4.0 on)"
    )]
    NoSmtpActiveColumn,
}

/// A mailbox's 0/1 columns the CLI changes.
#[derive(Debug, Clone, Copy)]
enum MailboxFlag {
    Active,
    SmtpActive,
}

/// A domain as `domain list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainRow {
    pub name: String,
    pub active: bool,
    /// All its mailboxes together, in octets (0: none).
    pub quota: u64,
    /// We only relay its mail to its own MX hosts.
    pub backup_mx: bool,
}

/// Where mail for a recipient goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// Our mailboxes, deduplicated.
    Local(Vec<LocalMailbox>),
    /// The domain is not one of ours.
    NotOurDomain,
    /// Our domain, but no such mailbox or alias.
    Unknown,
    /// A domain we are a backup MX for (PostfixAdmin's `backupmx`): accepted, and passed on
    /// to the domain's own MX hosts.
    Relay(String),
    /// Aliases lead (also) outside our domains: these mailboxes, and these remote addresses
    /// the outbound queue forwards to.
    Forward {
        local: Vec<LocalMailbox>,
        remote: Vec<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LocalMailbox {
    pub username: String,
    pub maildir: PathBuf,
    /// Quota in octets (PostfixAdmin's `mailbox.quota`); 0 means none.
    pub quota: u64,
    /// Messages the mailbox may hold (our `message_quota` table, or the directory's
    /// attribute): `None` for the server's `[limits] max_messages_per_mailbox`, 0 for none.
    pub message_quota: Option<u64>,
    /// The mailbox's domain, and the quota of all its mailboxes together in octets
    /// (PostfixAdmin's `domain.quota`, kept in MB; 0 or less means none).
    pub domain: String,
    pub domain_quota: u64,
}

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

/// Recent recipient and login lookups, so a busy server does not ask the database for the
/// same address over and over; each answer is kept for `ttl` (off when zero). Errors are never
/// kept, so a database that is down still gives temporary failures.
#[derive(Debug, Default)]
struct LookupCache {
    ttl: Duration,
    resolved: Mutex<HashMap<String, (Instant, Resolution)>>,
    mailboxes: Mutex<HashMap<String, (Instant, Option<LocalMailbox>)>>,
}

/// Addresses a cache holds before it starts over (a bound, not a tuning knob).
const CACHE_ENTRIES: usize = 100_000;

impl LookupCache {
    fn get<T: Clone>(&self, map: &Mutex<HashMap<String, (Instant, T)>>, key: &str) -> Option<T> {
        if self.ttl.is_zero() {
            return None;
        }
        let map = map.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(key)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, v)| v.clone())
    }

    fn put<T>(&self, map: &Mutex<HashMap<String, (Instant, T)>>, key: &str, value: T) {
        if self.ttl.is_zero() {
            return;
        }
        let mut map = map.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= CACHE_ENTRIES {
            map.clear();
        }
        map.insert(key.to_owned(), (Instant::now(), value));
    }
}

/// The SQL dialect behind the pool: queries are written for both; only the DDL differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Sqlite,
    MySql,
}

const SQLITE_SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS domain (
        domain TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,
        description TEXT NOT NULL DEFAULT '',
        aliases INTEGER NOT NULL DEFAULT 0,
        mailboxes INTEGER NOT NULL DEFAULT 0,
        maxquota INTEGER NOT NULL DEFAULT 0,
        quota INTEGER NOT NULL DEFAULT 0,
        transport TEXT NOT NULL DEFAULT 'virtual',
        backupmx INTEGER NOT NULL DEFAULT 0,
        created TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
        modified TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
        active INTEGER NOT NULL DEFAULT 1)",
    "CREATE TABLE IF NOT EXISTS mailbox (
        username TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,
        password TEXT NOT NULL,
        name TEXT NOT NULL DEFAULT '',
        maildir TEXT NOT NULL,
        quota INTEGER NOT NULL DEFAULT 0,
        local_part TEXT NOT NULL,
        domain TEXT NOT NULL COLLATE NOCASE,
        created TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
        modified TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
        active INTEGER NOT NULL DEFAULT 1,
        smtp_active INTEGER NOT NULL DEFAULT 1)",
    "CREATE INDEX IF NOT EXISTS mailbox_by_domain ON mailbox (domain)",
    "CREATE TABLE IF NOT EXISTS alias (
        address TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,
        goto TEXT NOT NULL,
        domain TEXT NOT NULL COLLATE NOCASE,
        created TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
        modified TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
        active INTEGER NOT NULL DEFAULT 1)",
    // Tables and indexes share a namespace in SQLite: the index must not be called alias_domain
    // (early databases had that name).
    "CREATE TABLE IF NOT EXISTS quota2 (
        username TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,
        bytes INTEGER NOT NULL DEFAULT 0,
        messages INTEGER NOT NULL DEFAULT 0)",
    "DROP INDEX IF EXISTS alias_domain",
    "CREATE INDEX IF NOT EXISTS alias_by_domain ON alias (domain)",
    "CREATE TABLE IF NOT EXISTS alias_domain (
        alias_domain TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,
        target_domain TEXT NOT NULL COLLATE NOCASE,
        created TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
        modified TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
        active INTEGER NOT NULL DEFAULT 1)",
    // Our own setting, outside PostfixAdmin's tables so its schema stays untouched.
    "CREATE TABLE IF NOT EXISTS pop3_policy (
        username TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,
        delete_policy TEXT NOT NULL)",
    // Ours too: PostfixAdmin keeps no message limit per mailbox.
    "CREATE TABLE IF NOT EXISTS message_quota (
        username TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,
        messages INTEGER NOT NULL)",
];

/// PostfixAdmin's tables as its setup (schema version 1847, PostfixAdmin 3.3) creates them in
/// MariaDB/MySQL; created only when missing, so a database PostfixAdmin made is used as it is.
const MYSQL_SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS config (
        id int NOT NULL AUTO_INCREMENT,
        name varchar(20) NOT NULL DEFAULT '',
        value varchar(20) NOT NULL DEFAULT '',
        PRIMARY KEY (id), UNIQUE KEY name (name)
    ) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_general_ci COMMENT='PostfixAdmin settings'",
    "INSERT IGNORE INTO config (name, value) VALUES ('version', '1847')",
    "CREATE TABLE IF NOT EXISTS domain (
        domain varchar(255) NOT NULL,
        description varchar(255) CHARACTER SET utf8mb4 NOT NULL,
        aliases int NOT NULL DEFAULT 0,
        mailboxes int NOT NULL DEFAULT 0,
        maxquota bigint NOT NULL DEFAULT 0,
        quota bigint NOT NULL DEFAULT 0,
        transport varchar(255) NOT NULL,
        backupmx tinyint(1) NOT NULL DEFAULT 0,
        created datetime NOT NULL DEFAULT '2000-01-01 00:00:00',
        modified datetime NOT NULL DEFAULT '2000-01-01 00:00:00',
        active tinyint(1) NOT NULL DEFAULT 1,
        password_expiry int DEFAULT 0,
        PRIMARY KEY (domain)
    ) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_general_ci COMMENT='Postfix Admin - Virtual Domains'",
    "CREATE TABLE IF NOT EXISTS mailbox (
        username varchar(255) NOT NULL,
        password varchar(255) NOT NULL,
        name varchar(255) CHARACTER SET utf8mb4 NOT NULL,
        maildir varchar(255) NOT NULL,
        quota bigint NOT NULL DEFAULT 0,
        local_part varchar(255) NOT NULL,
        domain varchar(255) NOT NULL,
        created datetime NOT NULL DEFAULT '2000-01-01 00:00:00',
        modified datetime NOT NULL DEFAULT '2000-01-01 00:00:00',
        active tinyint(1) NOT NULL DEFAULT 1,
        phone varchar(30) CHARACTER SET utf8mb4 NOT NULL DEFAULT '',
        email_other varchar(255) CHARACTER SET utf8mb4 NOT NULL DEFAULT '',
        token varchar(255) CHARACTER SET utf8mb4 NOT NULL DEFAULT '',
        token_validity datetime NOT NULL DEFAULT '2000-01-01 00:00:00',
        password_expiry datetime NOT NULL DEFAULT '2000-01-01 00:00:00',
        smtp_active tinyint(1) NOT NULL DEFAULT 1,
        PRIMARY KEY (username), KEY domain (domain)
    ) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_general_ci COMMENT='Postfix Admin - Virtual Mailboxes'",
    "CREATE TABLE IF NOT EXISTS alias (
        address varchar(255) NOT NULL,
        goto text NOT NULL,
        domain varchar(255) NOT NULL,
        created datetime NOT NULL DEFAULT '2000-01-01 00:00:00',
        modified datetime NOT NULL DEFAULT '2000-01-01 00:00:00',
        active tinyint(1) NOT NULL DEFAULT 1,
        PRIMARY KEY (address), KEY domain (domain)
    ) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_general_ci COMMENT='Postfix Admin - Virtual Aliases'",
    "CREATE TABLE IF NOT EXISTS alias_domain (
        alias_domain varchar(255) NOT NULL DEFAULT '',
        target_domain varchar(255) NOT NULL DEFAULT '',
        created datetime NOT NULL DEFAULT '2000-01-01 00:00:00',
        modified datetime NOT NULL DEFAULT '2000-01-01 00:00:00',
        active tinyint(1) NOT NULL DEFAULT 1,
        PRIMARY KEY (alias_domain), KEY active (active), KEY target_domain (target_domain)
    ) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_general_ci COMMENT='Postfix Admin - Domain Aliases'",
    "CREATE TABLE IF NOT EXISTS quota2 (
        username varchar(255) NOT NULL,
        bytes bigint NOT NULL DEFAULT 0,
        messages int NOT NULL DEFAULT 0,
        PRIMARY KEY (username)
    ) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_general_ci",
    // Our own setting, outside PostfixAdmin's tables so its schema stays untouched.
    "CREATE TABLE IF NOT EXISTS pop3_policy (
        username varchar(255) NOT NULL,
        delete_policy varchar(16) NOT NULL,
        PRIMARY KEY (username)
    ) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_general_ci",
    // Ours too: PostfixAdmin keeps no message limit per mailbox.
    "CREATE TABLE IF NOT EXISTS message_quota (
        username varchar(255) NOT NULL,
        messages bigint NOT NULL,
        PRIMARY KEY (username)
    ) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_general_ci",
];

/// How deep alias chains may go before we stop following them.
pub(crate) const MAX_ALIAS_EXPANSIONS: usize = 100;

fn split_address(address: &str) -> Option<(&str, &str)> {
    address.rsplit_once('@')
}

/// Lower-cases and validates a domain name.
pub fn normalize_domain(domain: &str) -> Result<String, AccountsError> {
    let d = domain.trim().trim_end_matches('.').to_lowercase();
    smtp_proto::types::validate_domain(&d).map_err(|_| AccountsError::BadDomain(domain.into()))?;
    if !d.contains('.') && d != "localhost" {
        return Err(AccountsError::BadDomain(domain.into()));
    }
    Ok(d)
}

/// Lower-cases and validates an address (`local@domain`).
pub fn normalize_address(address: &str) -> Result<String, AccountsError> {
    let bad = || AccountsError::BadAddress(address.into());
    let mailbox = smtp_proto::parse_mailbox(address.trim()).ok_or_else(bad)?;
    let domain = mailbox.domain().ok_or_else(bad)?;
    let domain = normalize_domain(domain).map_err(|_| bad())?;
    if mailbox.local_part().contains([',', ' ']) {
        return Err(bad());
    }
    Ok(format!("{}@{domain}", mailbox.local_part().to_lowercase()))
}

impl Accounts {
    pub async fn open(url: &str, mail_root: &Path) -> Result<Self, AccountsError> {
        sqlx::any::install_default_drivers();
        let (dialect, connect_url) = if let Some(path) = url.strip_prefix("sqlite:") {
            let path = path.trim_start_matches("//");
            if let Some(parent) = Path::new(path).parent()
                && !parent.as_os_str().is_empty()
            {
                std::fs::create_dir_all(parent).map_err(|source| AccountsError::CreateDir {
                    path: parent.to_owned(),
                    source,
                })?;
            }
            (Dialect::Sqlite, format!("sqlite:{path}?mode=rwc"))
        } else if url.starts_with("mysql://") || url.starts_with("mariadb://") {
            (Dialect::MySql, url.replacen("mariadb://", "mysql://", 1))
        } else {
            return Err(AccountsError::UnsupportedUrl(url.into()));
        };
        let pool = AnyPoolOptions::new()
            .max_connections(if dialect == Dialect::Sqlite { 4 } else { 8 })
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if dialect == Dialect::Sqlite {
                        conn.execute("PRAGMA busy_timeout = 10000").await?;
                    }
                    Ok(())
                })
            })
            .connect(&connect_url)
            .await?;
        let schema = match dialect {
            Dialect::Sqlite => {
                pool.execute("PRAGMA journal_mode = WAL").await?;
                SQLITE_SCHEMA
            }
            Dialect::MySql => MYSQL_SCHEMA,
        };
        let tally_pool = match dialect {
            Dialect::Sqlite => {
                AnyPoolOptions::new()
                    .max_connections(2)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            conn.execute("PRAGMA busy_timeout = 10000").await?;
                            conn.execute("PRAGMA synchronous = NORMAL").await?;
                            Ok(())
                        })
                    })
                    .connect(&connect_url)
                    .await?
            }
            Dialect::MySql => pool.clone(),
        };
        for statement in schema {
            sqlx::query(*statement).execute(&pool).await?;
        }
        let has_smtp_active = |pool: AnyPool| async move {
            sqlx::query("SELECT smtp_active FROM mailbox LIMIT 0")
                .execute(&pool)
                .await
                .is_ok()
        };
        let mut smtp_active_column = has_smtp_active(pool.clone()).await;
        // Our own SQLite files from before the column get it; a PostfixAdmin database is
        // PostfixAdmin's to upgrade.
        if !smtp_active_column && dialect == Dialect::Sqlite {
            sqlx::query("ALTER TABLE mailbox ADD COLUMN smtp_active INTEGER NOT NULL DEFAULT 1")
                .execute(&pool)
                .await?;
            smtp_active_column = true;
        }
        Ok(Self {
            pool,
            tally_pool,
            mail_root: mail_root.to_owned(),
            cache: Arc::new(LookupCache::default()),
            directory: None,
            smtp_active_column,
            decoy_scheme: crate::password::Scheme::Argon2id,
        })
    }

    /// Also looks users up in an LDAP directory (`[ldap]`).
    pub fn with_directory(mut self, directory: Directory) -> Self {
        self.directory = Some(Arc::new(directory));
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

    /// Whether `password` is `address`'s: checked against the stored hash (`default_scheme`
    /// for hashes without a `{SCHEME}` prefix), or by the LDAP directory for users only it
    /// has. `Err` means the answer is unknown (a backend is down): a temporary failure.
    pub async fn authenticate(
        &self,
        address: &str,
        password: String,
        default_scheme: String,
    ) -> Result<bool, AccountsError> {
        if let Some(hash) = self.password_hash(address).await? {
            return Ok(tokio::task::spawn_blocking(move || {
                crate::password::verify_with_default(&hash, &password, &default_scheme)
            })
            .await
            .unwrap_or(false));
        }
        if let Ok(address) = normalize_address(address)
            && let Some(directory) = &self.directory
            && self.active_domain_quota(&address).await?.is_some()
        {
            // One directory search and one bind: the domain is checked in the database.
            return Ok(directory.authenticate(&address, &password).await?);
        }
        // No such user: the same work as a wrong password of a real one, so the answer's time
        // does not tell which addresses exist.
        let scheme = self.decoy_scheme;
        let _ = tokio::task::spawn_blocking(move || {
            crate::password::verify_with_default(crate::password::decoy(scheme), &password, "CRYPT")
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
        self.cache = Arc::new(LookupCache {
            ttl,
            ..LookupCache::default()
        });
        self
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    // ---- domains ----

    /// Adds a domain: ours (mailboxes, aliases), or one we are only a backup MX for.
    pub async fn add_domain(&self, domain: &str, backup_mx: bool) -> Result<String, AccountsError> {
        let domain = normalize_domain(domain)?;
        if self.require_domain(&domain).await.is_ok() {
            return Err(AccountsError::DuplicateDomain(domain));
        }
        // Every NOT NULL column PostfixAdmin declares without a default gets a value.
        sqlx::query(
            "INSERT INTO domain (domain, description, aliases, mailboxes, maxquota, quota, transport,
                                 backupmx, created, modified, active)
             VALUES (?, '', 0, 0, 0, 0, 'virtual', ?, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1)",
        )
        .bind(&domain)
        .bind(i64::from(backup_mx))
        .execute(&self.pool)
        .await?;
        Ok(domain)
    }

    /// Every domain, in name order.
    pub async fn list_domains(&self) -> Result<Vec<DomainRow>, AccountsError> {
        let rows = sqlx::query(
            "SELECT domain, CAST(active AS SIGNED) AS active, CAST(quota AS SIGNED) AS quota,
                    CAST(backupmx AS SIGNED) AS backupmx
             FROM domain WHERE domain <> 'ALL' ORDER BY domain",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DomainRow {
                    name: r.try_get("domain")?,
                    active: r.try_get::<i64, _>("active")? != 0,
                    quota: megabytes(r.try_get("quota")?),
                    backup_mx: r.try_get::<i64, _>("backupmx")? != 0,
                })
            })
            .collect()
    }

    pub async fn remove_domain(&self, domain: &str) -> Result<String, AccountsError> {
        let domain = normalize_domain(domain)?;
        self.require_domain(&domain).await?;
        let mailboxes: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM mailbox WHERE domain = ?")
            .bind(&domain)
            .fetch_one(&self.pool)
            .await?;
        let aliases: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM alias WHERE domain = ? AND address <> goto")
                .bind(&domain)
                .fetch_one(&self.pool)
                .await?;
        let alias_domains: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM alias_domain WHERE target_domain = ?")
                .bind(&domain)
                .fetch_one(&self.pool)
                .await?;
        let aliases = aliases + alias_domains;
        if mailboxes > 0 || aliases > 0 {
            return Err(AccountsError::DomainNotEmpty {
                domain,
                mailboxes,
                aliases,
            });
        }
        sqlx::query("DELETE FROM domain WHERE domain = ?")
            .bind(&domain)
            .execute(&self.pool)
            .await?;
        Ok(domain)
    }

    async fn require_domain(&self, domain: &str) -> Result<(), AccountsError> {
        let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM domain WHERE domain = ?")
            .bind(domain)
            .fetch_optional(&self.pool)
            .await?;
        match found {
            Some(_) => Ok(()),
            None => Err(AccountsError::UnknownDomain(domain.into())),
        }
    }

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

    /// Makes `alias` an alias domain of our domain `target`.
    pub async fn add_alias_domain(
        &self,
        alias: &str,
        target: &str,
    ) -> Result<(String, String), AccountsError> {
        let alias = normalize_domain(alias)?;
        let target = normalize_domain(target)?;
        self.require_domain(&target).await?;
        if self.require_domain(&alias).await.is_ok() {
            return Err(AccountsError::AliasDomainIsDomain(alias));
        }
        let exists: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM alias_domain WHERE alias_domain = ?")
                .bind(&alias)
                .fetch_optional(&self.pool)
                .await?;
        if exists.is_some() {
            return Err(AccountsError::DuplicateAliasDomain(alias));
        }
        sqlx::query(
            "INSERT INTO alias_domain (alias_domain, target_domain, created, modified, active)
             VALUES (?, ?, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1)",
        )
        .bind(&alias)
        .bind(&target)
        .execute(&self.pool)
        .await?;
        Ok((alias, target))
    }

    pub async fn remove_alias_domain(&self, alias: &str) -> Result<String, AccountsError> {
        let alias = normalize_domain(alias)?;
        let result = sqlx::query("DELETE FROM alias_domain WHERE alias_domain = ?")
            .bind(&alias)
            .execute(&self.pool)
            .await?;
        if result.rows_affected() == 0 {
            return Err(AccountsError::UnknownAliasDomain(alias));
        }
        Ok(alias)
    }

    pub async fn list_alias_domains(&self) -> Result<Vec<(String, String, bool)>, AccountsError> {
        let rows = sqlx::query(
            "SELECT alias_domain, target_domain, CAST(active AS SIGNED) AS active FROM alias_domain ORDER BY alias_domain",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("alias_domain")?,
                    r.try_get("target_domain")?,
                    r.try_get::<i64, _>("active")? != 0,
                ))
            })
            .collect()
    }

    /// Activates or deactivates a domain: an inactive domain receives no mail and its users
    /// cannot log in (PostfixAdmin's `domain.active`).
    pub async fn set_domain_active(
        &self,
        domain: &str,
        active: bool,
    ) -> Result<String, AccountsError> {
        let domain = normalize_domain(domain)?;
        let result = sqlx::query(
            "UPDATE domain SET active = ?, modified = CURRENT_TIMESTAMP WHERE domain = ?",
        )
        .bind(i64::from(active))
        .bind(&domain)
        .execute(&self.pool)
        .await?;
        if result.rows_affected() == 0 {
            return Err(AccountsError::UnknownDomain(domain));
        }
        Ok(domain)
    }

    /// Activates or deactivates a mailbox (PostfixAdmin's `mailbox.active`).
    pub async fn set_user_active(
        &self,
        address: &str,
        active: bool,
    ) -> Result<String, AccountsError> {
        self.set_mailbox_flag(address, MailboxFlag::Active, active)
            .await
    }

    /// Sets one of a mailbox's 0/1 columns.
    async fn set_mailbox_flag(
        &self,
        address: &str,
        flag: MailboxFlag,
        on: bool,
    ) -> Result<String, AccountsError> {
        let address = normalize_address(address)?;
        let sql = match flag {
            MailboxFlag::Active => {
                "UPDATE mailbox SET active = ?, modified = CURRENT_TIMESTAMP WHERE username = ?"
            }
            MailboxFlag::SmtpActive => {
                "UPDATE mailbox SET smtp_active = ?, modified = CURRENT_TIMESTAMP WHERE username = ?"
            }
        };
        let result = sqlx::query(sql)
            .bind(i64::from(on))
            .bind(&address)
            .execute(&self.pool)
            .await?;
        if result.rows_affected() == 0 {
            return Err(AccountsError::UnknownUser(address));
        }
        Ok(address)
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

    pub async fn set_smtp_active(
        &self,
        address: &str,
        allowed: bool,
    ) -> Result<String, AccountsError> {
        if !self.smtp_active_column {
            return Err(AccountsError::NoSmtpActiveColumn);
        }
        self.set_mailbox_flag(address, MailboxFlag::SmtpActive, allowed)
            .await
    }

    // ---- users ----

    pub async fn add_user(
        &self,
        address: &str,
        password_hash: &str,
    ) -> Result<String, AccountsError> {
        let address = normalize_address(address)?;
        let (local, domain) =
            split_address(&address).ok_or_else(|| AccountsError::BadAddress(address.clone()))?;
        self.require_domain(domain).await?;
        let limits = self.domain_limits(domain).await?;
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM mailbox WHERE domain = ?")
            .bind(domain)
            .fetch_one(&self.pool)
            .await?;
        check_limit(domain, "mailboxes", limits.mailboxes, count)?;
        let maildir = format!("{domain}/{local}/");
        if self.user_exists(&address).await? {
            return Err(AccountsError::DuplicateUser(address));
        }
        sqlx::query(
            "INSERT INTO mailbox (username, password, name, maildir, quota, local_part, domain,
                                  created, modified, active)
             VALUES (?, ?, '', ?, 0, ?, ?, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1)",
        )
        .bind(&address)
        .bind(password_hash)
        .bind(&maildir)
        .bind(local)
        .bind(domain)
        .execute(&self.pool)
        .await?;
        // PostfixAdmin gives every mailbox a self-alias; its UI and Postfix maps expect one.
        let has_alias: Option<i64> = sqlx::query_scalar("SELECT 1 FROM alias WHERE address = ?")
            .bind(&address)
            .fetch_optional(&self.pool)
            .await?;
        if has_alias.is_none() {
            sqlx::query(
                "INSERT INTO alias (address, goto, domain, created, modified, active)
                 VALUES (?, ?, ?, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1)",
            )
            .bind(&address)
            .bind(&address)
            .bind(domain)
            .execute(&self.pool)
            .await?;
        }
        Ok(address)
    }

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

    pub async fn list_users(
        &self,
        domain: Option<&str>,
    ) -> Result<Vec<(String, String, bool)>, AccountsError> {
        let rows = match domain {
            Some(d) => {
                let d = normalize_domain(d)?;
                self.require_domain(&d).await?;
                sqlx::query("SELECT username, maildir, CAST(active AS SIGNED) AS active FROM mailbox WHERE domain = ? ORDER BY username")
                    .bind(d)
                    .fetch_all(&self.pool)
                    .await?
            }
            None => {
                sqlx::query(
                    "SELECT username, maildir, CAST(active AS SIGNED) AS active FROM mailbox ORDER BY domain, username",
                )
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.iter()
            .map(|r| {
                let maildir: String = r.try_get("maildir")?;
                Ok((
                    r.try_get("username")?,
                    self.maildir_path(&maildir).display().to_string(),
                    r.try_get::<i64, _>("active")? != 0,
                ))
            })
            .collect()
    }

    pub async fn remove_user(&self, address: &str) -> Result<(String, PathBuf), AccountsError> {
        let address = normalize_address(address)?;
        let maildir: Option<String> =
            sqlx::query_scalar("SELECT maildir FROM mailbox WHERE username = ?")
                .bind(&address)
                .fetch_optional(&self.pool)
                .await?;
        let Some(maildir) = maildir else {
            return Err(AccountsError::UnknownUser(address));
        };
        sqlx::query("DELETE FROM mailbox WHERE username = ?")
            .bind(&address)
            .execute(&self.pool)
            .await?;
        sqlx::query("DELETE FROM alias WHERE address = ? AND goto = ?")
            .bind(&address)
            .bind(&address)
            .execute(&self.pool)
            .await?;
        // Our own settings go with it, and its usage in quota2 (as PostfixAdmin deletes it).
        for statement in [
            "DELETE FROM pop3_policy WHERE username = ?",
            "DELETE FROM message_quota WHERE username = ?",
            "DELETE FROM quota2 WHERE username = ?",
        ] {
            sqlx::query(statement)
                .bind(&address)
                .execute(&self.pool)
                .await?;
        }
        Ok((address, self.maildir_path(&maildir)))
    }

    async fn user_exists(&self, address: &str) -> Result<bool, AccountsError> {
        let exists: Option<i64> = sqlx::query_scalar("SELECT 1 FROM mailbox WHERE username = ?")
            .bind(address)
            .fetch_optional(&self.pool)
            .await?;
        Ok(exists.is_some())
    }

    /// Fails with `UnknownUser` unless the database has a mailbox `address`.
    async fn require_user(&self, address: &str) -> Result<(), AccountsError> {
        match self.user_exists(address).await? {
            true => Ok(()),
            false => Err(AccountsError::UnknownUser(address.to_owned())),
        }
    }

    pub async fn set_password(
        &self,
        address: &str,
        password_hash: &str,
    ) -> Result<String, AccountsError> {
        let address = normalize_address(address)?;
        let result = sqlx::query(
            "UPDATE mailbox SET password = ?, modified = CURRENT_TIMESTAMP WHERE username = ?",
        )
        .bind(password_hash)
        .bind(&address)
        .execute(&self.pool)
        .await?;
        if result.rows_affected() == 0 {
            return Err(AccountsError::UnknownUser(address));
        }
        Ok(address)
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
        let mailbox = self.mailbox_uncached(address.clone()).await?;
        self.cache
            .put(&self.cache.mailboxes, &address, mailbox.clone());
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
                        AS message_quota
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
            domain: row.try_get("domain")?,
            domain_quota: megabytes(domain_quota),
        }))
    }

    /// Sets a mailbox's quota in octets (0: none).
    pub async fn set_quota(&self, address: &str, bytes: u64) -> Result<String, AccountsError> {
        let address = normalize_address(address)?;
        if let Some((_, domain)) = split_address(&address) {
            let max_mb = self.domain_limits(domain).await?.max_quota_mb;
            if max_mb > 0 && (bytes == 0 || bytes > megabytes(max_mb)) {
                return Err(AccountsError::QuotaOverDomainMax {
                    domain: domain.to_owned(),
                    max_mb,
                    requested: bytes,
                });
            }
        }
        let result = sqlx::query(
            "UPDATE mailbox SET quota = ?, modified = CURRENT_TIMESTAMP WHERE username = ?",
        )
        .bind(bytes as i64)
        .bind(&address)
        .execute(&self.pool)
        .await?;
        if result.rows_affected() == 0 {
            return Err(AccountsError::UnknownUser(address));
        }
        Ok(address)
    }

    /// Sets how many messages a mailbox may hold: `Some(0)` none, `None` the server's default.
    pub async fn set_message_quota(
        &self,
        address: &str,
        messages: Option<u64>,
    ) -> Result<String, AccountsError> {
        let address = normalize_address(address)?;
        self.require_user(&address).await?;
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM message_quota WHERE username = ?")
            .bind(&address)
            .execute(&mut *tx)
            .await?;
        if let Some(n) = messages {
            sqlx::query("INSERT INTO message_quota (username, messages) VALUES (?, ?)")
                .bind(&address)
                .bind(i64::try_from(n).unwrap_or(i64::MAX))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(address)
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

    /// Changes the limits given; the others stay.
    pub async fn set_domain_limits(
        &self,
        domain: &str,
        mailboxes: Option<i64>,
        aliases: Option<i64>,
        max_quota_mb: Option<i64>,
    ) -> Result<(String, DomainLimits), AccountsError> {
        let domain = normalize_domain(domain)?;
        let current = self.domain_limits(&domain).await?;
        let limits = DomainLimits {
            mailboxes: mailboxes.unwrap_or(current.mailboxes),
            aliases: aliases.unwrap_or(current.aliases),
            max_quota_mb: max_quota_mb.unwrap_or(current.max_quota_mb),
        };
        sqlx::query(
            "UPDATE domain SET mailboxes = ?, aliases = ?, maxquota = ?, modified = CURRENT_TIMESTAMP
             WHERE domain = ?",
        )
        .bind(limits.mailboxes)
        .bind(limits.aliases)
        .bind(limits.max_quota_mb)
        .bind(&domain)
        .execute(&self.pool)
        .await?;
        Ok((domain, limits))
    }

    /// Sets a domain's quota for all its mailboxes together, in octets (0: none). PostfixAdmin
    /// keeps it in MB, so it is rounded up to whole MB.
    pub async fn set_domain_quota(
        &self,
        domain: &str,
        bytes: u64,
    ) -> Result<(String, u64), AccountsError> {
        let domain = normalize_domain(domain)?;
        self.require_domain(&domain).await?;
        let mb = bytes.div_ceil(1 << 20);
        sqlx::query("UPDATE domain SET quota = ?, modified = CURRENT_TIMESTAMP WHERE domain = ?")
            .bind(mb as i64)
            .bind(&domain)
            .execute(&self.pool)
            .await?;
        Ok((domain, mb << 20))
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

    /// A user's own POP3 delete policy, if set.
    pub async fn pop3_policy(&self, address: &str) -> Result<Option<String>, AccountsError> {
        Ok(
            sqlx::query_scalar("SELECT delete_policy FROM pop3_policy WHERE username = ?")
                .bind(address)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Sets (or with `None`, clears) a user's POP3 delete policy.
    pub async fn set_pop3_policy(
        &self,
        address: &str,
        policy: Option<&str>,
    ) -> Result<String, AccountsError> {
        let address = normalize_address(address)?;
        self.require_user(&address).await?;
        match policy {
            Some(p) => {
                sqlx::query("DELETE FROM pop3_policy WHERE username = ?")
                    .bind(&address)
                    .execute(&self.pool)
                    .await?;
                sqlx::query("INSERT INTO pop3_policy (username, delete_policy) VALUES (?, ?)")
                    .bind(&address)
                    .bind(p)
                    .execute(&self.pool)
                    .await?;
            }
            None => {
                sqlx::query("DELETE FROM pop3_policy WHERE username = ?")
                    .bind(&address)
                    .execute(&self.pool)
                    .await?;
            }
        }
        Ok(address)
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

    /// Adds targets to an alias (creating it). `source` is `local@domain` or `@domain`
    /// (catch-all). Returns the normalized source and the targets outside our domains.
    pub async fn add_alias(
        &self,
        source: &str,
        targets: &[String],
    ) -> Result<(String, Vec<String>), AccountsError> {
        let (source, domain) = normalize_alias_source(source)?;
        self.require_domain(&domain).await?;
        let mut goto = self.alias_targets(&source).await?.unwrap_or_default();
        let mut external = Vec::new();
        for t in targets {
            let t = normalize_address(t)?;
            if let Some((_, d)) = split_address(&t)
                && !self.is_local_domain(d).await?
            {
                external.push(t.clone());
            }
            if !goto.contains(&t) {
                goto.push(t);
            }
        }
        if self.alias_targets(&source).await?.is_none() {
            let limits = self.domain_limits(&domain).await?;
            let count: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM alias WHERE domain = ? AND address <> goto",
            )
            .bind(&domain)
            .fetch_one(&self.pool)
            .await?;
            check_limit(&domain, "aliases", limits.aliases, count)?;
        }
        if self.alias_targets(&source).await?.is_some() {
            sqlx::query(
                "UPDATE alias SET goto = ?, modified = CURRENT_TIMESTAMP WHERE address = ?",
            )
            .bind(goto.join(","))
            .bind(&source)
            .execute(&self.pool)
            .await?;
        } else {
            sqlx::query(
                "INSERT INTO alias (address, goto, domain, created, modified, active)
                 VALUES (?, ?, ?, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1)",
            )
            .bind(&source)
            .bind(goto.join(","))
            .bind(&domain)
            .execute(&self.pool)
            .await?;
        }
        Ok((source, external))
    }

    /// Removes targets from an alias, or the whole alias when `targets` is empty.
    pub async fn remove_alias(
        &self,
        source: &str,
        targets: &[String],
    ) -> Result<String, AccountsError> {
        let (source, _) = normalize_alias_source(source)?;
        let Some(mut goto) = self.alias_targets(&source).await? else {
            return Err(AccountsError::UnknownAlias(source));
        };
        for t in targets {
            let t = normalize_address(t)?;
            let before = goto.len();
            goto.retain(|g| *g != t);
            if goto.len() == before {
                return Err(AccountsError::UnknownTarget {
                    source_address: source,
                    target: t,
                });
            }
        }
        if targets.is_empty() || goto.is_empty() {
            sqlx::query("DELETE FROM alias WHERE address = ?")
                .bind(&source)
                .execute(&self.pool)
                .await?;
        } else {
            sqlx::query(
                "UPDATE alias SET goto = ?, modified = CURRENT_TIMESTAMP WHERE address = ?",
            )
            .bind(goto.join(","))
            .bind(&source)
            .execute(&self.pool)
            .await?;
        }
        Ok(source)
    }

    pub async fn list_aliases(
        &self,
        domain: Option<&str>,
    ) -> Result<Vec<(String, String)>, AccountsError> {
        let rows = match domain {
            Some(d) => {
                let d = normalize_domain(d)?;
                self.require_domain(&d).await?;
                sqlx::query("SELECT address, goto FROM alias WHERE domain = ? AND address <> goto ORDER BY address")
                    .bind(d)
                    .fetch_all(&self.pool)
                    .await?
            }
            None => sqlx::query(
                "SELECT address, goto FROM alias WHERE address <> goto ORDER BY domain, address",
            )
            .fetch_all(&self.pool)
            .await?,
        };
        rows.iter()
            .map(|r| Ok((r.try_get("address")?, r.try_get("goto")?)))
            .collect()
    }

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
                (SELECT CAST(quota AS SIGNED) FROM domain WHERE domain = ?) AS domain_quota,
                (SELECT target_domain FROM alias_domain WHERE alias_domain = ? AND active = 1) AS target",
        )
        .bind(domain)
        .bind(domain)
        .bind(address)
        .bind(address)
        .bind(address)
        .bind(address)
        .bind(domain)
        .bind(domain)
        .fetch_one(&self.pool)
        .await?;
        let domain_quota: Option<i64> = row.try_get("domain_quota")?;
        let local: Option<i64> = row.try_get("local")?;
        let backup: Option<i64> = row.try_get("backup")?;
        let goto: Option<String> = row.try_get("goto")?;
        let maildir: Option<String> = row.try_get("maildir")?;
        let target: Option<String> = row.try_get("target")?;
        let quota: Option<i64> = row.try_get("quota")?;
        let message_quota: Option<i64> = row.try_get("message_quota")?;
        Ok(Lookup {
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
        let resolution = self.resolve_uncached(&address).await?;
        self.cache
            .put(&self.cache.resolved, &address, resolution.clone());
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
        let mut seen = HashSet::new();
        let mut queue = vec![(address.clone(), false)];
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
            if !mailbox_only && let Some(targets) = found_here.alias {
                for t in targets {
                    let self_reference = t == addr;
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

fn split_goto(goto: &str) -> Vec<String> {
    goto.split(',')
        .map(|t| t.trim().to_lowercase())
        .filter(|t| !t.is_empty())
        .collect()
}

fn normalize_alias_source(source: &str) -> Result<(String, String), AccountsError> {
    if let Some(domain) = source.trim().strip_prefix('@') {
        let d = normalize_domain(domain)?;
        return Ok((format!("@{d}"), d));
    }
    let address = normalize_address(source)?;
    let domain = split_address(&address)
        .map(|(_, d)| d.to_owned())
        .unwrap_or_default();
    Ok((address, domain))
}

/// A domain's limits as PostfixAdmin keeps them: counts of mailboxes and aliases, and the
/// largest mailbox quota in MB; 0 means unlimited and -1 none allowed (the quota: unlimited).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct DomainLimits {
    pub mailboxes: i64,
    pub aliases: i64,
    pub max_quota_mb: i64,
}

/// Whether one more of `what` fits under `limit` with `count` there.
fn check_limit(
    domain: &str,
    what: &'static str,
    limit: i64,
    count: i64,
) -> Result<(), AccountsError> {
    if limit < 0 || (limit > 0 && count >= limit) {
        return Err(AccountsError::DomainLimit {
            domain: domain.to_owned(),
            what,
            limit,
        });
    }
    Ok(())
}

/// PostfixAdmin's MB (where 0 and -1 mean no limit) in octets.
fn megabytes(mb: i64) -> u64 {
    u64::try_from(mb).unwrap_or(0).saturating_mul(1 << 20)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn fresh(name: &str) -> (Accounts, PathBuf) {
        let dir = std::env::temp_dir().join(format!("accounts-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let accounts = Accounts::open(
            &format!("sqlite:{}", dir.join("a.db").display()),
            &dir.join("mail"),
        )
        .await
        .unwrap();
        (accounts, dir)
    }

    #[tokio::test]
    async fn domains_users_aliases() {
        let (a, dir) = fresh("basic").await;
        a.add_domain("Example.COM", false).await.unwrap();
        assert!(matches!(
            a.add_domain("example.com", false).await,
            Err(AccountsError::DuplicateDomain(_))
        ));
        assert!(matches!(
            a.add_domain("bad_domain", false).await,
            Err(AccountsError::BadDomain(_))
        ));
        a.add_user("Alice@example.com", "{PLAIN}x").await.unwrap();
        assert!(matches!(
            a.add_user("alice@example.com", "x").await,
            Err(AccountsError::DuplicateUser(_))
        ));
        assert!(matches!(
            a.add_user("bob@nowhere.example", "x").await,
            Err(AccountsError::UnknownDomain(_))
        ));
        assert!(matches!(
            a.add_user("not an address", "x").await,
            Err(AccountsError::BadAddress(_))
        ));
        let alice = LocalMailbox {
            username: "alice@example.com".into(),
            maildir: dir.join("mail/example.com/alice/"),
            quota: 0,
            message_quota: None,
            domain: "example.com".into(),
            domain_quota: 0,
        };
        assert_eq!(
            a.resolve("ALICE@example.com").await.unwrap(),
            Resolution::Local(vec![alice.clone()])
        );
        assert_eq!(
            a.resolve("bob@example.com").await.unwrap(),
            Resolution::Unknown
        );
        assert_eq!(
            a.resolve("bob@other.example").await.unwrap(),
            Resolution::NotOurDomain
        );
        a.add_alias("sales@example.com", &["alice@example.com".into()])
            .await
            .unwrap();
        assert_eq!(
            a.resolve("sales@example.com").await.unwrap(),
            Resolution::Local(vec![alice.clone()])
        );
        a.add_alias("@example.com", &["alice@example.com".into()])
            .await
            .unwrap();
        assert_eq!(
            a.resolve("anyone@example.com").await.unwrap(),
            Resolution::Local(vec![alice.clone()])
        );
        let (_, external) = a
            .add_alias("fwd@example.com", &["x@elsewhere.example".into()])
            .await
            .unwrap();
        assert_eq!(external, vec!["x@elsewhere.example".to_owned()]);
        assert!(matches!(
            a.resolve("fwd@example.com").await.unwrap(),
            Resolution::Forward { local, remote } if local.is_empty() && remote == vec!["x@elsewhere.example".to_owned()]
        ));
        // A loop ends.
        a.add_alias("l1@example.com", &["l2@example.com".into()])
            .await
            .unwrap();
        a.add_alias(
            "l2@example.com",
            &["l1@example.com".into(), "alice@example.com".into()],
        )
        .await
        .unwrap();
        assert_eq!(
            a.resolve("l1@example.com").await.unwrap(),
            Resolution::Local(vec![alice])
        );
        assert!(matches!(
            a.remove_domain("example.com").await,
            Err(AccountsError::DomainNotEmpty { .. })
        ));
        // Alias domains: user@alias resolves as user@target, catch-all included.
        a.add_alias_domain("example.org", "example.com")
            .await
            .unwrap();
        assert!(matches!(
            a.add_alias_domain("example.com", "example.com").await,
            Err(AccountsError::AliasDomainIsDomain(_))
        ));
        assert!(matches!(
            a.add_alias_domain("example.org", "example.com").await,
            Err(AccountsError::DuplicateAliasDomain(_))
        ));
        assert!(a.is_local_domain("example.org").await.unwrap());
        assert_eq!(
            a.resolve("alice@example.org").await.unwrap(),
            a.resolve("alice@example.com").await.unwrap()
        );
        assert_eq!(
            a.resolve("nobody@example.org").await.unwrap(),
            a.resolve("nobody@example.com").await.unwrap()
        );
        a.remove_alias_domain("example.org").await.unwrap();
        assert_eq!(
            a.resolve("alice@example.org").await.unwrap(),
            Resolution::NotOurDomain
        );
        a.remove_alias("l2@example.com", &["l1@example.com".into()])
            .await
            .unwrap();
        assert!(a.remove_alias("nope@example.com", &[]).await.is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
