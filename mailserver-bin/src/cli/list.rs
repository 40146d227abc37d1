//! `mailserver list`: mailing lists and their members, owners and moderators.

use clap::Subcommand;

use super::output::{human_size, print_table, yes_no};
use crate::AnyError;
use crate::accounts::{Accounts, ListSetting, Receives, Role};

#[derive(Subcommand)]
pub(super) enum ListCommand {
    /// Make the list LIST (an address of one of our domains).
    Add {
        list: String,
        /// Its display name (in `List-Id:`).
        #[arg(long, default_value = "")]
        name: String,
    },
    /// Remove a list and its members.
    Remove { list: String },
    /// Show the lists (of one domain), or one list's settings and people.
    Show {
        /// A list address, or a domain.
        what: Option<String>,
        /// Print JSON instead of tables.
        #[arg(long)]
        json: bool,
    },
    /// The members, owners and moderators of LIST.
    Members {
        list: String,
        #[arg(long)]
        json: bool,
    },
    /// The owners and moderators of LIST: who decide on held posts and, where the owners
    /// approve members, on subscriptions (add them with `subscribe --moderator`).
    Moderators {
        list: String,
        #[arg(long)]
        json: bool,
    },
    /// Add ADDRESSes to LIST (as members unless --owner or --moderator).
    Subscribe {
        #[command(flatten)]
        who: Who,
        /// Subscribed, but sent no posts.
        #[arg(long, conflicts_with = "digest")]
        nomail: bool,
        /// Sent the digest of the posts instead of each post.
        #[arg(long)]
        digest: bool,
    },
    /// Remove ADDRESSes from LIST (from every role unless --owner or --moderator).
    Unsubscribe {
        #[command(flatten)]
        who: Who,
    },
    /// Change a setting: name, description, posting (anyone, members, owners, moderated),
    /// subscription (confirm: by mail, confirmed; approve: confirmed, then approved by an
    /// owner or moderator; closed: by the admins only), subject-prefix, reply-to (list,
    /// sender), max-size (e.g. 10M; 0: the server's limit), archive (no; yes: kept; members:
    /// kept and read by the members over IMAP), active (yes, no).
    Set {
        list: String,
        setting: String,
        value: String,
    },
}

impl ListCommand {
    /// What the command changes, for the log of changes: its action and the list; `None` for
    /// one that only reads.
    pub(super) fn change(&self) -> Option<(&'static str, &str)> {
        Some(match self {
            Self::Add { list, .. } => ("list add", list),
            Self::Remove { list } => ("list remove", list),
            Self::Subscribe { who, .. } => ("list subscribe", &who.list),
            Self::Unsubscribe { who } => ("list unsubscribe", &who.list),
            Self::Set { list, .. } => ("list set", list),
            Self::Show { .. } | Self::Members { .. } | Self::Moderators { .. } => return None,
        })
    }
}

/// A list, some addresses, and the role they have or get.
#[derive(clap::Args)]
pub(super) struct Who {
    list: String,
    #[arg(required = true)]
    addresses: Vec<String>,
    #[arg(long, conflicts_with = "moderator")]
    owner: bool,
    #[arg(long)]
    moderator: bool,
}

impl Who {
    fn role(&self) -> Option<Role> {
        match (self.owner, self.moderator) {
            (true, _) => Some(Role::Owner),
            (_, true) => Some(Role::Moderator),
            _ => None,
        }
    }
}

/// Carries out a `list` command.
pub(super) async fn run(accounts: &Accounts, command: ListCommand) -> Result<(), AnyError> {
    match command {
        ListCommand::Add { list, name } => {
            let list = accounts.add_list(&list, &name).await?;
            println!(
                "added list {list} (posting: members; add them with `mailserver list subscribe {list} ADDRESS`)"
            );
        }
        ListCommand::Remove { list } => {
            println!("removed list {}", accounts.remove_list(&list).await?)
        }
        ListCommand::Show { what, json } => show(accounts, what, json).await?,
        ListCommand::Members { list, json } => members(accounts, &list, json, false).await?,
        ListCommand::Moderators { list, json } => members(accounts, &list, json, true).await?,
        ListCommand::Subscribe {
            who,
            nomail,
            digest,
        } => {
            let role = who.role().unwrap_or(Role::Member);
            let receives = match (nomail, digest) {
                (true, _) => Receives::Nothing,
                (_, true) => Receives::Digest,
                _ => Receives::Posts,
            };
            for a in &who.addresses {
                let (list, member) = accounts.subscribe(&who.list, a, role, receives).await?;
                println!(
                    "{member} is a{} {} of {list}",
                    if role == Role::Owner { "n" } else { "" },
                    role.name()
                );
            }
        }
        ListCommand::Unsubscribe { who } => {
            let list = &who.list;
            for a in &who.addresses {
                match accounts.unsubscribe(list, a, who.role()).await? {
                    true => println!("removed {a} from {list}"),
                    false => return Err(format!("{a} is not on {list}").into()),
                }
            }
        }
        ListCommand::Set {
            list,
            setting: name,
            value,
        } => {
            let list = accounts
                .set_list(&list, ListSetting::parse(&name, &value)?)
                .await?;
            println!("{list}: {name} = {value}");
        }
    }
    Ok(())
}

async fn show(accounts: &Accounts, what: Option<String>, json: bool) -> Result<(), AnyError> {
    if let Some(address) = what.as_deref().filter(|w| w.contains('@'))
        && let Some(list) = accounts.list(address).await?
    {
        let people = accounts.list_members(address).await?;
        if json {
            let out = serde_json::json!({
                "address": list.address, "name": list.name, "description": list.description,
                "posting": list.posting.name(), "subscription": list.subscription.name(),
                "subject_prefix": list.subject_prefix,
                "reply_to": list.reply_to.name(), "max_size": list.max_size,
                "archive": list.archive.name(), "active": list.active,
                "members": people.iter().map(|m| serde_json::json!({
                    "address": m.address, "role": m.role.name(), "receives": m.receives.name(),
                })).collect::<Vec<_>>(),
            });
            println!("{out}");
            return Ok(());
        }
        let size = match list.max_size {
            0 => "the server's limit".to_owned(),
            n => human_size(n),
        };
        for (k, v) in [
            ("list", list.address.clone()),
            ("name", list.name.clone()),
            ("description", list.description.clone()),
            ("posting", list.posting.name().into()),
            ("subscription", list.subscription.name().into()),
            ("subject-prefix", list.subject_prefix.clone()),
            ("reply-to", list.reply_to.name().into()),
            ("max-size", size),
            ("archive", list.archive.name().into()),
            ("active", yes_no(list.active)),
            ("people", people.len().to_string()),
        ] {
            println!("{k:<15} {v}");
        }
        return Ok(());
    }
    if let Some(w) = what.as_deref().filter(|w| w.contains('@')) {
        return Err(format!("mailing list {w} does not exist").into());
    }
    let lists = accounts.lists(what.as_deref()).await?;
    if json {
        let out: Vec<serde_json::Value> = lists
            .iter()
            .map(|l| serde_json::json!({"address": l.address, "name": l.name, "posting": l.posting.name(), "active": l.active}))
            .collect();
        println!("{}", serde_json::Value::Array(out));
        return Ok(());
    }
    let rows: Vec<Vec<String>> = lists
        .iter()
        .map(|l| {
            vec![
                l.address.clone(),
                l.name.clone(),
                l.posting.name().into(),
                yes_no(l.active),
            ]
        })
        .collect();
    print_table(&["LIST", "NAME", "POSTING", "ACTIVE"], &rows);
    Ok(())
}

/// The people of `list`; only its owners and moderators with `deciders`.
async fn members(
    accounts: &Accounts,
    list: &str,
    json: bool,
    deciders: bool,
) -> Result<(), AnyError> {
    let mut people = accounts.list_members(list).await?;
    if deciders {
        people.retain(|m| m.role != Role::Member);
    }
    if json {
        let out: Vec<serde_json::Value> = people
            .iter()
            .map(|m| serde_json::json!({"address": m.address, "role": m.role.name(), "receives": m.receives.name()}))
            .collect();
        println!("{}", serde_json::Value::Array(out));
        return Ok(());
    }
    let rows: Vec<Vec<String>> = people
        .iter()
        .map(|m| {
            vec![
                m.address.clone(),
                m.role.name().into(),
                m.receives.name().into(),
            ]
        })
        .collect();
    print_table(&["ADDRESS", "ROLE", "RECEIVES"], &rows);
    Ok(())
}
