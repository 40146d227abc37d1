//! `mailserver quota`: quota administration.

use clap::Subcommand;

use crate::accounts::{self, Accounts};
use crate::config::Config;

use crate::AnyError;

#[derive(Subcommand)]
pub(super) enum QuotaCommand {
    /// Count again what mailboxes hold (every folder) and set their usage (`maildirsize` and
    /// PostfixAdmin's `quota2`) to it, as Dovecot's `doveadm quota recalc`.
    Recalc {
        /// Mailboxes to count.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        addresses: Vec<String>,
        /// Count every mailbox.
        #[arg(long, short = 'A')]
        all: bool,
    },
}

/// `quota recalc`: each mailbox's usage counted again from its files, written to
/// `maildirsize` and `quota2`, with what they said before.
pub(super) async fn recalc(
    config: &Config,
    accounts: &Accounts,
    addresses: &[String],
    all: bool,
) -> Result<(), AnyError> {
    let users = accounts.list_users(None).await?;
    let wanted: Vec<String> = addresses
        .iter()
        .map(|a| accounts::normalize_address(a))
        .collect::<Result<_, _>>()?;
    if let Some(unknown) = wanted
        .iter()
        .find(|a| !users.iter().any(|(u, _, _)| u.eq_ignore_ascii_case(a)))
    {
        return Err(format!("{unknown} has no mailbox here").into());
    }
    let quotas = accounts.quotas().await?;
    let message_quotas = accounts.message_quotas().await?;
    for (user, maildir, _) in users {
        if !all && !wanted.iter().any(|a| user.eq_ignore_ascii_case(a)) {
            continue;
        }
        let limits = config.quota_limits(
            quotas.get(&user).copied().unwrap_or(0),
            message_quotas.get(&user.to_lowercase()).copied(),
        );
        let md = maildir::Maildir::new(&maildir);
        if !md.path().join("cur").is_dir() {
            println!("{user}: no mail yet");
            continue;
        }
        let was = md.recorded_usage();
        let usage = md.rebuild_maildirsize(limits)?;
        let recorded = accounts
            .set_usage(&user, usage.bytes, usage.messages)
            .await?;
        let said = |u: Option<(i64, i64)>| match u {
            Some((bytes, messages)) => format!("{bytes} octets in {messages} messages"),
            None => "nothing".to_owned(),
        };
        println!(
            "{user}: {} octets in {} messages (maildirsize said {}, quota2 {})",
            usage.bytes,
            usage.messages,
            said(was.map(|u| (u.bytes, u.messages))),
            said(recorded),
        );
    }
    Ok(())
}
