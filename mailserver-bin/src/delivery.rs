//! The quota accounting every path that stores or removes mail goes through: SMTP and the
//! queue delivering into Maildir, IMAP APPEND, COPY and EXPUNGE, POP3 deleting. Whether a
//! mailbox (or its domain) has room is judged from `maildirsize` (no walk of the mailbox per
//! message) and PostfixAdmin's `quota2`; a change is recorded in both.

use std::path::PathBuf;

use mailwright_maildir::{Maildir, QuotaLimits};
use tracing::{info, warn};

use crate::accounts::{Accounts, LocalMailbox};
use crate::config::Config;

/// One mailbox as the quota accounting sees it.
#[derive(Debug, Clone)]
pub struct QuotaAccount {
    /// Its row in `quota2`.
    pub username: String,
    pub maildir: Maildir,
    pub limits: QuotaLimits,
    pub domain: String,
    /// The quota of all the domain's mailboxes together, in octets (0: none).
    pub domain_quota: u64,
}

impl QuotaAccount {
    /// `mailbox`'s account, its message limit defaulting to the server's.
    pub fn of(config: &Config, mailbox: &LocalMailbox) -> Self {
        QuotaAccount {
            username: mailbox.username.clone(),
            maildir: Maildir::new(mailbox.maildir.clone()),
            limits: config.quota_limits(mailbox.quota, mailbox.message_quota),
            domain: mailbox.domain.clone(),
            domain_quota: mailbox.domain_quota,
        }
    }
}

/// Whether storing `messages` more messages of `bytes` octets in all would pass the
/// mailbox's or its domain's limit (a mailbox at its limit refuses even a message of unknown
/// size: ask with 1 octet). Unknown usage must not lose mail: it allows, and says why in the
/// log.
pub async fn over_quota(
    accounts: &Accounts,
    account: &QuotaAccount,
    bytes: u64,
    messages: u64,
) -> bool {
    if account.domain_quota > 0 {
        match accounts.domain_usage(&account.domain).await {
            Ok(used) if used.saturating_add(bytes) > account.domain_quota => {
                info!(domain = %account.domain, used, "domain over quota");
                return true;
            }
            Ok(_) => {}
            Err(e) => {
                warn!(domain = %account.domain, error = %e, "domain usage unreadable; allowing")
            }
        }
    }
    let limits = account.limits;
    if !limits.any() {
        return false;
    }
    let maildir = account.maildir.clone();
    let usage = tokio::task::spawn_blocking(move || {
        if maildir.path().join("cur").is_dir() {
            maildir.quota_usage(limits)
        } else {
            Ok(mailwright_maildir::Usage::default())
        }
    })
    .await;
    match usage {
        Ok(Ok(u)) => limits.exceeded(u, (bytes, messages)),
        Ok(Err(e)) => {
            warn!(user = %account.username, error = %e, "quota usage unreadable; allowing");
            false
        }
        Err(_) => false,
    }
}

/// Records that `messages` messages of `bytes` octets were stored (or, negative, removed) in
/// `maildirsize` and in PostfixAdmin's `quota2`, which its UI shows and domain quotas sum.
pub async fn record_change(accounts: &Accounts, account: &QuotaAccount, bytes: i64, messages: i64) {
    if bytes == 0 && messages == 0 {
        return;
    }
    let copy = account.clone();
    let _ = tokio::task::spawn_blocking(move || count_in_maildirsize(&copy, bytes, messages)).await;
    accounts.record_usage(&account.username, bytes, messages);
}

/// [`record_change`] for a caller already off the async threads (an IMAP session's file work
/// runs in place): no hop to the blocking pool, which cost an APPEND two thread wake-ups.
pub fn record_change_here(accounts: &Accounts, account: &QuotaAccount, bytes: i64, messages: i64) {
    if bytes == 0 && messages == 0 {
        return;
    }
    count_in_maildirsize(account, bytes, messages);
    accounts.record_usage(&account.username, bytes, messages);
}

/// The `maildirsize` half of [`record_change`], for a caller already off the async threads
/// (SMTP counts a message in the same step that stores it).
pub fn count_in_maildirsize(account: &QuotaAccount, bytes: i64, messages: i64) {
    if let Err(e) = account.maildir.quota_add(bytes, messages, account.limits) {
        warn!(user = %account.username, error = %e, "could not update maildirsize");
    }
}

/// One mailbox's usage counted again from its files (Dovecot's `doveadm quota recalc`).
#[derive(Debug)]
pub struct Recount {
    pub user: String,
    /// What its folders hold; `None` when it has had no mail yet.
    pub usage: Option<mailwright_maildir::Usage>,
    /// What `maildirsize` said before, in octets and messages.
    pub maildirsize: Option<(i64, i64)>,
    /// What `quota2` said before.
    pub quota2: Option<(i64, i64)>,
}

impl Recount {
    /// Whether the count differs from what either record said.
    pub fn corrected(&self) -> bool {
        let now = self.usage.map(|u| (u.bytes, u.messages));
        now.is_some() && (now != self.maildirsize || now != self.quota2)
    }
}

/// Counts the mailboxes `wanted` picks (by address) again from their files, and sets
/// `maildirsize` and `quota2` to the count. The CLI's `quota recalc`, and the daemon's first
/// step after a run that did not stop in order: a delivery cut off between storing a message
/// and counting it leaves usage short by that message.
pub async fn recount(
    config: &Config,
    accounts: &Accounts,
    wanted: impl Fn(&str) -> bool,
) -> Result<Vec<Recount>, crate::AnyError> {
    let users = accounts.list_users(None).await?;
    let quotas = accounts.quotas().await?;
    let message_quotas = accounts.message_quotas().await?;
    let mut counted = Vec::new();
    for (user, maildir, _) in users {
        if !wanted(&user) {
            continue;
        }
        let limits = config.quota_limits(
            quotas.get(&user).copied().unwrap_or(0),
            message_quotas.get(&user.to_lowercase()).copied(),
        );
        let md = Maildir::new(&maildir);
        let (before, usage) = tokio::task::spawn_blocking(move || {
            if !md.path().join("cur").is_dir() {
                return Ok((None, None));
            }
            let before = md.recorded_usage().map(|u| (u.bytes, u.messages));
            md.rebuild_maildirsize(limits).map(|u| (before, Some(u)))
        })
        .await
        .map_err(|e| e.to_string())??;
        let quota2 = match usage {
            Some(u) => accounts.set_usage(&user, u.bytes, u.messages).await?,
            None => None,
        };
        counted.push(Recount {
            user,
            usage,
            maildirsize: before,
            quota2,
        });
    }
    Ok(counted)
}

/// The fields a local delivery puts in front of each copy, as Postfix's virtual(8) and
/// local(8) do: `Return-Path:` with the envelope sender (empty for a bounce: `<>`), and
/// `Delivered-To:` with the mailbox the copy is for, which a later delivery reads to stop a
/// forwarding loop. Each copy has its own, so copies are files of their own, not links.
pub fn delivery_fields(sender: &str, mailbox: &str) -> String {
    format!("{}Delivered-To: {mailbox}\r\n", shared_fields(sender))
}

/// The fields in front of a message stored once for several mailboxes (one file linked into
/// each, see [`commit_shared`]): `Return-Path:` only. Dovecot's LMTP writes no
/// `Delivered-To:` either when a message has several recipients.
pub fn shared_fields(sender: &str) -> String {
    format!("Return-Path: <{sender}>\r\n")
}

/// The folder of `maildir` that mail judged junk goes to: the one with special use `\Junk`,
/// else `Junk`, made with that use when missing (as a new mailbox's default folders have it).
/// Where Sieve puts one copy: its first place (`None`: nowhere, the copy is discarded) and
/// further ones, each a folder with the flag letters to store it with.
#[derive(Debug, Clone, Default)]
pub struct Placement {
    pub first: Option<(mailwright_maildir::Maildir, String)>,
    pub more: Vec<(mailwright_maildir::Maildir, String)>,
}

/// What a commit stored, per Maildir target in order.
pub struct Committed {
    /// The size of each target's copy (its own fields included), or the queued size.
    pub sizes: Vec<u64>,
    /// How many copies each target got (0: Sieve discarded it; more: filed twice).
    pub copies: Vec<u32>,
    /// The first copy stored, if any.
    pub path: Option<PathBuf>,
}

/// Commits each Maildir copy (one per account, in order) where its placement says (its
/// inbox without one): copies discarded are dropped, the rest stored together, then the
/// further places of each get a hard-linked copy. Each stored copy is counted in its
/// `maildirsize`.
pub fn commit_placed(
    deliveries: Vec<mailwright_maildir::Delivery>,
    accounts: &[&QuotaAccount],
    placements: &[Option<Placement>],
) -> Result<Committed, mailwright_maildir::Error> {
    let sizes: Vec<u64> = deliveries
        .iter()
        .map(mailwright_maildir::Delivery::size)
        .collect();
    let mut kept = Vec::with_capacity(deliveries.len());
    let mut kept_index = Vec::with_capacity(deliveries.len());
    for (i, mut d) in deliveries.into_iter().enumerate() {
        match placements.get(i).and_then(Option::as_ref) {
            None => {}
            // Discarded: dropping the delivery removes its file.
            Some(Placement { first: None, .. }) => continue,
            Some(Placement {
                first: Some((folder, letters)),
                ..
            }) => {
                d.deliver_into(folder.clone());
                if !letters.is_empty() {
                    d.set_flags(letters);
                }
            }
        }
        kept.push(d);
        kept_index.push(i);
    }
    let mut paths = vec![None; sizes.len()];
    if !kept.is_empty() {
        let stored = mailwright_maildir::Delivery::commit_all(kept)?;
        for (path, i) in stored.into_iter().zip(kept_index) {
            paths[i] = Some(path);
        }
    }
    Ok(place_further(paths, sizes, accounts, placements))
}

/// Commits one message file written for several mailboxes (`accounts`, in order, each
/// with [`shared_fields`] in front): each copy goes where its placement says, else to its
/// inbox (its Junk folder when `junk` says so). A copy whose scripts edited its header
/// (`edited`: the octets of the header at `header_at` and what replaces them) gets a file
/// of its own; the others share one file, hard-linked into each folder, so the message is
/// written and synced once however many recipients it has. Then as [`commit_placed`].
pub fn commit_shared(
    mut shared: mailwright_maildir::Delivery,
    accounts: &[&QuotaAccount],
    placements: &[Option<Placement>],
    junk: &[bool],
    edited: &[Option<(u64, Vec<u8>)>],
    header_at: u64,
) -> Result<Committed, mailwright_maildir::Error> {
    let mut sizes = vec![shared.size(); accounts.len()];
    let mut own = Vec::new();
    let mut own_index = Vec::new();
    let mut linked: Vec<(Maildir, Option<String>)> = Vec::new();
    let mut linked_index = Vec::new();
    for (i, account) in accounts.iter().enumerate() {
        let (folder, letters) = match placements.get(i).and_then(Option::as_ref) {
            Some(Placement { first: None, .. }) => continue,
            Some(Placement {
                first: Some((folder, letters)),
                ..
            }) => (folder.clone(), letters.clone()),
            None if junk.get(i) == Some(&true) => (junk_folder(&account.maildir)?, String::new()),
            None => (account.maildir.clone(), String::new()),
        };
        let flags = (!letters.is_empty()).then_some(letters);
        match edited.get(i).and_then(Option::as_ref) {
            Some((old, new)) => {
                let mut d = shared.fork(&folder)?;
                d.replace(header_at, *old, new)?;
                if let Some(f) = &flags {
                    d.set_flags(f);
                }
                sizes[i] = d.size();
                own.push(d);
                own_index.push(i);
            }
            None => {
                linked.push((folder, flags));
                linked_index.push(i);
            }
        }
    }
    let mut paths = vec![None; accounts.len()];
    if !own.is_empty() {
        let stored = mailwright_maildir::Delivery::commit_all(own)?;
        for (path, &i) in stored.iter().zip(&own_index) {
            paths[i] = Some(path.clone());
        }
    }
    match linked.split_first() {
        Some(((first, flags), rest)) => {
            shared.deliver_into(first.clone());
            if let Some(f) = flags {
                shared.set_flags(f);
            }
            match shared.commit_linked(rest) {
                Ok(stored) => {
                    for (path, i) in stored.into_iter().zip(linked_index) {
                        paths[i] = Some(path);
                    }
                }
                Err(e) => {
                    // All or nothing: the client is told to send it again.
                    for path in paths.iter().flatten() {
                        let _ = std::fs::remove_file(path);
                    }
                    return Err(e);
                }
            }
        }
        None => shared.abort(),
    }
    Ok(place_further(paths, sizes, accounts, placements))
}

/// After the copies are stored (`paths`, one per account; `None`: discarded): the further
/// places Sieve gave each get a hard-linked copy, and every copy is counted in its
/// `maildirsize`.
fn place_further(
    paths: Vec<Option<PathBuf>>,
    sizes: Vec<u64>,
    accounts: &[&QuotaAccount],
    placements: &[Option<Placement>],
) -> Committed {
    let mut copies: Vec<u32> = paths.iter().map(|p| u32::from(p.is_some())).collect();
    for (i, path) in paths.iter().enumerate() {
        let (Some(path), Some(Some(placement))) = (path, placements.get(i)) else {
            continue;
        };
        for (folder, letters) in &placement.more {
            let flags = (!letters.is_empty()).then_some(letters.as_str());
            // The message is stored (and about to be acknowledged) already: a further copy
            // that fails is logged, never a reason to have the client send it again.
            match folder.link_copy(path, flags) {
                Ok(_) => copies[i] += 1,
                Err(e) => {
                    tracing::warn!(folder = %folder.path().display(), error = %e, "sieve: cannot store a further copy")
                }
            }
        }
    }
    for ((account, size), n) in accounts.iter().zip(&sizes).zip(&copies) {
        if *n > 0 {
            count_in_maildirsize(account, *size as i64 * i64::from(*n), i64::from(*n));
        }
    }
    Committed {
        sizes,
        copies,
        path: paths.into_iter().flatten().next(),
    }
}

/// The storage name of a folder named as clients name it (UTF-8, `separator` between
/// levels, as IMAP shows them and Sieve's `fileinto` gives them): `INBOX`, or modified UTF-7
/// with Maildir++'s `.` between levels. With `/` as the separator a `.` in a name is refused,
/// as Dovecot refuses it: on disk it would be a level. The refusal says why.
pub fn folder_storage_name(name: &str, separator: char) -> Result<String, &'static str> {
    let name = name.strip_suffix(separator).unwrap_or(name);
    if name.eq_ignore_ascii_case("INBOX") {
        return Ok("INBOX".into());
    }
    let name = if separator == '.' {
        name.to_owned()
    } else if name.contains('.') {
        return Err("Character not allowed in mailbox name: '.'");
    } else {
        name.replace(separator, ".")
    };
    let storage = mailwright_imap::encode_mutf7(&name);
    mailwright_maildir::validate_folder_name(&storage).map_err(|_| "Invalid mailbox name")?;
    Ok(storage)
}

pub fn junk_folder(maildir: &Maildir) -> Result<Maildir, mailwright_maildir::Error> {
    maildir.special_folder("Junk", "Junk").map_err(|e| match e {
        mailwright_maildir::FolderError::Storage(e) => e,
        other => mailwright_maildir::Error::Io {
            action: "opening the Junk folder of",
            path: maildir.path().to_owned(),
            source: std::io::Error::other(other.to_string()),
        },
    })
}
