//! `mailserver`: the daemon (`serve`) and its admin commands.

mod accounts;
mod config;
mod conn;
mod delivery;
mod directory;
mod disk;
mod dkim;
mod imap;
mod mail;
mod owner;
mod password;
mod pop3;
mod queue;
mod quota;
mod smtp;
mod srs;
mod tls;

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use clap::{Parser, Subcommand};
use tokio::sync::watch;
use tracing::{error, info, warn};

use crate::accounts::Accounts;
use crate::config::Config;
use crate::password::Scheme;

/// jemalloc, with its background thread purging freed pages: with glibc's allocator, ten IMAP
/// sessions that synced a 100,000-message INBOX left the process at 106 MB after they had all
/// logged out and their folder's caches were dropped (freed small allocations kept whole
/// heaps resident); see tests/imap_memory.rs.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// How long sessions in the middle of a message get to finish after SIGTERM.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

#[derive(Parser)]
#[command(
    name = "mailserver",
    version,
    about = "A mail server: SMTP into Maildir, with an admin CLI"
)]
struct Cli {
    /// Configuration file (TOML). Without it, the embedded defaults are used.
    #[arg(short = 'c', long = "config", global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve,
    /// Show or check the configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Manage the domains we receive mail for.
    Domain {
        #[command(subcommand)]
        command: DomainCommand,
    },
    /// Manage mailboxes.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage aliases, catch-alls (`@domain`) and forwards.
    Alias {
        #[command(subcommand)]
        command: AliasCommand,
    },
    /// Make DOMAIN's DKIM keys when missing and print the DNS records to publish for it (MX,
    /// SPF, DKIM, DMARC, client SRV), in zone-file syntax.
    Dns { domain: String },
    /// Look at and steer the outbound queue.
    Queue {
        #[command(subcommand)]
        command: QueueCommand,
    },
    /// Mailbox quota usage.
    Quota {
        #[command(subcommand)]
        command: QuotaCommand,
    },
}

#[derive(Subcommand)]
enum QuotaCommand {
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

#[derive(Subcommand)]
enum QueueCommand {
    /// List queued messages.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show a message's envelope, each recipient's state, and its header.
    Show { id: String },
    /// Try every message now (those on hold stay).
    Flush,
    /// Try one message now.
    Retry { id: String },
    /// Delete a message from the queue, undelivered and without a bounce.
    Remove { id: String },
    /// Keep a message in the queue without trying it until `release`.
    Hold { id: String },
    /// Let a held message be tried again, now.
    Release { id: String },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print the full default configuration, with comments.
    Default,
    /// Load the configuration and report errors.
    Check,
}

#[derive(Subcommand)]
enum DomainCommand {
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

#[derive(Subcommand)]
enum UserCommand {
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
    /// default for [limits] max_messages_per_mailbox.
    MessageQuota { address: String, messages: String },
    /// Set a user's own POP3 delete policy: expunge, keep, seen, or default (the server's).
    Pop3Policy { address: String, policy: String },
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

#[derive(Subcommand)]
enum AliasCommand {
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

/// Binds one configured listener, saying which when it cannot.
async fn listen(
    addr: &std::net::SocketAddr,
    name: &str,
) -> Result<tokio::net::TcpListener, String> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr} ({name}): {e}"))?;
    info!(%addr, "listening for {name}");
    Ok(listener)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mailserver: error: {e}");
            ExitCode::FAILURE
        }
    }
}

type AnyError = Box<dyn std::error::Error + Send + Sync>;

fn run(cli: Cli) -> Result<(), AnyError> {
    if let Command::Config {
        command: ConfigCommand::Default,
    } = cli.command
    {
        print!("{}", config::DEFAULT_CONFIG);
        return Ok(());
    }
    let config = Config::load(cli.config.as_deref())?;
    match cli.command {
        Command::Serve => {
            init_logging();
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            runtime.block_on(serve(config))
        }
        Command::Config { .. } => {
            println!("configuration is valid; hostname {}", config.hostname);
            Ok(())
        }
        Command::Queue { command } => queue_command(&config, command),
        command => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(admin(config, command))
        }
    }
}

/// The zone-file lines for `domain`; DKIM keys are made first when missing.
fn dns_records(config: &Config, domain: &str) -> Result<String, AnyError> {
    let dkim = dkim::Dkim::new(&config.data_dir, &config.dkim.selector, config.dkim.ed25519);
    let keys = dkim.ensure_keys(domain)?;
    let ttl = config.dns.ttl;
    let host = &config.hostname;
    let fill = |t: &str| t.replace("{domain}", domain).replace("{hostname}", host);
    // TXT strings hold at most 255 octets each (RFC 1035 §3.3).
    let txt = |value: &str| -> String {
        let parts: Vec<String> = value
            .as_bytes()
            .chunks(250)
            .map(|c| format!("\"{}\"", String::from_utf8_lossy(c)))
            .collect();
        if parts.len() == 1 {
            parts[0].clone()
        } else {
            format!("( {} )", parts.join(" "))
        }
    };
    let mut out = format!("; DNS records for {domain}: publish them in its zone.\n");
    out.push_str(&format!(
        "; {host} also needs A/AAAA records, and its addresses a PTR back to {host}.\n"
    ));
    out.push_str(&format!("{domain}.\t{ttl}\tIN\tMX\t10 {host}.\n"));
    out.push_str(&format!(
        "{domain}.\t{ttl}\tIN\tTXT\t{}\n",
        txt(&fill(&config.dns.spf))
    ));
    let (selector, key) = &keys.rsa;
    out.push_str(&format!(
        "{selector}._domainkey.{domain}.\t{ttl}\tIN\tTXT\t{}\n",
        txt(&format!("v=DKIM1; k=rsa; p={key}"))
    ));
    if let Some((selector, key)) = &keys.ed25519 {
        out.push_str(&format!(
            "{selector}._domainkey.{domain}.\t{ttl}\tIN\tTXT\t{}\n",
            txt(&format!("v=DKIM1; k=ed25519; p={key}"))
        ));
    }
    out.push_str(&format!(
        "_dmarc.{domain}.\t{ttl}\tIN\tTXT\t{}\n",
        txt(&fill(&config.dns.dmarc))
    ));
    out.push_str(
        "; Where mail programs find the server (RFC 6186, RFC 8314); \".\" means not offered.\n",
    );
    let listen = &config.listen;
    for (service, addrs) in [
        ("submissions", &listen.submissions),
        ("submission", &listen.submission),
        ("imaps", &listen.imaps),
        ("imap", &listen.imap),
        ("pop3s", &listen.pop3s),
        ("pop3", &listen.pop3),
    ] {
        let target = match addrs.first() {
            Some(a) => format!("0 1 {} {host}.", a.port()),
            None => "0 0 0 .".to_owned(),
        };
        out.push_str(&format!(
            "_{service}._tcp.{domain}.\t{ttl}\tIN\tSRV\t{target}\n"
        ));
    }
    Ok(out)
}

fn queue_command(config: &Config, command: QueueCommand) -> Result<(), AnyError> {
    // Never recovers or creates anything: the daemon may be writing this queue right now.
    let spool = queue::spool::Spool::at(&config.data_dir.join("queue"));
    use queue::admin;
    match command {
        QueueCommand::List { json } => {
            let rows = admin::rows(&spool)?;
            let headers = [
                "id",
                "size",
                "age",
                "attempts",
                "next",
                "from",
                "to",
                "state",
                "last reply",
            ];
            if json {
                let list: Vec<serde_json::Value> = rows
                    .iter()
                    .map(|r| {
                        serde_json::Value::Object(
                            headers
                                .iter()
                                .zip(r)
                                .map(|(h, v)| (h.replace(' ', "_"), v.clone().into()))
                                .collect(),
                        )
                    })
                    .collect();
                println!("{}", serde_json::Value::Array(list));
            } else if rows.is_empty() {
                println!("the queue is empty");
            } else {
                print_table(&headers, &rows);
            }
        }
        QueueCommand::Show { id } => print!("{}", admin::show(&spool, &id)?),
        QueueCommand::Flush => println!("{} messages to be tried now", admin::flush(&spool)?),
        QueueCommand::Retry { id } => {
            admin::update(&spool, &id, |m| m.next_attempt = 0)?;
            println!("{id} will be tried now");
        }
        QueueCommand::Remove { id } => {
            admin::remove(&spool, &id)?;
            println!("removed {id}");
        }
        QueueCommand::Hold { id } => {
            admin::update(&spool, &id, |m| m.hold = true)?;
            println!("{id} is on hold");
        }
        QueueCommand::Release { id } => {
            admin::update(&spool, &id, |m| {
                m.hold = false;
                m.next_attempt = 0;
            })?;
            println!("{id} released");
        }
    }
    Ok(())
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("MAILSERVER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
}

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

async fn admin(config: Config, command: Command) -> Result<(), AnyError> {
    let accounts = Accounts::open(&config.accounts_url(), &config.mail_root()).await?;
    let result = admin_command(&config, &accounts, command).await;
    accounts.close().await;
    result
}

async fn admin_command(
    config: &Config,
    accounts: &Accounts,
    command: Command,
) -> Result<(), AnyError> {
    match command {
        Command::Domain { command } => match command {
            DomainCommand::Add { domain, backup_mx } => {
                let domain = accounts.add_domain(&domain, backup_mx).await?;
                let what = if backup_mx { " as a backup MX" } else { "" };
                println!("added domain {domain}{what}")
            }
            DomainCommand::List { json } => {
                let domains = accounts.list_domains().await?;
                let aliases = accounts.list_alias_domains().await?;
                if json {
                    let mut out: Vec<serde_json::Value> = domains
                        .iter()
                        .map(|d| serde_json::json!({"domain": d.name, "active": d.active, "alias_of": null, "quota": d.quota, "backup_mx": d.backup_mx}))
                        .collect();
                    out.extend(aliases.iter().map(
                        |(d, t, a)| serde_json::json!({"domain": d, "active": a, "alias_of": t}),
                    ));
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
                            let (name, active) = (d.name.clone(), yes_no(d.active));
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
                            d.clone(),
                            yes_no(*a),
                            t.clone(),
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
                            .ok_or_else(|| {
                                format!("{size:?} is not a size: use e.g. 2G or 0/none")
                            })?
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
                let bytes = parse_size(&size).ok_or_else(|| {
                    format!("{size:?} is not a size: use e.g. 50G, 500M, or 0/none")
                })?;
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
                    accounts.remove_alias_domain(&alias).await?
                )
            }
            DomainCommand::Remove { domain } => {
                println!("removed domain {}", accounts.remove_domain(&domain).await?)
            }
        },
        Command::User { command } => match command {
            UserCommand::Add {
                address,
                password_stdin,
                scheme,
            } => {
                accounts::normalize_address(&address)?;
                let (password, generated) = read_password(password_stdin)?;
                let hash =
                    password::hash(scheme.unwrap_or(config.accounts.password_scheme), &password)?;
                let address = accounts.add_user(&address, &hash).await?;
                println!("added user {address}");
                if generated {
                    println!("password: {password}");
                }
            }
            UserCommand::List { domain, json } => {
                let users = accounts.list_users(domain.as_deref()).await?;
                let quotas = accounts.quotas().await?;
                let message_quotas = accounts.message_quotas().await?;
                let with_usage: Vec<_> = users
                    .into_iter()
                    .map(|(u, m, a)| {
                        let quota = quotas.get(&u).copied().unwrap_or(0);
                        let limits = config
                            .quota_limits(quota, message_quotas.get(&u.to_lowercase()).copied());
                        let md = maildir::Maildir::new(&m);
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
            }
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
            UserCommand::Pop3Policy { address, policy } => {
                let value = match policy.as_str() {
                    "default" => None,
                    p => Some(
                        config::DeletePolicy::parse(p)
                            .ok_or_else(|| format!("unknown POP3 delete policy {p:?}: use expunge, keep, seen or default"))?
                            .as_str(),
                    ),
                };
                let address = accounts.set_pop3_policy(&address, value).await?;
                println!(
                    "POP3 delete policy for {address}: {}",
                    value.unwrap_or("the server's default")
                );
            }
            UserCommand::Passwd {
                address,
                password_stdin,
                scheme,
            } => {
                accounts::normalize_address(&address)?;
                let (password, generated) = read_password(password_stdin)?;
                let hash =
                    password::hash(scheme.unwrap_or(config.accounts.password_scheme), &password)?;
                let address = accounts.set_password(&address, &hash).await?;
                println!("password changed for {address}");
                if generated {
                    println!("password: {password}");
                }
            }
        },
        Command::Alias { command } => match command {
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
        },
        Command::Dns { domain } => {
            let domain = accounts::normalize_domain(&domain)?;
            if !accounts.is_local_domain(&domain).await? {
                return Err(format!(
                    "{domain} is not one of our domains; add it with `mailserver domain add {domain}`"
                )
                .into());
            }
            print!("{}", dns_records(config, &domain)?);
        }
        Command::Quota {
            command: QuotaCommand::Recalc { addresses, all },
        } => quota::recalc(config, accounts, &addresses, all).await?,
        Command::Serve | Command::Config { .. } | Command::Queue { .. } => {}
    }
    Ok(())
}

/// `500M`, `2G`, `100K`, `1048576` (octets), or `0`/`none`.
fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("none") || s.eq_ignore_ascii_case("unlimited") {
        return Some(0);
    }
    let (digits, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = digits.parse().ok()?;
    let factor: u64 = match unit.to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" => 1 << 10,
        "M" | "MB" => 1 << 20,
        "G" | "GB" => 1 << 30,
        "T" | "TB" => 1 << 40,
        _ => return None,
    };
    n.checked_mul(factor)
}

fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "K", "M", "G", "T"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes}B")
    } else {
        format!("{value:.1}{}", UNITS[unit])
    }
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_owned()
}

/// Prints rows under a header, columns padded to their widest cell.
fn print_table(headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(headers.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

async fn serve(config: Config) -> Result<(), AnyError> {
    // Freed memory goes back to the system within seconds, also while the server is idle.
    if let Err(e) = tikv_jemalloc_ctl::background_thread::write(true) {
        warn!(error = %e, "could not start the allocator's purging thread");
    }
    let config = Arc::new(config);
    // Held until the process ends: only this process recovers and cleans the stores.
    let owner = owner::Owner::acquire(&config.data_dir)?;
    std::fs::create_dir_all(config.mail_root())
        .map_err(|e| format!("cannot create {}: {e}", config.mail_root().display()))?;
    let accounts = Accounts::open(&config.accounts_url(), &config.mail_root())
        .await?
        .with_cache_ttl(std::time::Duration::from_secs(config.accounts.cache_ttl))
        .with_decoy_scheme(config.accounts.password_scheme);
    let accounts = match &config.ldap {
        Some(ldap) => accounts.with_directory(directory::Directory::new(
            ldap.clone(),
            &config.mail_root(),
        )?),
        None => accounts,
    };
    let tls = tls::server_config(&config)?;
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let spool = queue::spool::Spool::recover(&config.data_dir.join("queue"), &owner)?;
    let transport =
        queue::relay::Transport::new(&config, tls::client_config(&config.relay.ca_file)?)
            .map_err(|_| format!("hostname {:?} cannot be used in EHLO", config.hostname))?;
    let next_hop = match queue::relay::Hop::relay(&config) {
        Some(hop) => queue::NextHop::Relay(hop),
        // A machine without usable resolvers still receives and serves mail; outbound mail
        // waits in the queue, saying why.
        None => queue::NextHop::Mx {
            resolver: queue::mx::MxResolver::new(&config.relay.nameservers, &config.hostname)
                .map(Box::new)
                .map_err(|e| {
                    warn!(error = %e, "no DNS resolver for MX lookups; outbound mail will wait");
                    e
                }),
            port: config.relay.mx_port,
        },
    };
    let dkim = Arc::new(dkim::Dkim::new(
        &config.data_dir,
        &config.dkim.selector,
        config.dkim.ed25519,
    ));
    let outbound = Arc::new(queue::Queue::new(
        spool,
        config.clone(),
        accounts.clone(),
        transport,
        next_hop,
        dkim,
    ));
    let srs = if config.srs.enabled {
        let domain = if config.srs.domain.is_empty() {
            &config.hostname
        } else {
            &config.srs.domain
        };
        let path = config.data_dir.join("srs.secret");
        Some(
            srs::Srs::load_or_create(&path, domain)
                .map_err(|e| format!("cannot read or create {}: {e}", path.display()))?,
        )
    } else {
        None
    };
    // Every protocol's connections together, within the open-file limit (raised to the hard
    // limit here), so the process never runs out of descriptors.
    let process_slots = Arc::new(tokio::sync::Semaphore::new(conn::fd_budget(
        config.limits.max_total_connections,
    )));
    let service = Arc::new(smtp::SmtpService::new(
        config.clone(),
        accounts.clone(),
        Some(acceptor.clone()),
        outbound.clone(),
        srs.clone(),
        process_slots.clone(),
    ));
    let submission_service = Arc::new(smtp::SmtpService::submission(
        config.clone(),
        accounts.clone(),
        Some(acceptor.clone()),
        outbound.clone(),
        srs,
        service.active.clone(),
        process_slots.clone(),
    ));
    // One set of folder listings for IMAP and POP3, so each sees the other's changes cheaply.
    let listings = Arc::new(maildir::ListingCache::new(config.imap.listing_cache));
    let pop3_service = Arc::new(pop3::Pop3Service::new(
        config.clone(),
        accounts.clone(),
        acceptor.clone(),
        service.active.clone(),
        Arc::clone(&listings),
        process_slots.clone(),
    ));
    let imap_service = Arc::new(imap::ImapService::new(
        config.clone(),
        accounts.clone(),
        acceptor,
        service.active.clone(),
        Arc::clone(&listings),
        process_slots,
    ));

    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let mut listeners = Vec::new();
    for (addrs, smtp_service, implicit_tls, name) in [
        (&config.listen.smtp, &service, false, "smtp"),
        (
            &config.listen.submission,
            &submission_service,
            false,
            "submission",
        ),
        (
            &config.listen.submissions,
            &submission_service,
            true,
            "submissions",
        ),
    ] {
        for addr in addrs {
            let listener = listen(addr, name).await?;
            listeners.push(tokio::spawn(smtp::serve(
                listener,
                smtp_service.clone(),
                implicit_tls,
                shutdown_rx.clone(),
            )));
        }
    }
    let queue_runner = tokio::spawn(outbound.clone().run(shutdown_rx.clone()));
    for (addrs, implicit_tls, name) in [
        (&config.listen.pop3, false, "pop3"),
        (&config.listen.pop3s, true, "pop3s"),
    ] {
        for addr in addrs {
            let listener = listen(addr, name).await?;
            listeners.push(tokio::spawn(pop3::serve(
                listener,
                pop3_service.clone(),
                implicit_tls,
                shutdown_rx.clone(),
            )));
        }
    }
    for (addrs, implicit_tls, name) in [
        (&config.listen.imap, false, "imap"),
        (&config.listen.imaps, true, "imaps"),
    ] {
        for addr in addrs {
            let listener = listen(addr, name).await?;
            listeners.push(tokio::spawn(imap::serve(
                listener,
                imap_service.clone(),
                implicit_tls,
                shutdown_rx.clone(),
            )));
        }
    }
    if listeners.is_empty() {
        warn!("no listeners configured; nothing to do");
    }
    info!(hostname = %config.hostname, data_dir = %config.data_dir.display(), "mailserver ready");

    wait_for_signal().await?;
    info!("shutting down: no new connections; open sessions finish their current message");
    let _ = shutdown_tx.send(true);
    for l in listeners {
        let _ = l.await;
    }
    let _ = queue_runner.await;
    let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
    while (service.active.load(Ordering::SeqCst) > 0 || outbound.busy() > 0)
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let left = service.active.load(Ordering::SeqCst);
    if left > 0 {
        error!(
            sessions = left,
            "grace period over; aborting sessions (unacknowledged messages are discarded)"
        );
    }
    accounts.close().await;
    // The first look at each large folder after a restart then reads one file, not cur/.
    let _ = tokio::task::spawn_blocking(move || listings.save_all()).await;
    info!("stopped");
    Ok(())
}

async fn wait_for_signal() -> Result<(), AnyError> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => info!("SIGTERM received"),
        _ = int.recv() => info!("SIGINT received"),
    }
    Ok(())
}
