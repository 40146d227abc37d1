//! `mailserver sieve`: users' Sieve scripts, for admins (users edit theirs over ManageSieve
//! or in Roundcube). Stored as Pigeonhole stores them (`~/sieve/NAME.sieve`, the active one
//! by `~/.dovecot.sieve`), so Dovecot and we read the same files.

use std::io::Read;
use std::path::PathBuf;

use clap::Subcommand;
use mailwright_maildir::SieveScripts;
use mailwright_sieve::Script;

use crate::AnyError;
use crate::accounts::{self, Accounts};
use crate::config::Config;

#[derive(Subcommand)]
pub(super) enum SieveCommand {
    /// List a user's scripts; the active one is marked.
    List { user: String },
    /// Print a script.
    Get { user: String, name: String },
    /// Store a script (from FILE, or standard input with `-`) after checking that it
    /// compiles; with --activate, make it the active one.
    Put {
        user: String,
        name: String,
        file: PathBuf,
        #[arg(long)]
        activate: bool,
    },
    /// Make a script the active one (the one run at delivery).
    Activate { user: String, name: String },
    /// Make no script active.
    Deactivate { user: String },
    /// Delete a script (not the active one).
    Delete { user: String, name: String },
    /// Check that a script file compiles, saying where it does not.
    Check { file: PathBuf },
}

fn read_source(file: &std::path::Path) -> Result<String, AnyError> {
    let mut text = String::new();
    if file.as_os_str() == "-" {
        std::io::stdin().read_to_string(&mut text)?;
    } else {
        text = std::fs::read_to_string(file)
            .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    }
    Ok(text)
}

fn compile(config: &Config, text: &str) -> Result<Script, AnyError> {
    Script::compile(text, &crate::sieve::limits(&config.sieve))
        .map_err(|e| format!("the script does not compile: {e}").into())
}

pub(super) async fn run(
    config: &Config,
    accounts: &Accounts,
    command: SieveCommand,
) -> Result<(), AnyError> {
    if let SieveCommand::Check { file } = &command {
        let script = compile(config, &read_source(file)?)?;
        println!("ok; requires: {}", script.required().join(", "));
        return Ok(());
    }
    let user = match &command {
        SieveCommand::List { user }
        | SieveCommand::Get { user, .. }
        | SieveCommand::Put { user, .. }
        | SieveCommand::Activate { user, .. }
        | SieveCommand::Deactivate { user }
        | SieveCommand::Delete { user, .. } => accounts::normalize_address(user)?,
        SieveCommand::Check { .. } => unreachable!("answered above"),
    };
    let mailbox = accounts
        .mailbox(&user)
        .await?
        .ok_or_else(|| format!("no mailbox {user}"))?;
    let scripts = SieveScripts::new(&mailbox.maildir);
    match command {
        SieveCommand::List { .. } => {
            for (name, active) in scripts.list()? {
                println!("{name}{}", if active { "  (active)" } else { "" });
            }
        }
        SieveCommand::Get { name, .. } => {
            let text = scripts
                .read(&name)?
                .ok_or_else(|| format!("no script {name:?}"))?;
            print!("{}", String::from_utf8_lossy(&text));
        }
        SieveCommand::Put {
            name,
            file,
            activate,
            ..
        } => {
            let text = read_source(&file)?;
            compile(config, &text)?;
            scripts.put(&name, text.as_bytes())?;
            if activate {
                scripts.activate(Some(&name))?;
            }
            println!("stored {name}{}", if activate { " (active)" } else { "" });
        }
        SieveCommand::Activate { name, .. } => scripts.activate(Some(&name))?,
        SieveCommand::Deactivate { .. } => scripts.activate(None)?,
        SieveCommand::Delete { name, .. } => scripts.delete(&name)?,
        SieveCommand::Check { .. } => {}
    }
    Ok(())
}
