//! The web console's sessions, for nodes sharing the store (`[storage] shared`): in the
//! accounts database (our `console_session` table), so a session begun on one node is good on
//! the others behind the same address. Only a hash of each session's token is stored.

use sqlx::Row;

use super::Accounts;
use super::types::AccountsError;

/// A stored session: who (an admin or a mailbox user), its CSRF token, and its last use
/// (Unix seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSession {
    pub who: String,
    pub admin: bool,
    pub csrf: String,
    pub last: i64,
}

impl Accounts {
    /// Stores a session under the hash of its token.
    pub async fn put_console_session(
        &self,
        token_hash: &str,
        session: &StoredSession,
    ) -> Result<(), AccountsError> {
        sqlx::query(
            "INSERT INTO console_session (token_hash, who, admin, csrf, last) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(token_hash)
        .bind(&session.who)
        .bind(i64::from(session.admin))
        .bind(&session.csrf)
        .bind(session.last)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The session stored under `token_hash`, if any.
    pub async fn console_session(
        &self,
        token_hash: &str,
    ) -> Result<Option<StoredSession>, AccountsError> {
        let row = sqlx::query(
            "SELECT who, CAST(admin AS SIGNED) AS admin, csrf, CAST(last AS SIGNED) AS last
             FROM console_session WHERE token_hash = ?",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(StoredSession {
                who: r.try_get("who")?,
                admin: r.try_get::<i64, _>("admin")? != 0,
                csrf: r.try_get("csrf")?,
                last: r.try_get("last")?,
            })
        })
        .transpose()
    }

    /// Records a use of the session at `now` (Unix seconds).
    pub async fn touch_console_session(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<(), AccountsError> {
        sqlx::query("UPDATE console_session SET last = ? WHERE token_hash = ?")
            .bind(now)
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Ends the session stored under `token_hash`, and every session last used before
    /// `lapsed` (Unix seconds).
    pub async fn drop_console_sessions(
        &self,
        token_hash: &str,
        lapsed: i64,
    ) -> Result<(), AccountsError> {
        sqlx::query("DELETE FROM console_session WHERE token_hash = ? OR last < ?")
            .bind(token_hash)
            .bind(lapsed)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
