//! App passwords: passwords a user makes for one mail client each, that log in to IMAP, POP3,
//! submission and ManageSieve but not to the console, each revoked on its own. Kept in
//! PostfixAdmin 4's `mailbox_app_password` table (`id`, `username`, `description`,
//! `password_hash`), which Dovecot reads with a query of its own, so a PostfixAdmin database
//! and ours share them; the hash is of `[accounts] password_scheme`.

use sqlx::Row;

use super::Accounts;
use super::types::{AccountsError, normalize_address};

/// An app password as listed: never its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppPassword {
    pub id: i64,
    /// What the user called it (the client or device it is for).
    pub description: String,
}

impl Accounts {
    /// `user`'s app passwords, oldest first.
    pub async fn app_passwords(&self, user: &str) -> Result<Vec<AppPassword>, AccountsError> {
        let user = normalize_address(user)?;
        let rows = sqlx::query(
            "SELECT CAST(id AS SIGNED) AS id, COALESCE(description, '') AS description
             FROM mailbox_app_password WHERE username = ? ORDER BY id",
        )
        .bind(user)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AppPassword {
                    id: r.try_get("id")?,
                    description: r.try_get("description")?,
                })
            })
            .collect()
    }

    /// Gives `user` (a mailbox of the database) an app password whose hash is `hash`, unless
    /// they have `max` already.
    pub async fn add_app_password(
        &self,
        user: &str,
        description: &str,
        hash: &str,
        max: usize,
    ) -> Result<(), AccountsError> {
        let user = normalize_address(user)?;
        let description = description.trim();
        if description.is_empty() || description.chars().count() > 100 {
            return Err(AccountsError::Admin(
                "an app password needs a name of 1 to 100 characters".into(),
            ));
        }
        if self.password_hash(&user).await?.is_none() {
            return Err(AccountsError::Admin(format!(
                "{user} is not an active mailbox of the database"
            )));
        }
        if self.app_passwords(&user).await?.len() >= max {
            return Err(AccountsError::Admin(format!(
                "{user} has {max} app passwords already ([accounts] max_app_passwords)"
            )));
        }
        sqlx::query(
            "INSERT INTO mailbox_app_password (username, description, password_hash)
             VALUES (?, ?, ?)",
        )
        .bind(user)
        .bind(description)
        .bind(hash)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Revokes `user`'s app password `id`; returns its description.
    pub async fn remove_app_password(&self, user: &str, id: i64) -> Result<String, AccountsError> {
        let user = normalize_address(user)?;
        let Some(gone) = self
            .app_passwords(&user)
            .await?
            .into_iter()
            .find(|p| p.id == id)
        else {
            return Err(AccountsError::Admin(format!(
                "{user} has no app password {id}"
            )));
        };
        sqlx::query("DELETE FROM mailbox_app_password WHERE username = ? AND id = ?")
            .bind(&user)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(gone.description)
    }

    /// Whether `password` is one of the app passwords of `address`, an active mailbox of an
    /// active domain.
    pub(super) async fn is_app_password(
        &self,
        address: &str,
        password: String,
        default_scheme: crate::password::StoredScheme,
    ) -> Result<bool, AccountsError> {
        let Ok(address) = normalize_address(address) else {
            return Ok(false);
        };
        let hashes: Vec<String> = sqlx::query_scalar(
            "SELECT a.password_hash FROM mailbox_app_password a
             JOIN mailbox m ON m.username = a.username
             JOIN domain d ON d.domain = m.domain
             WHERE a.username = ? AND m.active = 1 AND d.active = 1
               AND a.password_hash IS NOT NULL",
        )
        .bind(address)
        .fetch_all(&self.pool)
        .await?;
        if hashes.is_empty() {
            return Ok(false);
        }
        Ok(tokio::task::spawn_blocking(move || {
            hashes
                .iter()
                .any(|h| crate::password::verify_with_default(h, &password, default_scheme))
        })
        .await
        .unwrap_or(false))
    }
}
