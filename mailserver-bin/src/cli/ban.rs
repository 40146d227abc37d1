//! `mailserver ban`: the addresses banned for password guessing (see the `guard` module),
//! listed, added and lifted in the ban file the daemon reads again within a second.

use clap::Subcommand;
use ipnet::IpNet;

use super::output::print_list;
use crate::AnyError;
use crate::config::Config;
use crate::guard::bans;

#[derive(Subcommand)]
pub(super) enum BanCommand {
    /// List the bans in force.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Ban an address or network (`192.0.2.7`, `2001:db8::/64`) from every listener.
    Add {
        network: String,
        /// How long, in seconds (default: `[guard] ban_time`).
        #[arg(long)]
        seconds: Option<u64>,
        /// Why, shown by `list`.
        #[arg(long, default_value = "banned by the admin")]
        reason: String,
    },
    /// Lift the bans of an address or network (an address lifts the ban that holds it).
    Remove { network: String },
}

/// An address or network as typed.
fn parse_network(text: &str) -> Result<IpNet, AnyError> {
    bans::parse_network(text).ok_or_else(|| {
        format!("{text:?} is not an address or network (192.0.2.7, 2001:db8::/64)").into()
    })
}

impl BanCommand {
    /// What the command changes, for the log of changes; `None` for one that only reads.
    pub(super) fn change(&self) -> Option<&'static str> {
        match self {
            Self::List { .. } => None,
            Self::Add { .. } => Some("ban added"),
            Self::Remove { .. } => Some("ban lifted"),
        }
    }
}

/// Carries out a `ban` command.
pub(super) fn run(config: &Config, command: BanCommand) -> Result<(), AnyError> {
    let dir = &config.data_dir;
    let cannot =
        |e: std::io::Error| format!("cannot change the ban list in {}: {e}", dir.display());
    match command {
        BanCommand::List { json } => {
            let now = bans::now();
            let rows: Vec<Vec<String>> = bans::read(&bans::path(dir))
                .map_err(|e| format!("cannot read the ban list in {}: {e}", dir.display()))?
                .into_iter()
                .map(|b| vec![b.net.to_string(), (b.until - now).to_string(), b.reason])
                .collect();
            let headers = ["network", "seconds left", "reason"];
            print_list(&headers, &rows, json, "no address is banned");
        }
        BanCommand::Add {
            network,
            seconds,
            reason,
        } => {
            let net = parse_network(&network)?;
            let seconds = seconds.unwrap_or(config.guard.ban_time).max(1);
            bans::add(dir, net, seconds, reason).map_err(cannot)?;
            println!("{net} banned for {seconds} seconds");
        }
        BanCommand::Remove { network } => {
            let net = parse_network(&network)?;
            let lifted = bans::lift(dir, net).map_err(cannot)?;
            if lifted.is_empty() {
                return Err(format!("{net} is not banned").into());
            }
            for n in lifted {
                println!("lifted the ban on {n}");
            }
        }
    }
    Ok(())
}
