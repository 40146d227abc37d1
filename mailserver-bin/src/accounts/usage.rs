//! Quota usage in PostfixAdmin's `quota2` table, which its UI shows and the domain quota is
//! summed from: kept current by every delivery and expunge, and set to a recount by
//! `quota recalc`.
//!
//! A change is added to a tally in memory and written with the others of the last interval
//! in one transaction (`[accounts] usage_write_ms`, by the daemon's writer task and at
//! shutdown), not by the delivery that made it: a write per message was a database round
//! trip (two thread hand-offs) before every `250`. The domain quota counts the changes not
//! yet written. What a crash loses of the tally, the start after it counts again from the
//! files (`delivery::recount`).

use std::collections::HashMap;

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
        Ok((used + self.pending.of_domain(domain)).max(0) as u64)
    }

    /// Adds to a user's usage in PostfixAdmin's `quota2`, which its UI shows (written by the
    /// next [`Accounts::write_usage`]).
    pub fn record_usage(&self, address: &str, bytes: i64, messages: i64) {
        if bytes != 0 || messages != 0 {
            self.pending.add(address, bytes, messages);
        }
    }

    /// Writes the usage changes recorded since the last call to `quota2`, in one transaction
    /// (a tally, not synced by itself: see `Accounts::tally_pool`); on an error they stay
    /// pending for the next call. Returns how many mailboxes' rows it changed.
    pub async fn write_usage(&self) -> Result<usize, AccountsError> {
        let changes = self.pending.take();
        if changes.is_empty() {
            return Ok(0);
        }
        match self.write_changes(&changes).await {
            Ok(()) => Ok(changes.len()),
            Err(e) => {
                for (address, (bytes, messages)) in changes {
                    self.pending.add(&address, bytes, messages);
                }
                Err(e)
            }
        }
    }

    async fn write_changes(
        &self,
        changes: &HashMap<String, (i64, i64)>,
    ) -> Result<(), AccountsError> {
        let mut tx = self.tally_pool.begin().await?;
        for (address, &(bytes, messages)) in changes {
            // Added as they come, never clamped: with nodes sharing the store, one may write
            // the expunge of a message before the other writes its delivery, and the sum is
            // right once both are in.
            let updated = sqlx::query(
                "UPDATE quota2 SET bytes = bytes + ?, messages = messages + ? WHERE username = ?",
            )
            .bind(bytes)
            .bind(messages)
            .bind(address)
            .execute(&mut *tx)
            .await?;
            if updated.rows_affected() == 0 {
                sqlx::query("INSERT INTO quota2 (username, bytes, messages) VALUES (?, ?, ?)")
                    .bind(address)
                    .bind(bytes)
                    .bind(messages)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(())
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
