//! The inbound SMTP service: accepts connections, drives `smtp_proto::ServerSession`, answers
//! its decisions from the account store, and stores messages with `maildir`.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use smtp_proto::{
    AbortReason, DefectPolicy, Event, ForwardPath, Reply, ReversePath, ServerSession,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio_rustls::TlsAcceptor;
use tracing::{info, warn};

use crate::accounts::{Accounts, LocalMailbox, Resolution};
use crate::config::{Config, Policy, QuotaExceeded};
use crate::conn::Conn;
use crate::mail::{ReceivedInfo, queue_id, received_header};

/// Body octets buffered in memory before they are written to the Maildir's tmp file.
const FLUSH_THRESHOLD: usize = 256 * 1024;

pub struct SmtpService {
    pub config: Arc<Config>,
    pub session_config: smtp_proto::Config,
    pub accounts: Accounts,
    pub tls: Option<TlsAcceptor>,
    pub connections: Arc<Semaphore>,
    pub active: Arc<AtomicUsize>,
}

impl SmtpService {
    pub fn new(config: Arc<Config>, accounts: Accounts, tls: Option<TlsAcceptor>) -> Self {
        let mut s = smtp_proto::Config::new(config.hostname.clone());
        let l = &config.limits;
        s.limits.max_message_size = l.max_message_size;
        s.limits.max_recipients = l.max_recipients;
        s.limits.max_command_line = l.max_command_line;
        s.limits.max_data_line = l.max_data_line;
        s.limits.max_errors = l.max_errors;
        s.limits.command_timeout = Duration::from_secs(l.command_timeout);
        s.limits.data_timeout = Duration::from_secs(l.data_timeout);
        let policy = |p: Policy| match p {
            Policy::Reject => DefectPolicy::Reject,
            Policy::Allow => DefectPolicy::Allow,
        };
        s.bare_line_ending = policy(config.smtp.bare_line_ending);
        s.nul = policy(config.smtp.nul);
        s.long_data_line = policy(config.smtp.long_lines);
        s.require_helo = config.smtp.require_helo;
        s.vrfy = config.smtp.vrfy;
        s.starttls = tls.is_some();
        Self {
            connections: Arc::new(Semaphore::new(config.limits.max_connections)),
            config,
            session_config: s,
            accounts,
            tls,
            active: Arc::new(AtomicUsize::new(0)),
        }
    }
}

/// Accepts SMTP connections until shutdown is signalled.
pub async fn serve(
    listener: TcpListener,
    service: Arc<SmtpService>,
    shutdown: watch::Receiver<bool>,
) {
    let active = service.active.clone();
    crate::conn::accept_loop(listener, active, shutdown, move |stream, peer, shutdown| {
        connection(stream, peer, service.clone(), shutdown)
    })
    .await;
}

/// One message's envelope and the writer its body streams into.
struct Transaction {
    from: Option<ReversePath>,
    declared_size: Option<u64>,
    smtputf8: bool,
    recipients: Vec<String>,
    mailboxes: Vec<LocalMailbox>,
    body: Option<BodyWriter>,
}

impl Transaction {
    fn new() -> Self {
        Self {
            from: None,
            declared_size: None,
            smtputf8: false,
            recipients: Vec::new(),
            mailboxes: Vec::new(),
            body: None,
        }
    }
}

struct Connection {
    peer: SocketAddr,
    service: Arc<SmtpService>,
    tx: Transaction,
    messages: u32,
    id: String,
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    service: Arc<SmtpService>,
    mut shutdown: watch::Receiver<bool>,
) {
    let permit = service.connections.clone().try_acquire_owned();
    let mut conn = Conn::Plain(stream);
    let mut session = match permit {
        Ok(_) => ServerSession::new(service.session_config.clone()),
        Err(_) => {
            warn!(%peer, "too many connections, refusing");
            let text = format!(
                "{} Too many connections, try again later",
                service.config.hostname
            );
            let reply = Reply::or_fallback(421, 4, 7, 0, &text, "Too many connections");
            ServerSession::refuse(service.session_config.clone(), reply)
        }
    };
    let _permit = permit;
    let mut state = Connection {
        peer,
        service: service.clone(),
        tx: Transaction::new(),
        messages: 0,
        id: queue_id(),
    };
    info!(conn = %state.id, %peer, "connect");
    let mut buf = vec![0u8; 64 * 1024];
    let mut shutting_down = *shutdown.borrow();
    let mut start_tls = false;
    let outcome = loop {
        while let Some(event) = session.poll_event() {
            if matches!(event, Event::StartTls) {
                start_tls = true;
                continue;
            }
            state.handle(&mut session, event).await;
        }
        if let Some(out) = session.poll_output() {
            if let Err(e) = conn.send(&out).await {
                break format!("write error: {e}");
            }
            continue;
        }
        if session.is_closed() {
            break "closed".into();
        }
        if start_tls {
            start_tls = false;
            let Some(acceptor) = service.tls.clone() else {
                break "STARTTLS without TLS configuration".into();
            };
            if let Err(reason) = conn.start_tls(&acceptor).await {
                break reason;
            }
            let _ = session.tls_established();
            continue;
        }
        if shutting_down && !session.in_message() {
            session.shutdown();
            continue;
        }
        let capacity = session.input_capacity().min(buf.len());
        if capacity == 0 {
            break "session stalled".into();
        }
        tokio::select! {
            read = tokio::time::timeout(session.timeout(), conn.read(&mut buf[..capacity])) => match read {
                Err(_) => session.handle_timeout(),
                Ok(Ok(0)) => {
                    if session.handle_eof() {
                        warn!(conn = %state.id, %peer, "connection lost in the middle of a message; nothing was stored");
                    }
                    break "client closed".into();
                }
                Ok(Ok(n)) => {
                    if let Err(e) = session.receive(&buf[..n]) {
                        break format!("protocol violation: {e}");
                    }
                }
                Ok(Err(e)) => break format!("read error: {e}"),
            },
            _ = shutdown.changed(), if !shutting_down => shutting_down = true,
        }
    };
    // Anything not acknowledged is abandoned here; dropping the writer removes its tmp file.
    state.tx.body = None;
    let _ = conn.shutdown().await;
    info!(conn = %state.id, %peer, messages = state.messages, tls = session.is_tls(), %outcome, "disconnect");
}

fn reply(code: u16, class: u8, subject: u16, detail: u16, text: String) -> Reply {
    Reply::or_fallback(code, class, subject, detail, &text, "Error")
}

impl Connection {
    async fn handle(&mut self, session: &mut ServerSession, event: Event) {
        match event {
            Event::Helo { .. } => {
                self.tx = Transaction::new();
                let _ = session.accept();
            }
            Event::MailFrom { from, params } => {
                self.tx = Transaction::new();
                self.tx.from = Some(from);
                self.tx.smtputf8 = params.smtputf8;
                self.tx.declared_size = params.size;
                let _ = session.accept();
            }
            Event::RcptTo { to, .. } => {
                let answer = self.recipient(&to).await;
                match answer {
                    Ok((address, mailboxes)) => {
                        self.tx.recipients.push(address);
                        for m in mailboxes {
                            if !self.tx.mailboxes.contains(&m) {
                                self.tx.mailboxes.push(m);
                            }
                        }
                        let _ = session.accept();
                    }
                    Err(r) => {
                        info!(conn = %self.id, peer = %self.peer, to = %to, reply = %r, "recipient rejected");
                        let _ = session.reject(r);
                    }
                }
            }
            Event::MessageStart { .. } => {
                let id = queue_id();
                let single =
                    (self.tx.recipients.len() == 1).then(|| self.tx.recipients[0].as_str());
                let header = received_header(&ReceivedInfo {
                    helo: session.helo().map(|h| h.to_string()).as_deref(),
                    peer: self.peer,
                    hostname: &self.service.config.hostname,
                    esmtp: session.is_esmtp(),
                    tls: session.is_tls(),
                    authenticated: session.is_authenticated(),
                    smtputf8: self.tx.smtputf8,
                    queue_id: &id,
                    single_recipient: single,
                    time: SystemTime::now(),
                });
                let targets = self
                    .tx
                    .mailboxes
                    .iter()
                    .map(|m| maildir::Maildir::new(m.maildir.clone()))
                    .collect();
                self.tx.body = Some(BodyWriter::new(
                    id,
                    header,
                    targets,
                    self.service.config.hostname.clone(),
                ));
                let _ = session.accept();
            }
            Event::MessageChunk(chunk) => {
                if let Some(body) = &mut self.tx.body {
                    body.push(chunk).await;
                }
            }
            Event::MessageEnd { size } => self.finish(session, size).await,
            Event::MessageAborted { reason } => {
                let id = self.tx.body.take().map(|b| b.queue_id).unwrap_or_default();
                let reason = match reason {
                    AbortReason::Defect(d) => format!("{d:?}"),
                    AbortReason::TooLarge => "TooLarge".into(),
                };
                info!(conn = %self.id, queue_id = %id, peer = %self.peer, from = %display_from(&self.tx.from),
                      to = ?self.tx.recipients, %reason, result = "rejected", "message");
                self.tx = Transaction::new();
            }
            Event::Reset => self.tx = Transaction::new(),
            Event::Verify(_) => {
                let _ = session.respond(reply(
                    252,
                    2,
                    5,
                    0,
                    "Cannot VRFY user, but will accept message and attempt delivery".into(),
                ));
            }
            Event::Expand(_) => {
                let _ = session.respond(reply(502, 5, 5, 1, "EXPN command is disabled".into()));
            }
            Event::Authenticate {
                username, password, ..
            } => {
                let default_scheme = self.service.config.accounts.default_password_scheme.clone();
                let result = match self
                    .service
                    .accounts
                    .authenticate(&username, password.into_inner(), default_scheme)
                    .await
                {
                    Ok(true) => Ok(()),
                    Ok(false) => Err(Reply::auth_failed()),
                    // RFC 4954 §6: the credentials could not be checked, which is no reason
                    // for the client to ask for the password again.
                    Err(e) => {
                        warn!(conn = %self.id, error = %e, "authentication lookup failed");
                        Err(reply(
                            454,
                            4,
                            7,
                            0,
                            "Temporary authentication failure, try again later".into(),
                        ))
                    }
                };
                info!(conn = %self.id, peer = %self.peer, %username, success = result.is_ok(), "authentication");
                let _ = session.auth_finish(result);
            }
            Event::StartTls | Event::Quit => {}
        }
    }

    async fn recipient(&self, to: &ForwardPath) -> Result<(String, Vec<LocalMailbox>), Reply> {
        let accounts = &self.service.accounts;
        let temp_fail = |e: crate::accounts::AccountsError| {
            warn!(error = %e, "recipient lookup failed");
            reply(
                451,
                4,
                3,
                0,
                "Temporary lookup failure, try again later".into(),
            )
        };
        let address = match to {
            ForwardPath::Postmaster => {
                // RFC 5321 §4.5.1: <Postmaster> must work; it is the postmaster of our first domain.
                let domains = accounts.list_domains().await.map_err(temp_fail)?;
                let domain = domains
                    .into_iter()
                    .find(|(_, active, _)| *active)
                    .map(|(d, _, _)| d);
                match domain {
                    Some(d) => format!("postmaster@{d}"),
                    None => {
                        return Err(reply(
                            550,
                            5,
                            1,
                            1,
                            "<Postmaster>: no postmaster configured".into(),
                        ));
                    }
                }
            }
            ForwardPath::Mailbox(m) => match m.domain() {
                Some(_) => m.to_string(),
                None => return Err(reply(554, 5, 7, 1, format!("<{m}>: Relay access denied"))),
            },
        };
        match accounts.resolve(&address).await.map_err(temp_fail)? {
            Resolution::Local(mailboxes) => {
                for m in &mailboxes {
                    if self.over_quota(m).await {
                        info!(conn = %self.id, user = %m.username, quota = m.quota, "mailbox over quota");
                        return Err(match self.service.config.smtp.quota_exceeded {
                            QuotaExceeded::Temporary => reply(
                                452,
                                4,
                                2,
                                2,
                                format!("<{address}>: Mailbox full, try again later"),
                            ),
                            QuotaExceeded::Permanent => {
                                reply(552, 5, 2, 2, format!("<{address}>: Mailbox full"))
                            }
                        });
                    }
                }
                Ok((address, mailboxes))
            }
            Resolution::NotOurDomain => Err(reply(
                554,
                5,
                7,
                1,
                format!("<{address}>: Relay access denied"),
            )),
            Resolution::Unknown => Err(reply(
                550,
                5,
                1,
                1,
                format!("<{address}>: Recipient address rejected: User unknown"),
            )),
            Resolution::ForwardUnavailable(targets) => {
                warn!(%address, ?targets, "alias forwards outside our domains; outbound delivery is not available yet");
                Err(reply(
                    451,
                    4,
                    3,
                    0,
                    format!(
                        "<{address}>: forwarding to other servers is not available yet, try again later"
                    ),
                ))
            }
        }
    }

    /// Whether the mailbox is full, or would be with the size MAIL FROM declared. Usage comes
    /// from its `maildirsize`, so this does not walk the mailbox.
    async fn over_quota(&self, mailbox: &LocalMailbox) -> bool {
        if mailbox.domain_quota > 0 {
            let adding = self.tx.declared_size.unwrap_or(1);
            match self.service.accounts.domain_usage(&mailbox.domain).await {
                Ok(used) if used.saturating_add(adding) > mailbox.domain_quota => {
                    info!(conn = %self.id, domain = %mailbox.domain, used, "domain over quota");
                    return true;
                }
                Ok(_) => {}
                Err(e) => {
                    warn!(domain = %mailbox.domain, error = %e, "domain usage unreadable; accepting")
                }
            }
        }
        let limits = self.service.config.quota_limits(mailbox.quota);
        if !limits.any() {
            return false;
        }
        let maildir = maildir::Maildir::new(mailbox.maildir.clone());
        let usage = tokio::task::spawn_blocking(move || {
            if maildir.path().join("cur").is_dir() {
                maildir.quota_usage(limits)
            } else {
                Ok(maildir::Usage::default())
            }
        })
        .await;
        match usage {
            // Full already, or would be with the size MAIL FROM declared.
            Ok(Ok(u)) => {
                limits.exceeded(u, (1, 1))
                    || self
                        .tx
                        .declared_size
                        .is_some_and(|s| limits.exceeded(u, (s, 1)))
            }
            Ok(Err(e)) => {
                // Unknown usage must not lose mail: accept, and say why in the log.
                warn!(user = %mailbox.username, error = %e, "quota usage unreadable; accepting");
                false
            }
            Err(_) => false,
        }
    }

    /// Keeps `maildirsize` and PostfixAdmin's `quota2` current after a delivery.
    async fn record_delivery(&self, mailboxes: &[LocalMailbox], stored: u64) {
        for m in mailboxes {
            let maildir = maildir::Maildir::new(m.maildir.clone());
            let limits = self.service.config.quota_limits(m.quota);
            let result =
                tokio::task::spawn_blocking(move || maildir.quota_add(stored as i64, 1, limits))
                    .await;
            if let Ok(Err(e)) = result {
                warn!(user = %m.username, error = %e, "could not update maildirsize");
            }
            if let Err(e) = self
                .service
                .accounts
                .record_usage(&m.username, stored as i64, 1)
                .await
            {
                warn!(user = %m.username, error = %e, "could not update quota2");
            }
        }
    }

    async fn finish(&mut self, session: &mut ServerSession, size: u64) {
        let tx = std::mem::replace(&mut self.tx, Transaction::new());
        let Some(body) = tx.body else {
            let _ = session.finish_message(reply(451, 4, 3, 0, "Local error in processing".into()));
            return;
        };
        let queue_id = body.queue_id.clone();
        let from = display_from(&tx.from);
        match body.commit().await {
            Ok((paths, stored)) => {
                self.messages += 1;
                self.record_delivery(&tx.mailboxes, stored).await;
                info!(conn = %self.id, %queue_id, peer = %self.peer, %from, to = ?tx.recipients, size,
                      copies = paths.len(), result = "delivered", "message");
                let _ = session.finish_message(Reply::queued(&queue_id));
            }
            Err(e) => {
                warn!(conn = %self.id, %queue_id, peer = %self.peer, %from, to = ?tx.recipients, size,
                      error = %e, result = "deferred", "message");
                let r = match e {
                    maildir::Error::NoSpace { .. } => {
                        reply(452, 4, 3, 1, "Insufficient system storage".into())
                    }
                    _ => reply(
                        451,
                        4,
                        3,
                        0,
                        "Local error in processing, try again later".into(),
                    ),
                };
                let _ = session.finish_message(r);
            }
        }
    }
}

fn display_from(from: &Option<ReversePath>) -> String {
    from.as_ref().map_or_else(|| "?".into(), |f| f.to_string())
}

/// Streams a message body into the first target's Maildir `tmp/`, in batches off the async
/// threads, and commits it to every target at the end.
struct BodyWriter {
    queue_id: String,
    header: Option<Bytes>,
    targets: Vec<maildir::Maildir>,
    hostname: String,
    delivery: Option<maildir::Delivery>,
    pending: Vec<Bytes>,
    pending_len: usize,
    error: Option<maildir::Error>,
}

impl BodyWriter {
    fn new(
        queue_id: String,
        header: String,
        targets: Vec<maildir::Maildir>,
        hostname: String,
    ) -> Self {
        Self {
            queue_id,
            header: Some(Bytes::from(header)),
            targets,
            hostname,
            delivery: None,
            pending: Vec::new(),
            pending_len: 0,
            error: None,
        }
    }

    async fn push(&mut self, chunk: Bytes) {
        if self.error.is_some() {
            return;
        }
        self.pending_len += chunk.len();
        self.pending.push(chunk);
        if self.pending_len >= FLUSH_THRESHOLD {
            let job = self.job();
            match run_blocking(move || job.write()).await {
                Ok(delivery) => self.delivery = Some(delivery),
                Err(e) => self.error = Some(e),
            }
        }
    }

    fn job(&mut self) -> WriteJob {
        self.pending_len = 0;
        WriteJob {
            delivery: self.delivery.take(),
            header: self.header.take(),
            chunks: std::mem::take(&mut self.pending),
            first: self.targets.first().cloned(),
            hostname: self.hostname.clone(),
        }
    }

    /// Returns the stored copies' paths and their size (Received: header included).
    async fn commit(mut self) -> Result<(Vec<PathBuf>, u64), maildir::Error> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let job = self.job();
        let others: Vec<maildir::Maildir> = self.targets.iter().skip(1).cloned().collect();
        run_blocking(move || {
            let delivery = job.write()?;
            let also: Vec<&maildir::Maildir> = others.iter().collect();
            let size = delivery.size();
            Ok((delivery.commit(&also)?, size))
        })
        .await
    }
}

struct WriteJob {
    delivery: Option<maildir::Delivery>,
    header: Option<Bytes>,
    chunks: Vec<Bytes>,
    first: Option<maildir::Maildir>,
    hostname: String,
}

impl WriteJob {
    fn write(self) -> Result<maildir::Delivery, maildir::Error> {
        let mut delivery = match self.delivery {
            Some(d) => d,
            None => {
                let first = self.first.ok_or_else(|| maildir::Error::Io {
                    action: "delivering",
                    path: PathBuf::new(),
                    source: io::Error::other("message has no recipients"),
                })?;
                maildir::Delivery::begin(&first, &self.hostname)?
            }
        };
        if let Some(header) = self.header {
            delivery.write(&header)?;
        }
        for chunk in &self.chunks {
            delivery.write(chunk)?;
        }
        Ok(delivery)
    }
}

async fn run_blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, maildir::Error> + Send + 'static,
) -> Result<T, maildir::Error> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        Err(maildir::Error::Io {
            action: "delivering",
            path: PathBuf::new(),
            source: io::Error::other(e.to_string()),
        })
    })
}
