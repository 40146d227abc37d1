//! Posts to our mailing lists: the queue holds a post for the list as one recipient; its
//! turn makes the list's copy (`crate::lists::post`) and queues it once, from the list's
//! bounce address, to every member, then marks the list delivered. A member's copy then goes
//! like any other: into a local Maildir, or through the relay.

use std::sync::Arc;

use tracing::{info, warn};

use super::Queue;
use super::spool::{QueuedMessage, Route, Status};
use crate::lists::Handled;

impl Queue {
    /// The `List-Unsubscribe` fields of a list post's copy for `member` (`message.from` is
    /// the list's bounce address); empty for any other message.
    pub(super) fn member_fields(&self, message: &QueuedMessage, member: &str) -> String {
        let list = message
            .verp
            .then(|| crate::lists::list_of_bounces(&message.from))
            .flatten();
        match list {
            Some(list) => {
                let base = crate::lists::base_url(&self.config.get());
                self.links.fields(base.as_deref(), &list, member)
            }
            None => String::new(),
        }
    }

    /// What goes in front of the message for the recipients at `group`: `signature`, or for
    /// a member's copy of a list post (`post`), the member's own `List-Unsubscribe` fields
    /// and the list domain's signature over them and the post (RFC 8058 §4).
    pub(super) async fn prefix(
        &self,
        message: &QueuedMessage,
        group: &[usize],
        signature: &str,
        post: Option<&Arc<Vec<u8>>>,
    ) -> String {
        let (Some(post), [i]) = (post, group) else {
            return signature.to_owned();
        };
        let fields = self.member_fields(message, &message.recipients[*i].address);
        let domain = message.from.rsplit_once('@').map(|(_, d)| d.to_owned());
        let (post, dkim) = (Arc::clone(post), Arc::clone(&self.dkim));
        let signed = tokio::task::spawn_blocking(move || {
            let mut copy = fields.clone().into_bytes();
            copy.extend_from_slice(&post);
            let signature = domain.and_then(|d| dkim.sign_as(&d, &copy));
            signature.unwrap_or_default() + &fields
        })
        .await;
        signed.unwrap_or_default()
    }

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

    /// Keeps `post` in the list's archive and for its digest, then queues it for the
    /// members who take each post; what was done, or why not (it is tried again).
    async fn distribute(&self, list: &str, post: crate::lists::Post) -> Result<String, String> {
        let store = crate::lists::ListStore::of(
            &self.config.get().data_dir,
            list,
            self.accounts.list_archive(list),
        );
        let host = self.config.get().hostname.clone();
        let message = Arc::new(post.message);
        if post.archive || post.digest {
            let text = Arc::clone(&message);
            let (archive, digest) = (post.archive, post.digest);
            tokio::task::spawn_blocking(move || store.keep(&text, archive, digest, &host))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| format!("cannot keep the post in the list's archive: {e}"))?;
        }
        if post.digest {
            // Enough posts may wait now (`digest_max_posts`).
            match self.accounts.list(list).await {
                Ok(Some(settings)) => {
                    if let Err(e) = self.send_digest(&settings, super::spool::now()).await {
                        warn!(%list, error = %e, "digest not sent; tried again later");
                    }
                }
                Ok(None) => {}
                Err(e) => warn!(%list, error = %e, "digest not sent; tried again later"),
            }
        }
        if post.members.is_empty() {
            return Ok("the list has no members who take each post".to_owned());
        }
        let message = Arc::try_unwrap(message).unwrap_or_else(|m| m.as_ref().clone());
        self.inject_to(&post.bounces, &post.members, message, true)
            .await
            .map(|id| format!("sent to {} members as {id}", post.members.len()))
    }

    /// Sends the lists' digests as they fall due, until shutdown: it looks every minute (or
    /// every `digest_interval`, when that is shorter).
    pub async fn run_digests(self: Arc<Self>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        loop {
            let every = self.config.get().lists.digest_interval.clamp(1, 60);
            tokio::select! {
                () = tokio::time::sleep(std::time::Duration::from_secs(every)) => {}
                _ = shutdown.changed() => return,
            }
            self.send_digests(super::spool::now()).await;
        }
    }

    /// Sends each list's digest that is due at `now` (seconds since the epoch) to its
    /// digest members.
    pub async fn send_digests(&self, now: u64) {
        let lists = match self.accounts.lists(None).await {
            Ok(l) => l,
            Err(e) => {
                warn!(error = %e, "cannot read the lists for their digests");
                return;
            }
        };
        for list in lists.into_iter().filter(|l| l.active) {
            if let Err(e) = self.send_digest(&list, now).await {
                warn!(list = %list.address, error = %e, "digest not sent; tried again later");
            }
        }
    }

    async fn send_digest(
        &self,
        list: &crate::accounts::MailingList,
        now: u64,
    ) -> Result<(), String> {
        let _one_at_a_time = self.digests.lock().await;
        let config = self.config.get();
        let store = crate::lists::ListStore::of(
            &config.data_dir,
            &list.address,
            self.accounts.list_archive(&list.address),
        );
        let (interval, max) = (config.lists.digest_interval, config.lists.digest_max_posts);
        let reader = store.clone();
        let posts = tokio::task::spawn_blocking(move || reader.due_digest(now, interval, max))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        if posts.is_empty() {
            return Ok(());
        }
        let readers: Vec<String> = self
            .accounts
            .list_members(&list.address)
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .filter(|m| m.receives == crate::accounts::Receives::Digest)
            .map(|m| m.address)
            .collect();
        let names: Vec<String> = posts.iter().map(|(n, _)| n.clone()).collect();
        if !readers.is_empty() {
            let texts: Vec<&[u8]> = posts.iter().map(|(_, t)| t.as_slice()).collect();
            let now_signed = i64::try_from(now).unwrap_or(i64::MAX);
            let digest = crate::lists::compose_digest(list, &texts, now_signed);
            let bounces = crate::lists::command_address(&list.address, "bounces");
            let id = self.inject_to(&bounces, &readers, digest, true).await?;
            info!(list = %list.address, posts = names.len(), readers = readers.len(), queue_id = %id, "list digest sent");
        }
        // Sent (or nobody takes it any more): those posts are done with. A crash before
        // this line sends them again in the next digest, never loses them.
        tokio::task::spawn_blocking(move || store.digested(&names, now))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())
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
                Ok(Handled::Post(post)) => self.distribute(&list, post).await,
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
