//! A mail user's own forwarding, kept as PostfixAdmin keeps it: the mailbox's row in `alias`
//! lists where its mail goes, with the mailbox's own address among the targets when a copy
//! stays in the mailbox.

use super::Accounts;
use super::types::{AccountsError, normalize_address, split_address};

impl Accounts {
    /// Where `address`'s mail is forwarded (its own address left out), and whether a copy
    /// stays in the mailbox.
    pub async fn forwarding(&self, address: &str) -> Result<(Vec<String>, bool), AccountsError> {
        let address = normalize_address(address)?;
        let goto = self
            .alias_targets(&address)
            .await?
            .unwrap_or_else(|| vec![address.clone()]);
        let keep = goto.contains(&address);
        let targets = goto.into_iter().filter(|g| *g != address).collect();
        Ok((targets, keep))
    }

    /// Forwards `address`'s mail to `targets` (none: no forwarding), keeping a copy in the
    /// mailbox when `keep` (always when there are no targets).
    pub async fn set_forwarding(
        &self,
        address: &str,
        targets: &[String],
        keep: bool,
    ) -> Result<(), AccountsError> {
        let address = normalize_address(address)?;
        let Some((_, domain)) = split_address(&address) else {
            return Err(AccountsError::BadAddress(address));
        };
        let domain = domain.to_owned();
        let mut goto = Vec::new();
        for t in targets {
            let t = normalize_address(t)?;
            if t != address && !goto.contains(&t) {
                goto.push(t);
            }
        }
        if keep || goto.is_empty() {
            goto.insert(0, address.clone());
        }
        let goto = goto.join(",");
        if self.alias_targets(&address).await?.is_some() {
            sqlx::query(
                "UPDATE alias SET goto = ?, modified = CURRENT_TIMESTAMP WHERE address = ?",
            )
            .bind(goto)
            .bind(&address)
            .execute(&self.pool)
            .await?;
        } else {
            sqlx::query(
                "INSERT INTO alias (address, goto, domain, created, modified, active)
                 VALUES (?, ?, ?, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1)",
            )
            .bind(&address)
            .bind(goto)
            .bind(domain)
            .execute(&self.pool)
            .await?;
        }
        Ok(())
    }
}
