//! Port 25's sender authentication in a transaction: SPF at MAIL FROM, the verdict on the
//! message at the end of DATA (the `filter::sender` checks), and what it does to the copies.

use mailwright_smtp::{Reply, ServerSession};
use tracing::info;

use crate::filter::{Action, SenderAuth, SpfCheck};
use crate::smtp::body::BodyWriter;
use crate::smtp::service::reply;
use crate::smtp::session::{Connection, Transaction, display_from};

impl Connection {
    /// The checks, when this client's mail gets them: port 25, not logged in, not from a
    /// trusted network.
    pub(super) fn sender_auth(&self) -> Option<&SenderAuth> {
        let service = &self.service;
        let stranger = self.login.is_none() && !service.gate.guard.is_trusted(self.peer.ip());
        service.sender_auth.as_deref().filter(|_| stranger)
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

    /// The verdict on the message `body` holds: its `Authentication-Results:` field added,
    /// the copies a DMARC quarantine concerns sent to Junk; the refusal when the sender's
    /// domain asks for one.
    pub(super) async fn judge(&self, tx: &Transaction, body: &mut BodyWriter) -> Result<(), Reply> {
        let (Some(spf), Some(auth)) = (&tx.spf, self.sender_auth()) else {
            return Ok(());
        };
        let message = body.message().await.map_err(|e| {
            tracing::warn!(queue_id = %body.queue_id, error = %e, "cannot read the message back to check it");
            reply(451, 4, 3, 0, "Local error in processing, try again later".into())
        })?;
        let domains: Vec<String> = tx
            .recipients
            .iter()
            .map(|r| {
                r.rsplit_once('@')
                    .map_or("", |(_, d)| d)
                    .to_ascii_lowercase()
            })
            .collect();
        let verdict = auth.judge(&message, spf, &domains).await;
        let action = match &verdict.action {
            Action::Deliver => "deliver",
            Action::Quarantine => "junk",
            Action::Reject(_) => "reject",
        };
        info!(queue_id = %body.queue_id, peer = %self.peer, from = %display_from(&tx.from), results = %verdict.summary, action, "sender authentication");
        match verdict.action {
            Action::Reject(text) => return Err(reply(550, 5, 7, 1, text)),
            Action::Quarantine => {
                let enforced =
                    |domain: &str| auth.dmarc_for(domain) == crate::config::DmarcAction::Enforce;
                let which = match tx.remote.is_empty() {
                    true => tx.mailboxes.iter().map(|m| enforced(&m.domain)).collect(),
                    false => vec![domains.iter().any(|d| enforced(d))],
                };
                body.send_to_junk(which);
            }
            Action::Deliver => {}
        }
        body.add_field(&verdict.field);
        Ok(())
    }
}
