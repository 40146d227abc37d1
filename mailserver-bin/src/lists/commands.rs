//! The commands a list answers by mail, as mlmmj's: `LIST+subscribe`, `LIST+unsubscribe`
//! and `LIST+help`, and `LIST+confirm-TOKEN`, the address a confirmation's `Reply-To` names.
//! A (un)subscription happens only once the address it concerns replies to the confirmation
//! sent to it, so nobody can subscribe or remove someone else.

use crate::accounts::{Accounts, AccountsError, MailingList, Pending, Role, Subscription};

/// A message the list sends in answer: to whom, and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub to: String,
    pub message: Vec<u8>,
}

/// What the command `command` of `list` (from `sender`) does; the answers to send.
pub async fn run(
    accounts: &Accounts,
    list: &MailingList,
    command: &str,
    sender: &str,
    now: i64,
) -> Result<Vec<Answer>, AccountsError> {
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
    Ok(vec![match command {
        "subscribe" if list.subscription == Subscription::Closed => answer(
            &format!("Subscriptions to {address} are closed"),
            None,
            format!(
                "{address} takes new members only from its owners.\r\nWrite to {} to ask them.\r\n",
                command_address(address, "owner")
            ),
        ),
        "subscribe" if member => answer(
            &format!("You are subscribed to {address} already"),
            None,
            format!("{sender} is a member of {address} already.\r\n"),
        ),
        "subscribe" => {
            let token = accounts
                .add_pending(address, sender, Pending::Subscribe, now)
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
                .add_pending(address, sender, Pending::Unsubscribe, now)
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
            let token = &c["confirm-".len()..];
            match accounts.take_pending(address, token, now).await? {
                Some((who, Pending::Subscribe)) => {
                    accounts.subscribe(address, &who, Role::Member, false).await?;
                    tracing::info!(list = %address, member = %who, "list subscription confirmed");
                    Answer {
                        to: who.clone(),
                        message: compose(
                            list,
                            &who,
                            &format!("Welcome to {address}"),
                            None,
                            &format!("{who} is now a member of {address}.\r\n\r\n{}", help(list)),
                            now,
                        ),
                    }
                }
                Some((who, Pending::Unsubscribe)) => {
                    accounts.unsubscribe(address, &who, Some(Role::Member)).await?;
                    tracing::info!(list = %address, member = %who, "list unsubscription confirmed");
                    Answer {
                        to: who.clone(),
                        message: compose(
                            list,
                            &who,
                            &format!("You have left {address}"),
                            None,
                            &format!("{who} is no longer a member of {address}.\r\n"),
                            now,
                        ),
                    }
                }
                None => answer(
                    &format!("No such request to {address}"),
                    None,
                    "The confirmation you replied to is unknown, used already, or over a week old.\r\n\
                     Ask again if you still want it.\r\n"
                        .to_owned(),
                ),
            }
        }
        _ => answer(&format!("Help for {address}"), None, help(list)),
    }])
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
    if list.subscription == Subscription::Confirm {
        out.push_str(&format!(
            "To join, write to {}.\r\n",
            command_address(address, "subscribe")
        ));
    }
    out.push_str(&format!(
        "To leave, write to {}.\r\nTo reach the owners, write to {}.\r\n",
        command_address(address, "unsubscribe"),
        command_address(address, "owner")
    ));
    out
}

/// A message from the list to `to` (automatic: `Auto-Submitted`, so no vacation answers it).
fn compose(
    list: &MailingList,
    to: &str,
    subject: &str,
    reply_to: Option<&str>,
    body: &str,
    now: i64,
) -> Vec<u8> {
    let address = &list.address;
    let domain = address.rsplit_once('@').map_or("", |(_, d)| d);
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(now.max(0) as u64);
    let mut out = format!(
        "From: <{}>\r\nTo: <{to}>\r\nSubject: {subject}\r\nDate: {}\r\nMessage-ID: <{}.list@{domain}>\r\n\
         Auto-Submitted: auto-replied\r\nList-Id: <{}>\r\n",
        command_address(address, "help"),
        crate::mail::rfc5322_date(time),
        crate::mail::queue_id(),
        address.replacen('@', ".", 1),
    );
    if let Some(r) = reply_to {
        out.push_str(&format!("Reply-To: <{r}>\r\n"));
    }
    out.push_str(
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\r\n",
    );
    out.push_str(body);
    out.into_bytes()
}

/// `local+command@domain` of the list `local@domain`.
pub fn command_address(list: &str, command: &str) -> String {
    match list.rsplit_once('@') {
        Some((local, domain)) => format!("{local}+{command}@{domain}"),
        None => format!("{list}+{command}"),
    }
}
