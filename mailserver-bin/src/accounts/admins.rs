//! The web console's administrators, in PostfixAdmin's `admin` and `domain_admins` tables (so
//! the admins of a PostfixAdmin database log in to our console with their own passwords): a
//! global admin (`superadmin`, or PostfixAdmin's older `domain_admins` row for `ALL`) manages
//! every domain, a domain admin only the domains `domain_admins` gives them. The JSON API's
//! bearer tokens (our `api_token` table) each act for one admin, reading only or writing too.

use sqlx::Row;

use super::Accounts;
use super::types::{AccountsError, normalize_address, normalize_domain};

/// Who an administrator is and what they manage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admin {
    pub username: String,
    /// Every domain, and the server's own settings.
    pub global: bool,
    /// The domains of a domain admin (empty for a global admin, who has all).
    pub domains: Vec<String>,
}

impl Admin {
    /// Whether this admin manages `domain`.
    pub fn manages(&self, domain: &str) -> bool {
        self.global || self.domains.iter().any(|d| d.eq_ignore_ascii_case(domain))
    }
}

impl Accounts {
    /// Adds an administrator with the password hash `hash`: global, or of `domains`.
    pub async fn add_admin(
        &self,
        username: &str,
        hash: &str,
        global: bool,
        domains: &[String],
    ) -> Result<String, AccountsError> {
        let username = normalize_address(username)?;
        let mut checked = Vec::new();
        for d in domains {
            let d = normalize_domain(d)?;
            self.require_domain(&d).await?;
            checked.push(d);
        }
        let exists: Option<String> =
            sqlx::query_scalar("SELECT username FROM admin WHERE username = ?")
                .bind(&username)
                .fetch_optional(&self.pool)
                .await?;
        if exists.is_some() {
            return Err(AccountsError::Admin(format!(
                "admin {username} already exists"
            )));
        }
        sqlx::query(
            "INSERT INTO admin (username, password, superadmin, created, modified, active)
             VALUES (?, ?, ?, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1)",
        )
        .bind(&username)
        .bind(hash)
        .bind(i64::from(global))
        .execute(&self.pool)
        .await?;
        for d in checked {
            sqlx::query(
                "INSERT INTO domain_admins (username, domain, created, active)
                 VALUES (?, ?, CURRENT_TIMESTAMP, 1)",
            )
            .bind(&username)
            .bind(d)
            .execute(&self.pool)
            .await?;
        }
        Ok(username)
    }

    /// Removes an administrator and their domains.
    pub async fn remove_admin(&self, username: &str) -> Result<String, AccountsError> {
        let username = normalize_address(username)?;
        let removed = sqlx::query("DELETE FROM admin WHERE username = ?")
            .bind(&username)
            .execute(&self.pool)
            .await?
            .rows_affected();
        if removed == 0 {
            return Err(AccountsError::Admin(format!(
                "admin {username} does not exist"
            )));
        }
        sqlx::query("DELETE FROM domain_admins WHERE username = ?")
            .bind(&username)
            .execute(&self.pool)
            .await?;
        Ok(username)
    }

    /// Every administrator, in name order.
    pub async fn list_admins(&self) -> Result<Vec<Admin>, AccountsError> {
        let names: Vec<String> = sqlx::query_scalar("SELECT username FROM admin ORDER BY username")
            .fetch_all(&self.pool)
            .await?;
        let mut admins = Vec::new();
        for name in names {
            if let Some(admin) = self.admin(&name).await? {
                admins.push(admin);
            }
        }
        Ok(admins)
    }

    /// An active administrator's rights.
    pub async fn admin(&self, username: &str) -> Result<Option<Admin>, AccountsError> {
        let row = sqlx::query(
            "SELECT username, CAST(superadmin AS SIGNED) AS superadmin FROM admin
             WHERE username = ? AND active = 1",
        )
        .bind(username)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let username: String = row.try_get("username")?;
        let mut global = row.try_get::<i64, _>("superadmin")? != 0;
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT domain FROM domain_admins WHERE username = ? AND active = 1 ORDER BY domain",
        )
        .bind(&username)
        .fetch_all(&self.pool)
        .await?;
        let mut domains = Vec::new();
        for d in rows {
            if d.eq_ignore_ascii_case("ALL") {
                global = true;
            } else {
                domains.push(d);
            }
        }
        if global {
            domains.clear();
        }
        Ok(Some(Admin {
            username,
            global,
            domains,
        }))
    }

    /// The administrator `username` when `password` is theirs (checked as mailbox passwords
    /// are, in the same time whether or not the admin exists).
    pub async fn authenticate_admin(
        &self,
        username: &str,
        password: String,
        default_scheme: crate::password::StoredScheme,
    ) -> Result<Option<Admin>, AccountsError> {
        let hash: Option<String> =
            sqlx::query_scalar("SELECT password FROM admin WHERE username = ? AND active = 1")
                .bind(username.trim())
                .fetch_optional(&self.pool)
                .await?;
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| crate::password::decoy(self.decoy_scheme).to_owned());
        let matches = tokio::task::spawn_blocking(move || {
            crate::password::verify_with_default(&hash, &password, default_scheme)
        })
        .await
        .unwrap_or(false);
        if !(known && matches) {
            return Ok(None);
        }
        self.admin(username.trim()).await
    }
}

/// A bearer token of the JSON API, as listed (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub id: String,
    pub admin: String,
    pub name: String,
    pub write: bool,
}

/// SHA-256 of a token's secret, as hex: what is stored.
fn token_hash(secret: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Accounts {
    /// Makes a token acting for admin `admin`; returns the token to give out
    /// (`mw_<id>_<secret>`), whose secret is stored only as a hash.
    pub async fn add_token(
        &self,
        admin: &str,
        name: &str,
        write: bool,
    ) -> Result<String, AccountsError> {
        let Some(admin) = self.admin(admin.trim()).await? else {
            return Err(AccountsError::Admin(format!(
                "admin {admin} does not exist (add it with `mailserver admin add`)"
            )));
        };
        let mut random = [0u8; 24];
        crate::password::random_bytes(&mut random)
            .map_err(|e| AccountsError::Admin(format!("no randomness for a token: {e}")))?;
        let hex: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let (id, secret) = hex.split_at(12);
        sqlx::query(
            "INSERT INTO api_token (id, hash, admin, name, `write`, created)
             VALUES (?, ?, ?, ?, ?, CURRENT_TIMESTAMP)",
        )
        .bind(id)
        .bind(token_hash(secret))
        .bind(&admin.username)
        .bind(name)
        .bind(i64::from(write))
        .execute(&self.pool)
        .await?;
        Ok(format!("mw_{id}_{secret}"))
    }

    /// Every token, by id.
    pub async fn list_tokens(&self) -> Result<Vec<ApiToken>, AccountsError> {
        let rows = sqlx::query(
            "SELECT id, admin, name, CAST(`write` AS SIGNED) AS w FROM api_token ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ApiToken {
                    id: r.try_get("id")?,
                    admin: r.try_get("admin")?,
                    name: r.try_get("name")?,
                    write: r.try_get::<i64, _>("w")? != 0,
                })
            })
            .collect()
    }

    /// Revokes token `id`.
    pub async fn remove_token(&self, id: &str) -> Result<(), AccountsError> {
        let removed = sqlx::query("DELETE FROM api_token WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        if removed == 0 {
            return Err(AccountsError::Admin(format!("token {id} does not exist")));
        }
        Ok(())
    }

    /// The admin a presented token acts for, and whether it may write; `None` for an unknown
    /// or revoked token, or one whose admin is gone or inactive.
    pub async fn token_admin(&self, token: &str) -> Result<Option<(Admin, bool)>, AccountsError> {
        let Some((id, secret)) = token.strip_prefix("mw_").and_then(|t| t.split_once('_')) else {
            return Ok(None);
        };
        let row = sqlx::query(
            "SELECT hash, admin, CAST(`write` AS SIGNED) AS w FROM api_token WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let stored: String = row.try_get("hash")?;
        if !crate::password::constant_time_eq(stored.as_bytes(), token_hash(secret).as_bytes()) {
            return Ok(None);
        }
        let admin: String = row.try_get("admin")?;
        let write = row.try_get::<i64, _>("w")? != 0;
        Ok(self.admin(&admin).await?.map(|a| (a, write)))
    }
}
