//! `mailserver admin`: who may log in to the web console, and which domains they manage.

use clap::Subcommand;

use crate::AnyError;
use crate::accounts::Accounts;
use crate::config::Config;
use crate::password::Scheme;

use super::output::print_table;
use super::user::new_password;

#[derive(Subcommand)]
pub(super) enum AdminCommand {
    /// Add a console administrator (a mail address as the login): global with --global, else
    /// of each --domain. Without --password-stdin, a random password is generated and printed.
    Add {
        username: String,
        /// Manages every domain and the server's settings.
        #[arg(long)]
        global: bool,
        /// A domain this admin manages (repeat for more).
        #[arg(long = "domain")]
        domains: Vec<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        /// Password hash scheme (default: accounts.password_scheme).
        #[arg(long, value_enum)]
        scheme: Option<Scheme>,
    },
    /// List the administrators and their domains.
    List,
    /// Remove an administrator.
    Remove { username: String },
}

impl AdminCommand {
    /// What the command changes, for the log of changes (the server's own, of no domain).
    pub(super) fn change(&self) -> Option<&'static str> {
        match self {
            Self::Add { .. } => Some("admin add"),
            Self::Remove { .. } => Some("admin remove"),
            Self::List => None,
        }
    }
}

/// Carries out an `admin` command.
pub(super) async fn run(
    config: &Config,
    accounts: &Accounts,
    command: AdminCommand,
) -> Result<(), AnyError> {
    match command {
        AdminCommand::Add {
            username,
            global,
            domains,
            password_stdin,
            scheme,
        } => {
            if global != domains.is_empty() {
                return Err("give either --global or at least one --domain".into());
            }
            let (hash, generated) = new_password(config, &username, password_stdin, scheme)?;
            let username = accounts
                .add_admin(&username, &hash, global, &domains)
                .await?;
            println!("added admin {username}");
            if let Some(password) = generated {
                println!("password: {password}");
            }
        }
        AdminCommand::List => {
            let rows: Vec<Vec<String>> = accounts
                .list_admins()
                .await?
                .into_iter()
                .map(|a| {
                    let scope = if a.global {
                        "all domains".to_owned()
                    } else {
                        a.domains.join(", ")
                    };
                    vec![a.username, scope]
                })
                .collect();
            print_table(&["ADMIN", "MANAGES"], &rows);
        }
        AdminCommand::Remove { username } => {
            let username = accounts.remove_admin(&username).await?;
            println!("removed admin {username}");
        }
    }
    Ok(())
}

#[derive(Subcommand)]
pub(super) enum TokenCommand {
    /// Make a bearer token for the JSON API acting for ADMIN (read-only unless --write);
    /// it is printed once.
    Add {
        admin: String,
        /// What it is for, shown by `list`.
        #[arg(long, default_value = "")]
        name: String,
        /// Let it change things too.
        #[arg(long)]
        write: bool,
    },
    /// List the tokens (never their secrets).
    List,
    /// Revoke a token.
    Remove { id: String },
}

impl TokenCommand {
    /// What the command changes, for the log of changes (the server's own, of no domain).
    pub(super) fn change(&self) -> Option<&'static str> {
        match self {
            Self::Add { .. } => Some("token add"),
            Self::Remove { .. } => Some("token remove"),
            Self::List => None,
        }
    }
}

/// Carries out a `token` command.
pub(super) async fn run_token(accounts: &Accounts, command: TokenCommand) -> Result<(), AnyError> {
    match command {
        TokenCommand::Add { admin, name, write } => {
            let token = accounts.add_token(&admin, &name, write).await?;
            println!("{token}");
        }
        TokenCommand::List => {
            let rows: Vec<Vec<String>> = accounts
                .list_tokens()
                .await?
                .into_iter()
                .map(|t| {
                    let scope = if t.write { "read, write" } else { "read" };
                    vec![t.id, t.admin, scope.to_owned(), t.name]
                })
                .collect();
            print_table(&["ID", "ADMIN", "SCOPE", "NAME"], &rows);
        }
        TokenCommand::Remove { id } => {
            accounts.remove_token(&id).await?;
            println!("revoked token {id}");
        }
    }
    Ok(())
}
