//! The `mailserver` command line: the argument types, and one file per command group. The
//! commands call into `accounts` (mailbox, domain and alias writes), `queue::admin`, `guard::bans`, `dns`
//! and the `daemon`; nothing else uses this module.

mod admin;
mod alias;
mod backup;
mod ban;
mod domain;
mod list;
mod output;
mod queue;
mod quota;
mod sieve;
mod status;
mod user;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::AnyError;
use crate::accounts::{self, Accounts};
use crate::config::{self, Config};
use crate::{daemon, dns, privileges};

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
    /// Web console administrators: global, or of some domains (PostfixAdmin's `admin` and
    /// `domain_admins`).
    Admin {
        #[command(subcommand)]
        command: admin::AdminCommand,
    },
    /// Bearer tokens of the JSON API (`/api/`), each acting for an admin.
    Token {
        #[command(subcommand)]
        command: admin::TokenCommand,
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
    /// Manage mailing lists and their members.
    List {
        #[command(subcommand)]
        command: list::ListCommand,
    },
    /// Make DOMAIN's DKIM keys when missing and print the DNS records to publish for it (MX,
    /// SPF, DKIM, DMARC, client SRV), in zone-file syntax.
    Dns { domain: String },
    /// Look at and steer the outbound queue.
    Queue {
        #[command(subcommand)]
        command: queue::QueueCommand,
    },
    /// Addresses banned for password guessing: list, add, lift.
    Ban {
        #[command(subcommand)]
        command: ban::BanCommand,
    },
    /// Mailbox quota usage.
    Quota {
        #[command(subcommand)]
        command: quota::QuotaCommand,
    },
    /// Users' Sieve scripts (as Dovecot's Pigeonhole keeps them): list, get, put, activate,
    /// deactivate, delete, check.
    Sieve {
        #[command(subcommand)]
        command: sieve::SieveCommand,
    },
    /// Snapshot the data directory, the accounts database and the configuration into
    /// `DEST/<time>/`, hard-linking mail unchanged since the previous snapshot there; or, with
    /// --verify, check the snapshot DEST against its manifest.
    Backup {
        dest: PathBuf,
        /// Check the snapshot DEST instead of making one.
        #[arg(long)]
        verify: bool,
    },
    /// What an admin checks first: the running server's version, uptime, listeners,
    /// sessions, queue, free space, certificate and backend (from its `[listen] http`), and
    /// each domain's DNS records compared with ours. Exits non-zero when something needs
    /// attention.
    Status {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Restore SNAPSHOT into the configured data directory (which must be empty) and SQLite
    /// accounts database (which must not exist). The server must not be running.
    Restore { snapshot: PathBuf },
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
            privileges::private_files();
            let bound = daemon::bind(&config)?;
            // Before the runtime's threads exist: see `privileges`.
            privileges::drop_for_daemon(&config)?;
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            runtime.block_on(daemon::serve(config, cli.config, bound))
        }
        Command::Config { .. } => {
            println!("configuration is valid; hostname {}", config.hostname);
            Ok(())
        }
        Command::Queue { command } => {
            privileges::drop_for_command(&config)?;
            let change = command.change();
            queue::run(&config, command)?;
            record_without_accounts(&config, change)
        }
        Command::Ban { command } => {
            privileges::drop_for_command(&config)?;
            let change = command.change();
            ban::run(&config, command)?;
            record_without_accounts(&config, change)
        }
        Command::Backup { dest, verify: true } => {
            privileges::drop_for_command(&config)?;
            backup::verify_command(&dest)
        }
        Command::Restore { snapshot } => {
            privileges::drop_for_command(&config)?;
            backup::restore_command(&config, &snapshot)
        }
        command => {
            privileges::drop_for_command(&config)?;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(admin(config, cli.config, command))
        }
    }
}

async fn admin(
    config: Config,
    config_path: Option<PathBuf>,
    command: Command,
) -> Result<(), AnyError> {
    let accounts = Accounts::open(&config.accounts_url()?, &config.mail_root()).await?;
    let result = admin_command(&config, config_path.as_deref(), &accounts, command).await;
    accounts.close().await;
    result
}

/// What `command` changes, for the log of changes: its action and the domain it concerns
/// (none for the server's admins and tokens); `None` for a command that only reads.
fn change_of(command: &Command) -> Option<(&'static str, String)> {
    let of_target = |(action, target): (&'static str, &str)| {
        (action, accounts::domain_of(target).trim().to_lowercase())
    };
    match command {
        Command::Admin { command } => command.change().map(|a| (a, String::new())),
        Command::Token { command } => command.change().map(|a| (a, String::new())),
        Command::Domain { command } => command.change().map(of_target),
        Command::User { command } => command.change().map(of_target),
        Command::Alias { command } => command.change().map(of_target),
        Command::List { command } => command.change().map(of_target),
        _ => None,
    }
}

/// Records a change the CLI made in the log of changes, as PostfixAdmin's CLI does (who:
/// `CLI`, with the login that ran it): the action, and the command line as typed (passwords
/// never are on it: they come from standard input).
async fn record_change(accounts: &Accounts, (action, domain): (&str, String)) {
    let login = std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| format!("uid {}", rustix::process::getuid().as_raw()));
    let typed: Vec<String> = std::env::args().skip(1).collect();
    accounts
        .audit("CLI", &login, &domain, action, &typed.join(" "))
        .await;
}

/// Records `change` in the log of changes for a command that works without the accounts
/// database (the queue, the bans): what it did is done whether or not the database answers,
/// and a change it could not record is said on standard error.
fn record_without_accounts(config: &Config, change: Option<&'static str>) -> Result<(), AnyError> {
    let Some(action) = change else {
        return Ok(());
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let url = config.accounts_url()?;
        match Accounts::open(&url, &config.mail_root()).await {
            Ok(accounts) => {
                record_change(&accounts, (action, String::new())).await;
                accounts.close().await;
            }
            Err(e) => eprintln!("warning: not recorded in the log of changes: {e}"),
        }
        Ok(())
    })
}

async fn admin_command(
    config: &Config,
    config_path: Option<&std::path::Path>,
    accounts: &Accounts,
    command: Command,
) -> Result<(), AnyError> {
    let change = change_of(&command);
    admin_command_run(config, config_path, accounts, command).await?;
    if let Some(change) = change {
        record_change(accounts, change).await;
    }
    Ok(())
}

async fn admin_command_run(
    config: &Config,
    config_path: Option<&std::path::Path>,
    accounts: &Accounts,
    command: Command,
) -> Result<(), AnyError> {
    match command {
        Command::Admin { command } => admin::run(config, accounts, command).await?,
        Command::Token { command } => admin::run_token(accounts, command).await?,
        Command::Domain { command } => domain::run(config, accounts, command).await?,
        Command::User { command } => user::run(config, accounts, command).await?,
        Command::Alias { command } => alias::run(accounts, command).await?,
        Command::List { command } => list::run(accounts, command).await?,
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
        Command::Status { json } => status::run(config, accounts, json).await?,
        Command::Sieve { command } => sieve::run(config, accounts, command).await?,
        Command::Backup { dest, .. } => {
            backup::make_command(config, config_path, accounts, &dest).await?
        }
        Command::Serve
        | Command::Config { .. }
        | Command::Queue { .. }
        | Command::Ban { .. }
        | Command::Restore { .. } => {}
    }
    Ok(())
}
