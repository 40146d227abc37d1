//! The `mailserver` command line: the argument types, and one file per command group. The
//! commands call into `accounts` (mailbox, domain and alias writes), `queue::admin`, `dns`
//! and the `daemon`; nothing else uses this module.

mod alias;
mod domain;
mod queue;
mod quota;
mod user;

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tracing::warn;

use crate::AnyError;
use crate::accounts::{self, Accounts};
use crate::config::{self, Config};
use crate::{daemon, dns, password};

#[derive(Parser)]
#[command(
    name = "mailserver",
    version,
    about = "A mail server: SMTP into Maildir, with an admin CLI"
)]
pub struct Cli {
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
        command: domain::DomainCommand,
    },
    /// Manage mailboxes.
    User {
        #[command(subcommand)]
        command: user::UserCommand,
    },
    /// Manage aliases, catch-alls (`@domain`) and forwards.
    Alias {
        #[command(subcommand)]
        command: alias::AliasCommand,
    },
    /// Make DOMAIN's DKIM keys when missing and print the DNS records to publish for it (MX,
    /// SPF, DKIM, DMARC, client SRV), in zone-file syntax.
    Dns { domain: String },
    /// Look at and steer the outbound queue.
    Queue {
        #[command(subcommand)]
        command: queue::QueueCommand,
    },
    /// Mailbox quota usage.
    Quota {
        #[command(subcommand)]
        command: quota::QuotaCommand,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print the full default configuration, with comments.
    Default,
    /// Load the configuration and report errors.
    Check,
}

/// Parses the arguments and runs the command; the process's exit status.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mailserver: error: {e}");
            ExitCode::FAILURE
        }
    }
}

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
            daemon::init_logging();
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            runtime.block_on(daemon::serve(config))
        }
        Command::Config { .. } => {
            println!("configuration is valid; hostname {}", config.hostname);
            Ok(())
        }
        Command::Queue { command } => queue::run(&config, command),
        command => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(admin(config, command))
        }
    }
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
        Command::Domain { command } => domain::run(accounts, command).await?,
        Command::User { command } => user::run(config, accounts, command).await?,
        Command::Alias { command } => alias::run(accounts, command).await?,
        Command::Dns { domain } => {
            let domain = accounts::normalize_domain(&domain)?;
            if !accounts.is_local_domain(&domain).await? {
                return Err(format!(
                    "{domain} is not one of our domains; add it with `mailserver domain add {domain}`"
                )
                .into());
            }
            print!("{}", dns::records(config, &domain)?);
        }
        Command::Quota {
            command: quota::QuotaCommand::Recalc { addresses, all },
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
