//! `mailserver queue`: looking at and steering the outbound queue (never recovering or
//! creating anything: the daemon may be writing the queue right now).

use clap::Subcommand;

use crate::config::Config;
use crate::queue;

use super::output::print_list;
use crate::AnyError;

#[derive(Subcommand)]
pub(super) enum QueueCommand {
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

impl QueueCommand {
    /// What the command changes, for the log of changes (as the console names it); `None`
    /// for one that only reads.
    pub(super) fn change(&self) -> Option<&'static str> {
        match self {
            Self::List { .. } | Self::Show { .. } => None,
            Self::Flush => Some("queue flush"),
            Self::Retry { .. } => Some("queue retry"),
            Self::Remove { .. } => Some("queue remove"),
            Self::Hold { .. } => Some("queue hold"),
            Self::Release { .. } => Some("queue release"),
        }
    }
}

/// Carries out a `queue` command.
pub(super) fn run(config: &Config, command: QueueCommand) -> Result<(), AnyError> {
    // Never recovers or creates anything: the daemon may be writing this queue right now.
    let spool = queue::spool::Spool::at(&config.queue_dir());
    use queue::admin;
    match command {
        QueueCommand::List { json } => {
            let rows = admin::rows(&spool)?;
            print_list(&admin::COLUMNS, &rows, json, "the queue is empty");
        }
        QueueCommand::Show { id } => print!("{}", admin::show(&spool, &id)?),
        QueueCommand::Flush => println!("{} messages to be tried now", admin::flush(&spool)?),
        QueueCommand::Retry { id } => {
            admin::retry(&spool, &id)?;
            println!("{id} will be tried now");
        }
        QueueCommand::Remove { id } => {
            admin::remove(&spool, &id)?;
            println!("removed {id}");
        }
        QueueCommand::Hold { id } => {
            admin::hold(&spool, &id)?;
            println!("{id} is on hold");
        }
        QueueCommand::Release { id } => {
            admin::release(&spool, &id)?;
            println!("{id} released");
        }
    }
    Ok(())
}
