//! The commands a list answers by mail, as mlmmj's: `LIST+subscribe`, `LIST+unsubscribe`
//! and `LIST+help`, and `LIST+confirm-TOKEN`, the address a confirmation's `Reply-To` names.
//! A (un)subscription happens only once the address it concerns replies to the confirmation
//! sent to it, so nobody can subscribe or remove someone else.

use super::admin;
use super::notice::{Answer, attached, command_address, compose, header_value, reply};
use crate::accounts::{
    Accounts, AccountsError, MailingList, Pending, Receives, Role, Subscription,
};

/// What a command does besides answering: a held post (by queue id) to release, now
/// approved, or to remove, rejected.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Done {
    pub answers: Vec<Answer>,
    pub release: Option<String>,
    pub remove: Option<String>,
}

/// What the command `command` of `list` (from `sender`) does.
pub async fn run(
    accounts: &Accounts,
    list: &MailingList,
    command: &str,
    sender: &str,
    message: &[u8],
    now: i64,
) -> Result<Done, AccountsError> {
    if command == "admin" {
        return Ok(Done {
            answers: admin::request(accounts, list, sender, message, now).await?,
            ..Done::default()
        });
    }
    if let Some(token) = command
        .strip_prefix("approve-")
        .or_else(|| command.strip_prefix("reject-"))
    {
        return moderate(
            accounts,
            list,
            token,
            command.starts_with("approve-"),
            sender,
            now,
        )
        .await;
    }
    let address = &list.address;
    let member = accounts
        .list_members(address)
        .await?
        .into_iter()
        .any(|m| m.role == Role::Member && m.address.eq_ignore_ascii_case(sender));
    let answer = |subject: &str, reply_to: Option<String>, body: String| Answer {
        to: sender.to_owned(),
        message: compose(list, sender, subject, reply_to.as_deref(), &body, now),
    };
    let confirm = |token: &str| Some(command_address(address, &format!("confirm-{token}")));
    let answer = match command {
        "subscribe" | "subscribe-digest" if list.subscription == Subscription::Closed => answer(
            &format!("Subscriptions to {address} are closed"),
            None,
            format!(
                "{address} takes new members only from its owners.\r\nWrite to {} to ask them.\r\n",
                command_address(address, "owner")
            ),
        ),
        "subscribe" | "subscribe-digest" if member => answer(
            &format!("You are subscribed to {address} already"),
            None,
            format!("{sender} is a member of {address} already.\r\n"),
        ),
        "subscribe" | "subscribe-digest" => {
            let detail = match command {
                "subscribe-digest" => "digest",
                _ => "",
            };
            let token = accounts
                .add_pending(address, sender, Pending::Subscribe, detail, now)
                .await?;
            answer(
                &format!("Confirm your subscription to {address}"),
                confirm(&token),
                format!(
                    "Someone, probably you, asked to subscribe {sender} to {address}.\r\n\r\n\
                     To confirm, reply to this message (it goes to the address in its Reply-To).\r\n\
                     If you did not ask, ignore it: nothing happens. The request lapses in a week.\r\n"
                ),
            )
        }
        "unsubscribe" if !member => answer(
            &format!("You are not subscribed to {address}"),
            None,
            format!("{sender} is not a member of {address}.\r\n"),
        ),
        "unsubscribe" => {
            let token = accounts
                .add_pending(address, sender, Pending::Unsubscribe, "", now)
                .await?;
            answer(
                &format!("Confirm leaving {address}"),
                confirm(&token),
                format!(
                    "Someone, probably you, asked to remove {sender} from {address}.\r\n\r\n\
                     To confirm, reply to this message (it goes to the address in its Reply-To).\r\n\
                     If you did not ask, ignore it: you stay subscribed.\r\n"
                ),
            )
        }
        c if c.starts_with("confirm-") => {
            return confirmed(accounts, list, &c["confirm-".len()..], sender, now).await;
        }
        _ => answer(&format!("Help for {address}"), None, help(list)),
    };
    Ok(Done {
        answers: vec![answer],
        ..Done::default()
    })
}

/// A reply to a confirmation (`confirm-TOKEN`): the (un)subscription it asked for is made,
/// or, on a list whose owners approve new members, asked of them.
async fn confirmed(
    accounts: &Accounts,
    list: &MailingList,
    token: &str,
    sender: &str,
    now: i64,
) -> Result<Done, AccountsError> {
    let address = &list.address;
    let tell = |to: &str, subject: String, body: String| Answer {
        to: to.to_owned(),
        message: compose(list, to, &subject, None, &body, now),
    };
    let answers = match accounts.take_pending(address, token, now).await? {
        Some((who, Pending::Subscribe, detail)) if list.subscription == Subscription::Approve => {
            tracing::info!(list = %address, member = %who, "list subscription confirmed; awaits approval");
            return ask_approval(accounts, list, &who, &detail, now).await;
        }
        Some((who, Pending::Subscribe, detail)) => {
            vec![join(accounts, list, &who, &detail, now).await?]
        }
        Some((who, Pending::Admin, detail)) => {
            vec![admin::carry_out(accounts, list, &who, &detail, now).await?]
        }
        Some((who, Pending::Unsubscribe, _)) => {
            accounts
                .unsubscribe(address, &who, Some(Role::Member))
                .await?;
            tracing::info!(list = %address, member = %who, "list unsubscription confirmed");
            vec![tell(
                &who,
                format!("You have left {address}"),
                format!("{who} is no longer a member of {address}.\r\n"),
            )]
        }
        _ => vec![tell(
            sender,
            format!("No such request to {address}"),
            "The confirmation you replied to is unknown, used already, or over a week old.\r\n\
             Ask again if you still want it.\r\n"
                .to_owned(),
        )],
    };
    Ok(Done {
        answers,
        ..Done::default()
    })
}

/// Makes `who` a member (of the digest when `detail` says so); the welcome message.
async fn join(
    accounts: &Accounts,
    list: &MailingList,
    who: &str,
    detail: &str,
    now: i64,
) -> Result<Answer, AccountsError> {
    let address = &list.address;
    let receives = match detail {
        "digest" => Receives::Digest,
        _ => Receives::Posts,
    };
    accounts
        .subscribe(address, who, Role::Member, receives)
        .await?;
    tracing::info!(list = %address, member = %who, receives = receives.name(), "list member joined");
    Ok(Answer {
        to: who.to_owned(),
        message: compose(
            list,
            who,
            &format!("Welcome to {address}"),
            None,
            &format!("{who} is now a member of {address}.\r\n\r\n{}", help(list)),
            now,
        ),
    })
}

/// A confirmed subscription on a list whose owners approve members: each owner and
/// moderator asked (replying approves it, `LIST+reject-TOKEN` refuses it), `who` told.
async fn ask_approval(
    accounts: &Accounts,
    list: &MailingList,
    who: &str,
    detail: &str,
    now: i64,
) -> Result<Done, AccountsError> {
    let address = &list.address;
    let deciders = deciders(accounts, address).await?;
    if deciders.is_empty() {
        tracing::warn!(list = %address, member = %who, "a list that approves members has no owners");
        let body = format!("{address} has no owners to approve new members at the moment.\r\n");
        let subject = format!("Your request to join {address} cannot be approved");
        return Ok(Done {
            answers: vec![Answer {
                to: who.to_owned(),
                message: compose(list, who, &subject, None, &body, now),
            }],
            ..Done::default()
        });
    }
    let token = accounts
        .add_pending(address, who, Pending::Join, detail, now)
        .await?;
    let approve = command_address(address, &format!("approve-{token}"));
    let reject = command_address(address, &format!("reject-{token}"));
    let mut answers: Vec<Answer> = deciders
        .iter()
        .map(|m| Answer {
            to: m.clone(),
            message: compose(
                list,
                m,
                &format!("Approve: {who} asks to join {address}"),
                Some(&approve),
                &format!(
                    "{who} asked to join {address} and confirmed the request.\r\n\r\n\
                     To let them in, reply to this message (to {approve}).\r\n\
                     To refuse, write to {reject}.\r\n"
                ),
                now,
            ),
        })
        .collect();
    answers.push(Answer {
        to: who.to_owned(),
        message: compose(
            list,
            who,
            &format!("Your request to join {address} awaits approval"),
            None,
            &format!(
                "The owners of {address} approve new members; you will hear when they have.\r\n"
            ),
            now,
        ),
    });
    Ok(Done {
        answers,
        ..Done::default()
    })
}

/// The owners and moderators of the list `address`.
async fn deciders(accounts: &Accounts, address: &str) -> Result<Vec<String>, AccountsError> {
    Ok(accounts
        .list_members(address)
        .await?
        .into_iter()
        .filter(|m| m.role != Role::Member)
        .map(|m| m.address)
        .collect())
}

/// `approve-TOKEN` and `reject-TOKEN` from `sender`, who must be an owner or a moderator:
/// the held post is released to the members, or removed and its poster told; the
/// subscription asked for is made, or refused and the asker told.
async fn moderate(
    accounts: &Accounts,
    list: &MailingList,
    token: &str,
    approve: bool,
    sender: &str,
    now: i64,
) -> Result<Done, AccountsError> {
    let address = &list.address;
    let moderator = accounts
        .list_members(address)
        .await?
        .into_iter()
        .any(|m| m.role != Role::Member && m.address.eq_ignore_ascii_case(sender));
    let tell = |to: &str, subject: String, body: String| Answer {
        to: to.to_owned(),
        message: compose(list, to, &subject, None, &body, now),
    };
    if !moderator {
        let body = format!("Only the owners and moderators of {address} decide on held posts.\r\n");
        return Ok(Done {
            answers: vec![tell(sender, format!("Not a moderator of {address}"), body)],
            ..Done::default()
        });
    }
    let taken = accounts.take_pending(address, token, now).await?;
    if let Some((who, Pending::Join, detail)) = taken {
        tracing::info!(list = %address, member = %who, moderator = %sender, approve, "list subscription decided");
        let answer = match approve {
            true => join(accounts, list, &who, &detail, now).await?,
            false => tell(
                &who,
                format!("Your request to join {address} was not accepted"),
                format!("The owners of {address} did not accept your request to join it.\r\n"),
            ),
        };
        return Ok(Done {
            answers: vec![answer],
            ..Done::default()
        });
    }
    let Some((poster, Pending::Post, queue_id)) = taken else {
        let body = "That request was decided on already, or it is over a week old.\r\n";
        return Ok(Done {
            answers: vec![tell(
                sender,
                format!("No such held post on {address}"),
                body.into(),
            )],
            ..Done::default()
        });
    };
    if approve {
        accounts
            .add_pending(address, &poster, Pending::Approved, &queue_id, now)
            .await?;
        tracing::info!(list = %address, %poster, moderator = %sender, queue_id = %queue_id, "held post approved");
        return Ok(Done {
            release: Some(queue_id),
            ..Done::default()
        });
    }
    tracing::info!(list = %address, %poster, moderator = %sender, queue_id = %queue_id, "held post rejected");
    let body = format!(
        "The moderators of {address} did not accept your post; it was not sent to the list.\r\n"
    );
    Ok(Done {
        answers: vec![tell(
            &poster,
            format!("Your post to {address} was not accepted"),
            body,
        )],
        remove: Some(queue_id),
        ..Done::default()
    })
}

/// The messages that hold a post from `poster` (queued as `queue_id`) for the moderators:
/// to each of them, the post attached and the addresses that approve or reject it; to the
/// poster, a notice.
pub async fn hold(
    accounts: &Accounts,
    list: &MailingList,
    poster: &str,
    queue_id: &str,
    post: &[u8],
    now: i64,
) -> Result<Option<Vec<Answer>>, AccountsError> {
    let address = &list.address;
    let moderators = deciders(accounts, address).await?;
    if moderators.is_empty() {
        return Ok(None);
    }
    let token = accounts
        .add_pending(address, poster, Pending::Post, queue_id, now)
        .await?;
    let approve = command_address(address, &format!("approve-{token}"));
    let reject = command_address(address, &format!("reject-{token}"));
    let subject = header_value(post, "subject");
    let mut answers: Vec<Answer> = moderators
        .iter()
        .map(|m| Answer {
            to: m.clone(),
            message: attached(
                compose(
                    list,
                    m,
                    &format!("Moderate: {subject} (from {poster})"),
                    Some(&approve),
                    "",
                    now,
                ),
                &format!(
                    "{poster} posted to {address}, a moderated list. The post is attached.\r\n\r\n\
                     To send it to the list, reply to this message (to {approve}).\r\n\
                     To refuse it, write to {reject}.\r\n"
                ),
                post,
            ),
        })
        .collect();
    answers.push(Answer {
        to: poster.to_owned(),
        message: compose(
            list,
            poster,
            &format!("Your post to {address} awaits a moderator"),
            None,
            &format!("{address} is moderated: your post goes to the list once a moderator approves it.\r\n"),
            now,
        ),
    });
    Ok(Some(answers))
}

/// A bounce of the copy for `encoded` (`user=host`, from the VERP address): counted, and at
/// `limit` (`[lists] bounce_limit`) the count starts again and the member is probed: the
/// answer is a probe to them, to be sent from their probe address (`LIST+probe-user=host`),
/// as mlmmj does before it removes anyone (a full mailbox or a server down for a week
/// passes; a dead address bounces the probe too).
pub async fn bounced(
    accounts: &Accounts,
    list: &MailingList,
    encoded: &str,
    now: i64,
    limit: u32,
) -> Result<Vec<Answer>, AccountsError> {
    let address = &list.address;
    let Some(member) = verp_member(encoded) else {
        return Ok(Vec::new());
    };
    let Some(count) = accounts.record_bounce(address, &member).await? else {
        tracing::info!(list = %address, %member, "bounce for someone no longer a member");
        return Ok(Vec::new());
    };
    tracing::info!(list = %address, %member, count, "list member's mail bounced");
    if count < i64::from(limit) {
        return Ok(Vec::new());
    }
    accounts.reset_bounces(address, &member).await?;
    tracing::info!(list = %address, %member, count, "list member probed: its mail bounces");
    let body = format!(
        "Mail from {address} to {member} has bounced {count} times lately.\r\n\
         This message checks whether the address works again; nothing needs doing.\r\n\
         If it bounces too, {member} is removed from the list.\r\n"
    );
    let subject = format!("Mail from {address} to you bounces");
    Ok(vec![reply(list, &member, &subject, None, &body, now)])
}

/// The member a VERP address's `user=host` names.
fn verp_member(encoded: &str) -> Option<String> {
    let (user, host) = encoded.rsplit_once('=')?;
    Some(format!("{user}@{host}"))
}

/// A bounce of the probe for `encoded` (`user=host`): the member is removed and the owners
/// told, with the bounce attached.
pub async fn probe_bounced(
    accounts: &Accounts,
    list: &MailingList,
    encoded: &str,
    bounce: &[u8],
    now: i64,
    limit: u32,
) -> Result<Vec<Answer>, AccountsError> {
    let address = &list.address;
    let Some(member) = verp_member(encoded) else {
        return Ok(Vec::new());
    };
    if !accounts
        .unsubscribe(address, &member, Some(Role::Member))
        .await?
    {
        return Ok(Vec::new());
    }
    tracing::warn!(list = %address, %member, "list member removed: its mail and the probe bounce");
    let owners = accounts
        .list_members(address)
        .await?
        .into_iter()
        .filter(|m| m.role == Role::Owner)
        .map(|m| m.address);
    Ok(owners
        .map(|owner| Answer {
            message: attached(
                compose(
                    list,
                    &owner,
                    &format!("{member} was removed from {address}"),
                    None,
                    "",
                    now,
                ),
                &format!(
                    "Mail to {member} from {address} bounced {limit} times, and so did a probe \
                     sent after that, so it is no longer a member. The probe's bounce is \
                     attached.\r\n"
                ),
                bounce,
            ),
            to: owner,
        })
        .collect())
}

/// What `LIST+help` answers: the list's commands.
fn help(list: &MailingList) -> String {
    let address = &list.address;
    let mut out = String::new();
    if !list.description.is_empty() {
        out.push_str(&list.description);
        out.push_str("\r\n\r\n");
    }
    out.push_str(&format!("To post, write to {address}.\r\n"));
    if list.subscription != Subscription::Closed {
        out.push_str(&format!(
            "To join, write to {} (or to {} for a daily digest of the posts).\r\n",
            command_address(address, "subscribe"),
            command_address(address, "subscribe-digest")
        ));
    }
    out.push_str(&format!(
        "To leave, write to {}.\r\nTo reach the owners, write to {}.\r\n",
        command_address(address, "unsubscribe"),
        command_address(address, "owner")
    ));
    out
}
