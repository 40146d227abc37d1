//! Sieve on the copies SMTP stores straight into Maildirs: the scripts run at the end of
//! DATA (after the checks, before the commit), each copy is placed where its plan says, and
//! what goes out again (redirects, vacation replies, refusals of a copy) is queued once the
//! message is stored.

use std::time::SystemTime;

use mailwright_maildir::{Maildir, SieveScripts};
use mailwright_sieve::Envelope;
use mailwright_smtp::Reply;
use tracing::{info, warn};

use crate::sieve::{Plan, flag_letters, vacation};
use crate::smtp::body::{BodyWriter, Placement, run_blocking};
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
        if !tx.remote.is_empty() || !tx.mailboxes.iter().any(|m| filtering.applies(&m.maildir)) {
            return Ok(None);
        }
        let message = body.message().await.map_err(|e| {
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
                    .map(|p| placement(&filtering, &home, p, &address));
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
        let mut plans = Vec::new();
        for (address, home, plan, placement) in planned {
            placements.push(placement);
            if let Some(plan) = plan {
                plans.push((address, home, plan));
            }
        }
        body.place(placements);
        Ok(Some(AfterStore { message, plans }))
    }

    /// Queues what the scripts sent out: redirected copies, vacation replies, and a notice
    /// to the sender for each copy a script refused.
    pub(super) async fn after_store(&self, tx: &Transaction, queue_id: &str, after: AfterStore) {
        let sender = tx.sender();
        let queue = &self.service.queue;
        for (address, home, plan) in after.plans {
            for to in &plan.redirects {
                // Delivered-To: of this mailbox, so a redirect that comes back is seen as a loop.
                let mut copy = format!("Delivered-To: {address}\r\n").into_bytes();
                copy.extend_from_slice(&after.message);
                match queue.inject(&sender, to, copy).await {
                    Ok(id) => {
                        info!(%queue_id, user = %address, %to, redirect_id = %id, "sieve: redirected")
                    }
                    Err(e) => {
                        warn!(%queue_id, user = %address, %to, error = %e, "sieve: cannot redirect")
                    }
                }
            }
            if let Some(reason) = &plan.reject
                && !sender.is_empty()
            {
                let notice = rejection(&self.service.config.hostname, &sender, &address, reason);
                match queue.inject("", &sender, notice).await {
                    Ok(id) => {
                        info!(%queue_id, user = %address, to = %sender, notice_id = %id, "sieve: rejected; sender told")
                    }
                    Err(e) => {
                        warn!(%queue_id, user = %address, error = %e, "sieve: cannot tell the sender of a rejection")
                    }
                }
            }
            if let Some(v) = plan.vacation {
                self.vacation(queue_id, &sender, &address, &home, &after.message, v)
                    .await;
            }
        }
    }

    async fn vacation(
        &self,
        queue_id: &str,
        sender: &str,
        address: &str,
        home: &std::path::Path,
        message: &[u8],
        v: mailwright_sieve::Vacation,
    ) {
        let view = crate::sieve::view::View::new(message);
        let envelope = Envelope {
            from: sender.to_owned(),
            to: address.to_owned(),
            auth: None,
        };
        let mut mine = vec![address.to_owned()];
        mine.extend(v.addresses.iter().cloned());
        if let Some(why) = vacation::refusal(&view, &envelope, &mine) {
            info!(%queue_id, user = %address, %sender, reason = why, "sieve: no vacation reply");
            return;
        }
        let key = format!("{}\t{}", sender.to_ascii_lowercase(), v.handle);
        let period = v.period.unwrap_or(7 * 86_400);
        let scripts = SieveScripts::new(home);
        let now = SystemTime::now();
        let unix = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let answered = run_blocking(move || Ok(scripts.answered(&key, unix, period)?)).await;
        match answered {
            Ok(true) => {
                info!(%queue_id, user = %address, %sender, "sieve: vacation reply sent to this sender already");
                return;
            }
            Ok(false) => {}
            Err(e) => {
                warn!(%queue_id, user = %address, error = %e, "sieve: cannot read the vacation record; no reply");
                return;
            }
        }
        let text = vacation::compose(&view, &envelope, &v, &self.service.config.hostname, now);
        match self.service.queue.inject("", sender, text).await {
            Ok(id) => {
                info!(%queue_id, user = %address, to = %sender, reply_id = %id, "sieve: vacation reply queued")
            }
            Err(e) => {
                warn!(%queue_id, user = %address, error = %e, "sieve: cannot queue the vacation reply")
            }
        }
    }
}

/// Where the copy for `address` (whose Maildir is `home`) goes under `plan`: folders that do
/// not exist are made only with `:create`, else the copy stays in the inbox (logged).
fn placement(
    filtering: &crate::sieve::Filtering,
    home: &std::path::Path,
    plan: &Plan,
    address: &str,
) -> Placement {
    let inbox = Maildir::new(home);
    let mut places: Vec<(Maildir, String)> = Vec::new();
    let mut keep_anyway = false;
    for (name, flags, create) in &plan.folders {
        let folder = filtering
            .storage_name(name)
            .map_err(str::to_owned)
            .and_then(|storage| {
                if storage == "INBOX" {
                    return Ok(inbox.clone());
                }
                match (inbox.folder_exists(&storage), create) {
                    (true, _) => inbox.folder(&storage).map_err(|e| e.to_string()),
                    (false, true) => inbox.create_folder(&storage).map_err(|e| e.to_string()),
                    (false, false) => {
                        Err("the folder does not exist (and :create was not given)".into())
                    }
                }
            });
        match folder {
            Ok(f) => places.push((f, flag_letters(flags, address))),
            Err(e) => {
                warn!(user = %address, folder = %name, error = %e, "sieve: fileinto failed; keeping the message in the inbox");
                keep_anyway = true;
            }
        }
    }
    if let Some(flags) = &plan.inbox {
        places.insert(0, (inbox.clone(), flag_letters(flags, address)));
    } else if keep_anyway && !places.iter().any(|(f, _)| *f == inbox) {
        places.insert(0, (inbox.clone(), String::new()));
    }
    let mut places = places.into_iter();
    Placement {
        first: places.next(),
        more: places.collect(),
    }
}

/// `text` on one line, for a reply.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The notice to `sender` that `address`'s filter refused their message (RFC 5429 allows a
/// plain notice where no MDN is sent).
fn rejection(hostname: &str, sender: &str, address: &str, reason: &str) -> Vec<u8> {
    format!(
        "From: Mail Delivery System <MAILER-DAEMON@{hostname}>\r\nTo: <{sender}>\r\n\
         Subject: Rejected: your message to {address}\r\nDate: {}\r\n\
         Message-ID: <{}.reject@{hostname}>\r\nAuto-Submitted: auto-replied (rejected)\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         Your message to <{address}> was rejected by the recipient's mail filter:\r\n\r\n{}\r\n",
        crate::mail::rfc5322_date(SystemTime::now()),
        crate::mail::queue_id(),
        reason.replace("\r\n", "\n").replace('\n', "\r\n")
    )
    .into_bytes()
}
