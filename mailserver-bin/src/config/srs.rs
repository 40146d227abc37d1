//! `[srs]`: the Sender Rewriting Scheme (see the daemon's `srs` module).

use serde::Deserialize;

/// The Sender Rewriting Scheme for mail forwarded to other servers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Srs {
    pub enabled: bool,
    /// The domain of rewritten senders; empty: `hostname`. Bounces to it must reach us.
    pub domain: String,
}

impl Default for Srs {
    fn default() -> Self {
        Self {
            enabled: true,
            domain: String::new(),
        }
    }
}
