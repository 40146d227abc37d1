//! Owners manage their list by mail, at `LIST+admin@domain`: one command per line of the
//! body. As anyone can forge a `From:`, a change happens only once the owner replies to the
//! confirmation sent to the owner's own address, as every other request of a list does;
//! `members` (answered to that address anyway) needs none.
//!
//! ```text
//! subscribe ADDRESS [digest|nomail]   add a member (what they receive)
//! unsubscribe ADDRESS                 remove a member
//! moderator ADDRESS / owner ADDRESS   add a moderator, an owner
//! remove ADDRESS                      remove from every role
//! set SETTING VALUE                   as `mailserver list set`
//! members                             the list's people
//! ```

use crate::accounts::{Accounts, AccountsError, ListSetting, MailingList, Pending, Receives, Role};

use super::notice::{Answer, command_address, reply};

/// The longest set of commands one confirmation holds (the database keeps them meanwhile).
const MAX_COMMANDS_LENGTH: usize = 255;

/// One command, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Command {
    Subscribe(String, Role, Receives),
    Unsubscribe(String),
    Remove(String),
    Set(String, String),
    Members,
}

impl Command {
    /// The command on `line`; `Ok(None)` for a line that holds none.
    fn parse(line: &str) -> Result<Option<Self>, String> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let address = |w: &str| match w.contains('@') && !w.contains(['<', '>', '"']) {
            true => Ok(w.to_ascii_lowercase()),
            false => Err(format!("{w:?} is not an address")),
        };
        Ok(Some(match words.as_slice() {
            [] => return Ok(None),
            ["members"] => Self::Members,
            ["subscribe", a] => Self::Subscribe(address(a)?, Role::Member, Receives::Posts),
            ["subscribe", a, "digest"] => {
                Self::Subscribe(address(a)?, Role::Member, Receives::Digest)
            }
            ["subscribe", a, "nomail"] => {
                Self::Subscribe(address(a)?, Role::Member, Receives::Nothing)
            }
            ["moderator", a] => Self::Subscribe(address(a)?, Role::Moderator, Receives::Posts),
            ["owner", a] => Self::Subscribe(address(a)?, Role::Owner, Receives::Posts),
            ["unsubscribe", a] => Self::Unsubscribe(address(a)?),
            ["remove", a] => Self::Remove(address(a)?),
            ["set", name, value @ ..] if !value.is_empty() => {
                let value = value.join(" ");
                ListSetting::parse(name, &value)?;
                Self::Set((*name).to_owned(), value)
            }
            _ => return Err(format!("unknown command {line:?}")),
        }))
    }

    /// The command as a line, as `parse` reads it.
    fn line(&self) -> String {
        match self {
            Self::Members => "members".into(),
            Self::Subscribe(a, Role::Member, Receives::Posts) => format!("subscribe {a}"),
            Self::Subscribe(a, Role::Member, r) => format!("subscribe {a} {}", nomail(*r)),
            Self::Subscribe(a, role, _) => format!("{} {a}", role.name()),
            Self::Unsubscribe(a) => format!("unsubscribe {a}"),
            Self::Remove(a) => format!("remove {a}"),
            Self::Set(name, value) => format!("set {name} {value}"),
        }
    }
}

fn nomail(r: Receives) -> &'static str {
    match r {
        Receives::Digest => "digest",
        _ => "nomail",
    }
}

/// The commands in the text body of `message`: quoted lines are skipped, a signature ends
/// them.
fn commands(message: &[u8]) -> Result<Vec<Command>, Vec<String>> {
    let parsed = mail_parser::MessageParser::default().parse(message);
    let body = parsed
        .as_ref()
        .and_then(|m| m.body_text(0))
        .map(|t| t.into_owned())
        .unwrap_or_default();
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for line in body.lines() {
        let line = line.trim();
        if line == "--" || line.starts_with("-- ") {
            break;
        }
        if line.starts_with('>') {
            continue;
        }
        match Command::parse(line) {
            Ok(Some(c)) => found.push(c),
            Ok(None) => {}
            Err(e) => errors.push(e),
        }
    }
    match errors.is_empty() {
        true => Ok(found),
        false => Err(errors),
    }
}

/// What the owners may write to `LIST+admin` (the list `address`).
fn admin_help(address: &str) -> String {
    format!(
        "Write to {} one command per line:\r\n\
         \x20 subscribe ADDRESS [digest|nomail]\r\n\
         \x20 unsubscribe ADDRESS\r\n\
         \x20 moderator ADDRESS\r\n\
         \x20 owner ADDRESS\r\n\
         \x20 remove ADDRESS (from every role)\r\n\
         \x20 set SETTING VALUE (name, description, posting, subscription, subject-prefix,\r\n\
         \x20   reply-to, max-size, archive, active)\r\n\
         \x20 members\r\n\
         Each change is made once you reply to the confirmation sent to you.\r\n",
        command_address(address, "admin")
    )
}

/// Whether `who` owns the list.
async fn is_owner(accounts: &Accounts, list: &str, who: &str) -> Result<bool, AccountsError> {
    Ok(accounts
        .list_members(list)
        .await?
        .iter()
        .any(|m| m.role == Role::Owner && m.address.eq_ignore_ascii_case(who)))
}

/// A message to `LIST+admin` from `sender`: the members listed, or the commands to confirm.
pub async fn request(
    accounts: &Accounts,
    list: &MailingList,
    sender: &str,
    message: &[u8],
    now: i64,
) -> Result<Vec<Answer>, AccountsError> {
    let address = &list.address;
    let tell =
        |subject: String, body: String| vec![reply(list, sender, &subject, None, &body, now)];
    if !is_owner(accounts, address, sender).await? {
        tracing::info!(list = %address, %sender, "list admin command from someone not an owner");
        return Ok(tell(
            format!("Not an owner of {address}"),
            format!("Only the owners of {address} manage it by mail.\r\n"),
        ));
    }
    let found = match commands(message) {
        Ok(c) if c.is_empty() => Err(vec!["no command found".to_owned()]),
        other => other,
    };
    let found = match found {
        Ok(found) => found,
        Err(errors) => {
            return Ok(tell(
                format!("Nothing done on {address}"),
                format!("{}\r\n\r\n{}", errors.join("\r\n"), admin_help(address)),
            ));
        }
    };
    if found == [Command::Members] {
        return Ok(vec![members(accounts, list, sender, now).await?]);
    }
    let lines: Vec<String> = found.iter().map(Command::line).collect();
    let detail = lines.join("\n");
    if detail.len() > MAX_COMMANDS_LENGTH {
        return Ok(tell(
            format!("Nothing done on {address}"),
            format!(
                "One message may hold {MAX_COMMANDS_LENGTH} characters of commands; send \
                 fewer at a time.\r\n"
            ),
        ));
    }
    let token = accounts
        .add_pending(address, sender, Pending::Admin, &detail, now)
        .await?;
    let confirm = command_address(address, &format!("confirm-{token}"));
    Ok(vec![reply(
        list,
        sender,
        &format!("Confirm changes to {address}"),
        Some(&confirm),
        &format!(
            "These commands for {address} wait for your confirmation:\r\n\r\n  {}\r\n\r\n\
             To carry them out, reply to this message (it goes to {confirm}).\r\n",
            lines.join("\r\n  ")
        ),
        now,
    )])
}

/// The confirmed commands (`detail`, as `request` kept them) of owner `who`, carried out:
/// the report.
pub async fn carry_out(
    accounts: &Accounts,
    list: &MailingList,
    who: &str,
    detail: &str,
    now: i64,
) -> Result<Answer, AccountsError> {
    let address = &list.address;
    if !is_owner(accounts, address, who).await? {
        let body = format!("{who} no longer owns {address}; nothing was done.\r\n");
        return Ok(reply(
            list,
            who,
            &format!("Nothing done on {address}"),
            None,
            &body,
            now,
        ));
    }
    let mut report = Vec::new();
    for line in detail.lines() {
        let done = match Command::parse(line) {
            Ok(Some(Command::Subscribe(a, role, receives))) => accounts
                .subscribe(address, &a, role, receives)
                .await
                .map(|_| "done".to_owned()),
            Ok(Some(Command::Unsubscribe(a))) => accounts
                .unsubscribe(address, &a, Some(Role::Member))
                .await
                .map(|r| if r { "done" } else { "not a member" }.to_owned()),
            Ok(Some(Command::Remove(a))) => accounts
                .unsubscribe(address, &a, None)
                .await
                .map(|r| if r { "done" } else { "not on the list" }.to_owned()),
            Ok(Some(Command::Set(name, value))) => match ListSetting::parse(&name, &value) {
                Ok(setting) => accounts
                    .set_list(address, setting)
                    .await
                    .map(|_| "done".to_owned()),
                Err(e) => Ok(e),
            },
            Ok(Some(Command::Members) | None) => continue,
            Err(e) => Ok(e),
        };
        let done = done.unwrap_or_else(|e| format!("failed: {e}"));
        tracing::info!(list = %address, owner = %who, command = %line, result = %done, "list changed by its owner");
        report.push(format!("{line}: {done}"));
    }
    Ok(reply(
        list,
        who,
        &format!("Changes to {address}"),
        None,
        &format!("{}\r\n", report.join("\r\n")),
        now,
    ))
}

/// The list's people, for its owner `to`.
async fn members(
    accounts: &Accounts,
    list: &MailingList,
    to: &str,
    now: i64,
) -> Result<Answer, AccountsError> {
    let people = accounts.list_members(&list.address).await?;
    let mut body = format!("{} people on {}:\r\n\r\n", people.len(), list.address);
    for m in &people {
        body.push_str(&format!(
            "{}  {}  {}\r\n",
            m.address,
            m.role.name(),
            m.receives.name()
        ));
    }
    Ok(reply(
        list,
        to,
        &format!("Members of {}", list.address),
        None,
        &body,
        now,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_read_line_by_line_and_quoted_text_and_signatures_skipped() {
        let mail = b"Subject: x\r\n\r\nsubscribe Ann@Example.org digest\r\n\r\n\
            > unsubscribe quoted@example.org\r\nset posting moderated\r\nowner o@example.org\r\n\
            -- \r\nunsubscribe signature@example.org\r\n";
        let found = commands(mail).unwrap();
        let lines: Vec<String> = found.iter().map(Command::line).collect();
        assert_eq!(
            lines,
            [
                "subscribe ann@example.org digest",
                "set posting moderated",
                "owner o@example.org"
            ]
        );
        for line in &lines {
            assert_eq!(Command::parse(line).unwrap().unwrap().line(), *line);
        }
        let bad =
            commands(b"\r\nsubscribe nobody\r\nset posting everyone\r\nfly away\r\n").unwrap_err();
        assert_eq!(bad.len(), 3, "{bad:?}");
    }
}
