//! Posts to our mailing lists: the queue holds a post for the list as one recipient; its
//! turn makes the list's copy (`crate::lists::post`) and queues it once, from the list's
//! bounce address, to every member, then marks the list delivered. A member's copy then goes
//! like any other: into a local Maildir, or through the relay.

use tracing::{info, warn};

use super::Queue;
use super::spool::{QueuedMessage, Route, Status};
use crate::lists::Handled;

impl Queue {
    /// Carries out a moderator's decision on a held post (queue ids): released to go to the
    /// members, or removed.
    async fn decided(&self, release: Option<String>, remove: Option<String>) {
        let spool = self.spool.clone();
        let done = tokio::task::spawn_blocking(move || {
            if let Some(id) = &release {
                super::admin::update(&spool, id, |m| m.hold = false)?;
            }
            if let Some(id) = &remove {
                super::admin::remove(&spool, id)?;
            }
            Ok::<_, super::spool::SpoolError>(release)
        })
        .await;
        match done {
            Ok(Ok(Some(id))) => self.enqueued(&id),
            Ok(Ok(None)) => {}
            Ok(Err(e)) => warn!(error = %e, "cannot carry out a moderator's decision"),
            Err(e) => warn!(error = %e, "cannot carry out a moderator's decision"),
        }
    }

    /// Distributes the pending list recipients of `message` (whose text is at `path`).
    pub(super) async fn deliver_lists(&self, message: &mut QueuedMessage, path: &std::path::Path) {
        let lists: Vec<(usize, String)> = message
            .recipients
            .iter()
            .enumerate()
            .filter(|(_, r)| r.status == Status::Pending)
            .filter_map(|(i, r)| match &r.route {
                Route::List(list) => Some((i, list.clone())),
                _ => None,
            })
            .collect();
        if lists.is_empty() {
            return;
        }
        let text = match tokio::fs::read(path).await {
            Ok(t) => t,
            Err(e) => {
                warn!(queue_id = %message.id, error = %e, "cannot read a list post");
                return;
            }
        };
        let now = i64::try_from(super::spool::now()).unwrap_or(i64::MAX);
        for (i, list) in lists {
            let context = crate::lists::Context {
                accounts: &self.accounts,
                resolver: self.resolver.as_ref().ok(),
                bounce_limit: self.config.get().lists.bounce_limit,
            };
            let handled =
                crate::lists::handle(context, &list, &message.from, &text, &message.id, now).await;
            let reply = match handled {
                Err(e) => Err(e.to_string()),
                Ok(Handled::Refused(refusal)) => {
                    // For good: the poster hears of it in a DSN.
                    info!(queue_id = %message.id, %list, reason = %refusal, "list post refused");
                    let r = &mut message.recipients[i];
                    r.status = Status::Failed;
                    r.last_reply = format!("552 5.3.4 {refusal}");
                    continue;
                }
                Ok(Handled::Post(post)) if post.members.is_empty() => {
                    Ok("the list has no members".to_owned())
                }
                Ok(Handled::Post(post)) => self
                    .inject_to(&post.bounces, &post.members, post.message, true)
                    .await
                    .map(|id| format!("sent to {} members as {id}", post.members.len())),
                Ok(Handled::Answers {
                    bounces,
                    answers,
                    hold,
                    release,
                    remove,
                }) => {
                    let mut sent = Vec::new();
                    for a in answers {
                        match self
                            .inject_to(&bounces, std::slice::from_ref(&a.to), a.message, false)
                            .await
                        {
                            Ok(id) => sent.push(format!("{} as {id}", a.to)),
                            Err(e) => {
                                warn!(queue_id = %message.id, %list, to = %a.to, error = %e, "list answer not queued")
                            }
                        }
                    }
                    self.decided(release, remove).await;
                    if hold {
                        // The post waits, held, for a moderator's approval (which releases
                        // it); an admin sees it in `mailserver queue list`.
                        info!(queue_id = %message.id, %list, "list post held for a moderator");
                        message.hold = true;
                        message.recipients[i].last_reply = "held for a moderator".into();
                        continue;
                    }
                    Ok(format!("command answered: {}", sent.join(", ")))
                }
            };
            let r = &mut message.recipients[i];
            match reply {
                Ok(done) => {
                    info!(queue_id = %message.id, %list, result = %done, "list post distributed");
                    r.status = Status::Delivered;
                    r.last_reply = done;
                }
                Err(e) => {
                    warn!(queue_id = %message.id, %list, error = %e, "list post not distributed yet");
                    r.last_reply = e;
                }
            }
        }
    }
}
