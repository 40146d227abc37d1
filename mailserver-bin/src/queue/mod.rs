//! The outbound queue: messages that leave this server (submission to other domains, forwards)
//! and those whose local delivery must be retried wait here until every recipient has an
//! answer. A runner scans the spool, delivers what is due (local recipients into their
//! Maildir, remote ones through the relay host), retries temporary failures with a doubling
//! backoff, and returns what failed for good to the sender as a DSN.
//!
//! At most once per recipient: a recipient is marked delivered in its envelope as soon as the
//! attempt ends. A crash between the next hop's 250 and that write means one more delivery
//! after the restart, the duplicate RFC 5321 §6.1 accepts over a lost message.

pub mod admin;
pub mod dsn;
mod inject;
mod list;
mod local;
mod mta_sts;
pub mod mx;
pub mod relay;
mod schedule;
pub mod spool;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailwright_smtp::{Body, ForwardPath, MailParams, RcptParams, ReversePath};
use tokio::sync::{Notify, Semaphore, watch};
use tracing::{info, warn};

use crate::accounts::Accounts;
use crate::config::Config;
use crate::dkim::Dkim;
use crate::live::Live;

pub use dsn::Action;
use mx::{MxResolver, RouteError};
use relay::{AttemptError, Hop, Transport};
use schedule::Schedule;
use spool::{QueuedMessage, Recipient, Route, Spool, SpoolError, Status, now};

pub struct Queue {
    spool: Spool,
    /// The settings in force: `[queue]` and the hostname follow a reload; the transport,
    /// next hop and DKIM are made at start.
    config: Live<Config>,
    /// Users' Sieve scripts, run on the local copies the queue delivers.
    sieve: Live<crate::sieve::Filtering>,
    accounts: Accounts,
    transport: Transport,
    next_hop: NextHop,
    dkim: Arc<Dkim>,
    /// The one-click unsubscribe links in list members' copies.
    links: crate::lists::Links,
    /// Held while a digest is made, so two posts at once do not both send it.
    digests: tokio::sync::Mutex<()>,
    /// For the DMARC policies of lists' posters (or why there is none).
    resolver: Result<mail_auth::MessageAuthenticator, String>,
    wake: Notify,
    in_flight: Mutex<HashSet<String>>,
    /// When each queued message is due (`None`: on hold), so that a pass reads no envelope
    /// file that is not due. Rebuilt from the spool at start, when the admin CLI pokes the
    /// trigger file, and every few minutes.
    schedule: Mutex<Schedule>,
}

/// How often the schedule is rebuilt from the envelope files whatever happened.
const RESCAN_INTERVAL: Duration = Duration::from_secs(300);

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue").field("spool", &self.spool).finish()
    }
}

/// Where remote recipients go.
#[derive(Debug)]
pub enum NextHop {
    /// Everything through the relay host.
    Relay(Hop),
    /// To each domain's MX hosts, on this port (Postfix's smtp_tcp_port).
    Mx {
        /// Or why there is none (no usable /etc/resolv.conf).
        resolver: Result<Box<MxResolver>, String>,
        port: u16,
    },
}

impl NextHop {
    fn describe(&self) -> String {
        match self {
            NextHop::Relay(hop) => hop.name(),
            NextHop::Mx { .. } => "MX".into(),
        }
    }
}

/// Why a local delivery did not happen.
struct LocalFailure {
    permanent: bool,
    reason: String,
}

impl Queue {
    pub fn new(
        spool: Spool,
        config: Arc<Config>,
        accounts: Accounts,
        transport: Transport,
        next_hop: NextHop,
        dkim: Arc<Dkim>,
        links: crate::lists::Links,
    ) -> Self {
        Self {
            spool,
            sieve: Live::new(Arc::new(crate::sieve::Filtering::new(&config))),
            resolver: crate::resolver::resolver(&config.relay),
            config: Live::new(config),
            accounts,
            transport,
            next_hop,
            dkim,
            links,
            digests: tokio::sync::Mutex::new(()),
            wake: Notify::new(),
            in_flight: Mutex::new(HashSet::new()),
            schedule: Mutex::new(Schedule::default()),
        }
    }

    pub fn spool(&self) -> &Spool {
        &self.spool
    }

    /// What signs and checks the lists' one-click unsubscribe links.
    pub fn list_links(&self) -> &crate::lists::Links {
        &self.links
    }

    /// Puts a reloaded configuration in force for the next passes and deliveries.
    pub fn reconfigure(&self, config: Arc<Config>) {
        self.sieve
            .set(Arc::new(crate::sieve::Filtering::new(&config)));
        self.config.set(config);
    }

    /// A message was queued: look now.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Message `id` was just queued: try it now.
    pub fn enqueued(&self, id: &str) {
        if let Ok(mut schedule) = self.schedule.lock() {
            schedule.set(id, Some(0));
            schedule.received(id, now());
        }
        self.wake();
    }

    /// Records when `id` is due (`Some(None)`: on hold), or that it left the queue (`None`).
    fn set_due(&self, id: &str, due: Option<Option<u64>>) {
        if let Ok(mut schedule) = self.schedule.lock() {
            match due {
                Some(d) => schedule.set(id, d),
                None => schedule.remove(id),
            }
        }
    }

    /// Rebuilds the schedule from the envelope files, and carries out a `queue flush` asked
    /// for since.
    async fn rescan(&self) {
        let spool = self.spool.clone();
        type Found = (HashMap<String, Option<u64>>, HashMap<String, u64>);
        let found = tokio::task::spawn_blocking(move || -> Option<Found> {
            let ids = match spool.list() {
                Ok(ids) => ids,
                Err(e) => {
                    warn!(error = %e, "cannot list the queue");
                    return None;
                }
            };
            let mut found = HashMap::new();
            let mut received = HashMap::new();
            for id in ids {
                match spool.load(&id) {
                    Ok(m) => {
                        received.insert(id.clone(), m.created);
                        found.insert(id, (!m.hold).then_some(m.next_attempt));
                    }
                    Err(SpoolError::NotFound(_)) => {}
                    Err(e) => warn!(queue_id = %id, error = %e, "skipping a damaged queue entry"),
                }
            }
            Some((found, received))
        })
        .await
        .ok()
        .flatten();
        if let (Some((found, received)), Ok(mut schedule)) = (found, self.schedule.lock()) {
            schedule.replace(found, received);
            if self.spool.take_flush_request() {
                schedule.flush(now());
            }
        }
    }

    /// How many messages are queued, and how many seconds the oldest has waited.
    pub fn summary(&self) -> (usize, u64) {
        let (count, oldest) = self.schedule.lock().map_or((0, None), |s| s.summary());
        (count, oldest.map_or(0, |t| now().saturating_sub(t)))
    }

    /// Deliveries in progress.
    pub fn busy(&self) -> usize {
        self.in_flight.lock().map_or(0, |s| s.len())
    }

    /// Delivers until shutdown; attempts under way finish on their own.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let slots = Arc::new(Semaphore::new(self.config.get().queue.concurrency));
        let mut triggered = self.spool.triggered();
        let mut rescan = true;
        let mut last_rescan = tokio::time::Instant::now();
        loop {
            if *shutdown.borrow() {
                break;
            }
            if rescan || last_rescan.elapsed() >= RESCAN_INTERVAL {
                self.rescan().await;
                rescan = false;
                last_rescan = tokio::time::Instant::now();
            }
            let next_due = self.clone().start_due(&slots);
            let wait = next_due.map_or(Duration::from_secs(60), |due| {
                Duration::from_secs(due.saturating_sub(now()).clamp(1, 60))
            });
            let deadline = tokio::time::Instant::now() + wait;
            // The admin CLI pokes the trigger file; look at it every second until the deadline.
            loop {
                tokio::select! {
                    _ = self.wake.notified() => break,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = shutdown.changed() => break,
                }
                let t = self.spool.triggered();
                if t != triggered {
                    triggered = t;
                    rescan = true;
                    break;
                }
                if tokio::time::Instant::now() >= deadline {
                    break;
                }
            }
        }
    }

    /// Starts an attempt for every due message there is a slot for; returns when the next
    /// waiting message is due.
    fn start_due(self: Arc<Self>, slots: &Arc<Semaphore>) -> Option<u64> {
        let now = now();
        let (due, next_due) = {
            let Ok(schedule) = self.schedule.lock() else {
                return None;
            };
            let Ok(busy) = self.in_flight.lock() else {
                return None;
            };
            // One more than the free slots, to know whether some must wait.
            let due: Vec<String> = schedule
                .due(now)
                .filter(|id| !busy.contains(*id))
                .take(slots.available_permits() + 1)
                .map(str::to_owned)
                .collect();
            (due, schedule.next_after(now))
        };
        for id in due {
            let Ok(permit) = slots.clone().try_acquire_owned() else {
                // Every slot is busy: look again soon.
                return Some(now + 1);
            };
            {
                let Ok(mut busy) = self.in_flight.lock() else {
                    return None;
                };
                if !busy.insert(id.clone()) {
                    continue;
                }
            }
            let queue = self.clone();
            tokio::spawn(async move {
                queue.attempt(&id).await;
                if let Ok(mut busy) = queue.in_flight.lock() {
                    busy.remove(&id);
                }
                drop(permit);
                queue.wake();
            });
        }
        next_due
    }

    async fn attempt(&self, id: &str) {
        let spool = self.spool.clone();
        let owned = id.to_owned();
        let locked = tokio::task::spawn_blocking(move || {
            let lock = spool.lock(&owned)?;
            let message = spool.load(&owned)?;
            Ok::<_, SpoolError>((lock, message))
        })
        .await;
        let (_lock, mut message) = match locked {
            Ok(Ok(l)) => l,
            Ok(Err(SpoolError::Busy(_))) => return,
            Ok(Err(SpoolError::NotFound(_))) => return self.set_due(id, None),
            Ok(Err(e)) => {
                warn!(queue_id = %id, error = %e, "cannot open queued message");
                return;
            }
            Err(_) => return,
        };
        if message.hold {
            return self.set_due(id, Some(None));
        }
        let path = self.spool.message_path(id);
        let before: Vec<Status> = message.recipients.iter().map(|r| r.status).collect();
        self.deliver_lists(&mut message, &path).await;
        self.deliver_local(&mut message, &path).await;
        let passed_on = self.deliver_remote(&mut message, &path).await;
        message.attempts += 1;
        let now = now();
        let lifetime = self.config.get().queue.max_lifetime;
        if now.saturating_sub(message.created) >= lifetime {
            for r in message
                .recipients
                .iter_mut()
                .filter(|r| r.status == Status::Pending)
            {
                r.status = Status::Failed;
                r.last_reply = format!(
                    "{} (gave up after {} attempts)",
                    if r.last_reply.is_empty() {
                        "not delivered"
                    } else {
                        &r.last_reply
                    },
                    message.attempts
                );
            }
        }
        let mut failed = Vec::new();
        let mut succeeded = Vec::new();
        for (i, (r, was)) in message.recipients.iter().zip(&before).enumerate() {
            count_attempt(r, *was, now.saturating_sub(message.created));
            if r.status == *was {
                continue;
            }
            match r.status {
                Status::Failed if r.wants_failure_notice() => {
                    failed.push((r.clone(), Action::Failed))
                }
                Status::Delivered if r.notify.is_some_and(|n| n.success) => {
                    match &r.route {
                        Route::Local(_) | Route::List(_) => {
                            succeeded.push((r.clone(), Action::Delivered))
                        }
                        // A hop that speaks DSN reports success itself.
                        Route::Remote if !passed_on.contains(&i) => {
                            succeeded.push((r.clone(), Action::Relayed))
                        }
                        Route::Remote => {}
                    }
                }
                _ => {}
            }
        }
        let done = message.pending().next().is_none();
        // Still here after `delay_warning`: the sender hears so, once.
        let warn_after = self.config.get().queue.delay_warning;
        let mut delayed = Vec::new();
        if !done
            && warn_after > 0
            && !message.delay_warned
            && now.saturating_sub(message.created) >= warn_after
        {
            message.delay_warned = true;
            delayed = message
                .recipients
                .iter()
                .filter(|r| r.status == Status::Pending && r.wants_delay_notice())
                .map(|r| (r.clone(), Action::Delayed))
                .collect();
        }
        if message.verp {
            // Each failure to its own bounce address, which names the recipient (a list
            // counts its members' bounces); a list hears of nothing else.
            for (r, action) in failed {
                let mut about = message.clone();
                about.from = message.sender_for(&r.address);
                self.notify_sender(&about, &path, &[(r, action)]).await;
            }
        } else {
            for report in [failed, delayed, succeeded] {
                if !report.is_empty() {
                    self.notify_sender(&message, &path, &report).await;
                }
            }
        }
        let spool = self.spool.clone();
        if !done {
            let exponent = message.attempts.saturating_sub(1).min(20);
            let settings = &self.config.get().queue;
            let wait = settings
                .min_backoff
                .saturating_mul(1 << exponent)
                .min(settings.max_backoff.max(settings.min_backoff));
            message.next_attempt = now + wait;
        }
        let next_attempt = message.next_attempt;
        let owned = id.to_owned();
        let saved = tokio::task::spawn_blocking(move || {
            if done {
                spool.remove(&owned)
            } else {
                spool.save(&message)
            }
        })
        .await;
        match saved {
            Ok(Ok(())) if done => {
                info!(queue_id = %id, "removed from the queue");
                self.set_due(id, None);
            }
            Ok(Ok(())) => self.set_due(id, Some(Some(next_attempt))),
            // The envelope says what it said before; retry on the usual schedule.
            Ok(Err(e)) => {
                warn!(queue_id = %id, error = %e, "cannot update the queue entry");
                self.set_due(id, Some(Some(next_attempt)));
            }
            Err(_) => {}
        }
    }

    /// Delivers the pending remote recipients; returns those handed to a hop that took their
    /// DSN requests on.
    async fn deliver_remote(
        &self,
        message: &mut QueuedMessage,
        path: &std::path::Path,
    ) -> Vec<usize> {
        let indexes: Vec<usize> = message
            .recipients
            .iter()
            .enumerate()
            .filter(|(_, r)| r.route == Route::Remote && r.status == Status::Pending)
            .map(|(i, _)| i)
            .collect();
        if indexes.is_empty() {
            return Vec::new();
        }
        let dkim = self.dkim.clone();
        let source = path.to_owned();
        // A list post's copies are signed one by one, with their own List-Unsubscribe.
        let list_post = match message.verp {
            true => tokio::fs::read(path).await.ok(),
            false => None,
        };
        let signature = match list_post {
            Some(_) => String::new(),
            None => tokio::task::spawn_blocking(move || dkim.sign_file(&source))
                .await
                .ok()
                .flatten()
                .unwrap_or_default(),
        };
        let list_post = list_post.map(Arc::new);
        let mut passed_on = Vec::new();
        match &self.next_hop {
            NextHop::Relay(hop) => {
                let hops = std::slice::from_ref(hop);
                for group in transactions(message, &indexes) {
                    let signature = self
                        .prefix(message, &group, &signature, list_post.as_ref())
                        .await;
                    if self.send_via(hops, message, &group, &signature, path).await {
                        passed_on.extend(&group);
                    }
                }
            }
            NextHop::Mx { resolver, port } => {
                let mut domains: Vec<(String, Vec<usize>)> = Vec::new();
                for &i in &indexes {
                    let address = &message.recipients[i].address;
                    let domain = address
                        .rsplit_once('@')
                        .map_or("", |(_, d)| d)
                        .to_lowercase();
                    match domains.iter_mut().find(|(d, _)| *d == domain) {
                        Some((_, list)) => list.push(i),
                        None => domains.push((domain, vec![i])),
                    }
                }
                let tls = self.config.get().relay.tls;
                for (domain, group) in domains {
                    let found = match resolver {
                        Ok(r) => r.route(&domain, tls).await,
                        Err(e) => Err(RouteError::Temporary(format!(
                            "451 4.4.3 no DNS resolver for MX lookups: {e}"
                        ))),
                    };
                    let (hosts, tls) = match found {
                        Ok(route) => route,
                        Err(e) => {
                            let (reply, permanent) = match e {
                                RouteError::Permanent(r) => (r, true),
                                RouteError::Temporary(r) => (r, false),
                            };
                            info!(queue_id = %message.id, %domain, %reply, permanent, "no route");
                            for &i in &group {
                                message.recipients[i].last_reply = reply.clone();
                                if permanent {
                                    message.recipients[i].status = Status::Failed;
                                }
                            }
                            continue;
                        }
                    };
                    let hops: Vec<Hop> = hosts
                        .into_iter()
                        .flat_map(|(host, addrs)| {
                            addrs.into_iter().map(move |addr| Hop {
                                host: host.clone(),
                                addr: Some(addr),
                                port: *port,
                                tls,
                                implicit_tls: false,
                                credentials: None,
                            })
                        })
                        .collect();
                    for group in transactions(message, &group) {
                        let signature = self
                            .prefix(message, &group, &signature, list_post.as_ref())
                            .await;
                        if self
                            .send_via(&hops, message, &group, &signature, path)
                            .await
                        {
                            passed_on.extend(&group);
                        }
                    }
                }
            }
        }
        passed_on
    }

    /// Offers the recipients at `indexes` to each hop in turn until one takes the
    /// transaction; a hop that fails before it (no connection, a refused greeting, TLS that
    /// does not work) passes them on to the next. Returns whether the hop that answered speaks
    /// DSN.
    async fn send_via(
        &self,
        hops: &[Hop],
        message: &mut QueuedMessage,
        indexes: &[usize],
        signature: &str,
        path: &std::path::Path,
    ) -> bool {
        let id = message.id.clone();
        let envelope = match smtp_envelope(message, indexes, signature.len() as u64) {
            Ok(e) => e,
            Err(reason) => {
                for &i in indexes {
                    message.recipients[i].status = Status::Failed;
                    message.recipients[i].last_reply = format!("554 5.1.3 {reason}");
                }
                return false;
            }
        };
        let mut last_error: Option<AttemptError> = None;
        for hop in hops {
            match self
                .transport
                .send(hop, envelope.clone(), signature.as_bytes(), path)
                .await
            {
                Ok((replies, dsn)) => {
                    for (&i, reply) in indexes.iter().zip(replies) {
                        let r = &mut message.recipients[i];
                        r.last_reply = reply_text(&reply);
                        r.status = match reply.code().class() {
                            2 => Status::Delivered,
                            5 => Status::Failed,
                            _ => Status::Pending,
                        };
                        info!(queue_id = %id, to = %r.address, hop = %hop.name(), reply = %r.last_reply,
                              result = ?r.status, "remote delivery");
                    }
                    return dsn;
                }
                Err(e) if e.is_permanent() => {
                    warn!(queue_id = %id, hop = %hop.name(), error = %e, "permanent failure");
                    for &i in indexes {
                        message.recipients[i].status = Status::Failed;
                        message.recipients[i].last_reply = e.to_string();
                    }
                    return false;
                }
                Err(e) => {
                    warn!(queue_id = %id, hop = %hop.name(), error = %e, "attempt failed");
                    last_error = Some(e);
                }
            }
        }
        let reason = last_error.map_or_else(|| "no host to try".to_owned(), |e| e.to_string());
        for &i in indexes {
            message.recipients[i].last_reply = reason.clone();
        }
        false
    }

    /// Queues a DSN to the sender about `report` (never to the null sender): the bounce for
    /// failed recipients, the delay notice, or the success notice NOTIFY=SUCCESS asked for.
    /// `source` is the message's text.
    pub async fn notify_sender(
        &self,
        message: &QueuedMessage,
        source: &std::path::Path,
        report: &[(Recipient, Action)],
    ) {
        if message.from.is_empty() || report.is_empty() {
            info!(queue_id = %message.id, "no DSN: null sender");
            return;
        }
        let Some(routes) = self.routes_to(&message.from, &message.id).await else {
            return;
        };
        let bounce_id = crate::mail::queue_id();
        let recipients: Vec<Recipient> = routes
            .into_iter()
            .map(|(address, route)| {
                let mut r = Recipient::new(address, route);
                // A DSN is never reported on (RFC 3461 §6.2 would send it to <> anyway).
                r.notify = Some(spool::Notify::default());
                r
            })
            .collect();
        let mut envelope = QueuedMessage::new(bounce_id.clone(), String::new(), recipients);
        envelope.body = message.body.clone().filter(|b| b != "7BIT");
        envelope.smtputf8 = message.smtputf8;
        let spool = self.spool.clone();
        let original = message.clone();
        let report = report.to_vec();
        let reporter = dsn::Reporter {
            hostname: self.config.get().hostname.clone(),
            relay: Some(self.next_hop.describe()),
            id: bounce_id.clone(),
            retry_until: Some(
                std::time::UNIX_EPOCH
                    + Duration::from_secs(message.created + self.config.get().queue.max_lifetime),
            ),
        };
        let path = source.to_owned();
        let written = tokio::task::spawn_blocking(move || {
            let mut incoming = spool.incoming(&bounce_id)?;
            dsn::write_report(&mut incoming, &original, &report, &path, &reporter)?;
            incoming.commit(&spool, envelope)
        })
        .await;
        match written {
            Ok(Ok(b)) => {
                info!(queue_id = %message.id, dsn = %b.id, to = %message.from, "DSN queued");
                self.enqueued(&b.id);
            }
            Ok(Err(e)) => warn!(queue_id = %message.id, error = %e, "cannot queue the DSN"),
            Err(_) => {}
        }
    }
}

/// `250 2.0.0 Ok` as one line of text.
fn reply_text(reply: &mailwright_smtp::Reply) -> String {
    let mut s = reply.code().to_string();
    if let Some(e) = reply.enhanced() {
        s.push(' ');
        s.push_str(&e.to_string());
    }
    for line in reply.lines() {
        s.push(' ');
        s.push_str(line);
    }
    s
}

/// The SMTP envelope for the recipients at `indexes`.
/// The SMTP transactions the recipients at `indexes` take: one for all, or one each when
/// each has its own envelope sender (VERP).
fn transactions(message: &QueuedMessage, indexes: &[usize]) -> Vec<Vec<usize>> {
    match message.verp {
        true => indexes.iter().map(|&i| vec![i]).collect(),
        false => vec![indexes.to_vec()],
    }
}

fn smtp_envelope(
    message: &QueuedMessage,
    indexes: &[usize],
    added: u64,
) -> Result<mailwright_smtp::Envelope, String> {
    let sender = match indexes {
        [i] => message.sender_for(&message.recipients[*i].address),
        _ => message.from.clone(),
    };
    let from = if sender.is_empty() {
        ReversePath::Null
    } else {
        ReversePath::Mailbox(
            mailwright_smtp::parse_mailbox(&sender)
                .ok_or_else(|| format!("bad sender address {sender}"))?,
        )
    };
    let body = match message.body.as_deref() {
        Some("8BITMIME") => Some(Body::EightBitMime),
        Some("BINARYMIME") => Some(Body::BinaryMime),
        Some("7BIT") => Some(Body::SevenBit),
        _ => None,
    };
    let params = MailParams {
        size: Some(message.size + added),
        body,
        smtputf8: message.smtputf8,
        ret: message.ret_headers.then_some(mailwright_smtp::Ret::Hdrs),
        envid: message.envid.as_deref().map(Box::from),
        ..MailParams::default()
    };
    let mut recipients = Vec::with_capacity(indexes.len());
    for &i in indexes {
        let r = &message.recipients[i];
        let to = mailwright_smtp::parse_mailbox(&r.address)
            .ok_or_else(|| format!("bad recipient address {}", r.address))?;
        let params = RcptParams {
            notify: r.notify,
            orcpt: r.orcpt.clone(),
            ..RcptParams::default()
        };
        recipients.push((ForwardPath::Mailbox(to), params));
    }
    Ok(mailwright_smtp::Envelope {
        from,
        params,
        recipients,
    })
}

/// Counts what an attempt did for recipient `r` (pending before it when `was` is): delivered
/// (with how long it waited, `waited` seconds), bounced, or deferred.
fn count_attempt(r: &spool::Recipient, was: Status, waited: u64) {
    if was != Status::Pending {
        return;
    }
    let route = match r.route {
        Route::Local(_) => "local",
        Route::Remote => "remote",
        Route::List(_) => "list",
    };
    let metrics = crate::metrics::get();
    match r.status {
        Status::Delivered => {
            metrics.recipient(route, "delivered", Some(Duration::from_secs(waited)))
        }
        Status::Failed => metrics.recipient(route, "bounced", None),
        Status::Pending => metrics.recipient(route, "deferred", None),
    }
}
