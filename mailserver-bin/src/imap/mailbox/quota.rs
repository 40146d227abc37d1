//! The user's quota: usage kept current, GETQUOTA answers and the over-quota check.

use mailwright_imap::{Code, Mailbox, Response, ServerSession, Status};
use tracing::warn;

use super::common::block;
use super::session::User;
use crate::conn::Answered;
use crate::delivery::{self, QuotaAccount};

impl User {
    /// This user's mailbox as the quota accounting sees it.
    fn quota_account(&self) -> QuotaAccount {
        QuotaAccount {
            username: self.username.clone(),
            maildir: self.root.clone(),
            limits: self.quota,
            domain: self.domain.clone(),
            domain_quota: self.domain_quota,
        }
    }

    /// Records a change of stored octets and messages in `maildirsize` and `quota2`.
    pub(super) fn account_usage(&self, bytes: i64, messages: i64) {
        block(|| self.account_usage_here(bytes, messages));
    }

    /// [`User::account_usage`] for a caller already off the async threads.
    pub(super) fn account_usage_here(&self, bytes: i64, messages: i64) {
        let account = self.quota_account();
        delivery::record_change_here(&self.accounts, &account, bytes, messages);
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
                mailwright_imap::Atom::new("STORAGE")
                    .map(|a| (a, used.div_ceil(1024), self.quota.bytes / 1024)),
            );
        }
        if self.quota.messages > 0 {
            let used = usage.messages.max(0) as u64;
            resources.extend(
                mailwright_imap::Atom::new("MESSAGE").map(|a| (a, used, self.quota.messages)),
            );
        }
        session
            .send(&Response::Quota {
                root: String::new(),
                resources,
            })
            .answered();
    }

    /// Whether adding `messages` messages of `bytes` octets in all would pass a limit.
    pub(super) fn over_quota(&self, bytes: u64, messages: u64) -> bool {
        let account = self.quota_account();
        if !account.limits.any() && account.domain_quota == 0 {
            // No limit to read usage against: no hop off the async thread.
            return false;
        }
        let check = delivery::over_quota(&self.accounts, &account, bytes.max(1), messages);
        block(|| tokio::runtime::Handle::current().block_on(check))
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
        session
            .send(&Response::QuotaRoot {
                mailbox: m.as_str().to_owned(),
                roots,
            })
            .answered();
        if self.quota.any() {
            self.send_quota(session);
        }
        session
            .complete(Status::Ok, None, "GETQUOTAROOT completed")
            .answered();
    }

    /// GETQUOTA of the one root there is.
    pub(super) fn get_quota(&self, session: &mut ServerSession, root: &str) {
        if root.is_empty() && self.quota.any() {
            self.send_quota(session);
            session
                .complete(Status::Ok, None, "GETQUOTA completed")
                .answered();
        } else {
            session
                .complete(Status::No, Some(Code::NonExistent), "No such quota root")
                .answered();
        }
    }
}
