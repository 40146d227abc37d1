//! Sieve on the copies SMTP stores straight into Maildirs: the scripts run at the end of
//! DATA (after the checks, before the commit), each copy is placed where its plan says, and
//! what goes out again (redirects, vacation replies, refusals of a copy) is queued once the
//! message is stored.

use mailwright_sieve::Envelope;
use mailwright_smtp::Reply;
use tracing::{info, warn};

use crate::sieve::Plan;
use crate::sieve::outgoing::outgoing;
use crate::smtp::body::{BodyWriter, run_blocking};
use crate::smtp::service::reply;
use crate::smtp::session::{Connection, Transaction};

/// What the scripts left to do once the copies are stored: for each mailbox, its plan.
pub(super) struct AfterStore {
    message: Vec<u8>,
    plans: Vec<(String, std::path::PathBuf, Plan)>,
}

impl Connection {
    /// Runs the Sieve scripts of each local copy and places the copies; `Ok(None)` when no
    /// script applies. `Err`: every copy is refused (`reject`), answered 550 to the client.
    pub(super) async fn sieve(
        &self,
        tx: &Transaction,
        body: &mut BodyWriter,
    ) -> Result<Option<AfterStore>, Reply> {
        let filtering = &self.service.sieve;
        if tx.queued() || !tx.mailboxes.iter().any(|m| filtering.applies(&m.maildir)) {
            return Ok(None);
        }
        let message = body.judged().await.map_err(|e| {
            warn!(queue_id = %body.queue_id, error = %e, "cannot read the message back for sieve");
            reply(
                451,
                4,
                3,
                0,
                "Local error in processing, try again later".into(),
            )
        })?;
        let junk = body.junk().to_vec();
        let sender = tx.sender();
        let targets: Vec<(String, std::path::PathBuf, bool)> = tx
            .mailboxes
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let address = tx
                    .local_dsn(&m.username)
                    .map_or_else(|| m.username.clone(), |(_, a, _)| a.clone());
                (address, m.maildir.clone(), junk.get(i) == Some(&true))
            })
            .collect();
        let filtering = std::sync::Arc::clone(filtering);
        let raw = message.clone();
        let planned = run_blocking(move || {
            let mut out = Vec::with_capacity(targets.len());
            for (address, home, junk) in targets {
                // A copy the checks sent to Junk goes there, as a global script would send it.
                let plan = match junk {
                    true => None,
                    false => filtering.plan(
                        &home,
                        &raw,
                        &Envelope {
                            from: sender.clone(),
                            to: address.clone(),
                            auth: None,
                        },
                    ),
                };
                let placement = plan
                    .as_ref()
                    .map(|p| filtering.placement(&home, p, &address));
                out.push((address, home, plan, placement));
            }
            Ok(out)
        })
        .await
        .map_err(|e| {
            warn!(error = %e, "sieve failed");
            reply(
                451,
                4,
                3,
                0,
                "Local error in processing, try again later".into(),
            )
        })?;
        let all_rejected = planned.iter().all(|(_, _, plan, _)| {
            plan.as_ref()
                .is_some_and(|p| p.reject.is_some() && p.stores_nothing())
        });
        if all_rejected && let Some((_, _, Some(plan), _)) = planned.first() {
            let reason = plan.reject.clone().unwrap_or_default();
            return Err(reply(
                550,
                5,
                7,
                1,
                format!("Rejected by the recipient's filter: {}", one_line(&reason)),
            ));
        }
        let mut placements = Vec::with_capacity(planned.len());
        let mut headers = Vec::with_capacity(planned.len());
        let mut plans = Vec::new();
        for (address, home, plan, placement) in planned {
            placements.push(placement);
            headers.push(plan.as_ref().and_then(|p| p.header.clone()));
            if let Some(plan) = plan {
                plans.push((address, home, plan));
            }
        }
        body.place(placements, headers);
        Ok(Some(AfterStore { message, plans }))
    }

    /// Queues what the scripts sent out: redirected copies, vacation replies, and a notice
    /// to the sender for each copy a script refused.
    pub(super) async fn after_store(&self, tx: &Transaction, queue_id: &str, after: AfterStore) {
        let sender = tx.sender();
        let hostname = self.service.config.hostname.clone();
        let message = std::sync::Arc::new(after.message);
        for (address, home, plan) in after.plans {
            let (from, to, m, h) = (
                sender.clone(),
                address.clone(),
                std::sync::Arc::clone(&message),
                hostname.clone(),
            );
            let out = run_blocking(move || Ok(outgoing(&plan, &from, &to, &home, &m, &h))).await;
            for o in out.unwrap_or_default() {
                match self.service.queue.inject(&o.from, &o.to, o.message).await {
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

/// `text` on one line, for a reply.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
