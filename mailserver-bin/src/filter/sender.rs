//! Sender authentication of inbound mail, as OpenDKIM, OpenDMARC and policyd-spf give it to
//! Postfix: SPF at MAIL FROM (the HELO name too), DKIM signatures, DMARC alignment and
//! policy, and an ARC chain at the end of DATA, with `mail-auth` through the daemon's
//! resolver. The results make one `Authentication-Results:` field (RFC 8601) named after our
//! host; a field a sender wrote under that name is removed before the message is stored
//! (`headers::rewrite`).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use mail_auth::dkim::DkimError;
use mail_auth::dmarc::Policy;
use mail_auth::dmarc::verify::DmarcParameters;
use mail_auth::spf::verify::SpfParameters;
use mail_auth::{
    AuthenticatedMessage, AuthenticationResults, DkimOutput, DkimResult, DmarcResult, Error,
    MessageAuthenticator, SpfOutput, SpfResult,
};

use super::verdict::Action;
use crate::config::{Config, DmarcAction};

/// The checks, with the resolver they ask.
pub struct SenderAuth {
    resolver: MessageAuthenticator,
    hostname: String,
    config: crate::config::SenderAuth,
    /// Our domains' keys, which ARC-seal what an alias forwards.
    keys: crate::dkim::Dkim,
}

/// The SPF result of one transaction, found at MAIL FROM.
pub struct SpfCheck {
    output: SpfOutput,
    ip: IpAddr,
    helo: String,
    /// The envelope sender; empty for `<>` (the HELO name is then the identity checked).
    sender: String,
}

impl SpfCheck {
    /// Whether the sender's domain says this client may not send its mail (`-all`).
    pub fn failed(&self) -> bool {
        self.output.result() == SpfResult::Fail
    }

    /// The domain whose record was asked.
    pub fn domain(&self) -> &str {
        self.output.domain()
    }
}

/// The verdict on one message.
#[derive(Debug, Clone)]
pub struct Judgement {
    /// The `Authentication-Results:` field, CRLF included (after the ARC set that seals a
    /// forwarded message).
    pub field: String,
    pub action: Action,
    /// The results in a word each, for the log: `spf=pass dkim=fail dmarc=fail`.
    pub summary: String,
}

impl SenderAuth {
    /// The checks `[sender_auth]` asks for, or `None` when they are off.
    pub fn new(config: &Config) -> Result<Option<Arc<Self>>, String> {
        if !config.sender_auth.enabled {
            return Ok(None);
        }
        Ok(Some(Arc::new(SenderAuth {
            resolver: crate::resolver::resolver(&config.relay)?,
            hostname: config.hostname.clone(),
            config: config.sender_auth.clone(),
            keys: crate::dkim::Dkim::from_config(config),
        })))
    }

    /// Our authserv-id: the host name.
    pub fn authserv_id(&self) -> &str {
        &self.hostname
    }

    /// What DMARC failures do for mail to `domain`.
    pub fn dmarc_for(&self, domain: &str) -> DmarcAction {
        self.config.dmarc_for(domain)
    }

    fn timeout(&self) -> Duration {
        Duration::from_millis(self.config.timeout_ms)
    }

    /// SPF for a MAIL FROM of `sender` (empty: `<>`) from `ip` that said HELO `helo`: the
    /// HELO identity first (RFC 7208 §2.3), then the sender's domain unless HELO failed.
    pub async fn spf(&self, ip: IpAddr, helo: &str, sender: &str) -> SpfCheck {
        let params = SpfParameters::verify(ip, helo, &self.hostname, sender);
        let output = tokio::time::timeout(self.timeout(), self.resolver.verify_spf(params))
            .await
            .unwrap_or_else(|_| {
                let domain = sender.rsplit_once('@').map_or(helo, |(_, d)| d);
                SpfOutput::new(domain.to_owned()).with_result(SpfResult::TempError)
            });
        SpfCheck {
            output,
            ip,
            helo: helo.to_owned(),
            sender: sender.to_owned(),
        }
    }

    /// The refusal of a MAIL FROM that SPF fails, when `reject_spf_fail` asks for it.
    pub fn spf_refusal(&self, check: &SpfCheck) -> Option<String> {
        (self.config.reject_spf_fail && check.failed()).then(|| {
            format!(
                "Message rejected due to: SPF fail - {} is not allowed to send mail for {}",
                check.ip,
                check.domain()
            )
        })
    }

    /// Judges `message` (as the client sent it) by its DKIM signatures, its ARC chain and
    /// the DMARC policy of its From: domain, with the SPF result of its transaction;
    /// `domains` are the recipients' domains, whose settings decide what a failure does.
    /// When it is forwarded elsewhere (`forwarded`), the first of them with DKIM keys
    /// ARC-seals it, its verdict in the seal.
    pub async fn judge(
        &self,
        message: &[u8],
        spf: &SpfCheck,
        domains: &[String],
        forwarded: bool,
    ) -> Judgement {
        let spf_summary = format!("spf={}", spf_word(spf.output.result()));
        let Some(parsed) = AuthenticatedMessage::parse(message) else {
            // Not a message with a header: SPF is all there is to tell.
            let results = self.with_spf(AuthenticationResults::new(&self.hostname), spf);
            return Judgement {
                field: format!("Authentication-Results: {results}\r\n"),
                action: Action::Deliver,
                summary: spf_summary,
            };
        };
        let work = async {
            let dkim = self.resolver.verify_dkim(&parsed).await;
            let arc = self.resolver.verify_arc(&parsed).await;
            let mail_from_domain = spf
                .sender
                .rsplit_once('@')
                .map_or(spf.helo.as_str(), |(_, d)| d);
            let params = DmarcParameters::new(&parsed, &dkim, mail_from_domain, &spf.output);
            let dmarc = self.resolver.verify_dmarc(params).await;
            (dkim, arc, dmarc)
        };
        let Ok((dkim, arc, dmarc)) = tokio::time::timeout(self.timeout(), work).await else {
            let results = self.with_spf(AuthenticationResults::new(&self.hostname), spf);
            return Judgement {
                field: format!(
                    "Authentication-Results: {results};\r\n\tdkim=temperror (lookups timed out);\r\n\tdmarc=temperror\r\n"
                ),
                action: Action::Deliver,
                summary: format!("{spf_summary} dkim=temperror dmarc=temperror"),
            };
        };
        let from = parsed.from();
        let dkim = reported(&dkim);
        let mut results = AuthenticationResults::new(&self.hostname).with_dkim_results(&dkim, from);
        results = self.with_spf(results, spf);
        let sealed = arc.result() != &DkimResult::None;
        if sealed {
            results = results.with_arc_result(&arc, spf.ip);
        }
        results = results.with_dmarc_result(&dmarc);
        let mut text = results.to_string();
        if dkim.is_empty() {
            // No signature: `dkim=none` (RFC 8601 §2.7.1), first as the others list it.
            text.insert_str(self.hostname.len(), ";\r\n\tdkim=none");
        }
        let seal = match forwarded {
            true => self.keys.arc_seal(domains, &parsed, &results, &arc),
            false => None,
        };
        let dkim_summary = dkim
            .iter()
            .map(|d| dkim_word(d.result()))
            .min_by_key(|w| DKIM_RANK.iter().position(|r| r == w))
            .unwrap_or("none");
        let failed = matches!(dmarc.result(), DmarcResult::Fail(_));
        let mut summary = format!("dkim={dkim_summary} {spf_summary}");
        if sealed {
            summary.push_str(&format!(" arc={}", dkim_word(arc.result())));
        }
        summary.push_str(&format!(" dmarc={}", dmarc_word(&dmarc.result())));
        let action = match failed {
            true => self.dmarc_action(dmarc.policy(), dmarc.domain(), domains),
            false => Action::Deliver,
        };
        if seal.is_some() {
            summary.push_str(" arc-sealed");
        }
        Judgement {
            field: format!(
                "{}Authentication-Results: {text}\r\n",
                seal.unwrap_or_default()
            ),
            action,
            summary,
        }
    }

    fn with_spf<'x>(
        &self,
        results: AuthenticationResults<'x>,
        spf: &SpfCheck,
    ) -> AuthenticationResults<'x> {
        if spf.sender.is_empty() {
            results.with_spf_ehlo_result(&spf.output, spf.ip, &spf.helo)
        } else {
            results.with_spf_mailfrom_result(&spf.output, spf.ip, &spf.sender, &spf.helo)
        }
    }

    /// What a DMARC failure under `policy` of `from_domain` does to mail for `domains`:
    /// refused when every one enforces DMARC, else quarantined (for those that do).
    fn dmarc_action(&self, policy: Policy, from_domain: &str, domains: &[String]) -> Action {
        let enforcing = domains
            .iter()
            .filter(|d| self.dmarc_for(d) == DmarcAction::Enforce)
            .count();
        match policy {
            _ if enforcing == 0 => Action::Deliver,
            Policy::Reject if enforcing == domains.len() => {
                Action::Reject(format!("Rejected by DMARC policy for {from_domain}"))
            }
            Policy::Reject | Policy::Quarantine => Action::Junk,
            Policy::None | Policy::Unspecified => Action::Deliver,
        }
    }
}

/// The DKIM results as we report them: a signature whose body hash no longer matches (the
/// body was changed) failed verification, RFC 6376 §6.1.3's PERMFAIL, which RFC 8601 §2.7.1
/// calls `fail` (mail-auth, as Gmail, says `neutral`).
fn reported<'x>(dkim: &'x [DkimOutput<'x>]) -> Vec<DkimOutput<'x>> {
    let body_changed = Error::Dkim(DkimError::FailedBodyHashMatch);
    dkim.iter()
        .map(|d| match (d.result(), d.signature()) {
            (DkimResult::Neutral(e), Some(signature)) if *e == body_changed => {
                DkimOutput::fail(body_changed.clone()).with_signature(signature)
            }
            _ => d.clone(),
        })
        .collect()
}

/// The order in which one word stands for several signatures: the best result wins.
const DKIM_RANK: [&str; 6] = ["pass", "fail", "neutral", "temperror", "permerror", "none"];

fn dkim_word(r: &DkimResult) -> &'static str {
    match r {
        DkimResult::Pass => "pass",
        DkimResult::Neutral(_) => "neutral",
        DkimResult::Fail(_) => "fail",
        DkimResult::PermError(_) => "permerror",
        DkimResult::TempError(_) => "temperror",
        DkimResult::None => "none",
    }
}

fn spf_word(r: SpfResult) -> &'static str {
    match r {
        SpfResult::Pass => "pass",
        SpfResult::Fail => "fail",
        SpfResult::SoftFail => "softfail",
        SpfResult::Neutral => "neutral",
        SpfResult::TempError => "temperror",
        SpfResult::PermError => "permerror",
        SpfResult::None => "none",
    }
}

fn dmarc_word(r: &DmarcResult) -> &'static str {
    match r {
        DmarcResult::Pass => "pass",
        DmarcResult::Fail(_) => "fail",
        DmarcResult::TempError(_) => "temperror",
        DmarcResult::PermError(_) => "permerror",
        DmarcResult::None => "none",
    }
}
