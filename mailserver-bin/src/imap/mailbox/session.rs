//! A logged-in user's session state: the user, their folders' shared caches, the selected
//! folder, and the helpers every command family uses (blocking file work, telling the shared
//! listings of this session's changes, resolving sequence sets). Below every command file.

use std::sync::Arc;

use mailwright_imap::{AppendHead, Code, Mailbox, SequenceSet, ServerSession, Status};
use mailwright_maildir::{Delivery, FolderError, ListingCache, Maildir};
use tracing::warn;

use super::common::{DEFAULT_FOLDERS, Refusal, block, no_such_mailbox};
use super::selected::Selected;
use super::tree::storage_name;
use crate::accounts::Accounts;
use crate::conn::Answered;
use crate::imap::headers::HeaderCache;
use crate::imap::ranges;
use crate::imap::service::ImapService;

/// A logged-in user.
pub struct User {
    pub username: String,
    pub(super) root: Maildir,
    pub(super) quota: mailwright_maildir::QuotaLimits,
    /// The domain, and the quota of all its mailboxes together (octets; 0: none).
    pub(super) domain: String,
    pub(super) domain_quota: u64,
    pub(super) accounts: Accounts,
    pub(super) hostname: String,
    /// Space the file system keeps free (`[limits] min_free_space`).
    pub(super) disk_reserve: crate::disk::Reserve,
    pub(super) selected: Option<Selected>,
    pub(super) append: Option<Append>,
    pub(super) listings: Arc<ListingCache>,
    pub(super) headers: Arc<HeaderCache>,
    pub(super) seats: Arc<crate::imap::seats::Seats>,
    /// Where the line ends of the last message read in chunks fall.
    pub(super) line_ends: Option<ranges::LineEnds>,
    /// The archives of the user's lists, read-only (`shared`).
    pub(super) shared: Vec<super::shared::SharedFolder>,
    /// The pending read of a folder this session changed (see [`recheck_later`](super::common::recheck_later)).
    pub(super) recheck: super::common::Recheck,
}

/// Checks credentials and opens the user's mail store.
pub async fn login(
    service: &ImapService,
    username: &str,
    authzid: Option<&str>,
    password: String,
) -> Result<User, Refusal> {
    let accounts = &service.accounts;
    const FAILED: Refusal = (Some(Code::AuthenticationFailed), "Authentication failed");
    const TEMP: Refusal = (
        Some(Code::Unavailable),
        "Temporary authentication failure, try again later",
    );
    let default_scheme = service.config.accounts.default_password_scheme;
    let ok = accounts
        .authenticate(username, password, default_scheme)
        .await
        .map_err(|e| {
            warn!(error = %e, "imap login: account lookup failed");
            TEMP
        })?;
    if !ok {
        return Err(FAILED);
    }
    let mailbox = accounts
        .mailbox(username)
        .await
        .map_err(|e| {
            warn!(error = %e, "imap login: mailbox lookup failed");
            TEMP
        })?
        .ok_or(FAILED)?;
    if let Some(a) = authzid
        && !a.eq_ignore_ascii_case(&mailbox.username)
    {
        return Err((
            Some(Code::AuthorizationFailed),
            "Not authorized to act as that user",
        ));
    }
    let root = Maildir::new(mailbox.maildir.clone());
    // Reading does not depend on writing: a store that cannot be made now (a full disk) is
    // read as empty, and made at the next login or delivery.
    if let Err(e) = block(|| prepare(&root)) {
        warn!(user = %mailbox.username, error = %e, "cannot create the mail store; reading it as it is");
    }
    let shared = super::shared::load(accounts, &mailbox.username).await;
    Ok(User {
        username: mailbox.username,
        root,
        quota: service
            .config
            .quota_limits(mailbox.quota, mailbox.message_quota),
        domain: mailbox.domain,
        domain_quota: mailbox.domain_quota,
        accounts: accounts.clone(),
        hostname: service.config.hostname.clone(),
        disk_reserve: service.config.disk_reserve(),
        selected: None,
        append: None,
        listings: Arc::clone(&service.listings),
        headers: Arc::clone(&service.headers),
        seats: Arc::clone(&service.seats),
        line_ends: None,
        shared,
        recheck: super::common::Recheck::default(),
    })
}

/// Creates the mail store and, for a mailbox never opened before, the default folders.
pub(super) fn prepare(root: &Maildir) -> Result<(), mailwright_maildir::Error> {
    root.create()?;
    if root.subscriptions()?.is_none() {
        for (name, _) in DEFAULT_FOLDERS {
            match root.create_folder(name) {
                Ok(_) | Err(FolderError::Exists) => {}
                Err(FolderError::Storage(e)) => return Err(e),
                Err(e) => warn!(folder = name, error = %e, "default folder"),
            }
        }
        root.set_subscribed("INBOX", true)?;
        for (name, _) in DEFAULT_FOLDERS {
            root.set_subscribed(name, true)?;
        }
    }
    Ok(())
}

impl User {
    /// The storage name of `m` when that folder exists; otherwise answers NO and gives `None`.
    pub(super) fn existing_folder(
        &self,
        session: &mut ServerSession,
        m: &Mailbox,
    ) -> Option<String> {
        if let Some(shared) = self.shared_folder(m) {
            return Some(shared.storage.clone());
        }
        match storage_name(m) {
            Ok(s) if self.root.folder_exists(&s) => Some(s),
            Ok(_) => {
                no_such_mailbox(session);
                None
            }
            Err((code, text)) => {
                session.complete(Status::No, code, text).answered();
                None
            }
        }
    }

    pub(super) fn internal_error(
        &self,
        session: &mut ServerSession,
        what: &str,
        e: &dyn std::fmt::Display,
    ) {
        warn!(user = %self.username, error = %e, "imap {what} failed");
        session
            .complete(
                Status::No,
                Some(Code::ServerBug),
                "Internal error, see the server log",
            )
            .answered();
    }

    /// Whether what the session last saw of its selected folder was settled (see
    /// [`FolderStamp::is_settled`](mailwright_maildir::FolderStamp::is_settled)); if not, a session in IDLE looks again soon, since a change
    /// in the same clock tick would not wake it a second time.
    pub fn folder_settled(&self) -> bool {
        self.selected.as_ref().is_none_or(|s| s.stamp.is_settled())
    }

    /// The directory of the selected folder, if any.
    pub fn selected_folder(&self) -> Option<std::path::PathBuf> {
        self.selected.as_ref().map(|s| s.maildir.path().to_owned())
    }

    pub(super) fn writable(&self, session: &mut ServerSession) -> bool {
        match &self.selected {
            Some(s) if !s.read_only => true,
            _ => {
                session
                    .complete(Status::No, Some(Code::ReadOnly), "Mailbox is read-only")
                    .answered();
                false
            }
        }
    }

    /// Message indices a set names. Sequence numbers beyond the mailbox are an error; UIDs
    /// that do not exist are skipped (RFC 9051 §6.4.9).
    pub(super) fn resolve(&self, set: &SequenceSet, uid: bool) -> Result<Vec<usize>, &'static str> {
        let Some(sel) = &self.selected else {
            return Err("No mailbox selected");
        };
        if set.is_saved() {
            // `$`: whichever saved messages are still here (RFC 5182 §2.1).
            return Ok((0..sel.len())
                .filter(|&i| sel.is_saved(sel.msg(i).uid))
                .collect());
        }
        let len = sel.len();
        if !uid && len == 0 {
            return Err("No messages in the mailbox");
        }
        let largest = if uid { sel.last_uid() } else { len as u32 };
        // Ascending and disjoint, so the indices come out sorted and once each.
        let mut out = Vec::new();
        for range in set.to_ranges(largest) {
            let (lo, hi) = range.into_inner();
            if uid {
                out.extend(sel.first_at_or_above(lo)..sel.first_at_or_above(hi.saturating_add(1)));
            } else if hi as usize > len {
                return Err("Invalid message sequence number");
            } else {
                out.extend(lo as usize - 1..hi as usize);
            }
        }
        Ok(out)
    }
}

/// An APPEND in progress.
pub(super) struct Append {
    pub(super) delivery: Option<Delivery>,
    /// A small message, held in memory until its end and then stored in one go.
    pub(super) held: Option<Vec<u8>>,
    pub(super) folder: Maildir,
    pub(super) head: AppendHead,
    pub(super) failed: Option<String>,
}

/// The list archives (`shared`) as the commands meet them.
impl User {
    /// The shared folder named `m`, if it is one.
    pub(super) fn shared_folder(&self, m: &Mailbox) -> Option<&super::shared::SharedFolder> {
        self.shared.iter().find(|s| s.name == m.as_str())
    }

    /// The Maildir of the folder with storage name `storage`, the user's own or shared.
    pub(super) fn folder_maildir(&self, storage: &str) -> Result<Maildir, FolderError> {
        match self.shared.iter().find(|s| s.storage == storage) {
            Some(s) => Ok(s.maildir.clone()),
            None => self.root.folder(storage),
        }
    }

    /// Answers `NO [NOPERM]` when `m` is a shared folder (or the name above them), which
    /// `what` may not change; whether it did.
    pub(super) fn refuse_shared(
        &self,
        session: &mut ServerSession,
        m: &Mailbox,
        what: &str,
    ) -> bool {
        let above = !self.shared.is_empty() && m.as_str() == super::shared::PREFIX;
        if self.shared_folder(m).is_none() && !above {
            return false;
        }
        session
            .complete(
                Status::No,
                Some(Code::NoPerm),
                &format!("{what}: the list archives are read-only"),
            )
            .answered();
        true
    }
}
