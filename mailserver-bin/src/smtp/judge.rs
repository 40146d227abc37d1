//! Port 25's checks of a stranger's mail in a transaction: SPF at MAIL FROM, then at the end
//! of DATA the sender's authentication and the content scanners (the `filter` module), and
//! what their verdicts do to the copies.

use mailwright_smtp::{Reply, ServerSession};
use tracing::{info, warn};

use crate::config::DmarcAction;
use crate::filter::milter::Envelope;
use crate::filter::{Action, ContentFilters, ContentVerdict, SenderAuth, SpfCheck, headers};
use crate::smtp::body::BodyWriter;
use crate::smtp::service::reply;
use crate::smtp::session::{Connection, Transaction, display_from};

impl Connection {
    /// Whether this client's mail is checked: port 25, not logged in, not from a trusted
    /// network.
    fn stranger(&self) -> bool {
        self.login.is_none() && !self.service.gate.guard.is_trusted(self.peer.ip())
    }

    /// The sender checks, when this client's mail gets them.
    pub(super) fn sender_auth(&self) -> Option<&SenderAuth> {
        self.service
            .sender_auth
            .as_deref()
            .filter(|_| self.stranger())
    }

    fn content_filters(&self) -> Option<&ContentFilters> {
        self.service.filters.as_deref().filter(|_| self.stranger())
    }

    /// SPF for this MAIL FROM (`sender` empty for `<>`); the refusal when it fails and
    /// `reject_spf_fail` is set.
    pub(super) async fn check_spf(
        &self,
        session: &ServerSession,
        sender: &str,
    ) -> Result<Option<SpfCheck>, Reply> {
        let Some(auth) = self.sender_auth() else {
            return Ok(None);
        };
        let helo = session.helo().map(|h| h.to_string()).unwrap_or_default();
        let check = auth.spf(self.peer.ip(), &helo, sender).await;
        match auth.spf_refusal(&check) {
            Some(text) => Err(reply(550, 5, 7, 23, text)),
            None => Ok(Some(check)),
        }
    }

    /// The verdicts on the message `body` holds: their fields put after `Received:` (a
    /// forged `Authentication-Results:` of ours removed, a milter's changes made), the copies
    /// they concern sent to Junk. `Ok(false)`: accepted and thrown away (a milter's
    /// discard); `Err`: the refusal, or the 451 of a scanner that could not answer.
    pub(super) async fn judge(
        &self,
        session: &ServerSession,
        tx: &Transaction,
        body: &mut BodyWriter,
    ) -> Result<bool, Reply> {
        let auth = tx.spf.as_ref().zip(self.sender_auth());
        let filters = self.content_filters();
        if auth.is_none() && filters.is_none() {
            return Ok(true);
        }
        let message = body.message().await.map_err(|e| {
            warn!(queue_id = %body.queue_id, error = %e, "cannot read the message back to check it");
            reply(451, 4, 3, 0, "Local error in processing, try again later".into())
        })?;
        let queue_id = body.queue_id.clone();
        let from = display_from(&tx.from);
        let mut fields = String::new();
        let mut edits = Vec::new();
        let mut junk: Option<Vec<bool>> = None;
        if let Some((spf, auth)) = auth {
            let domains: Vec<String> = tx
                .recipients
                .iter()
                .map(|r| {
                    r.rsplit_once('@')
                        .map_or("", |(_, d)| d)
                        .to_ascii_lowercase()
                })
                .collect();
            let verdict = auth.judge(&message, spf, &domains, tx.forwarded).await;
            info!(%queue_id, peer = %self.peer, %from, results = %verdict.summary, action = verdict.action.word(), "sender authentication");
            if let Action::Reject(text) = verdict.action {
                return Err(reply(550, 5, 7, 1, text));
            }
            if verdict.action == Action::Junk {
                let enforced = |domain: &str| auth.dmarc_for(domain) == DmarcAction::Enforce;
                junk = Some(match !tx.queued() {
                    true => tx.mailboxes.iter().map(|m| enforced(&m.domain)).collect(),
                    false => vec![domains.iter().any(|d| enforced(d))],
                });
            }
            fields.push_str(&verdict.field);
        }
        if let Some(filters) = filters {
            let helo = session.helo().map(|h| h.to_string()).unwrap_or_default();
            let client_name = format!("[{}]", self.peer.ip());
            let envelope = Envelope {
                client_ip: self.peer.ip(),
                client_port: self.peer.port(),
                client_name: &client_name,
                helo: &helo,
                sender: &tx.sender(),
                recipients: &tx.recipients,
                queue_id: &queue_id,
                hostname: &self.service.config.hostname,
            };
            let verdict = filters.scan(&message, &envelope).await;
            info!(%queue_id, peer = %self.peer, %from, results = %verdict.summary, action = verdict.action.word(), "content scan");
            match verdict.action {
                Action::Reject(text) => return Err(reply(554, 5, 7, 1, text)),
                Action::Tempfail(text) => {
                    return Err(reply(451, 4, 3, 0, format!("{text}, try again later")));
                }
                Action::Reply(code, text) => return Err(own_reply(code, &text)),
                Action::Discard => return Ok(false),
                Action::Junk | Action::Deliver => {
                    let global = self.service.config.filters.spam_junk_score;
                    if let Some(spam) = spam_per_user(tx, &verdict, global) {
                        let dmarc = junk.unwrap_or_default();
                        let both = spam.iter().enumerate();
                        junk = Some(
                            both.map(|(i, s)| *s || dmarc.get(i) == Some(&true))
                                .collect(),
                        );
                    } else if verdict.action == Action::Junk {
                        junk = Some(vec![true; tx.mailboxes.len().max(1)]);
                    }
                }
            }
            fields.push_str(&verdict.fields);
            edits = verdict.edits;
        }
        if let Some(which) = junk {
            body.send_to_junk(which);
        }
        let len = crate::message::header_len(&message);
        let mut new = fields.into_bytes();
        let ours = auth.map(|(_, a)| a.authserv_id());
        new.extend(headers::rewrite(&message[..len], ours, &edits));
        body.replace_header(len as u64, new);
        Ok(true)
    }
}

/// Which copies go to Junk by their users' own spam thresholds, when a recipient has one
/// and SpamAssassin scored the message; `None`: the server's threshold decides for all.
/// (Mail that also goes to the queue is one copy for all: the server's threshold.)
fn spam_per_user(tx: &Transaction, verdict: &ContentVerdict, global: f64) -> Option<Vec<bool>> {
    let score = verdict.spam_score?;
    let own = tx.mailboxes.iter().any(|m| m.spam_junk_tenths.is_some());
    if !own || tx.queued() || verdict.quarantined {
        return None;
    }
    let tenths = crate::accounts::spam_tenths(score);
    let global = crate::accounts::spam_tenths(global);
    Some(
        tx.mailboxes
            .iter()
            .map(|m| tenths >= m.spam_junk_tenths.unwrap_or(global))
            .collect(),
    )
}

/// A filter's own reply: `code` and the rest of its line (`5.7.1 text`, or text alone).
fn own_reply(code: u16, rest: &str) -> Reply {
    let (status, text) = rest.split_once(' ').unwrap_or((rest, ""));
    let parts: Vec<u16> = status.split('.').filter_map(|p| p.parse().ok()).collect();
    match parts[..] {
        [class, subject, detail] if (class == 4 || class == 5) && !text.is_empty() => {
            reply(code, class as u8, subject, detail, text.to_owned())
        }
        _ => {
            let class = if code >= 500 { 5 } else { 4 };
            reply(code, class, 7, 1, rest.to_owned())
        }
    }
}
