//! Mail the server writes itself and queues: alerts, Sieve's replies and redirects, DSNs,
//! and the copies of a list's posts. Each recipient is resolved as a message from outside
//! would be, and the message is queued once for all of them.

use tracing::warn;

use super::Queue;
use super::spool::{QueuedMessage, Recipient, Route};
use crate::accounts::Resolution;

impl Queue {
    /// Where a message we write to `address` goes (a DSN about message `about`, an alert):
    /// its local mailboxes, remote addresses or list; `None` (logged) when it cannot be
    /// reached.
    pub(super) async fn routes_to(
        &self,
        address: &str,
        about: &str,
    ) -> Option<Vec<(String, Route)>> {
        let local =
            |m: crate::accounts::LocalMailbox| (m.username.clone(), Route::Local(m.username));
        let routes: Vec<(String, Route)> = match self.accounts.resolve(address).await {
            Ok(Resolution::Local(mailboxes)) => mailboxes.into_iter().map(local).collect(),
            Ok(Resolution::Forward {
                local: mailboxes,
                remote,
            }) => {
                let mut r: Vec<(String, Route)> = mailboxes.into_iter().map(local).collect();
                r.extend(remote.into_iter().map(|a| (a, Route::Remote)));
                r
            }
            Ok(Resolution::List(list)) => vec![(list.clone(), Route::List(list))],
            Ok(Resolution::NotOurDomain | Resolution::Relay(_)) => {
                vec![(address.to_owned(), Route::Remote)]
            }
            Ok(Resolution::Unknown) => {
                warn!(queue_id = %about, to = %address, "not queued: the address does not exist");
                return None;
            }
            Err(e) => {
                warn!(queue_id = %about, to = %address, error = %e, "not queued: cannot resolve the address");
                return None;
            }
        };
        Some(routes)
    }

    /// Queues `text` (a whole message, CRLF line ends) from `from` to `to`, as the server's
    /// own mail (alerts): delivered by the queue like any other. Its queue id.
    pub async fn inject(&self, from: &str, to: &str, text: Vec<u8>) -> Result<String, String> {
        self.inject_to(from, &[to.to_owned()], text, false).await
    }

    /// [`Queue::inject`] to several recipients: one queued message for all of those that can
    /// be reached (each resolved, duplicates once), each with its own envelope sender with
    /// `verp`; an error when none can.
    pub async fn inject_to(
        &self,
        from: &str,
        to: &[String],
        text: Vec<u8>,
        verp: bool,
    ) -> Result<String, String> {
        let id = crate::mail::queue_id();
        let mut recipients: Vec<Recipient> = Vec::new();
        for address in to {
            for (address, route) in self.routes_to(address, &id).await.unwrap_or_default() {
                if !recipients
                    .iter()
                    .any(|r| r.route == route && r.address == address)
                {
                    recipients.push(Recipient::new(address, route));
                }
            }
        }
        if recipients.is_empty() {
            return Err(format!("{} cannot be reached", to.join(", ")));
        }
        let mut envelope = QueuedMessage::new(id.clone(), from.to_owned(), recipients);
        envelope.verp = verp;
        let spool = self.spool.clone();
        let queued_id = id.clone();
        let written = tokio::task::spawn_blocking(move || {
            let mut incoming = spool.incoming(&queued_id)?;
            incoming.write(&text)?;
            incoming.commit(&spool, envelope)
        })
        .await
        .map_err(|e| e.to_string())?;
        written.map_err(|e| e.to_string())?;
        self.enqueued(&id);
        Ok(id)
    }
}
