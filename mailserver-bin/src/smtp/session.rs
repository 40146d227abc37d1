//! One SMTP connection's transaction: its envelope, the answer to each event the session
//! hands over (MAIL, RCPT, DATA, AUTH), and the end of a message.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use mailwright_smtp::{
    AbortReason, Body, Event, ForwardPath, MailParams, RcptParams, Reply, ReversePath,
    ServerSession,
};
use tracing::{info, warn};

use crate::accounts::LocalMailbox;
use crate::conn::Answered;
use crate::mail::{HeaderScan, ReceivedInfo, queue_id, received_header};
use crate::queue::spool::{self, QueuedMessage, Route};
use crate::smtp::body::{BodyWriter, Destination};
use crate::smtp::service::{SmtpService, insufficient_storage, reply};

/// Where one recipient's mail goes.
pub(super) struct Routed {
    /// The address as the client gave it (normalised).
    pub(super) address: String,
    pub(super) mailboxes: Vec<LocalMailbox>,
    pub(super) remote: Vec<String>,
    /// Our mailing list, when the recipient is one (the queue distributes the post).
    pub(super) list: Option<String>,
    /// Through an alias to another server, rather than relayed for a user or a backup domain.
    pub(super) forwarded: bool,
}

/// One message's envelope and the writer its body streams into.
pub(super) struct Transaction {
    pub(super) from: Option<ReversePath>,
    pub(super) params: MailParams,
    pub(super) recipients: Vec<String>,
    pub(super) mailboxes: Vec<LocalMailbox>,
    /// Addresses on other servers, each with the RCPT parameters that led to it.
    pub(super) remote: Vec<(String, RcptParams)>,
    /// Our mailing lists the message is posted to.
    pub(super) lists: Vec<String>,
    /// Local mailboxes (user name) whose RCPT asked for DSN: the address used, its parameters.
    pub(super) local_dsn: Vec<(String, String, RcptParams)>,
    /// An alias sends some of it on to another server (SRS applies).
    pub(super) forwarded: bool,
    /// Port 25: the SPF result of MAIL FROM, when the sender's mail is checked.
    pub(super) spf: Option<crate::filter::SpfCheck>,
    pub(super) body: Option<BodyWriter>,
}

impl Transaction {
    /// The envelope sender without its angle brackets (empty: the null sender of a bounce).
    pub(super) fn sender(&self) -> String {
        match &self.from {
            Some(ReversePath::Mailbox(m)) => m.to_string(),
            _ => String::new(),
        }
    }

    pub(super) fn new() -> Self {
        Self {
            from: None,
            params: MailParams::default(),
            recipients: Vec::new(),
            mailboxes: Vec::new(),
            remote: Vec::new(),
            lists: Vec::new(),
            local_dsn: Vec::new(),
            forwarded: false,
            spf: None,
            body: None,
        }
    }

    /// Whether the message goes through the queue (a remote recipient or a list), not
    /// straight into the Maildirs.
    pub(super) fn queued(&self) -> bool {
        !self.remote.is_empty() || !self.lists.is_empty()
    }

    /// The DSN parameters of the RCPT that reached `username`, and the address it used.
    pub(super) fn local_dsn(&self, username: &str) -> Option<&(String, String, RcptParams)> {
        self.local_dsn.iter().find(|(u, _, _)| u == username)
    }

    /// The queue entry for this message: local mailboxes by user name, the rest remote.
    pub(super) fn queue_entry(&self, id: &str) -> QueuedMessage {
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
        for list in &self.lists {
            recipients.push(spool::Recipient::new(
                list.clone(),
                Route::List(list.clone()),
            ));
        }
        let mut entry = QueuedMessage::new(id.to_owned(), self.sender(), recipients);
        entry.envid = self.params.envid.as_deref().map(str::to_owned);
        entry.ret_headers = self.params.ret == Some(mailwright_smtp::Ret::Hdrs);
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

pub(super) struct Connection {
    pub(super) peer: SocketAddr,
    pub(super) service: Arc<SmtpService>,
    pub(super) tx: Transaction,
    pub(super) messages: u32,
    /// The authenticated user (submission).
    pub(super) login: Option<String>,
}

impl Connection {
    pub(super) async fn handle(&mut self, session: &mut ServerSession, event: Event) {
        match event {
            Event::Helo { .. } => {
                self.tx = Transaction::new();
                session.accept().answered();
            }
            Event::MailFrom { from, params } => {
                self.tx = Transaction::new();
                if let Err(r) = self.check_sender(&from).await {
                    info!(peer = %self.peer, from = %from, login = self.login.as_deref(), reply = %r, "sender rejected");
                    session.reject(r).answered();
                    return;
                }
                if params.size.is_some_and(|size| !self.room(size)) {
                    session.reject(insufficient_storage()).answered();
                    return;
                }
                if let Some(user) = &self.login
                    && !self.service.gate.guard.may_send_message(user)
                {
                    warn!(peer = %self.peer, %user, "sender rejected: messages per hour of the user reached ([guard] max_messages_per_hour)");
                    let text = "Sending rate limit reached, try again later".into();
                    session.reject(reply(451, 4, 7, 1, text)).answered();
                    return;
                }
                let sender = match &from {
                    ReversePath::Mailbox(m) => m.to_string(),
                    _ => String::new(),
                };
                match self.check_spf(session, &sender).await {
                    Ok(spf) => self.tx.spf = spf,
                    Err(r) => {
                        info!(peer = %self.peer, from = %from, reply = %r, "sender rejected: SPF fail ([sender_auth] reject_spf_fail)");
                        session.reject(r).answered();
                        return;
                    }
                }
                self.tx.from = Some(from);
                self.tx.params = params;
                session.accept().answered();
            }
            Event::RcptTo { .. } if !self.room(self.tx.params.size.unwrap_or(0)) => {
                session.reject(insufficient_storage()).answered();
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
                info!(queue_id = %id, peer = %self.peer, from = %display_from(&self.tx.from),
                      to = ?self.tx.recipients, %reason, result = "rejected", "message");
                self.tx = Transaction::new();
            }
            Event::Reset => self.tx = Transaction::new(),
            Event::Verify(_) => {
                session
                    .respond(reply(
                        252,
                        2,
                        5,
                        0,
                        "Cannot VRFY user, but will accept message and attempt delivery".into(),
                    ))
                    .answered();
            }
            Event::Expand(_) => {
                session
                    .respond(reply(502, 5, 5, 1, "EXPN command is disabled".into()))
                    .answered();
            }
            Event::Authenticate {
                username, password, ..
            } => self.authenticate(session, username, password).await,
            Event::StartTls | Event::Quit => {}
        }
    }

    /// RCPT TO: routed to mailboxes, forwarded or relayed, or refused.
    pub(super) async fn rcpt_to(
        &mut self,
        session: &mut ServerSession,
        to: &ForwardPath,
        params: &RcptParams,
    ) {
        let guard = &self.service.gate.guard;
        let ip = self.peer.ip();
        if guard.harvesting(ip) {
            info!(peer = %self.peer, to = %to, "recipient rejected: unknown recipients per hour of the address reached ([guard] max_unknown_recipients_per_hour)");
            let text = "Too many unknown recipients from your address, try again later";
            session.reject(reply(450, 4, 7, 1, text.into())).answered();
            return;
        }
        let mut answer = self.recipient(to).await;
        if answer.is_ok()
            && let Some(user) = &self.login
            && !guard.may_send_to_recipient(user)
        {
            warn!(peer = %self.peer, %user, "recipients per hour of the user reached ([guard] max_recipients_per_hour)");
            let text = "Recipient rate limit reached, try again later".into();
            answer = Err(reply(451, 4, 7, 1, text));
        }
        // Greylisting (port 25): only a recipient that would be taken waits.
        if let Ok(routed) = &answer
            && !self.service.submission
            && let Some(wait) = guard.greylisted(ip, &self.tx.sender(), &routed.address)
        {
            info!(peer = %self.peer, from = %display_from(&self.tx.from), to = %to, wait, "recipient greylisted");
            let text = format!("Greylisted, try again in {wait} seconds");
            answer = Err(reply(451, 4, 7, 1, text));
        }
        match answer {
            Ok(Routed {
                address,
                mailboxes,
                remote,
                list,
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
                if let Some(list) = list
                    && !self.tx.lists.contains(&list)
                {
                    self.tx.lists.push(list);
                }
                session.accept().answered();
            }
            Err(r) => {
                info!(peer = %self.peer, to = %to, reply = %r, "recipient rejected");
                let unknown = r.enhanced().map(|e| (e.class(), e.subject(), e.detail()));
                if unknown == Some((5, 1, 1)) {
                    guard.unknown_recipient(ip);
                }
                session.reject(r).answered();
            }
        }
    }

    /// DATA or the first BDAT: the Received header and where the message goes (the
    /// recipients' Maildirs, or the queue when any recipient is remote).
    pub(super) async fn start_message(&mut self, session: &mut ServerSession) {
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
        let destination = if !self.tx.queued() {
            let sender = self.tx.sender();
            // Several mailboxes share one file (no `Delivered-To:`, as Dovecot's LMTP).
            let shared = self.tx.mailboxes.len() > 1 && self.service.config.storage.link_copies;
            Destination::Maildirs {
                targets: self
                    .tx
                    .mailboxes
                    .iter()
                    .map(|m| {
                        let fields = match shared {
                            true => crate::delivery::shared_fields(&sender),
                            false => crate::delivery::delivery_fields(&sender, &m.username),
                        };
                        let config = &self.service.config;
                        (crate::delivery::QuotaAccount::of(config, m), fields)
                    })
                    .collect(),
                hostname: hostname.clone(),
                shared,
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
        let completion = self.service.submission.then_some(hostname);
        self.tx.body = Some(BodyWriter::new(id, header, destination, completion));
        session.accept().answered();
    }

    /// AUTH: the password checked and, on submission, whether the account may send.
    pub(super) async fn authenticate(
        &mut self,
        session: &mut ServerSession,
        username: String,
        password: mailwright_smtp::Secret<String>,
    ) {
        let default_scheme = self.service.config.accounts.default_password_scheme;
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
        let wrong_password = matches!(verdict, Ok((false, _)));
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
                warn!(error = %e, "authentication lookup failed");
                Err(reply(
                    454,
                    4,
                    7,
                    0,
                    "Temporary authentication failure, try again later".into(),
                ))
            }
        };
        info!(peer = %self.peer, %username, success = result.is_ok(), "authentication");
        let guard = &self.service.gate.guard;
        if wrong_password {
            // Answered late, and counted towards a ban (the `guard` module).
            tokio::time::sleep(guard.failed(self.peer.ip(), "smtp", &username)).await;
        } else if result.is_ok() {
            guard.succeeded(self.peer.ip(), "smtp");
        }
        if result.is_ok() {
            tracing::Span::current().record("user", tracing::field::display(&username));
            self.login = Some(username);
        }
        session.auth_finish(result).answered();
    }

    /// A message that has looped, refused at the end of DATA as Postfix refuses it (it
    /// bounces instead): more `Received:` fields than `[limits] max_hops` (Postfix's
    /// `hopcount_limit`), or a `Delivered-To:` naming a mailbox it is for (delivered here
    /// before, forwarded, and back).
    fn loop_refusal(&self, tx: &Transaction, scan: &HeaderScan) -> Option<Reply> {
        let max_hops = self.service.config.limits.max_hops;
        if scan.received() > max_hops {
            let text = format!("Too many hops ({} Received: fields)", scan.received());
            return Some(reply(554, 5, 4, 6, text));
        }
        let looped = tx
            .mailboxes
            .iter()
            .map(|m| m.username.as_str())
            .chain(tx.recipients.iter().map(String::as_str))
            .find(|address| scan.delivered_to(address))?;
        Some(reply(
            554,
            5,
            4,
            6,
            format!("Mail forwarding loop for <{looped}>"),
        ))
    }

    /// Submission: only a sender the login may use (553 5.7.1 otherwise, as Postfix's
    /// reject_sender_login_mismatch); never the null sender, which is for bounces.
    pub(super) async fn finish(&mut self, session: &mut ServerSession, size: u64) {
        let mut tx = std::mem::replace(&mut self.tx, Transaction::new());
        let Some(mut body) = tx.body.take() else {
            session
                .finish_message(reply(451, 4, 3, 0, "Local error in processing".into()))
                .answered();
            return;
        };
        let queue_id = body.queue_id.clone();
        let from = display_from(&tx.from);
        let queued = tx.queued();
        if let Some(refusal) = self.loop_refusal(&tx, &body.scan) {
            warn!(%queue_id, peer = %self.peer, %from, to = %tx.recipients.join(","), reply = %refusal, "message refused: mail loop");
            crate::metrics::get().message("refused");
            // Dropping the body removes what was written.
            drop(body);
            session.finish_message(refusal).answered();
            return;
        }
        match self.judge(session, &tx, &mut body).await {
            Ok(true) => {}
            Ok(false) => {
                info!(%queue_id, peer = %self.peer, %from, to = %tx.recipients.join(","), result = "discarded", "message");
                crate::metrics::get().message("discarded");
                drop(body);
                session.finish_message(Reply::queued(&queue_id)).answered();
                return;
            }
            Err(refusal) => {
                warn!(%queue_id, peer = %self.peer, %from, to = %tx.recipients.join(","), reply = %refusal, "message refused by a check");
                crate::metrics::get().message("refused");
                drop(body);
                session.finish_message(refusal).answered();
                return;
            }
        }
        let after = match self.sieve(&tx, &mut body).await {
            Ok(after) => after,
            Err(refusal) => {
                info!(%queue_id, peer = %self.peer, %from, to = %tx.recipients.join(","), reply = %refusal, "message refused by sieve");
                crate::metrics::get().message("refused");
                drop(body);
                session.finish_message(refusal).answered();
                return;
            }
        };
        match body.commit().await {
            Ok(committed) => {
                self.messages += 1;
                if queued {
                    self.service.queue.enqueued(&queue_id);
                } else {
                    // maildirsize counted them as they were stored.
                    let stored = committed.sizes.iter().zip(&committed.copies);
                    for (m, (size, copies)) in tx.mailboxes.iter().zip(stored) {
                        let n = i64::from(*copies);
                        if n > 0 {
                            self.service
                                .accounts
                                .record_usage(&m.username, *size as i64 * n, n);
                        }
                    }
                    if let Some(path) = committed.path {
                        self.report_delivered(&tx, &queue_id, &path).await;
                    }
                    if let Some(after) = after {
                        self.after_store(&tx, &queue_id, after).await;
                    }
                }
                let result = if queued { "queued" } else { "delivered" };
                crate::metrics::get().message("accepted");
                info!(%queue_id, peer = %self.peer, %from, to = %tx.recipients.join(","), size,
                      mailboxes = tx.mailboxes.len(), remote = tx.remote.len(), login = self.login.as_deref(), result, "message");
                session.finish_message(Reply::queued(&queue_id)).answered();
            }
            Err(e) => {
                warn!(%queue_id, peer = %self.peer, %from, to = %tx.recipients.join(","), size,
                      error = %e, result = "deferred", "message");
                crate::metrics::get().message("deferred");
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
                session.finish_message(r).answered();
            }
        }
    }
}

impl Connection {
    /// The success notices NOTIFY=SUCCESS asked for, after a delivery straight into Maildir
    /// (`stored` is one copy).
    pub(super) async fn report_delivered(
        &self,
        tx: &Transaction,
        queue_id: &str,
        stored: &std::path::Path,
    ) {
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

pub(super) fn display_from(from: &Option<ReversePath>) -> String {
    from.as_ref().map_or_else(|| "?".into(), |f| f.to_string())
}
