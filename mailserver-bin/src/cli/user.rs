//! `mailserver user`: mailboxes, their passwords, quotas and policies.

use clap::Subcommand;

use crate::accounts::{self, Accounts};
use crate::config::{Config, DeletePolicy};
use crate::password::{self, Scheme};

use std::io::{BufRead, IsTerminal};

use tracing::warn;

use super::output::{human_size, parse_size, print_table, yes_no};
use crate::AnyError;

#[derive(Subcommand)]
pub(super) enum UserCommand {
    /// Create a mailbox. Without --password-stdin, a random password is generated and printed.
    Add {
        address: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        /// Password hash scheme (default: accounts.password_scheme).
        #[arg(long, value_enum)]
        scheme: Option<Scheme>,
    },
    /// List mailboxes, optionally of one domain.
    List {
        domain: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Let a user receive mail and log in again.
    Activate { address: String },
    /// Stop a user receiving mail and logging in, keeping the mailbox.
    Deactivate { address: String },
    /// Delete a mailbox account (its mail stays on disk).
    Remove {
        address: String,
        /// Also delete the user's Maildir (all their mail).
        #[arg(long)]
        purge: bool,
    },
    /// Let a user send mail through submission (on) or not (off), as PostfixAdmin's
    /// smtp_active; reading mail stays allowed.
    Smtp { address: String, access: String },
    /// Set a mailbox's quota: a size such as 500M, 2G or 1048576 (octets); 0 or none for no limit.
    Quota { address: String, size: String },
    /// Set how many messages a mailbox may hold (all folders): a number, none for no limit, or
    /// default for `[limits] max_messages_per_mailbox`.
    MessageQuota { address: String, messages: String },
    /// Set a user's own POP3 delete policy: expunge, keep, seen, or default (the server's).
    Pop3Policy {
        address: String,
        #[arg(value_enum)]
        policy: Pop3PolicyArg,
    },
    /// Set from which SpamAssassin score a user's mail goes to Junk (e.g. 3.5), or default
    /// for `[filters] spam_junk_score`.
    SpamScore { address: String, score: String },
    /// Set a mailbox's password.
    Passwd {
        address: String,
        #[arg(long)]
        password_stdin: bool,
        /// Password hash scheme (default: accounts.password_scheme).
        #[arg(long, value_enum)]
        scheme: Option<Scheme>,
    },
}

impl UserCommand {
    /// What the command changes, for the log of changes: its action and the address; `None`
    /// for one that only reads.
    pub(super) fn change(&self) -> Option<(&'static str, &str)> {
        Some(match self {
            Self::Add { address, .. } => ("user add", address),
            Self::Activate { address } => ("user activate", address),
            Self::Deactivate { address } => ("user deactivate", address),
            Self::Remove { address, .. } => ("user remove", address),
            Self::Smtp { address, .. } => ("user smtp", address),
            Self::Quota { address, .. } => ("user quota", address),
            Self::MessageQuota { address, .. } => ("user message-quota", address),
            Self::Pop3Policy { address, .. } => ("user pop3-policy", address),
            Self::SpamScore { address, .. } => ("user spam-score", address),
            Self::Passwd { address, .. } => ("user passwd", address),
            Self::List { .. } => return None,
        })
    }
}

/// What `user pop3-policy` may set.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(super) enum Pop3PolicyArg {
    Expunge,
    Keep,
    Seen,
    /// The server's (`[pop3] delete_policy`).
    Default,
}

/// Carries out a `user` command.
pub(super) async fn run(
    config: &Config,
    accounts: &Accounts,
    command: UserCommand,
) -> Result<(), AnyError> {
    match command {
        UserCommand::Add {
            address,
            password_stdin,
            scheme,
        } => {
            let (hash, generated) = new_password(config, &address, password_stdin, scheme)?;
            let address = accounts.add_user(&address, &hash).await?;
            println!("added user {address}");
            if let Some(password) = generated {
                println!("password: {password}");
            }
        }
        UserCommand::List { domain, json } => list(config, accounts, domain, json).await?,
        UserCommand::Quota { address, size } => {
            let bytes = parse_size(&size).ok_or_else(|| {
                format!("{size:?} is not a size: use e.g. 500M, 2G, 1048576, or 0/none")
            })?;
            let address = accounts.set_quota(&address, bytes).await?;
            match bytes {
                0 => println!("no quota for {address}"),
                b => println!("quota for {address}: {b} octets"),
            }
        }
        UserCommand::MessageQuota { address, messages } => {
            let limit = match messages.as_str() {
                "default" => None,
                "none" | "0" => Some(0),
                n => Some(n.parse::<u64>().map_err(|_| {
                    format!("{n:?} is not a message count: use e.g. 10000, none or default")
                })?),
            };
            let address = accounts.set_message_quota(&address, limit).await?;
            match limit {
                None => println!(
                    "{address} may hold {} messages (the server's default)",
                    match config.limits.max_messages_per_mailbox {
                        0 => "any number of".to_owned(),
                        n => n.to_string(),
                    }
                ),
                Some(0) => println!("no message limit for {address}"),
                Some(n) => println!("{address} may hold {n} messages"),
            }
        }
        UserCommand::Activate { address } => {
            println!(
                "activated user {}",
                accounts.set_user_active(&address, true).await?
            )
        }
        UserCommand::Smtp { address, access } => {
            let allowed = match access.as_str() {
                "on" => true,
                "off" => false,
                other => return Err(format!("{other:?}: say on or off").into()),
            };
            let address = accounts.set_smtp_active(&address, allowed).await?;
            let state = if allowed { "may" } else { "may no longer" };
            println!("{address} {state} send mail through submission");
        }
        UserCommand::Deactivate { address } => {
            println!(
                "deactivated user {}",
                accounts.set_user_active(&address, false).await?
            )
        }
        UserCommand::Remove { address, purge } => {
            let (address, maildir) = accounts.remove_user(&address).await?;
            if purge {
                match std::fs::remove_dir_all(&maildir) {
                    Ok(()) => {
                        println!("removed user {address} and deleted {}", maildir.display())
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        println!("removed user {address} (it had no mail on disk)")
                    }
                    Err(e) => {
                        return Err(format!(
                            "removed user {address}, but could not delete {}: {e}",
                            maildir.display()
                        )
                        .into());
                    }
                }
            } else {
                println!(
                    "removed user {address}; its mail is kept in {}",
                    maildir.display()
                );
            }
        }
        UserCommand::SpamScore { address, score } => {
            let score = match score.as_str() {
                "default" => None,
                n => Some(
                    n.parse::<f64>()
                        .map_err(|_| format!("{n:?} is not a score: use e.g. 3.5, or default"))?,
                ),
            };
            let address = accounts.set_spam_junk_score(&address, score).await?;
            match score {
                Some(s) => println!("{address}'s mail goes to Junk from a spam score of {s:.1}"),
                None => println!(
                    "{address}'s mail goes to Junk from a spam score of {:.1} (the server's)",
                    config.filters.spam_junk_score
                ),
            }
        }
        UserCommand::Pop3Policy { address, policy } => {
            let policy = match policy {
                Pop3PolicyArg::Expunge => Some(DeletePolicy::Expunge),
                Pop3PolicyArg::Keep => Some(DeletePolicy::Keep),
                Pop3PolicyArg::Seen => Some(DeletePolicy::Seen),
                Pop3PolicyArg::Default => None,
            };
            let address = accounts.set_pop3_policy(&address, policy).await?;
            println!(
                "POP3 delete policy for {address}: {}",
                policy.map_or("the server's default", DeletePolicy::as_str)
            );
        }
        UserCommand::Passwd {
            address,
            password_stdin,
            scheme,
        } => {
            let (hash, generated) = new_password(config, &address, password_stdin, scheme)?;
            let address = accounts.set_password(&address, &hash).await?;
            println!("password changed for {address}");
            if let Some(password) = generated {
                println!("password: {password}");
            }
        }
    }
    Ok(())
}

/// `user list`: each mailbox with its usage and limits, as a table or JSON.
async fn list(
    config: &Config,
    accounts: &Accounts,
    domain: Option<String>,
    json: bool,
) -> Result<(), AnyError> {
    let users = accounts.list_users(domain.as_deref()).await?;
    let quotas = accounts.quotas().await?;
    let message_quotas = accounts.message_quotas().await?;
    let with_usage: Vec<_> = users
        .into_iter()
        .map(|(u, m, a)| {
            let quota = quotas.get(&u).copied().unwrap_or(0);
            let limits = config.quota_limits(quota, message_quotas.get(&u.to_lowercase()).copied());
            let md = mailwright_maildir::Maildir::new(&m);
            let used = if md.path().join("cur").is_dir() {
                md.quota_usage(limits)
                    .map(|u| (u.bytes, u.messages))
                    .unwrap_or((0, 0))
            } else {
                (0, 0)
            };
            (u, m, a, limits, used)
        })
        .collect();
    if json {
        let out: Vec<serde_json::Value> = with_usage
            .iter()
            .map(|(u, m, a, limits, (bytes, messages))| {
                serde_json::json!({"address": u, "maildir": m, "active": a,
                    "quota": limits.bytes, "used": bytes,
                    "message_quota": limits.messages, "messages": messages})
            })
            .collect();
        println!("{}", serde_json::Value::Array(out));
    } else {
        let limit = |n: u64, show: fn(u64) -> String| match n {
            0 => "-".to_owned(),
            n => show(n),
        };
        let rows: Vec<Vec<String>> = with_usage
            .iter()
            .map(|(u, m, a, limits, (bytes, messages))| {
                vec![
                    u.clone(),
                    yes_no(*a),
                    human_size((*bytes).max(0) as u64),
                    limit(limits.bytes, human_size),
                    (*messages).max(0).to_string(),
                    limit(limits.messages, |n| n.to_string()),
                    m.clone(),
                ]
            })
            .collect();
        print_table(
            &[
                "ADDRESS", "ACTIVE", "USED", "QUOTA", "MESSAGES", "LIMIT", "MAILDIR",
            ],
            &rows,
        );
    }
    Ok(())
}

/// The password from the first line of standard input, or a generated one (then `true`).
fn read_password(password_stdin: bool) -> Result<(String, bool), AnyError> {
    if !password_stdin {
        return Ok((password::generate()?, true));
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    if password.is_empty() {
        return Err("empty password on standard input".into());
    }
    if std::io::stdin().is_terminal() {
        warn!("the password was typed on a terminal and echoed");
    }
    Ok((password, false))
}

/// The hash of `address`'s new password (read from standard input, or generated: then also
/// the password, to print), in `scheme` or the configured one.
pub(super) fn new_password(
    config: &Config,
    address: &str,
    password_stdin: bool,
    scheme: Option<Scheme>,
) -> Result<(String, Option<String>), AnyError> {
    accounts::normalize_address(address)?;
    let (password, generated) = read_password(password_stdin)?;
    let hash = password::hash(scheme.unwrap_or(config.accounts.password_scheme), &password)?;
    Ok((hash, generated.then_some(password)))
}
