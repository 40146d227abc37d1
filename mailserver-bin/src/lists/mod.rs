//! Mailing lists, as iRedMail's mlmmj runs them: who may post (checked at RCPT, so a refused
//! poster hears it from our SMTP reply, not from a bounce), and each accepted post made into
//! the list's copy (`List-Id` of RFC 2919, `List-Post`, `-Help`, `-Subscribe`,
//! `-Unsubscribe` and `-Owner` of RFC 2369,
//! `Precedence: list`, the subject prefix, `Reply-To`) that the queue sends to every member
//! from the list's bounce address. The lists and their members live in the accounts store
//! (`crate::accounts`), which also sends `LIST+owner` and `LIST+bounces` to the owners. The
//! commands by mail are in `commands`.

mod admin;
mod archive;
mod commands;
mod digest;
mod links;
mod notice;

use crate::accounts::{
    Accounts, AccountsError, MailingList, Posting, Receives, ReplyTo, Role, Subscription,
};

pub use archive::ListStore;
pub use digest::compose as compose_digest;
pub use links::{Links, UNSUBSCRIBE_PATH, base_url, list_of_bounces};
pub use notice::{Answer, command_address};

/// What the lists' handling of a message needs besides the message.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    pub accounts: &'a Accounts,
    /// For the DMARC policies of posters' domains (none: no From is rewritten).
    pub resolver: Option<&'a mail_auth::MessageAuthenticator>,
    /// `[lists] bounce_limit`.
    pub bounce_limit: u32,
}

/// Why a post may not go to a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The sender may not post (the policy says who may).
    Sender(String),
    /// The post is larger than the list takes (its `max_size`, in octets).
    TooBig(u64),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sender(why) => f.write_str(why),
            Self::TooBig(max) => write!(f, "the list takes posts of at most {max} octets"),
        }
    }
}

/// Why `sender` may not post a message of `size` octets (as declared, 0 when not) to a list,
/// for the SMTP reply; `None`: it may.
pub async fn refusal(
    accounts: &Accounts,
    list: &str,
    sender: &str,
    size: u64,
) -> Result<Option<Refusal>, AccountsError> {
    // A command (subscribe, confirm…) may come from anyone but <>; a member's bounce
    // address takes bounces, which come from <>.
    if let Some((_, command)) = accounts.list_command_of(list).await? {
        let takes_bounces = command.starts_with("bounces-") || command.starts_with("probe-");
        return Ok((sender.is_empty() && !takes_bounces)
            .then(|| Refusal::Sender("the list takes no commands from <>".into())));
    }
    let Some(settings) = accounts.list(list).await? else {
        return Ok(Some(Refusal::Sender("no such list".into())));
    };
    if settings.max_size > 0 && size > settings.max_size {
        return Ok(Some(Refusal::TooBig(settings.max_size)));
    }
    // A bounce or an automatic notice is not a post.
    if sender.is_empty() {
        return Ok(Some(Refusal::Sender(
            "the list takes no mail from <>".into(),
        )));
    }
    let role = accounts
        .list_members(list)
        .await?
        .into_iter()
        .filter(|m| m.address.eq_ignore_ascii_case(sender))
        .map(|m| m.role)
        .max();
    Ok(match (settings.posting, role) {
        (Posting::Anyone | Posting::Moderated, _) => None,
        (Posting::Members, Some(_)) => None,
        (Posting::Owners, Some(Role::Owner | Role::Moderator)) => None,
        (Posting::Members, None) => Some(Refusal::Sender(format!(
            "only members of {list} may post to it"
        ))),
        (Posting::Owners, _) => Some(Refusal::Sender(format!(
            "only the owners of {list} may post to it"
        ))),
    })
}

/// What the queue does with a message for one of a list's addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// A post: the list's copy, to its members.
    Post(Post),
    /// A post the list does not take, for good (the sender gets a DSN).
    Refused(Refusal),
    /// Answers, each from the list's bounce address (`bounces`); `hold`: keep the post in
    /// the queue for a moderator; `release`/`remove`: what to do with a held post (its queue
    /// id) a moderator decided on.
    Answers {
        bounces: String,
        answers: Vec<Answer>,
        hold: bool,
        release: Option<String>,
        remove: Option<String>,
    },
}

/// What the list at (or whose command address is) `address` does with `message` from
/// `sender`, queued as `queue_id`, at `now` (seconds since the epoch).
pub async fn handle(
    context: Context<'_>,
    address: &str,
    sender: &str,
    message: &[u8],
    queue_id: &str,
    now: i64,
) -> Result<Handled, AccountsError> {
    let Context {
        accounts,
        resolver,
        bounce_limit,
    } = context;
    let Some((list, command)) = accounts.list_command_of(address).await? else {
        if let Some(held) = moderation(accounts, address, sender, message, queue_id, now).await? {
            return Ok(held);
        }
        return Ok(match post(accounts, resolver, address, message).await? {
            Ok(post) => Handled::Post(post),
            Err(refusal) => Handled::Refused(refusal),
        });
    };
    let settings = accounts
        .list(&list)
        .await?
        .ok_or_else(|| AccountsError::UnknownList(list.clone()))?;
    let bounces = command_address(&list, "bounces");
    if let Some(member) = command.strip_prefix("bounces-") {
        let probes = commands::bounced(accounts, &settings, member, now, bounce_limit).await?;
        return Ok(Handled::Answers {
            // A probe's own bounce comes back to its own address.
            bounces: command_address(&list, &format!("probe-{member}")),
            answers: probes,
            hold: false,
            release: None,
            remove: None,
        });
    }
    if let Some(member) = command.strip_prefix("probe-") {
        let answers =
            commands::probe_bounced(accounts, &settings, member, message, now, bounce_limit)
                .await?;
        return Ok(Handled::Answers {
            bounces,
            answers,
            hold: false,
            release: None,
            remove: None,
        });
    }
    // No answer to the null sender or to an automatic message (RFC 3834 §2): that is how
    // two robots would write to each other for ever.
    let header = &message[..crate::message::header_len(message)];
    let automatic = crate::message::fields(header).iter().any(|f| {
        crate::message::name(f).eq_ignore_ascii_case(b"auto-submitted")
            && !String::from_utf8_lossy(&f[f.iter().position(|&b| b == b':').unwrap_or(0) + 1..])
                .trim()
                .eq_ignore_ascii_case("no")
    });
    if sender.is_empty() || automatic {
        tracing::info!(%list, %sender, "list command from a robot not answered");
        return Ok(Handled::Answers {
            bounces,
            answers: Vec::new(),
            hold: false,
            release: None,
            remove: None,
        });
    }
    let done = commands::run(accounts, &settings, &command, sender, message, now).await?;
    Ok(Handled::Answers {
        bounces,
        answers: done.answers,
        hold: false,
        release: done.release,
        remove: done.remove,
    })
}

/// A post to a moderated list from someone other than its owners and moderators: held (the
/// moderators asked) until one approves it; `None` when it goes to the members now.
async fn moderation(
    accounts: &Accounts,
    list: &str,
    sender: &str,
    message: &[u8],
    queue_id: &str,
    now: i64,
) -> Result<Option<Handled>, AccountsError> {
    let Some(settings) = accounts.list(list).await? else {
        return Ok(None);
    };
    if settings.posting != Posting::Moderated {
        return Ok(None);
    }
    let moderator = accounts
        .list_members(list)
        .await?
        .into_iter()
        .any(|m| m.role != Role::Member && m.address.eq_ignore_ascii_case(sender));
    let held = |answers| Handled::Answers {
        bounces: command_address(list, "bounces"),
        answers,
        hold: true,
        release: None,
        remove: None,
    };
    Ok(match accounts.moderation(list, queue_id).await? {
        _ if moderator => None,
        Some(crate::accounts::Pending::Approved) => None,
        Some(_) => Some(held(Vec::new())),
        None => match commands::hold(accounts, &settings, sender, queue_id, message, now).await? {
            Some(answers) => Some(held(answers)),
            None => Some(Handled::Refused(Refusal::Sender(format!(
                "{list} is moderated but has no moderators"
            )))),
        },
    })
}

/// A post as the list sends it on: from `bounces`, to `members`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Post {
    /// The envelope sender: `LIST+bounces@domain`, where bounces from members come back.
    pub bounces: String,
    /// Every member, owner and moderator who receives posts.
    pub members: Vec<String>,
    /// Keep the copy in the list's archive.
    pub archive: bool,
    /// Keep the copy for the next digest (some members receive it).
    pub digest: bool,
    /// The message with the list's fields.
    pub message: Vec<u8>,
}

/// The list's copy of `original`, posted to `list`, and who gets it; `Ok(Err)`: the list
/// does not take it (for good: too large for it).
async fn post(
    accounts: &Accounts,
    resolver: Option<&mail_auth::MessageAuthenticator>,
    list: &str,
    original: &[u8],
) -> Result<Result<Post, Refusal>, AccountsError> {
    let settings = accounts
        .list(list)
        .await?
        .ok_or_else(|| AccountsError::UnknownList(list.to_owned()))?;
    if settings.max_size > 0 && original.len() as u64 > settings.max_size {
        return Ok(Err(Refusal::TooBig(settings.max_size)));
    }
    let mut members: Vec<String> = Vec::new();
    let mut digest = false;
    for m in accounts.list_members(list).await? {
        digest |= m.receives == Receives::Digest;
        if m.receives == Receives::Posts
            && !members.iter().any(|a| a.eq_ignore_ascii_case(&m.address))
        {
            members.push(m.address);
        }
    }
    // A poster's domain that asks receivers to refuse or quarantine mail failing DMARC
    // would have the list's copies (changed, and sent from here) refused: the copy comes
    // From the list then, as Mailman and mlmmj do it.
    let from_domain = poster(original).and_then(|(_, a)| {
        a.rsplit_once('@')
            .map(|(_, d)| d.trim_end_matches('>').to_ascii_lowercase())
    });
    let mut munge = false;
    if let (Some(domain), Some(resolver)) = (from_domain, resolver)
        && !accounts.is_local_domain(&domain).await?
    {
        let policy = crate::dns::dmarc_policy(resolver, &domain).await;
        munge = matches!(policy.as_deref(), Some("quarantine" | "reject"));
        if munge {
            tracing::info!(list = %settings.address, %domain, "DMARC policy: the copy is From the list");
        }
    }
    Ok(Ok(Post {
        bounces: command_address(&settings.address, "bounces"),
        members,
        archive: settings.archive != crate::accounts::Archive::Off,
        digest,
        message: rewrite(&settings, original, munge),
    }))
}

/// The fields a list sets (removed from the post first, so a post from another list does not
/// keep that list's).
const LIST_FIELDS: &[&str] = &[
    "list-id",
    "list-post",
    "list-help",
    "list-subscribe",
    "list-unsubscribe",
    "list-unsubscribe-post",
    "list-owner",
    "list-archive",
    "precedence",
];

/// The poster as the post's `From:` names them: the display name (empty when none) and the
/// address.
fn poster(message: &[u8]) -> Option<(String, String)> {
    let header = &message[..crate::message::header_len(message)];
    let field = crate::message::fields(header)
        .into_iter()
        .find(|f| crate::message::name(f).eq_ignore_ascii_case(b"from"))?;
    let colon = field.iter().position(|&b| b == b':')?;
    let value = crate::message::decode_words(&field[colon + 1..]);
    let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
    match (value.rfind('<'), value.rfind('>')) {
        (Some(open), Some(close)) if open < close => {
            let name = value[..open].trim().trim_matches('"').to_owned();
            Some((name, value[open + 1..close].trim().to_owned()))
        }
        _ => Some((String::new(), value.trim().to_owned())),
    }
}

/// `original` with the list's fields on top of its header, the subject prefixed (once) and,
/// for a list that takes the replies, `Reply-To:` the list. With `munge`, the copy is `From:`
/// "NAME via LIST" at the list's address, and the poster is in `Reply-To:` (beside the list,
/// when the list takes the replies).
fn rewrite(list: &MailingList, original: &[u8], munge: bool) -> Vec<u8> {
    let len = crate::message::header_len(original);
    let (header, body) = original.split_at(len);
    let newline: &str = if header.windows(2).any(|w| w == b"\r\n") || header.is_empty() {
        "\r\n"
    } else {
        "\n"
    };
    let address = &list.address;
    let (local, domain) = address.rsplit_once('@').unwrap_or((address, ""));
    let name = match list.name.is_empty() {
        true => String::new(),
        false => format!("{} ", phrase(&list.name)),
    };
    let mut out = String::new();
    let mut field = |text: String| {
        out.push_str(&text);
        out.push_str(newline);
    };
    // RFC 2919: the list's identifier is its address with a dot for the at sign.
    field(format!("List-Id: {name}<{local}.{domain}>"));
    field(format!("List-Post: <mailto:{address}>"));
    field(format!(
        "List-Help: <mailto:{}?subject=help>",
        command_address(address, "help")
    ));
    if list.subscription != Subscription::Closed {
        field(format!(
            "List-Subscribe: <mailto:{}?subject=subscribe>",
            command_address(address, "subscribe")
        ));
    }
    // `List-Unsubscribe` is each member's own (`Links::fields`), put on as each copy leaves.
    field(format!(
        "List-Owner: <mailto:{}>",
        command_address(address, "owner")
    ));
    field("Precedence: list".into());
    let mut out = out.into_bytes();
    for f in crate::message::fields(header) {
        let name = crate::message::name(f);
        let lower = String::from_utf8_lossy(name).to_ascii_lowercase();
        if LIST_FIELDS.contains(&lower.as_str()) {
            continue;
        }
        if lower == "reply-to" && (list.reply_to == ReplyTo::List || munge) {
            continue;
        }
        if lower == "from" && munge {
            continue;
        }
        if lower == "subject" && !list.subject_prefix.is_empty() {
            out.extend_from_slice(&prefixed(f, &list.subject_prefix));
            continue;
        }
        out.extend_from_slice(f);
    }
    let original_from = munge.then(|| poster(original)).flatten();
    if let Some((name, from)) = &original_from {
        let shown = match name.is_empty() {
            true => from.replacen('@', " at ", 1),
            false => name.clone(),
        };
        let label = match list.name.is_empty() {
            true => address.clone(),
            false => list.name.clone(),
        };
        let header_from = format!(
            "From: {} <{address}>{newline}",
            phrase(&format!("{shown} via {label}"))
        );
        out.extend_from_slice(header_from.as_bytes());
        let poster = match name.is_empty() {
            true => format!("<{from}>"),
            false => format!("{} <{from}>", phrase(name)),
        };
        let reply = match list.reply_to {
            ReplyTo::List => format!("Reply-To: <{address}>, {poster}{newline}"),
            ReplyTo::Sender => format!("Reply-To: {poster}{newline}"),
        };
        out.extend_from_slice(reply.as_bytes());
    } else if list.reply_to == ReplyTo::List {
        out.extend_from_slice(format!("Reply-To: <{address}>{newline}").as_bytes());
    }
    out.extend_from_slice(body);
    out
}

/// A display name as a header field can hold it: as it is when it is plain words, quoted
/// when it has specials, an RFC 2047 word when it is not ASCII.
fn phrase(name: &str) -> String {
    if !name.is_ascii() {
        return mailwright_sieve::encode_word(name);
    }
    let plain = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || " !#$%&'*+-/=?^_`{|}~".contains(c));
    match plain {
        true => name.to_owned(),
        false => format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\"")),
    }
}

/// A `Subject:` field with `prefix` in front of its value, unless the value (after any
/// `Re:`) holds it already.
fn prefixed(field: &[u8], prefix: &str) -> Vec<u8> {
    let colon = field.iter().position(|&b| b == b':').unwrap_or(0);
    let value = &field[colon + 1..];
    let text = String::from_utf8_lossy(value);
    if text.contains(prefix) {
        return field.to_vec();
    }
    let mut out = field[..=colon].to_vec();
    out.push(b' ');
    out.extend_from_slice(prefix.as_bytes());
    out.extend_from_slice(value);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(reply_to: ReplyTo) -> MailingList {
        MailingList {
            address: "team@example.com".into(),
            name: "Team".into(),
            description: String::new(),
            posting: Posting::Members,
            subscription: Subscription::Confirm,
            subject_prefix: "[team]".into(),
            reply_to,
            max_size: 0,
            archive: crate::accounts::Archive::Kept,
            active: true,
        }
    }

    #[test]
    fn the_lists_fields_go_on_top_and_the_subject_is_prefixed_once() {
        let post = b"From: a@example.org\r\nSubject: Re: [team] plans\r\nList-Id: <other.example.net>\r\nReply-To: a@example.org\r\n\r\nbody\r\n";
        let out = String::from_utf8(rewrite(&list(ReplyTo::List), post, false)).unwrap();
        assert!(
            out.starts_with("List-Id: Team <team.example.com>\r\n"),
            "{out}"
        );
        for part in [
            "List-Post: <mailto:team@example.com>\r\n",
            "List-Owner: <mailto:team+owner@example.com>\r\n",
            "Precedence: list\r\n",
            "Subject: Re: [team] plans\r\n",
            "Reply-To: <team@example.com>\r\n\r\nbody\r\n",
        ] {
            assert!(out.contains(part), "{part} in {out}");
        }
        assert!(
            !out.contains("other.example.net") && !out.contains("Reply-To: a@"),
            "{out}"
        );
        assert_eq!(phrase("Team \"A\""), "\"Team \\\"A\\\"\"");
        let fresh = b"Subject: plans\n\nbody\n";
        let out = String::from_utf8(rewrite(&list(ReplyTo::Sender), fresh, false)).unwrap();
        assert!(
            out.contains("Subject: [team] plans\n") && !out.contains("Reply-To"),
            "{out}"
        );
        assert!(!out.contains('\r'), "the post's own line ends: {out}");
    }

    #[test]
    fn a_strict_dmarc_posters_copy_comes_from_the_list() {
        let post = b"From: \"Boss, Big\" <boss@strict.example>\r\nSubject: hi\r\n\r\nx\r\n";
        let out = String::from_utf8(rewrite(&list(ReplyTo::List), post, true)).unwrap();
        assert!(
            out.contains("From: \"Boss, Big via Team\" <team@example.com>\r\n"),
            "{out}"
        );
        assert!(
            out.contains("Reply-To: <team@example.com>, \"Boss, Big\" <boss@strict.example>\r\n"),
            "{out}"
        );
        assert!(!out.contains("From: \"Boss, Big\" <boss"), "{out}");
        let bare = b"From: boss@strict.example\r\n\r\nx\r\n";
        let out = String::from_utf8(rewrite(&list(ReplyTo::Sender), bare, true)).unwrap();
        assert!(
            out.contains("From: \"boss at strict.example via Team\" <team@example.com>\r\n"),
            "{out}"
        );
        assert!(out.contains("Reply-To: <boss@strict.example>\r\n"), "{out}");
    }
}
