//! Queued mail for our own mailboxes (a message the queue holds for a local recipient, such
//! as a bounce or a forward looped back): room checked, stored, usage recorded.

use std::path::PathBuf;

use tracing::{info, warn};

use super::spool::{QueuedMessage, Route, Status};
use super::{LocalFailure, Queue};
use crate::accounts::LocalMailbox;

impl Queue {
    /// Delivers the pending local recipients, each mailbox checked against its quota first:
    /// a copy for each, with its own `Return-Path:` and `Delivered-To:` in front (as the SMTP
    /// service does), made durable together.
    pub(super) async fn deliver_local(&self, message: &mut QueuedMessage, path: &std::path::Path) {
        let id = message.id.clone();
        let mut targets: Vec<(usize, LocalMailbox)> = Vec::new();
        for (i, r) in message.recipients.iter_mut().enumerate() {
            let Route::Local(user) = &r.route else {
                continue;
            };
            if r.status != Status::Pending {
                continue;
            }
            match self.local_target(user, message.size).await {
                Ok(mailbox) => targets.push((i, mailbox)),
                Err(f) => {
                    r.last_reply = f.reason;
                    if f.permanent {
                        r.status = Status::Failed;
                    }
                    info!(queue_id = %id, to = %r.address, reply = %r.last_reply, permanent = f.permanent, "local delivery failed");
                }
            }
        }
        if targets.is_empty() {
            return;
        }
        let copies: Vec<(mailwright_maildir::Maildir, String)> = targets
            .iter()
            .map(|(_, m)| {
                let fields = crate::delivery::delivery_fields(&message.from, &m.username);
                (mailwright_maildir::Maildir::new(m.maildir.clone()), fields)
            })
            .collect();
        let junk = message.junk;
        let hostname = self.config.get().hostname.clone();
        let source: PathBuf = path.to_owned();
        let stored =
            tokio::task::spawn_blocking(move || -> Result<Vec<u64>, mailwright_maildir::Error> {
                let read_error = |e| mailwright_maildir::Error::Io {
                    action: "reading",
                    path: source.clone(),
                    source: e,
                };
                let mut deliveries = Vec::with_capacity(copies.len());
                for (maildir, fields) in &copies {
                    let mut d = mailwright_maildir::Delivery::begin(maildir, &hostname)?;
                    d.write(fields.as_bytes())?;
                    if junk {
                        d.deliver_into(crate::delivery::junk_folder(maildir)?);
                    }
                    deliveries.push(d);
                }
                let mut file = std::fs::File::open(&source).map_err(read_error)?;
                let mut chunk = vec![0u8; 64 * 1024];
                loop {
                    let n = std::io::Read::read(&mut file, &mut chunk).map_err(read_error)?;
                    if n == 0 {
                        break;
                    }
                    for d in &mut deliveries {
                        d.write(&chunk[..n])?;
                    }
                }
                let sizes = deliveries
                    .iter()
                    .map(mailwright_maildir::Delivery::size)
                    .collect();
                mailwright_maildir::Delivery::commit_all(deliveries)?;
                Ok(sizes)
            })
            .await
            .unwrap_or_else(|e| {
                Err(mailwright_maildir::Error::Io {
                    action: "delivering",
                    path: PathBuf::new(),
                    source: std::io::Error::other(e.to_string()),
                })
            });
        match stored {
            Ok(stored) => {
                let copies: Vec<(&LocalMailbox, u64)> =
                    targets.iter().map(|(_, m)| m).zip(stored).collect();
                crate::delivery::record_delivery(&self.config.get(), &self.accounts, &copies).await;
                for (i, m) in &targets {
                    let r = &mut message.recipients[*i];
                    r.status = Status::Delivered;
                    r.last_reply = "delivered to mailbox".into();
                    info!(queue_id = %id, to = %r.address, mailbox = %m.username, result = "delivered", "queue delivery");
                }
            }
            Err(e) => {
                warn!(queue_id = %id, error = %e, "local delivery failed");
                for (i, _) in &targets {
                    message.recipients[*i].last_reply =
                        format!("451 4.3.0 cannot store the message: {e}");
                }
            }
        }
    }

    /// The mailbox of local user `user`, if it can take `size` more octets.
    pub(super) async fn local_target(
        &self,
        user: &str,
        size: u64,
    ) -> Result<LocalMailbox, LocalFailure> {
        let temporary = |reason: String| LocalFailure {
            permanent: false,
            reason,
        };
        let mailbox = match self.accounts.mailbox(user).await {
            Ok(Some(m)) => m,
            Ok(None) => {
                return Err(LocalFailure {
                    permanent: true,
                    reason: format!("550 5.1.1 <{user}>: mailbox unavailable"),
                });
            }
            Err(e) => return Err(temporary(format!("451 4.3.0 account lookup failed: {e}"))),
        };
        let account = crate::delivery::QuotaAccount::of(&self.config.get(), &mailbox);
        if crate::delivery::over_quota(&self.accounts, &account, size.max(1), 1).await {
            return Err(temporary(format!("452 4.2.2 <{user}>: mailbox full")));
        }
        Ok(mailbox)
    }
}
