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
    let picked = |user: &str| all || wanted.iter().any(|a| user.eq_ignore_ascii_case(a));
    for r in crate::delivery::recount(config, accounts, picked).await? {
        let Some(usage) = r.usage else {
            println!("{}: no mail yet", r.user);
            continue;
        };
        let said = |u: Option<(i64, i64)>| match u {
            Some((bytes, messages)) => format!("{bytes} octets in {messages} messages"),
            None => "nothing".to_owned(),
        };
        println!(
            "{}: {} octets in {} messages (maildirsize said {}, quota2 {})",
            r.user,
            usage.bytes,
            usage.messages,
            said(r.maildirsize),
            said(r.quota2),
        );
    }
    Ok(())
}
