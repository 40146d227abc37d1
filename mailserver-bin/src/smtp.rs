//! The SMTP services: inbound mail on port 25 and submission on 587/465. Each accepts
//! connections, drives `smtp_proto::ServerSession`, answers its decisions from the account
//! store, and stores messages: straight into Maildir when every recipient is local, into the
//! outbound queue when one is not.
//!
//! Submission (RFC 6409) needs AUTH, lets a user send only as their own addresses, adds
//! Message-ID and Date when the client left them out, and writes a Received: line without the
//! client's name or IP address.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use smtp_proto::{
    AbortReason, AuthMechanism, Body, DefectPolicy, Event, ForwardPath, MailParams, RcptParams,
    Reply, ReversePath, ServerSession,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio_rustls::TlsAcceptor;
use tracing::{info, warn};

use crate::accounts::{Accounts, LocalMailbox, Resolution};
use crate::config::{Config, Policy, QuotaExceeded};
use crate::conn::{BUDGET_SPENT, Conn, Pace, Pacer};
use crate::mail::{HeaderScan, ReceivedInfo, queue_id, received_header};
use crate::queue::Queue;
use crate::queue::spool::{self, QueuedMessage, Route, Spool, SpoolError};
use crate::srs::Srs;

/// Body octets buffered in memory before they are written to the Maildir's tmp file.
const FLUSH_THRESHOLD: usize = 256 * 1024;

pub struct SmtpService {
    pub config: Arc<Config>,
    pub session_config: smtp_proto::Config,
    pub accounts: Accounts,
    pub tls: Option<TlsAcceptor>,
    pub gate: Arc<crate::conn::Gate>,
    pub active: Arc<AtomicUsize>,
    pub queue: Arc<Queue>,
    /// Submission: AUTH required, relaying for the authenticated user.
    pub submission: bool,
    pub srs: Option<Srs>,
}

impl SmtpService {
    /// The inbound MX service (port 25): mail for our domains only, no AUTH.
    pub fn new(
        config: Arc<Config>,
        accounts: Accounts,
        tls: Option<TlsAcceptor>,
        queue: Arc<Queue>,
        srs: Option<Srs>,
        process: Arc<Semaphore>,
    ) -> Self {
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
        s.dsn = true;
        Self {
            gate: crate::conn::Gate::new(
                "smtp",
                config.limits.max_connections,
                config.limits.max_connections_per_address,
                process,
            ),
            config,
            session_config: s,
            accounts,
            tls,
            active: Arc::new(AtomicUsize::new(0)),
            queue,
            submission: false,
            srs,
        }
    }

    /// The submission service (587, 465): AUTH PLAIN/LOGIN required before MAIL.
    pub fn submission(
        config: Arc<Config>,
        accounts: Accounts,
        tls: Option<TlsAcceptor>,
        queue: Arc<Queue>,
        srs: Option<Srs>,
        active: Arc<AtomicUsize>,
        process: Arc<Semaphore>,
    ) -> Self {
        let limits = &config.limits;
        // Its own connection count, apart from port 25's.
        let gate = crate::conn::Gate::new(
            "submission",
            limits.max_connections,
            limits.max_connections_per_address,
            Arc::clone(&process),
        );
        let mut service = Self::new(config, accounts, tls, queue, srs, process);
        service.gate = gate;
        service.session_config.auth_mechanisms = vec![AuthMechanism::Plain, AuthMechanism::Login];
        service.session_config.require_auth = true;
        service.submission = true;
        service.active = active;
        service
    }

    fn session_config(&self, implicit_tls: bool, loopback: bool) -> smtp_proto::Config {
        let mut c = self.session_config.clone();
        c.implicit_tls = implicit_tls;
        c.starttls &= !implicit_tls;
        c.allow_plaintext_auth = self.config.submission.allow_plaintext_auth || loopback;
        c
    }
}

/// Accepts SMTP connections (with `implicit_tls`, SMTPS on 465) until shutdown is signalled.
pub async fn serve(
    listener: TcpListener,
    service: Arc<SmtpService>,
    implicit_tls: bool,
    shutdown: watch::Receiver<bool>,
) {
    let active = service.active.clone();
    crate::conn::accept_loop(listener, active, shutdown, move |stream, peer, shutdown| {
        connection(stream, peer, service.clone(), implicit_tls, shutdown)
    })
    .await;
}

/// Where one recipient's mail goes.
struct Routed {
    /// The address as the client gave it (normalised).
    address: String,
    mailboxes: Vec<LocalMailbox>,
    remote: Vec<String>,
    /// Through an alias to another server, rather than relayed for a user or a backup domain.
    forwarded: bool,
}

/// One message's envelope and the writer its body streams into.
struct Transaction {
    from: Option<ReversePath>,
    params: MailParams,
    recipients: Vec<String>,
    mailboxes: Vec<LocalMailbox>,
    /// Addresses on other servers, each with the RCPT parameters that led to it.
    remote: Vec<(String, RcptParams)>,
    /// Local mailboxes (user name) whose RCPT asked for DSN: the address used, its parameters.
    local_dsn: Vec<(String, String, RcptParams)>,
    /// An alias sends some of it on to another server (SRS applies).
    forwarded: bool,
    body: Option<BodyWriter>,
}

impl Transaction {
    fn new() -> Self {
        Self {
            from: None,
            params: MailParams::default(),
            recipients: Vec::new(),
            mailboxes: Vec::new(),
            remote: Vec::new(),
            local_dsn: Vec::new(),
            forwarded: false,
            body: None,
        }
    }

    /// The DSN parameters of the RCPT that reached `username`, and the address it used.
    fn local_dsn(&self, username: &str) -> Option<&(String, String, RcptParams)> {
        self.local_dsn.iter().find(|(u, _, _)| u == username)
    }

    /// The queue entry for this message: local mailboxes by user name, the rest remote.
    fn queue_entry(&self, id: &str) -> QueuedMessage {
        let with_params = |mut r: spool::Recipient, params: &RcptParams| {
            r.notify = params.notify;
            r.orcpt = params.orcpt.clone();
            r
        };
        let mut recipients: Vec<spool::Recipient> = self
            .mailboxes
            .iter()
            .map(|m| {
                let route = Route::Local(m.username.clone());
                match self.local_dsn(&m.username) {
                    Some((_, address, params)) => {
                        with_params(spool::Recipient::new(address.clone(), route), params)
                    }
                    None => spool::Recipient::new(m.username.clone(), route),
                }
            })
            .collect();
        for (address, params) in &self.remote {
            recipients.push(with_params(
                spool::Recipient::new(address.clone(), Route::Remote),
                params,
            ));
        }
        let from = match &self.from {
            Some(ReversePath::Mailbox(m)) => m.to_string(),
            _ => String::new(),
        };
        let mut entry = QueuedMessage::new(id.to_owned(), from, recipients);
        entry.envid = self.params.envid.clone();
        entry.ret_headers = self.params.ret == Some(smtp_proto::Ret::Hdrs);
        entry.body = self.params.body.map(|b| {
            match b {
                Body::SevenBit => "7BIT",
                Body::EightBitMime => "8BITMIME",
                Body::BinaryMime => "BINARYMIME",
            }
            .to_owned()
        });
        entry.smtputf8 = self.params.smtputf8;
        entry
    }
}

struct Connection {
    peer: SocketAddr,
    service: Arc<SmtpService>,
    tx: Transaction,
    messages: u32,
    id: String,
    /// The authenticated user (submission).
    login: Option<String>,
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    service: Arc<SmtpService>,
    implicit_tls: bool,
    mut shutdown: watch::Receiver<bool>,
) {
    let admission = service.gate.admit(peer);
    let mut conn = match (&service.tls, implicit_tls) {
        (Some(acceptor), true) => match Box::pin(Conn::open(stream, true, acceptor)).await {
            Ok(c) => c,
            Err(reason) => return info!(%peer, %reason, "smtps handshake failed"),
        },
        _ => Conn::Plain(stream),
    };
    let config = service.session_config(implicit_tls, peer.ip().is_loopback());
    let mut session = match &admission {
        Ok(_) => ServerSession::new(config),
        Err(why) => {
            let text = format!("{} {}", service.config.hostname, why.text());
            let reply = Reply::or_fallback(421, 4, 7, 0, &text, "Too many connections");
            ServerSession::refuse(config, reply)
        }
    };
    let _admission = admission;
    // Port 25 has no login: its clients have no budget before one.
    let mut pacer = Pacer::from_limits(&service.config.limits, service.submission);
    let mut state = Connection {
        peer,
        service: service.clone(),
        tx: Transaction::new(),
        messages: 0,
        id: queue_id(),
        login: None,
    };
    info!(conn = %state.id, %peer, submission = service.submission, tls = implicit_tls, "connect");
    let mut buf = crate::conn::ReadBuffer::new();
    let mut shutting_down = *shutdown.borrow();
    let mut start_tls = false;
    let outcome = loop {
        while let Some(event) = session.poll_event() {
            if matches!(event, Event::StartTls) {
                start_tls = true;
                continue;
            }
            // Boxed: an event's handling (delivery, lookups) holds state only while it runs,
            // not in every waiting connection's task.
            Box::pin(state.handle(&mut session, event)).await;
        }
        if let Some(out) = session.poll_output() {
            if let Err(e) = conn.send(&out).await {
                break format!("write error: {e}");
            }
            pacer.answered();
            continue;
        }
        if session.is_closed() {
            break "closed".into();
        }
        if session.is_authenticated() {
            pacer.authenticated();
        }
        if start_tls {
            start_tls = false;
            let Some(acceptor) = service.tls.clone() else {
                break "STARTTLS without TLS configuration".into();
            };
            if let Err(reason) = Box::pin(conn.start_tls(&acceptor)).await {
                break reason;
            }
            let _ = session.tls_established();
            continue;
        }
        if shutting_down && !session.in_message() {
            session.shutdown();
            continue;
        }
        let room = buf.room(session.input_capacity());
        if room.is_empty() {
            break "session stalled".into();
        }
        tokio::select! {
            read = tokio::time::timeout(pacer.wait(session.timeout()), conn.read(room)) => match read {
                Err(_) => {
                    warn!(conn = %state.id, %peer, "closing: too slow (timeout or command deadline)");
                    session.handle_timeout();
                }
                Ok(Ok(0)) => {
                    if session.handle_eof() {
                        warn!(conn = %state.id, %peer, "connection lost in the middle of a message; nothing was stored");
                    }
                    break "client closed".into();
                }
                Ok(Ok(n)) => {
                    if pacer.received(n) == Pace::OverBudget {
                        warn!(conn = %state.id, %peer, "closing: too much data before authentication");
                        session.abort(BUDGET_SPENT);
                    } else if let Err(e) = session.receive(buf.take(n)) {
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

/// 452 4.3.1 (RFC 3463: mail system full): the sender retries later.
fn insufficient_storage() -> Reply {
    reply(
        452,
        4,
        3,
        1,
        "Insufficient system storage, try again later".into(),
    )
}

/// 451 4.3.0: the account store could not answer; the client tries again later.
fn lookup_failed() -> Reply {
    reply(
        451,
        4,
        3,
        0,
        "Temporary lookup failure, try again later".into(),
    )
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
                if let Err(r) = self.check_sender(&from).await {
                    info!(conn = %self.id, peer = %self.peer, from = %from, login = ?self.login, reply = %r, "sender rejected");
                    let _ = session.reject(r);
                    return;
                }
                if params.size.is_some_and(|size| !self.room(size)) {
                    let _ = session.reject(insufficient_storage());
                    return;
                }
                self.tx.from = Some(from);
                self.tx.params = params;
                let _ = session.accept();
            }
            Event::RcptTo { .. } if !self.room(self.tx.params.size.unwrap_or(0)) => {
                let _ = session.reject(insufficient_storage());
            }
            Event::RcptTo { to, params } => self.rcpt_to(session, &to, &params).await,
            Event::MessageStart { .. } => self.start_message(session).await,
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
            } => self.authenticate(session, username, password).await,
            Event::StartTls | Event::Quit => {}
        }
    }

    /// RCPT TO: routed to mailboxes, forwarded or relayed, or refused.
    async fn rcpt_to(
        &mut self,
        session: &mut ServerSession,
        to: &ForwardPath,
        params: &RcptParams,
    ) {
        let answer = self.recipient(to).await;
        match answer {
            Ok(Routed {
                address,
                mailboxes,
                remote,
                forwarded,
            }) => {
                self.tx.forwarded |= forwarded;
                self.tx.recipients.push(address.clone());
                let dsn = params.notify.is_some() || params.orcpt.is_some();
                for m in mailboxes {
                    if dsn && self.tx.local_dsn(&m.username).is_none() {
                        let entry = (m.username.clone(), address.clone(), params.clone());
                        self.tx.local_dsn.push(entry);
                    }
                    if !self.tx.mailboxes.contains(&m) {
                        self.tx.mailboxes.push(m);
                    }
                }
                for r in remote {
                    if !self.tx.remote.iter().any(|(a, _)| *a == r) {
                        self.tx.remote.push((r, params.clone()));
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

    /// DATA or the first BDAT: the Received header and where the message goes (the
    /// recipients' Maildirs, or the queue when any recipient is remote).
    async fn start_message(&mut self, session: &mut ServerSession) {
        let id = queue_id();
        let single = (self.tx.recipients.len() == 1).then(|| self.tx.recipients[0].as_str());
        let header = received_header(&ReceivedInfo {
            helo: session.helo().map(|h| h.to_string()).as_deref(),
            peer: self.peer,
            hostname: &self.service.config.hostname,
            esmtp: session.is_esmtp(),
            tls: session.is_tls(),
            authenticated: session.is_authenticated(),
            smtputf8: self.tx.params.smtputf8,
            queue_id: &id,
            single_recipient: single,
            time: SystemTime::now(),
            hide_client: self.service.submission,
        });
        let hostname = self.service.config.hostname.clone();
        let destination = if self.tx.remote.is_empty() {
            Destination::Maildirs {
                targets: self
                    .tx
                    .mailboxes
                    .iter()
                    .map(|m| maildir::Maildir::new(m.maildir.clone()))
                    .collect(),
                hostname: hostname.clone(),
            }
        } else {
            let mut entry = self.tx.queue_entry(&id);
            if self.tx.forwarded {
                entry.from = self.forward_sender(entry.from).await;
            }
            Destination::Queue {
                spool: self.service.queue.spool().clone(),
                entry: Box::new(entry),
            }
        };
        let completion = self
            .service
            .submission
            .then(|| (HeaderScan::default(), hostname));
        self.tx.body = Some(BodyWriter::new(id, header, destination, completion));
        let _ = session.accept();
    }

    /// AUTH: the password checked and, on submission, whether the account may send.
    async fn authenticate(
        &mut self,
        session: &mut ServerSession,
        username: String,
        password: smtp_proto::Secret<String>,
    ) {
        let default_scheme = self.service.config.accounts.default_password_scheme.clone();
        let accounts = &self.service.accounts;
        let verdict = async {
            let valid = accounts
                .authenticate(&username, password.into_inner(), default_scheme)
                .await?;
            // PostfixAdmin's smtp_active: the password is right, sending is off.
            let may_send =
                !valid || !self.service.submission || accounts.may_submit(&username).await?;
            Ok::<_, crate::accounts::AccountsError>((valid, may_send))
        }
        .await;
        let result = match verdict {
            Ok((true, true)) => Ok(()),
            Ok((true, false)) => Err(reply(
                535,
                5,
                7,
                8,
                "Authentication credentials invalid: sending is disabled for this account".into(),
            )),
            Ok((false, _)) => Err(Reply::auth_failed()),
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
        if result.is_ok() {
            self.login = Some(username);
        }
        let _ = session.auth_finish(result);
    }

    /// Submission: only a sender the login may use (553 5.7.1 otherwise, as Postfix's
    /// reject_sender_login_mismatch); never the null sender, which is for bounces.
    async fn check_sender(&self, from: &ReversePath) -> Result<(), Reply> {
        if !self.service.submission {
            return Ok(());
        }
        let Some(login) = &self.login else {
            return Ok(()); // The session refuses MAIL before AUTH itself.
        };
        let ReversePath::Mailbox(m) = from else {
            return Err(reply(
                553,
                5,
                7,
                1,
                "<>: Sender address rejected: not owned by user".into(),
            ));
        };
        let sender = m.to_string();
        match self.service.accounts.may_send_as(login, &sender).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(reply(
                553,
                5,
                7,
                1,
                format!("<{sender}>: Sender address rejected: not owned by user {login}"),
            )),
            Err(e) => {
                warn!(error = %e, "sender lookup failed");
                Err(lookup_failed())
            }
        }
    }

    /// The envelope sender for mail this service passes on to other servers: inbound mail
    /// from a foreign sender leaves under an SRS address of ours.
    async fn forward_sender(&self, from: String) -> String {
        let Some(srs) = &self.service.srs else {
            return from;
        };
        if self.service.submission || from.is_empty() {
            return from;
        }
        let domain = from.rsplit_once('@').map_or("", |(_, d)| d);
        match self.service.accounts.is_local_domain(domain).await {
            Ok(true) => from,
            Ok(false) => srs.forward(&from, crate::srs::today()).unwrap_or(from),
            Err(e) => {
                warn!(error = %e, "domain lookup failed; forwarding with the sender unchanged");
                from
            }
        }
    }

    /// Whether a message of `size` octets fits on the data directory's file system with its
    /// reserve left free (mail and the queue live there).
    fn room(&self, size: u64) -> bool {
        let config = &self.service.config;
        let reserve = config.disk_reserve();
        reserve.room_for(&config.mail_root(), size)
            && reserve.room_for(&config.data_dir.join("queue"), size)
    }

    /// Where mail for `address` goes when it is `postmaster@` one of our domains that has no
    /// such mailbox or alias (RFC 5321 §4.5.1: every domain has a postmaster): `[smtp]
    /// postmaster`, else the domain's oldest mailbox.
    async fn postmaster(
        &self,
        address: &str,
    ) -> Result<Option<String>, crate::accounts::AccountsError> {
        let Some((local, domain)) = address.rsplit_once('@') else {
            return Ok(None);
        };
        if !local.eq_ignore_ascii_case("postmaster") {
            return Ok(None);
        }
        let configured = &self.service.config.smtp.postmaster;
        if !configured.is_empty() {
            return Ok(Some(configured.clone()));
        }
        self.service.accounts.first_mailbox(domain).await
    }

    /// Resolves a recipient to our mailboxes and remote addresses, or the refusal.
    async fn recipient(&self, to: &ForwardPath) -> Result<Routed, Reply> {
        let accounts = &self.service.accounts;
        let temp_fail = |e: crate::accounts::AccountsError| {
            warn!(error = %e, "recipient lookup failed");
            lookup_failed()
        };
        let address = match to {
            ForwardPath::Postmaster => {
                // RFC 5321 §4.5.1: <Postmaster> must work; it is the postmaster of our first domain.
                let domains = accounts.list_domains().await.map_err(temp_fail)?;
                let domain = domains
                    .into_iter()
                    .find(|d| d.active && !d.backup_mx)
                    .map(|d| d.name);
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
        if let Some(srs) = &self.service.srs {
            match srs.reverse(&address, crate::srs::today()) {
                Some(Ok(original)) => {
                    return Ok(Routed {
                        address,
                        mailboxes: Vec::new(),
                        remote: vec![original],
                        forwarded: false,
                    });
                }
                Some(Err(reason)) => {
                    return Err(reply(550, 5, 1, 1, format!("<{address}>: {reason}")));
                }
                None => {}
            }
        }
        let mut forwarded = false;
        let mut resolution = accounts.resolve(&address).await.map_err(temp_fail)?;
        if matches!(resolution, Resolution::Unknown)
            && let Some(target) = self.postmaster(&address).await.map_err(temp_fail)?
        {
            info!(conn = %self.id, %address, %target, "postmaster mail for a domain without such an address");
            resolution = accounts.resolve(&target).await.map_err(temp_fail)?;
        }
        let (mailboxes, remote) = match resolution {
            Resolution::Local(mailboxes) => (mailboxes, Vec::new()),
            Resolution::Forward { local, remote } => {
                forwarded = true;
                (local, remote)
            }
            // A backup MX passes the mail on as it came: no SRS, the sender is not ours to
            // rewrite.
            Resolution::Relay(address) => (Vec::new(), vec![address]),
            // Relaying is what an authenticated submission client is for.
            Resolution::NotOurDomain if self.service.submission => {
                (Vec::new(), vec![address.clone()])
            }
            Resolution::NotOurDomain => {
                return Err(reply(
                    554,
                    5,
                    7,
                    1,
                    format!("<{address}>: Relay access denied"),
                ));
            }
            Resolution::Unknown => {
                return Err(reply(
                    550,
                    5,
                    1,
                    1,
                    format!("<{address}>: Recipient address rejected: User unknown"),
                ));
            }
        };
        for m in &mailboxes {
            let config = &self.service.config;
            if crate::delivery::over_quota(config, accounts, m, self.tx.params.size).await {
                info!(conn = %self.id, user = %m.username, quota = m.quota, "mailbox over quota");
                return Err(match config.smtp.quota_exceeded {
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
        Ok(Routed {
            address,
            mailboxes,
            remote,
            forwarded,
        })
    }

    async fn finish(&mut self, session: &mut ServerSession, size: u64) {
        let mut tx = std::mem::replace(&mut self.tx, Transaction::new());
        let Some(body) = tx.body.take() else {
            let _ = session.finish_message(reply(451, 4, 3, 0, "Local error in processing".into()));
            return;
        };
        let queue_id = body.queue_id.clone();
        let from = display_from(&tx.from);
        let queued = !tx.remote.is_empty();
        match body.commit().await {
            Ok((stored, path)) => {
                self.messages += 1;
                if queued {
                    self.service.queue.enqueued(&queue_id);
                } else {
                    let service = &self.service;
                    crate::delivery::record(
                        &service.config,
                        &service.accounts,
                        &tx.mailboxes,
                        stored,
                    )
                    .await;
                    if let Some(path) = path {
                        self.report_delivered(&tx, &queue_id, &path).await;
                    }
                }
                let result = if queued { "queued" } else { "delivered" };
                info!(conn = %self.id, %queue_id, peer = %self.peer, %from, to = ?tx.recipients, size,
                      mailboxes = tx.mailboxes.len(), remote = tx.remote.len(), login = ?self.login, result, "message");
                let _ = session.finish_message(Reply::queued(&queue_id));
            }
            Err(e) => {
                warn!(conn = %self.id, %queue_id, peer = %self.peer, %from, to = ?tx.recipients, size,
                      error = %e, result = "deferred", "message");
                let r = if e.is_no_space() {
                    reply(452, 4, 3, 1, "Insufficient system storage".into())
                } else {
                    reply(
                        451,
                        4,
                        3,
                        0,
                        "Local error in processing, try again later".into(),
                    )
                };
                let _ = session.finish_message(r);
            }
        }
    }
}

impl Connection {
    /// The success notices NOTIFY=SUCCESS asked for, after a delivery straight into Maildir
    /// (`stored` is one copy).
    async fn report_delivered(&self, tx: &Transaction, queue_id: &str, stored: &std::path::Path) {
        let entry = tx.queue_entry(queue_id);
        let report: Vec<(spool::Recipient, crate::queue::Action)> = entry
            .recipients
            .iter()
            .filter(|r| r.notify.is_some_and(|n| n.success))
            .map(|r| {
                let mut r = r.clone();
                r.status = spool::Status::Delivered;
                r.last_reply = "delivered to mailbox".into();
                (r, crate::queue::Action::Delivered)
            })
            .collect();
        if !report.is_empty() {
            self.service
                .queue
                .notify_sender(&entry, stored, &report)
                .await;
        }
    }
}

fn display_from(from: &Option<ReversePath>) -> String {
    from.as_ref().map_or_else(|| "?".into(), |f| f.to_string())
}

/// Where a message body goes.
enum Destination {
    /// Straight into these Maildirs: the first gets the file, the others links to it.
    Maildirs {
        targets: Vec<maildir::Maildir>,
        hostname: String,
    },
    /// Into the outbound queue, with every recipient of the message.
    Queue {
        spool: Spool,
        entry: Box<QueuedMessage>,
    },
}

/// A message file being written.
enum Open {
    Maildir(maildir::Delivery),
    Queue(spool::Incoming),
}

#[derive(Debug, thiserror::Error)]
enum StoreError {
    #[error(transparent)]
    Maildir(#[from] maildir::Error),
    #[error(transparent)]
    Queue(#[from] SpoolError),
    #[error("message storage task failed: {0}")]
    Task(String),
    #[error("message has no recipients")]
    NoRecipients,
}

impl StoreError {
    fn is_no_space(&self) -> bool {
        let queue_full = matches!(self, StoreError::Queue(SpoolError::Io { source, .. })
            if source.kind() == io::ErrorKind::StorageFull);
        queue_full || matches!(self, StoreError::Maildir(maildir::Error::NoSpace { .. }))
    }
}

/// Streams a message body to its destination in batches off the async threads, and commits
/// it at the end.
struct BodyWriter {
    queue_id: String,
    header: Option<Bytes>,
    /// Shared with each write job, which needs it only to open the file.
    destination: Arc<Destination>,
    /// Submission: the header scan and the host name for a Message-ID.
    completion: Option<(HeaderScan, String)>,
    open: Option<Open>,
    pending: Vec<Bytes>,
    pending_len: usize,
    error: Option<StoreError>,
}

impl BodyWriter {
    fn new(
        queue_id: String,
        header: String,
        destination: Destination,
        completion: Option<(HeaderScan, String)>,
    ) -> Self {
        Self {
            queue_id,
            header: Some(Bytes::from(header)),
            destination: Arc::new(destination),
            completion,
            open: None,
            pending: Vec::new(),
            pending_len: 0,
            error: None,
        }
    }

    async fn push(&mut self, chunk: Bytes) {
        if self.error.is_some() {
            return;
        }
        if let Some((scan, _)) = &mut self.completion {
            scan.feed(&chunk);
        }
        self.pending_len += chunk.len();
        self.pending.push(chunk);
        if self.pending_len >= FLUSH_THRESHOLD {
            let job = self.job();
            match run_blocking(move || job.write()).await {
                Ok(open) => self.open = Some(open),
                Err(e) => self.error = Some(e),
            }
        }
    }

    fn job(&mut self) -> WriteJob {
        self.pending_len = 0;
        let mut header = self.header.take();
        // The first write decides the fields added in front; the scan has seen the header
        // by then, or FLUSH_THRESHOLD octets of it.
        if let (Some(h), Some((scan, hostname))) = (&header, self.completion.take()) {
            let added = scan.missing(&self.queue_id, &hostname, SystemTime::now());
            header = Some(Bytes::from([h.as_ref(), added.as_bytes()].concat()));
        }
        WriteJob {
            open: self.open.take(),
            header,
            chunks: std::mem::take(&mut self.pending),
            destination: Arc::clone(&self.destination),
            queue_id: self.queue_id.clone(),
        }
    }

    /// Returns the stored size (Received: header included) and, for Maildir, one copy's path.
    async fn commit(mut self) -> Result<(u64, Option<PathBuf>), StoreError> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let job = self.job();
        run_blocking(move || {
            let destination = Arc::clone(&job.destination);
            match (job.write()?, &*destination) {
                (Open::Maildir(delivery), Destination::Maildirs { targets, .. }) => {
                    let also: Vec<&maildir::Maildir> = targets.iter().skip(1).collect();
                    let size = delivery.size();
                    let paths = delivery.commit(&also)?;
                    Ok((size, paths.into_iter().next()))
                }
                (Open::Queue(incoming), Destination::Queue { spool, entry }) => Ok((
                    incoming.commit(spool, QueuedMessage::clone(entry))?.size,
                    None,
                )),
                _ => Err(StoreError::NoRecipients),
            }
        })
        .await
    }
}

struct WriteJob {
    open: Option<Open>,
    header: Option<Bytes>,
    chunks: Vec<Bytes>,
    destination: Arc<Destination>,
    queue_id: String,
}

impl WriteJob {
    fn write(self) -> Result<Open, StoreError> {
        let mut open = match self.open {
            Some(o) => o,
            None => match &*self.destination {
                Destination::Maildirs { targets, hostname } => {
                    let first = targets.first().ok_or(StoreError::NoRecipients)?;
                    Open::Maildir(maildir::Delivery::begin(first, hostname)?)
                }
                Destination::Queue { spool, .. } => Open::Queue(spool.incoming(&self.queue_id)?),
            },
        };
        for data in self.header.iter().chain(&self.chunks) {
            match &mut open {
                Open::Maildir(d) => d.write(data)?,
                Open::Queue(q) => q.write(data)?,
            }
        }
        Ok(open)
    }
}

async fn run_blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(StoreError::Task(e.to_string())))
}
