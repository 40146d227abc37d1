//! `mailserver domain`: the domains we receive mail for, their limits and alias domains.

use clap::Subcommand;

use crate::accounts::{Accounts, display_domain};
use crate::config::Config;

use super::output::{parse_size, print_table, yes_no};
use crate::AnyError;

#[derive(Subcommand)]
pub(super) enum DomainCommand {
    /// Accept mail for DOMAIN.
    Add {
        domain: String,
        /// Only be a backup MX for it: accept its mail and pass it on to its own MX hosts
        /// (PostfixAdmin's backupmx).
        #[arg(long)]
        backup_mx: bool,
    },
    /// List domains and alias domains.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Let DOMAIN receive mail and its users log in again.
    Activate { domain: String },
    /// Stop DOMAIN receiving mail and its users logging in, keeping everything.
    Deactivate { domain: String },
    /// Show or change DOMAIN's limits, as PostfixAdmin keeps them: how many mailboxes and
    /// aliases it may have (0: unlimited, -1: none), and the largest mailbox quota.
    Limits {
        domain: String,
        #[arg(long, allow_negative_numbers = true)]
        mailboxes: Option<i64>,
        #[arg(long, allow_negative_numbers = true)]
        aliases: Option<i64>,
        /// A size such as 2G (whole MB); 0 or none for no limit.
        #[arg(long)]
        max_quota: Option<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Set the quota of all DOMAIN's mailboxes together: a size such as 50G (whole MB, as
    /// PostfixAdmin keeps it); 0 or none for no limit.
    Quota { domain: String, size: String },
    /// Stop accepting mail for DOMAIN (it must have no mailboxes or aliases left).
    Remove { domain: String },
    /// Make ALIAS an alias domain of TARGET: user@ALIAS is delivered as user@TARGET.
    AddAlias { alias: String, target: String },
    /// Remove the alias domain ALIAS.
    RemoveAlias { alias: String },
}

impl DomainCommand {
    /// What the command changes, for the log of changes: its action and the domain; `None`
    /// for one that only reads.
    pub(super) fn change(&self) -> Option<(&'static str, &str)> {
        Some(match self {
            Self::Add { domain, .. } => ("domain add", domain),
            Self::Activate { domain } => ("domain activate", domain),
            Self::Deactivate { domain } => ("domain deactivate", domain),
            Self::Limits {
                domain,
                mailboxes,
                aliases,
                max_quota,
                ..
            } if mailboxes.is_some() || aliases.is_some() || max_quota.is_some() => {
                ("domain limits", domain)
            }
            Self::Quota { domain, .. } => ("domain quota", domain),
            Self::Remove { domain } => ("domain remove", domain),
            Self::AddAlias { alias, .. } => ("domain add-alias", alias),
            Self::RemoveAlias { alias } => ("domain remove-alias", alias),
            Self::List { .. } | Self::Limits { .. } => return None,
        })
    }
}

/// Carries out a `domain` command.
pub(super) async fn run(
    config: &Config,
    accounts: &Accounts,
    command: DomainCommand,
) -> Result<(), AnyError> {
    match command {
        DomainCommand::Add { domain, backup_mx } => {
            let domain = accounts.add_domain(&domain, backup_mx).await?;
            let what = if backup_mx { " as a backup MX" } else { "" };
            println!("added domain {}{what}", shown(&domain));
            // Its DKIM keys (RSA-2048, and Ed25519 unless turned off) exist from now on, so
            // its first message out is signed; `mailserver dns` prints what to publish.
            if !backup_mx {
                crate::dkim::Dkim::from_config(config).ensure_keys(&domain)?;
                println!(
                    "made its DKIM keys: `mailserver dns {domain}` prints the records to publish"
                );
            }
        }
        DomainCommand::List { json } => {
            let domains = accounts.list_domains().await?;
            let aliases = accounts.list_alias_domains().await?;
            if json {
                let mut out: Vec<serde_json::Value> = domains
                    .iter()
                    .map(|d| serde_json::json!({"domain": d.name, "active": d.active, "alias_of": null, "quota": d.quota, "backup_mx": d.backup_mx}))
                    .collect();
                out.extend(
                    aliases.iter().map(
                        |(d, t, a)| serde_json::json!({"domain": d, "active": a, "alias_of": t}),
                    ),
                );
                println!("{}", serde_json::Value::Array(out));
            } else {
                let quota = |q: u64| {
                    if q == 0 {
                        "none".to_owned()
                    } else {
                        q.to_string()
                    }
                };
                let mut rows: Vec<Vec<String>> = domains
                    .iter()
                    .map(|d| {
                        let (name, active) = (display_domain(&d.name), yes_no(d.active));
                        vec![
                            name,
                            active,
                            String::new(),
                            quota(d.quota),
                            yes_no(d.backup_mx),
                        ]
                    })
                    .collect();
                rows.extend(aliases.iter().map(|(d, t, a)| {
                    vec![
                        display_domain(d),
                        yes_no(*a),
                        display_domain(t),
                        String::new(),
                        String::new(),
                    ]
                }));
                print_table(
                    &["DOMAIN", "ACTIVE", "ALIAS OF", "QUOTA", "BACKUP MX"],
                    &rows,
                );
            }
        }
        DomainCommand::Limits {
            domain,
            mailboxes,
            aliases,
            max_quota,
            json,
        } => {
            let max_quota_mb = match max_quota {
                Some(size) => Some(
                    parse_size(&size)
                        .ok_or_else(|| format!("{size:?} is not a size: use e.g. 2G or 0/none"))?
                        .div_ceil(1 << 20) as i64,
                ),
                None => None,
            };
            let (domain, limits) = accounts
                .set_domain_limits(&domain, mailboxes, aliases, max_quota_mb)
                .await?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({"domain": domain, "limits": limits})
                );
            } else {
                let show = |n: i64, unit: &str| match n {
                    0 => "unlimited".to_owned(),
                    n if n < 0 => "none".to_owned(),
                    n => format!("{n}{unit}"),
                };
                println!(
                    "{domain}: mailboxes {}, aliases {}, largest mailbox quota {}",
                    show(limits.mailboxes, ""),
                    show(limits.aliases, ""),
                    if limits.max_quota_mb <= 0 {
                        "unlimited".to_owned()
                    } else {
                        format!("{} MB", limits.max_quota_mb)
                    }
                );
            }
        }
        DomainCommand::Quota { domain, size } => {
            let bytes = parse_size(&size)
                .ok_or_else(|| format!("{size:?} is not a size: use e.g. 50G, 500M, or 0/none"))?;
            match accounts.set_domain_quota(&domain, bytes).await? {
                (domain, 0) => println!("no quota for domain {domain}"),
                (domain, b) => println!("quota for domain {domain}: {b} octets"),
            }
        }
        DomainCommand::Activate { domain } => {
            println!(
                "activated domain {}",
                accounts.set_domain_active(&domain, true).await?
            )
        }
        DomainCommand::Deactivate { domain } => {
            println!(
                "deactivated domain {}",
                accounts.set_domain_active(&domain, false).await?
            )
        }
        DomainCommand::AddAlias { alias, target } => {
            let (alias, target) = accounts.add_alias_domain(&alias, &target).await?;
            println!("added alias domain {alias} -> {target}");
        }
        DomainCommand::RemoveAlias { alias } => {
            println!(
                "removed alias domain {}",
                accounts.remove_alias_domain(&alias, None).await?
            )
        }
        DomainCommand::Remove { domain } => {
            println!("removed domain {}", accounts.remove_domain(&domain).await?)
        }
    }
    Ok(())
}

/// A domain as the admin reads it: `bücher.example (xn--bcher-kva.example)` for an IDN.
fn shown(domain: &str) -> String {
    let unicode = display_domain(domain);
    if unicode == domain {
        domain.to_owned()
    } else {
        format!("{unicode} ({domain})")
    }
}
