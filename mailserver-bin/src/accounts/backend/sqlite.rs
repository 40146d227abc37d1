//! Our own accounts file: SQLite in PostfixAdmin's table shapes, with WAL, a busy timeout, and
//! a second pool for the usage tally whose commits are not synced one by one.

use sqlx::Executor;
use sqlx::any::AnyPoolOptions;

use super::sql::{self, Pools};

/// Opens (creating when missing) the SQLite file at `url` (`sqlite:<path>?mode=rwc`) and makes
/// its tables.
pub(super) async fn open(url: &str) -> Result<Pools, sqlx::Error> {
    let pool = AnyPoolOptions::new()
        .max_connections(4)
        .after_connect(|conn, _| {
            Box::pin(async move {
                conn.execute("PRAGMA busy_timeout = 10000").await?;
                Ok(())
            })
        })
        .connect(url)
        .await?;
    pool.execute("PRAGMA journal_mode = WAL").await?;
    // The tally (`quota2`) is derived from the store, like `maildirsize`, which Dovecot does
    // not sync either: a power cut can lose its last changes, which `quota recalc` counts
    // again, never a message. Its own sync was one of four per APPEND
    // (benches/imap-scale.sh).
    let tally = AnyPoolOptions::new()
        .max_connections(2)
        .after_connect(|conn, _| {
            Box::pin(async move {
                conn.execute("PRAGMA busy_timeout = 10000").await?;
                conn.execute("PRAGMA synchronous = NORMAL").await?;
                Ok(())
            })
        })
        .connect(url)
        .await?;
    sql::create_tables(&pool, SCHEMA).await?;
    sql::add_missing_columns(&pool).await?;
    // Our own files from before the column get it.
    if !sql::has_smtp_active(&pool).await {
        sqlx::query("ALTER TABLE mailbox ADD COLUMN smtp_active INTEGER NOT NULL DEFAULT 1")
            .execute(&pool)
            .await?;
    }
    Ok(Pools {
        main: pool,
        tally,
        smtp_active_column: true,
    })
}

/// Our tables, PostfixAdmin's shapes with SQLite types.
const SCHEMA: &[&str] = &[
    // The web console's administrators: global (`superadmin`) or of the domains
    // `domain_admins` gives them, as in PostfixAdmin.
    "CREATE TABLE IF NOT EXISTS admin (
        username TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,
        password TEXT NOT NULL,
        superadmin INTEGER NOT NULL DEFAULT 0,
        created TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
        modified TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
        active INTEGER NOT NULL DEFAULT 1)",
    // Every change made through the console or the API: PostfixAdmin's `log`, who (with where
    // from), the domain, the action and what it did.
    "CREATE TABLE IF NOT EXISTS log (
        timestamp TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
        username TEXT NOT NULL,
        domain TEXT NOT NULL COLLATE NOCASE,
        action TEXT NOT NULL,
        data TEXT NOT NULL,
        id INTEGER PRIMARY KEY AUTOINCREMENT)",
    "CREATE INDEX IF NOT EXISTS log_domain ON log (domain, timestamp)",
    // Bearer tokens of the JSON API, each acting for an admin (ours; PostfixAdmin has none).
    "CREATE TABLE IF NOT EXISTS api_token (
        id TEXT NOT NULL PRIMARY KEY,
        hash TEXT NOT NULL,
        admin TEXT NOT NULL COLLATE NOCASE,
        name TEXT NOT NULL DEFAULT '',
        write INTEGER NOT NULL DEFAULT 0,
        created TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)",
    "CREATE TABLE IF NOT EXISTS domain_admins (
        username TEXT NOT NULL COLLATE NOCASE,
        domain TEXT NOT NULL COLLATE NOCASE,
        created TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
        active INTEGER NOT NULL DEFAULT 1,
        PRIMARY KEY (username, domain))",
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
    // PostfixAdmin 4's app passwords.
    "CREATE TABLE IF NOT EXISTS mailbox_app_password (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        username TEXT COLLATE NOCASE,
        description TEXT,
        password_hash TEXT)",
    "CREATE INDEX IF NOT EXISTS app_password_by_user ON mailbox_app_password (username)",
    // Our own setting, outside PostfixAdmin's tables so its schema stays untouched.
    "CREATE TABLE IF NOT EXISTS pop3_policy (
        username TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,
        delete_policy TEXT NOT NULL)",
    // Ours: the console's sessions when nodes share the store (see `accounts::sessions`).
    "CREATE TABLE IF NOT EXISTS console_session (
        token_hash TEXT NOT NULL PRIMARY KEY,
        who TEXT NOT NULL,
        admin INTEGER NOT NULL,
        csrf TEXT NOT NULL,
        last INTEGER NOT NULL)",
    // Ours: a user's own spam threshold (see `accounts::spam_policy`).
    "CREATE TABLE IF NOT EXISTS spam_policy (
        username TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,
        junk_score REAL NOT NULL)",
    // Ours too: PostfixAdmin keeps no message limit per mailbox.
    "CREATE TABLE IF NOT EXISTS message_quota (
        username TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,
        messages INTEGER NOT NULL)",
    // Mailing lists (ours: PostfixAdmin has none): the list's settings, and its members,
    // owners and moderators, one row per role.
    "CREATE TABLE IF NOT EXISTS mailing_list (
        address TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,
        domain TEXT NOT NULL COLLATE NOCASE,
        name TEXT NOT NULL DEFAULT '',
        description TEXT NOT NULL DEFAULT '',
        posting TEXT NOT NULL DEFAULT 'members',
        subscription TEXT NOT NULL DEFAULT 'confirm',
        subject_prefix TEXT NOT NULL DEFAULT '',
        reply_to TEXT NOT NULL DEFAULT 'list',
        max_size INTEGER NOT NULL DEFAULT 0,
        archive INTEGER NOT NULL DEFAULT 1,
        created TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
        modified TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
        active INTEGER NOT NULL DEFAULT 1)",
    "CREATE TABLE IF NOT EXISTS mailing_list_member (
        list TEXT NOT NULL COLLATE NOCASE,
        address TEXT NOT NULL COLLATE NOCASE,
        role TEXT NOT NULL DEFAULT 'member',
        digest INTEGER NOT NULL DEFAULT 0,
        nomail INTEGER NOT NULL DEFAULT 0,
        bounces INTEGER NOT NULL DEFAULT 0,
        created TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
        PRIMARY KEY (list, address, role))",
    "CREATE TABLE IF NOT EXISTS mailing_list_pending (
        token TEXT NOT NULL PRIMARY KEY,
        list TEXT NOT NULL COLLATE NOCASE,
        address TEXT NOT NULL COLLATE NOCASE,
        action TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT '',
        created INTEGER NOT NULL)",
];
