//! `[filters]`: content scanners asked about inbound mail (see the daemon's `filter` module):
//! SpamAssassin's spamd, ClamAV's clamd, and milters (rspamd, OpenDKIM, clamav-milter, …).

use serde::Deserialize;

/// What a scanner that cannot answer means for the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnFailure {
    /// 451 4.3.0 at the end of DATA: the sender tries again later.
    Tempfail,
    /// Delivered unscanned (logged).
    Accept,
}

/// The scanners, each off while its address is empty.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Filters {
    /// spamd's address: `host:port`, or the path of its unix socket.
    pub spamd: String,
    pub spamd_timeout_ms: u64,
    pub spamd_on_failure: OnFailure,
    /// Larger messages are not given to spamd (spamc's own default is 500 KB).
    pub spam_max_size: u64,
    /// From this score on a message is spam (`X-Spam-Flag: YES`) and goes to Junk; from
    /// `spam_reject_score` on it is refused at the end of DATA.
    pub spam_junk_score: f64,
    pub spam_reject_score: f64,
    /// clamd's address: `host:port`, or the path of its unix socket.
    pub clamd: String,
    pub clamd_timeout_ms: u64,
    pub clamd_on_failure: OnFailure,
    /// Larger messages are not given to clamd (its StreamMaxLength is 25 MB by default).
    pub virus_max_size: u64,
    /// Milters asked in turn (Postfix's `smtpd_milters`), each `host:port` or a unix socket
    /// path; the time one may take for the whole message, and what its failure means
    /// (Postfix's `milter_default_action`).
    pub milters: Vec<String>,
    pub milter_timeout_ms: u64,
    pub milter_on_failure: OnFailure,
}

impl Default for Filters {
    fn default() -> Self {
        Self {
            spamd: String::new(),
            spamd_timeout_ms: 30_000,
            spamd_on_failure: OnFailure::Accept,
            spam_max_size: 512_000,
            spam_junk_score: 5.0,
            spam_reject_score: 15.0,
            clamd: String::new(),
            clamd_timeout_ms: 30_000,
            clamd_on_failure: OnFailure::Tempfail,
            virus_max_size: 25 * 1024 * 1024,
            milters: Vec::new(),
            milter_timeout_ms: 60_000,
            milter_on_failure: OnFailure::Tempfail,
        }
    }
}

impl Filters {
    /// What is wrong with these values, if anything.
    pub fn validate(&self) -> Result<(), String> {
        if self.spam_reject_score < self.spam_junk_score {
            return Err("filters.spam_reject_score must be at least spam_junk_score".into());
        }
        if self.spamd_timeout_ms == 0 || self.clamd_timeout_ms == 0 || self.milter_timeout_ms == 0 {
            return Err(
                "filters.spamd_timeout_ms, clamd_timeout_ms and milter_timeout_ms must be at least 1"
                    .into(),
            );
        }
        Ok(())
    }
}
