//! `mailserver alias`: aliases, catch-alls and forwards.

use clap::Subcommand;

use crate::accounts::Accounts;

use super::output::print_table;
use crate::AnyError;

#[derive(Subcommand)]
pub(super) enum AliasCommand {
    /// Deliver mail for SOURCE (an address, or @domain for a catch-all) to TARGETs.
    Add {
        source: String,
        #[arg(required = true)]
        targets: Vec<String>,
    },
    /// List aliases, optionally of one domain.
    List {
        domain: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Remove TARGETs from an alias, or the whole alias if none are given.
    Remove {
        source: String,
        targets: Vec<String>,
    },
}

impl AliasCommand {
    /// What the command changes, for the log of changes: its action and the alias; `None`
    /// for one that only reads.
    pub(super) fn change(&self) -> Option<(&'static str, &str)> {
        match self {
            Self::Add { source, .. } => Some(("alias add", source)),
            Self::Remove { source, .. } => Some(("alias remove", source)),
            Self::List { .. } => None,
        }
    }
}

/// Carries out an `alias` command.
pub(super) async fn run(accounts: &Accounts, command: AliasCommand) -> Result<(), AnyError> {
    match command {
        AliasCommand::Add { source, targets } => {
            let (source, external) = accounts.add_alias(&source, &targets).await?;
            println!("alias {source} -> {}", targets.join(", "));
            if !external.is_empty() {
                eprintln!(
                    "note: {} outside our domains; forwarding needs the outbound queue, which is not \
                     implemented yet, so mail to {source} is deferred (4xx) rather than lost until then",
                    external.join(", ")
                );
            }
        }
        AliasCommand::List { domain, json } => {
            let aliases = accounts.list_aliases(domain.as_deref()).await?;
            if json {
                let out: Vec<serde_json::Value> = aliases
                    .iter()
                    .map(|(a, g)| serde_json::json!({"address": a, "targets": g.split(',').collect::<Vec<_>>()}))
                    .collect();
                println!("{}", serde_json::Value::Array(out));
            } else {
                let rows: Vec<Vec<String>> = aliases
                    .iter()
                    .map(|(a, g)| vec![a.clone(), g.replace(',', ", ")])
                    .collect();
                print_table(&["ALIAS", "TARGETS"], &rows);
            }
        }
        AliasCommand::Remove { source, targets } => {
            println!(
                "updated alias {}",
                accounts.remove_alias(&source, &targets).await?
            )
        }
    }
    Ok(())
}
