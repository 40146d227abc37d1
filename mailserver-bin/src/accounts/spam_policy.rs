//! A user's own spam threshold: from which SpamAssassin score their mail goes to Junk instead
//! of the server's `[filters] spam_junk_score` (iRedAdmin keeps the same per-user setting in
//! Amavis' policy table). Ours (`spam_policy`), beside PostfixAdmin's tables.

use super::Accounts;
use super::types::{AccountsError, normalize_address, spam_tenths as tenths};

/// The thresholds a user may choose: a score below the lowest would send ordinary mail to
/// Junk; above the highest, nothing would go there.
const JUNK_SCORES: std::ops::RangeInclusive<f64> = 0.5..=10_000.0;

impl Accounts {
    /// `user`'s own spam threshold, if they have one.
    pub async fn spam_junk_score(&self, user: &str) -> Result<Option<f64>, AccountsError> {
        let user = normalize_address(user)?;
        let score: Option<f64> =
            sqlx::query_scalar("SELECT junk_score FROM spam_policy WHERE username = ?")
                .bind(user)
                .fetch_optional(&self.pool)
                .await?;
        Ok(score.map(|s| tenths(s) as f64 / 10.0))
    }

    /// Sets (or with `None`, clears) `user`'s own spam threshold, rounded to a tenth.
    pub async fn set_spam_junk_score(
        &self,
        user: &str,
        score: Option<f64>,
    ) -> Result<String, AccountsError> {
        let user = normalize_address(user)?;
        self.require_user(&user).await?;
        if let Some(score) = score
            && !JUNK_SCORES.contains(&score)
        {
            return Err(AccountsError::Admin(format!(
                "a spam threshold is a score from {} to {}",
                JUNK_SCORES.start(),
                JUNK_SCORES.end()
            )));
        }
        sqlx::query("DELETE FROM spam_policy WHERE username = ?")
            .bind(&user)
            .execute(&self.pool)
            .await?;
        if let Some(score) = score {
            sqlx::query("INSERT INTO spam_policy (username, junk_score) VALUES (?, ?)")
                .bind(&user)
                .bind(tenths(score) as f64 / 10.0)
                .execute(&self.pool)
                .await?;
        }
        Ok(user)
    }
}
