//! Quota usage in PostfixAdmin's `quota2` table, which its UI shows and the domain quota is
//! summed from: kept current by every delivery and expunge, and set to a recount by
//! `quota recalc`.

use super::{Accounts, AccountsError};

impl Accounts {
    /// Octets used by all of a domain's mailboxes, from `quota2` (kept current by every
    /// delivery and expunge, as PostfixAdmin expects).
    pub async fn domain_usage(&self, domain: &str) -> Result<u64, AccountsError> {
        let used: i64 = sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(q.bytes), 0) AS SIGNED) FROM quota2 q
             JOIN mailbox m ON m.username = q.username WHERE m.domain = ?",
        )
        .bind(domain)
        .fetch_one(&self.pool)
        .await?;
        Ok(used.max(0) as u64)
    }

    /// Adds to a user's usage in PostfixAdmin's `quota2`, which its UI shows (a tally, not
    /// synced by itself: see `Accounts::tally_pool`).
    pub async fn record_usage(
        &self,
        address: &str,
        bytes: i64,
        messages: i64,
    ) -> Result<(), AccountsError> {
        // Never below zero, whatever order the changes of several sessions arrive in.
        let update = || {
            sqlx::query(
                "UPDATE quota2 SET
                   bytes = CASE WHEN bytes + ? < 0 THEN 0 ELSE bytes + ? END,
                   messages = CASE WHEN messages + ? < 0 THEN 0 ELSE messages + ? END
                 WHERE username = ?",
            )
            .bind(bytes)
            .bind(bytes)
            .bind(messages)
            .bind(messages)
            .bind(address)
            .execute(&self.tally_pool)
        };
        if update().await?.rows_affected() > 0 {
            return Ok(());
        }
        let inserted =
            sqlx::query("INSERT INTO quota2 (username, bytes, messages) VALUES (?, ?, ?)")
                .bind(address)
                .bind(bytes.max(0))
                .bind(messages.max(0))
                .execute(&self.tally_pool)
                .await;
        match inserted {
            Ok(_) => Ok(()),
            // Another session inserted the row first: add to it.
            Err(e) => match update().await?.rows_affected() {
                0 => Err(e.into()),
                _ => Ok(()),
            },
        }
    }

    /// Sets a user's usage in `quota2` to a recount (`quota recalc`); returns what it said
    /// before (none when it had no row).
    pub async fn set_usage(
        &self,
        address: &str,
        bytes: i64,
        messages: i64,
    ) -> Result<Option<(i64, i64)>, AccountsError> {
        let mut tx = self.pool.begin().await?;
        let before: Option<(i64, i64)> = sqlx::query_as(
            "SELECT CAST(bytes AS SIGNED), CAST(messages AS SIGNED) FROM quota2 WHERE username = ?",
        )
        .bind(address)
        .fetch_optional(&mut *tx)
        .await?;
        let sql = if before.is_some() {
            "UPDATE quota2 SET bytes = ?, messages = ? WHERE username = ?"
        } else {
            "INSERT INTO quota2 (bytes, messages, username) VALUES (?, ?, ?)"
        };
        sqlx::query(sql)
            .bind(bytes.max(0))
            .bind(messages.max(0))
            .bind(address)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(before)
    }
}
