//! The log of changes made through the web console and the JSON API, in PostfixAdmin's `log`
//! table (who, from where, the domain, the action, what it did), which PostfixAdmin's "View
//! Log" page reads too; each change is also logged under target `audit`.

use sqlx::Row;
use tracing::{info, warn};

use super::{Accounts, AccountsError, Admin};

/// One change, as the log holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// When, in the database's time (UTC for SQLite).
    pub at: String,
    /// Who, with where from: `admin@example.org (192.0.2.1)`, as PostfixAdmin writes it.
    pub who: String,
    /// The domain it concerns; empty for the server's own settings (the queue, bans).
    pub domain: String,
    pub action: String,
    pub data: String,
}

/// How many changes the log page shows.
pub const SHOWN: i64 = 100;

impl Accounts {
    /// Records a change `who` made from `from`: a line under target `audit`, and a row in
    /// the log. The change is made by then: a row that cannot be written is logged, not
    /// answered as a failure.
    pub async fn audit(&self, who: &str, from: &str, domain: &str, action: &str, data: &str) {
        info!(target: "audit", %who, %from, %domain, %data, "{action}");
        let written = sqlx::query(
            "INSERT INTO log (timestamp, username, domain, action, data)
             VALUES (CURRENT_TIMESTAMP, ?, ?, ?, ?)",
        )
        .bind(format!("{who} ({from})"))
        .bind(domain)
        .bind(action)
        .bind(data)
        .execute(&self.pool)
        .await;
        if let Err(e) = written {
            warn!(%who, %action, error = %e, "the change could not be written to the log table");
        }
    }

    /// The last [`SHOWN`] changes `admin` may see, newest first: every one for a global
    /// admin, those of their domains for a domain admin.
    pub async fn recent_changes(&self, admin: &Admin) -> Result<Vec<Change>, AccountsError> {
        let scope = match admin.global {
            true => String::new(),
            false if admin.domains.is_empty() => return Ok(Vec::new()),
            false => format!(
                "WHERE domain IN ({})",
                vec!["?"; admin.domains.len()].join(", ")
            ),
        };
        let sql = format!(
            "SELECT CAST(timestamp AS CHAR) AS at, username, domain, action, data FROM log
             {scope} ORDER BY id DESC LIMIT {SHOWN}"
        );
        // Only placeholders and a constant are formatted in: the domains are bound.
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        if !admin.global {
            for d in &admin.domains {
                query = query.bind(d);
            }
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(Change {
                    at: r.try_get("at")?,
                    who: r.try_get("username")?,
                    domain: r.try_get("domain")?,
                    action: r.try_get("action")?,
                    data: r.try_get("data")?,
                })
            })
            .collect()
    }
}
