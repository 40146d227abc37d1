//! `[sender_auth]`: SPF, DKIM, DMARC and ARC checks of inbound mail (see the daemon's
//! `filter::sender` module).

use std::collections::BTreeMap;

use serde::Deserialize;

/// What a failed DMARC check does where the sender's domain asks for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DmarcAction {
    /// `p=reject`: 550 at the end of DATA; `p=quarantine`: delivered to Junk.
    Enforce,
    /// Only the Authentication-Results field tells.
    Report,
}

/// Sender authentication of mail arriving on port 25.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SenderAuth {
    /// Check at all (mail from `[guard] trusted_networks` and logged-in users is not checked).
    pub enabled: bool,
    /// What DMARC failures do, and per recipient domain where it differs.
    pub dmarc: DmarcAction,
    pub domains: BTreeMap<String, DomainAuth>,
    /// Refuse a MAIL FROM whose SPF result is `fail` (550 5.7.23), as Postfix's
    /// policyd-spf does by default; otherwise only DMARC and the header tell.
    pub reject_spf_fail: bool,
    /// How long the DNS lookups of one check may take in all (milliseconds); past it the
    /// results are `temperror` and the mail is taken.
    pub timeout_ms: u64,
}

/// One recipient domain's own setting.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DomainAuth {
    pub dmarc: DmarcAction,
}

impl Default for SenderAuth {
    fn default() -> Self {
        Self {
            enabled: true,
            dmarc: DmarcAction::Enforce,
            domains: BTreeMap::new(),
            reject_spf_fail: false,
            timeout_ms: 10_000,
        }
    }
}

impl SenderAuth {
    /// What DMARC failures do for mail to `domain` (lower case).
    pub fn dmarc_for(&self, domain: &str) -> DmarcAction {
        self.domains
            .iter()
            .find(|(d, _)| d.eq_ignore_ascii_case(domain))
            .map_or(self.dmarc, |(_, a)| a.dmarc)
    }

    /// What is wrong with these values, if anything.
    pub fn validate(&self) -> Result<(), String> {
        if self.timeout_ms == 0 {
            return Err("sender_auth.timeout_ms must be at least 1".into());
        }
        Ok(())
    }
}
