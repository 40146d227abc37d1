//! Queued mail for our own mailboxes (a message the queue holds for a local recipient, such
//! as a bounce or a forward looped back): room checked, stored, usage recorded.

use std::path::PathBuf;

use futures_util::StreamExt as _;
use tracing::{info, warn};

use super::spool::{QueuedMessage, Route, Status};
use super::{LocalFailure, Queue};
use crate::accounts::LocalMailbox;

/// The most local copies of one message stored (and files held open) together.
const LOCAL_BATCH: usize = 256;

/// The most local recipients looked up at once.
const LOOKUPS: usize = 16;

impl Queue {
    /// Delivers the pending local recipients, each mailbox checked against its quota first:
    /// a copy for each, with its own `Return-Path:` and `Delivered-To:` in front (as the SMTP
    /// service does), made durable together.
    pub(super) async fn deliver_local(&self, message: &mut QueuedMessage, path: &std::path::Path) {
        let id = message.id.clone();
        let pending: Vec<(usize, String)> = message
            .recipients
            .iter()
            .enumerate()
            .filter(|(_, r)| r.status == Status::Pending)
            .filter_map(|(i, r)| match &r.route {
                Route::Local(user) => Some((i, user.clone())),
                _ => None,
            })
            .collect();
        // A list's members are looked up LOOKUPS at a time (the accounts pool serves them
        // at once), in order.
        let size = message.size;
        let looked_up: Vec<(usize, Result<LocalMailbox, LocalFailure>)> =
            futures_util::stream::iter(pending)
                .map(|(i, user)| async move { (i, self.local_target(&user, size).await) })
                .buffered(LOOKUPS)
                .collect()
                .await;
        let mut targets: Vec<(usize, LocalMailbox)> = Vec::new();
        for (i, found) in looked_up {
            let r = &mut message.recipients[i];
            match found {
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
        // A large list's copies go in batches: each copy holds an open file until the batch
        // is committed, and a list of 10,000 must not take 10,000 descriptors at once.
        for batch in targets.chunks(LOCAL_BATCH) {
            self.deliver_batch(message, path, batch.to_vec()).await;
        }
    }

    /// Stores one batch of `deliver_local`'s copies.
    async fn deliver_batch(
        &self,
        message: &mut QueuedMessage,
        path: &std::path::Path,
        targets: Vec<(usize, LocalMailbox)>,
    ) {
        let id = message.id.clone();
        let copies: Vec<(mailwright_maildir::Maildir, String)> = targets
            .iter()
            .map(|(i, m)| {
                let address = &message.recipients[*i].address;
                let sender = message.sender_for(address);
                let mut fields = crate::delivery::delivery_fields(&sender, &m.username);
                fields.push_str(&self.member_fields(message, address));
                (mailwright_maildir::Maildir::new(m.maildir.clone()), fields)
            })
            .collect();
        let junk = message.junk;
        let hostname = self.config.get().hostname.clone();
        let source: PathBuf = path.to_owned();
        let accounts: Vec<crate::delivery::QuotaAccount> = targets
            .iter()
            .map(|(_, m)| crate::delivery::QuotaAccount::of(&self.config.get(), m))
            .collect();
        // Sieve, for the copies not sent to Junk: what each recipient's scripts decide.
        let sieve = self.sieve.get();
        let scripted: Vec<(String, PathBuf)> = targets
            .iter()
            .map(|(i, m)| (message.recipients[*i].address.clone(), m.maildir.clone()))
            .collect();
        let sender = message.from.clone();
        let stored = tokio::task::spawn_blocking(
            move || -> Result<(crate::delivery::Committed, Vec<Planned>), mailwright_maildir::Error> {
                let plans = match junk {
                    true => Vec::new(),
                    false => plan_copies(&sieve, &scripted, &sender, &source)?,
                };
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
                // The header as each copy's scripts edited it (editheader), after its fields.
                for ((d, (_, fields)), planned) in deliveries.iter_mut().zip(&copies).zip(&plans) {
                    if let Some((_, _, plan)) = &planned.plan
                        && let Some((old, new)) = &plan.header
                    {
                        d.replace(fields.len() as u64, *old, new)?;
                    }
                }
                let placements: Vec<Option<crate::delivery::Placement>> =
                    plans.iter().map(|p| p.placement.clone()).collect();
                let accounts: Vec<&crate::delivery::QuotaAccount> = accounts.iter().collect();
                let committed = crate::delivery::commit_placed(deliveries, &accounts, &placements)?;
                Ok((committed, plans))
            },
        )
        .await
            .unwrap_or_else(|e| {
                Err(mailwright_maildir::Error::Io {
                    action: "delivering",
                    path: PathBuf::new(),
                    source: std::io::Error::other(e.to_string()),
                })
            });
        match stored {
            Ok((committed, plans)) => {
                // maildirsize counted each copy as it was stored; quota2 here.
                for ((_, m), (size, n)) in targets
                    .iter()
                    .zip(committed.sizes.iter().zip(&committed.copies))
                {
                    if *n > 0 {
                        let n = i64::from(*n);
                        self.accounts.record_usage(&m.username, *size as i64 * n, n);
                    }
                }
                self.send_planned(&id, &message.from, plans, path).await;
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

/// What Sieve decided for one local copy: where it goes, and what it sends out.
pub(super) struct Planned {
    placement: Option<crate::delivery::Placement>,
    plan: Option<(String, PathBuf, crate::sieve::Plan)>,
}

/// Runs each copy's scripts over the queued message (read from `source` only when a script
/// applies). One entry per copy, in order.
fn plan_copies(
    sieve: &crate::sieve::Filtering,
    copies: &[(String, PathBuf)],
    sender: &str,
    source: &std::path::Path,
) -> Result<Vec<Planned>, mailwright_maildir::Error> {
    if !copies.iter().any(|(_, home)| sieve.applies(home)) {
        return Ok(copies
            .iter()
            .map(|_| Planned {
                placement: None,
                plan: None,
            })
            .collect());
    }
    let raw = std::fs::read(source).map_err(|e| mailwright_maildir::Error::Io {
        action: "reading",
        path: source.to_owned(),
        source: e,
    })?;
    Ok(copies
        .iter()
        .map(|(address, home)| {
            let envelope = mailwright_sieve::Envelope {
                from: sender.to_owned(),
                to: address.clone(),
                auth: None,
            };
            match sieve.plan(home, &raw, &envelope) {
                None => Planned {
                    placement: None,
                    plan: None,
                },
                Some(plan) => Planned {
                    placement: Some(sieve.placement(home, &plan, address)),
                    plan: Some((address.clone(), home.clone(), plan)),
                },
            }
        })
        .collect())
}

impl Queue {
    /// Queues what the scripts of the copies just stored send out (redirects, vacation
    /// replies, refusal notices).
    async fn send_planned(
        &self,
        queue_id: &str,
        sender: &str,
        plans: Vec<Planned>,
        path: &std::path::Path,
    ) {
        if !plans.iter().any(|p| p.plan.is_some()) {
            return;
        }
        let hostname = self.config.get().hostname.clone();
        let Ok(message) = tokio::fs::read(path).await else {
            warn!(%queue_id, "sieve: cannot read the message back for what its scripts send");
            return;
        };
        let message = std::sync::Arc::new(message);
        for (address, home, plan) in plans.into_iter().filter_map(|p| p.plan) {
            let (from, m, h) = (
                sender.to_owned(),
                std::sync::Arc::clone(&message),
                hostname.clone(),
            );
            let to = address.clone();
            let out = tokio::task::spawn_blocking(move || {
                crate::sieve::outgoing::outgoing(&plan, &from, &to, &home, &m, &h)
            })
            .await
            .unwrap_or_default();
            for o in out {
                match self.inject(&o.from, &o.to, o.message).await {
                    Ok(id) => {
                        info!(%queue_id, user = %address, to = %o.to, id = %id, what = o.what, "sieve: queued")
                    }
                    Err(e) => {
                        warn!(%queue_id, user = %address, to = %o.to, what = o.what, error = %e, "sieve: cannot queue")
                    }
                }
            }
        }
    }
}
