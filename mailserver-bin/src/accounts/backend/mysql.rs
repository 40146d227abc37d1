//! PostfixAdmin's own database in MariaDB/MySQL: used as PostfixAdmin made it, tables created
//! only when missing.

use sqlx::any::AnyPoolOptions;

use super::sql::{self, Pools};

/// Connects to the database at `url` and makes PostfixAdmin's tables where they are missing.
pub(super) async fn open(url: &str) -> Result<Pools, sqlx::Error> {
    let pool = AnyPoolOptions::new()
        .max_connections(8)
        .connect(url)
        .await?;
    sql::create_tables(&pool, SCHEMA).await?;
    sql::add_missing_columns(&pool).await?;
    // A PostfixAdmin database is PostfixAdmin's to upgrade: without the column, every
    // mailbox may send.
    let smtp_active_column = sql::has_smtp_active(&pool).await;
    Ok(Pools {
        tally: pool.clone(),
        main: pool,
        smtp_active_column,
    })
}

/// PostfixAdmin's tables as its setup (schema version 1847, PostfixAdmin 3.3) creates them in
/// MariaDB/MySQL; created only when missing, so a database PostfixAdmin made is used as it is.
const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS config (
        id int NOT NULL AUTO_INCREMENT,
        name varchar(20) NOT NULL DEFAULT '',
        value varchar(20) NOT NULL DEFAULT '',
        PRIMARY KEY (id), UNIQUE KEY name (name)
    ) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_general_ci COMMENT='PostfixAdmin settings'",
    "INSERT IGNORE INTO config (name, value) VALUES ('version', '1847')",
    "CREATE TABLE IF NOT EXISTS admin (
        username varchar(255) NOT NULL,
        password varchar(255) NOT NULL,
        superadmin tinyint(1) NOT NULL DEFAULT 0,
        created datetime NOT NULL DEFAULT '2000-01-01 00:00:00',
        modified datetime NOT NULL DEFAULT '2000-01-01 00:00:00',
        active tinyint(1) NOT NULL DEFAULT 1,
        phone varchar(30) CHARACTER SET utf8mb4 NOT NULL DEFAULT '',
        email_other varchar(255) CHARACTER SET utf8mb4 NOT NULL DEFAULT '',
        token varchar(255) CHARACTER SET utf8mb4 NOT NULL DEFAULT '',
        token_validity datetime NOT NULL DEFAULT '2000-01-01 00:00:00',
        PRIMARY KEY (username)
    ) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_general_ci COMMENT='Postfix Admin - Virtual Admins'",
    // PostfixAdmin's own (a PostfixAdmin database has it: left as it is).
    "CREATE TABLE IF NOT EXISTS log (
        timestamp datetime NOT NULL DEFAULT '2000-01-01 00:00:00',
        username varchar(255) NOT NULL,
        domain varchar(255) NOT NULL,
        action varchar(255) NOT NULL,
        data text NOT NULL,
        id int NOT NULL AUTO_INCREMENT,
        PRIMARY KEY (id),
        KEY timestamp (timestamp),
        KEY domain_timestamp (domain, timestamp)
    ) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_general_ci COMMENT='Postfix Admin - Log'",
    "CREATE TABLE IF NOT EXISTS api_token (
        id varchar(32) NOT NULL,
        hash varchar(64) NOT NULL,
        admin varchar(255) NOT NULL,
        name varchar(255) NOT NULL DEFAULT '',
        `write` tinyint(1) NOT NULL DEFAULT 0,
        created datetime NOT NULL DEFAULT '2000-01-01 00:00:00',
        PRIMARY KEY (id)
    ) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_general_ci COMMENT='mailserver - API tokens'",
    "CREATE TABLE IF NOT EXISTS domain_admins (
        username varchar(255) NOT NULL,
        domain varchar(255) NOT NULL,
        created datetime NOT NULL DEFAULT '2000-01-01 00:00:00',
        active tinyint(1) NOT NULL DEFAULT 1,
        id int NOT NULL AUTO_INCREMENT,
        PRIMARY KEY (id),
        KEY username (username)
    ) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_general_ci COMMENT='Postfix Admin - Domain Admins'",
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
    // PostfixAdmin 4's app passwords (upgrade_1849), made as it makes them when a 3.3
    // database has none.
    "CREATE TABLE IF NOT EXISTS mailbox_app_password (
        id int NOT NULL AUTO_INCREMENT,
        username varchar(255) DEFAULT NULL,
        description varchar(255) DEFAULT NULL,
        password_hash varchar(255) DEFAULT NULL,
        PRIMARY KEY (id)
    ) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_general_ci",
    // Our own setting, outside PostfixAdmin's tables so its schema stays untouched.
    "CREATE TABLE IF NOT EXISTS pop3_policy (
        username varchar(255) NOT NULL,
        delete_policy varchar(16) NOT NULL,
        PRIMARY KEY (username)
    ) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_general_ci",
    // Ours: the console's sessions when nodes share the store (see `accounts::sessions`).
    "CREATE TABLE IF NOT EXISTS console_session (
        token_hash varchar(64) NOT NULL,
        who varchar(255) NOT NULL,
        admin tinyint(1) NOT NULL,
        csrf varchar(64) NOT NULL,
        last bigint NOT NULL,
        PRIMARY KEY (token_hash)
    ) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_general_ci",
    // Ours: a user's own spam threshold (see `accounts::spam_policy`).
    "CREATE TABLE IF NOT EXISTS spam_policy (
        username varchar(255) NOT NULL,
        junk_score double NOT NULL,
        PRIMARY KEY (username)
    ) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_general_ci",
    // Ours too: PostfixAdmin keeps no message limit per mailbox.
    "CREATE TABLE IF NOT EXISTS message_quota (
        username varchar(255) NOT NULL,
        messages bigint NOT NULL,
        PRIMARY KEY (username)
    ) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_general_ci",
    // Mailing lists (ours: PostfixAdmin has none): the list's settings, and its members,
    // owners and moderators, one row per role.
    "CREATE TABLE IF NOT EXISTS mailing_list (
        address varchar(255) NOT NULL,
        domain varchar(255) NOT NULL,
        name varchar(255) NOT NULL DEFAULT '',
        description varchar(1024) NOT NULL DEFAULT '',
        posting varchar(16) NOT NULL DEFAULT 'members',
        subscription varchar(16) NOT NULL DEFAULT 'confirm',
        subject_prefix varchar(255) NOT NULL DEFAULT '',
        reply_to varchar(16) NOT NULL DEFAULT 'list',
        max_size bigint NOT NULL DEFAULT 0,
        archive tinyint(1) NOT NULL DEFAULT 1,
        created datetime NOT NULL DEFAULT CURRENT_TIMESTAMP,
        modified datetime NOT NULL DEFAULT CURRENT_TIMESTAMP,
        active tinyint(1) NOT NULL DEFAULT 1,
        PRIMARY KEY (address)
    ) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_general_ci",
    "CREATE TABLE IF NOT EXISTS mailing_list_member (
        list varchar(255) NOT NULL,
        address varchar(255) NOT NULL,
        role varchar(16) NOT NULL DEFAULT 'member',
        digest tinyint(1) NOT NULL DEFAULT 0,
        nomail tinyint(1) NOT NULL DEFAULT 0,
        bounces int NOT NULL DEFAULT 0,
        created datetime NOT NULL DEFAULT CURRENT_TIMESTAMP,
        PRIMARY KEY (list, address, role)
    ) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_general_ci",
    "CREATE TABLE IF NOT EXISTS mailing_list_pending (
        token varchar(64) NOT NULL,
        list varchar(255) NOT NULL,
        address varchar(255) NOT NULL,
        action varchar(16) NOT NULL,
        detail varchar(255) NOT NULL DEFAULT '',
        created bigint NOT NULL,
        PRIMARY KEY (token)
    ) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_general_ci",
];
