//! Where a recipient's mail goes (local mailboxes, aliases, forwards, relay), which senders a
//! login may use, and whether the mailboxes have room.

use mailwright_smtp::{ForwardPath, Reply, ReversePath};
use tracing::{info, warn};

use crate::accounts::Resolution;
use crate::config::QuotaExceeded;
use crate::smtp::service::{lookup_failed, reply};
use crate::smtp::session::{Connection, Routed};

impl Connection {
    pub(super) async fn check_sender(&self, from: &ReversePath) -> Result<(), Reply> {
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
    pub(super) async fn forward_sender(&self, from: String) -> String {
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
    pub(super) fn room(&self, size: u64) -> bool {
        let config = &self.service.config;
        let reserve = config.disk_reserve();
        reserve.room_for(&config.mail_root(), size) && reserve.room_for(&config.queue_dir(), size)
    }

    /// Where mail for `address` goes when it is `postmaster@` one of our domains that has no
    /// such mailbox or alias (RFC 5321 §4.5.1: every domain has a postmaster): `[smtp]
    /// postmaster`, else the domain's oldest mailbox.
    pub(super) async fn postmaster(
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
    pub(super) async fn recipient(&self, to: &ForwardPath) -> Result<Routed, Reply> {
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
                        list: None,
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
            info!(%address, %target, "postmaster mail for a domain without such an address");
            resolution = accounts.resolve(&target).await.map_err(temp_fail)?;
        }
        let (mailboxes, remote) = match resolution {
            Resolution::List(list) => {
                let sender = self.tx.sender();
                let size = self.tx.params.size.unwrap_or(0);
                let refusal = crate::lists::refusal(accounts, &list, &sender, size)
                    .await
                    .map_err(temp_fail)?;
                if let Some(why) = refusal {
                    info!(%list, %sender, reason = %why, "post to a list refused");
                    let text = format!("<{address}>: {why}");
                    return Err(match why {
                        crate::lists::Refusal::TooBig(_) => reply(552, 5, 3, 4, text),
                        crate::lists::Refusal::Sender(_) => reply(550, 5, 7, 1, text),
                    });
                }
                return Ok(Routed {
                    address,
                    mailboxes: Vec::new(),
                    remote: Vec::new(),
                    list: Some(list),
                    forwarded: false,
                });
            }
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
            let account = crate::delivery::QuotaAccount::of(config, m);
            let size = self.tx.params.size.unwrap_or(0).max(1);
            if crate::delivery::over_quota(accounts, &account, size, 1).await {
                info!(user = %m.username, quota = m.quota, "mailbox over quota");
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
            list: None,
            forwarded,
        })
    }
}
