//! The user's quota: usage kept current, GETQUOTA answers and the over-quota check.

use imap_proto::{Code, Mailbox, Response, ServerSession, Status};
use tracing::warn;

use super::common::block;
use super::session::User;

impl User {
    /// Records a change of stored octets and messages in `maildirsize` and `quota2`.
    pub(super) fn account_usage(&self, bytes: i64, messages: i64) {
        if let Err(e) = block(|| self.root.quota_add(bytes, messages, self.quota)) {
            warn!(user = %self.username, error = %e, "maildirsize update failed");
        }
        let accounts = self.accounts.clone();
        let user = self.username.clone();
        tokio::spawn(async move {
            if let Err(e) = accounts.record_usage(&user, bytes, messages).await {
                warn!(%user, error = %e, "could not update quota2");
            }
        });
    }

    /// `* QUOTA "" (STORAGE used limit MESSAGE used limit)`, each resource that is limited;
    /// STORAGE in units of 1024 octets as RFC 9208 counts it.
    pub(super) fn send_quota(&self, session: &mut ServerSession) {
        let usage = match block(|| self.root.quota_usage(self.quota)) {
            Ok(usage) => usage,
            Err(e) => {
                warn!(user = %self.username, error = %e, "reading quota usage failed");
                return;
            }
        };
        let mut resources = Vec::new();
        if self.quota.bytes > 0 {
            let used = usage.bytes.max(0) as u64;
            resources.extend(
                imap_proto::Atom::new("STORAGE")
                    .map(|a| (a, used.div_ceil(1024), self.quota.bytes / 1024)),
            );
        }
        if self.quota.messages > 0 {
            let used = usage.messages.max(0) as u64;
            resources
                .extend(imap_proto::Atom::new("MESSAGE").map(|a| (a, used, self.quota.messages)));
        }
        let _ = session.send(&Response::Quota {
            root: String::new(),
            resources,
        });
    }

    /// Whether adding `messages` messages of `bytes` octets in all would pass a limit.
    pub(super) fn over_quota(&self, bytes: u64, messages: u64) -> bool {
        if self.domain_quota > 0 {
            let usage = block(|| {
                tokio::runtime::Handle::current().block_on(self.accounts.domain_usage(&self.domain))
            });
            match usage {
                Ok(used) if used.saturating_add(bytes) > self.domain_quota => return true,
                Ok(_) => {}
                Err(e) => {
                    warn!(domain = %self.domain, error = %e, "domain usage unreadable; allowing")
                }
            }
        }
        if !self.quota.any() {
            return false;
        }
        match block(|| self.root.quota_usage(self.quota)) {
            Ok(usage) => self.quota.exceeded(usage, (bytes, messages)),
            Err(e) => {
                warn!(user = %self.username, error = %e, "quota check failed; allowing");
                false
            }
        }
    }

    /// GETQUOTAROOT (RFC 9208): one root, "", covers every folder of the mailbox (Maildir++
    /// counts them together).
    pub(super) fn get_quota_root(&self, session: &mut ServerSession, m: &Mailbox) {
        if self.existing_folder(session, m).is_none() {
            return;
        }
        let roots = if self.quota.any() {
            vec![String::new()]
        } else {
            Vec::new()
        };
        let _ = session.send(&Response::QuotaRoot {
            mailbox: m.as_str().to_owned(),
            roots,
        });
        if self.quota.any() {
            self.send_quota(session);
        }
        let _ = session.complete(Status::Ok, None, "GETQUOTAROOT completed");
    }

    /// GETQUOTA of the one root there is.
    pub(super) fn get_quota(&self, session: &mut ServerSession, root: &str) {
        if root.is_empty() && self.quota.any() {
            self.send_quota(session);
            let _ = session.complete(Status::Ok, None, "GETQUOTA completed");
        } else {
            let _ = session.complete(Status::No, Some(Code::NonExistent), "No such quota root");
        }
    }
}
