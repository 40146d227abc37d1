//! The tables, as PostfixAdmin 3.3 makes them in MariaDB and as we make them in SQLite.

/// The SQL dialect behind the pool: queries are written for both; only the DDL differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dialect {
    Sqlite,
    MySql,
}

pub(super) const SQLITE_SCHEMA: &[&str] = &[
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
pub(super) const MYSQL_SCHEMA: &[&str] = &[
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
