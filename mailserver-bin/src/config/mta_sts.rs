//! `[mta_sts]`: the MTA-STS policy (RFC 8461) and TLS reporting address (RFC 8460) each of
//! our domains publishes, so that senders insist on TLS to our MX.

use serde::Deserialize;
use sha2::{Digest, Sha256};

/// What senders are told about TLS to us.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MtaSts {
    /// `none` (no policy), `testing` (senders report failures but deliver) or `enforce`.
    pub mode: StsMode,
    /// Seconds a sender keeps the policy (RFC 8461 §3.2: at most 31,557,600).
    pub max_age: u32,
    /// Where TLS failure reports go (`_smtp._tls` TXT), `{domain}` replaced; empty: none.
    pub tls_rpt: String,
}

/// An MTA-STS policy mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StsMode {
    None,
    Testing,
    Enforce,
}

impl Default for MtaSts {
    fn default() -> Self {
        Self {
            mode: StsMode::Testing,
            max_age: 604_800,
            tls_rpt: "mailto:postmaster@{domain}".into(),
        }
    }
}

impl MtaSts {
    /// The policy file (`/.well-known/mta-sts.txt`) naming `mx` as the one MX host, or `None`
    /// when no policy is published.
    pub fn policy(&self, mx: &str) -> Option<String> {
        let mode = match self.mode {
            StsMode::None => return None,
            StsMode::Testing => "testing",
            StsMode::Enforce => "enforce",
        };
        // RFC 8461 §3.2: CRLF line ends; max_age at most one year.
        let max_age = self.max_age.min(31_557_600);
        Some(format!(
            "version: STSv1\r\nmode: {mode}\r\nmx: {mx}\r\nmax_age: {max_age}\r\n"
        ))
    }

    /// The `id=` of the `_mta-sts` TXT record for `policy`: it changes whenever the policy
    /// does (senders fetch the policy again only when the id changes), 20 hex digits.
    pub fn policy_id(policy: &str) -> String {
        let digest = Sha256::digest(policy.as_bytes());
        digest[..10].iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_and_its_id() {
        let mut sts = MtaSts::default();
        let policy = sts.policy("mx.example.com").unwrap();
        assert_eq!(
            policy,
            "version: STSv1\r\nmode: testing\r\nmx: mx.example.com\r\nmax_age: 604800\r\n"
        );
        let id = MtaSts::policy_id(&policy);
        assert_eq!(id.len(), 20);
        sts.mode = StsMode::Enforce;
        assert_ne!(
            MtaSts::policy_id(&sts.policy("mx.example.com").unwrap()),
            id
        );
        sts.mode = StsMode::None;
        assert_eq!(sts.policy("mx.example.com"), None);
    }
}
