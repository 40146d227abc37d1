//! Local delivery shared by the SMTP service and the queue: quota checks against
//! `maildirsize` (no walk of the mailbox per message) and usage bookkeeping afterwards.

use crate::accounts::{Accounts, LocalMailbox};
use crate::config::Config;

/// Whether the mailbox (or its domain) is full, or would be with `adding` more octets.
pub async fn over_quota(
    config: &Config,
    accounts: &Accounts,
    mailbox: &LocalMailbox,
    adding: Option<u64>,
) -> bool {
    if mailbox.domain_quota > 0 {
        match accounts.domain_usage(&mailbox.domain).await {
            Ok(used) if used.saturating_add(adding.unwrap_or(1)) > mailbox.domain_quota => {
                tracing::info!(domain = %mailbox.domain, used, "domain over quota");
                return true;
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(domain = %mailbox.domain, error = %e, "domain usage unreadable; accepting")
            }
        }
    }
    let limits = config.quota_limits(mailbox.quota, mailbox.message_quota);
    if !limits.any() {
        return false;
    }
    let maildir = maildir::Maildir::new(mailbox.maildir.clone());
    let usage = tokio::task::spawn_blocking(move || {
        if maildir.path().join("cur").is_dir() {
            maildir.quota_usage(limits)
        } else {
            Ok(maildir::Usage::default())
        }
    })
    .await;
    match usage {
        Ok(Ok(u)) => {
            limits.exceeded(u, (1, 1)) || adding.is_some_and(|s| limits.exceeded(u, (s, 1)))
        }
        Ok(Err(e)) => {
            // Unknown usage must not lose mail: accept, and say why in the log.
            tracing::warn!(user = %mailbox.username, error = %e, "quota usage unreadable; accepting");
            false
        }
        Err(_) => false,
    }
}

/// Keeps `maildirsize` and PostfixAdmin's `quota2` current after a delivery of `stored` octets.
pub async fn record(config: &Config, accounts: &Accounts, mailboxes: &[LocalMailbox], stored: u64) {
    for m in mailboxes {
        let maildir = maildir::Maildir::new(m.maildir.clone());
        let limits = config.quota_limits(m.quota, m.message_quota);
        let result =
            tokio::task::spawn_blocking(move || maildir.quota_add(stored as i64, 1, limits)).await;
        if let Ok(Err(e)) = result {
            tracing::warn!(user = %m.username, error = %e, "could not update maildirsize");
        }
        if let Err(e) = accounts.record_usage(&m.username, stored as i64, 1).await {
            tracing::warn!(user = %m.username, error = %e, "could not update quota2");
        }
    }
}
