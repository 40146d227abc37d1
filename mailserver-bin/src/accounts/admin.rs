//! The writes the admin commands make: domains, alias domains, mailboxes, aliases, quotas,
//! limits and policies, in PostfixAdmin's tables so its UI can manage what we write.

use std::path::PathBuf;

use sqlx::Row;

use super::Accounts;
use super::types::{
    AccountsError, DomainLimits, DomainRow, MailboxFlag, megabytes, normalize_address,
    normalize_alias_source, normalize_domain, split_address,
};

impl Accounts {
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

    pub(super) async fn require_domain(&self, domain: &str) -> Result<(), AccountsError> {
        let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM domain WHERE domain = ?")
            .bind(domain)
            .fetch_optional(&self.pool)
            .await?;
        match found {
            Some(_) => Ok(()),
            None => Err(AccountsError::UnknownDomain(domain.into())),
        }
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

    /// Removes the alias domain `alias`; with `of`, only when it is an alias of that domain
    /// (an admin acting on that domain's page).
    pub async fn remove_alias_domain(
        &self,
        alias: &str,
        of: Option<&str>,
    ) -> Result<String, AccountsError> {
        let alias = normalize_domain(alias)?;
        let target = of.map(normalize_domain).transpose()?;
        let result = sqlx::query(
            "DELETE FROM alias_domain WHERE alias_domain = ? AND (? IS NULL OR target_domain = ?)",
        )
        .bind(&alias)
        .bind(target.as_deref())
        .bind(target.as_deref())
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
            "DELETE FROM spam_policy WHERE username = ?",
            "DELETE FROM mailbox_app_password WHERE username = ?",
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
    pub(super) async fn require_user(&self, address: &str) -> Result<(), AccountsError> {
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

    /// Every mailbox's own POP3 delete policy (as stored), by address.
    pub async fn pop3_policies(
        &self,
    ) -> Result<std::collections::HashMap<String, String>, AccountsError> {
        let rows = sqlx::query("SELECT username, delete_policy FROM pop3_policy")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get::<String, _>("username")?.to_lowercase(),
                    r.try_get("delete_policy")?,
                ))
            })
            .collect()
    }

    /// Sets (or with `None`, clears) a user's POP3 delete policy.
    pub async fn set_pop3_policy(
        &self,
        address: &str,
        policy: Option<crate::config::DeletePolicy>,
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
                    .bind(p.as_str())
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

    /// Removes the alias `source` as the console and the API remove one: where it forwards
    /// goes, and a mailbox's own address stays among its targets (its mail keeps arriving).
    pub async fn remove_forwarding(&self, source: &str) -> Result<String, AccountsError> {
        let (source, _) = normalize_alias_source(source)?;
        let goto = self.alias_targets(&source).await?.unwrap_or_default();
        let targets: Vec<String> = goto.into_iter().filter(|t| *t != source).collect();
        if targets.is_empty() {
            return Err(AccountsError::UnknownAlias(source));
        }
        self.remove_alias(&source, &targets).await
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
