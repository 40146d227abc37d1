//! `[alerts]`: conditions the postmaster is told of by mail, without extra software (see the
//! daemon's `alerts` module).

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Alerts {
    pub enabled: bool,
    /// Seconds between checks.
    pub interval: u64,
    /// Who is told; empty: `postmaster@` the domain of `hostname`.
    pub to: String,
    /// Free space on the file system of the data directory or the mail below this share of
    /// its size.
    pub min_free_percent: f64,
    /// More messages than this in the outbound queue.
    pub queue_max_messages: usize,
    /// A queued message older than this many seconds.
    pub queue_max_age: u64,
    /// The server certificate expiring within this many days.
    pub certificate_days: u64,
    /// Hours after which a condition still present is told again.
    pub repeat_hours: u64,
}

impl Default for Alerts {
    fn default() -> Self {
        Self {
            enabled: true,
            interval: 60,
            to: String::new(),
            min_free_percent: 10.0,
            queue_max_messages: 1000,
            queue_max_age: 4 * 3600,
            certificate_days: 14,
            repeat_hours: 24,
        }
    }
}

impl Alerts {
    /// Who is told, for a server named `hostname`.
    pub fn recipient(&self, hostname: &str) -> String {
        if !self.to.is_empty() {
            return self.to.clone();
        }
        let domain = match hostname.split_once('.') {
            Some((_, d)) if d.contains('.') => d,
            _ => hostname,
        };
        format!("postmaster@{domain}")
    }
}
