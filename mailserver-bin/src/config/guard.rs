//! `[guard]`: password guessing and rate limits (see the daemon's `guard` module).

use serde::Deserialize;

/// Defence against password guessing (see the `guard` module).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Guard {
    /// Failed logins from one address within `failure_window` seconds that ban it.
    pub max_auth_failures: u32,
    pub failure_window: u64,
    /// Seconds a ban lasts.
    pub ban_time: u64,
    /// The wait before answering a failed login, doubled for each further failure from the
    /// address, up to `auth_failure_delay_max_ms` (milliseconds).
    pub auth_failure_delay_ms: u64,
    pub auth_failure_delay_max_ms: u64,
    /// The prefix by which IPv6 clients are counted and banned.
    pub ipv6_prefix: u8,
    /// Networks never delayed, banned or rate-limited (`address/prefix` or an address).
    pub trusted_networks: Vec<String>,
    /// Rate limits (0: none): connections per address (IPv6: its prefix) per minute, unknown
    /// recipients refused to an address per hour, messages and recipients per authenticated
    /// user per hour.
    pub max_connections_per_minute: u32,
    pub max_unknown_recipients_per_hour: u32,
    pub max_messages_per_hour: u32,
    pub max_recipients_per_hour: u32,
    /// DNS blocklists asked at connect on port 25: `zone` or `zone=127.0.0.2,127.0.0.3`
    /// (the answers that mean listed; any when none are given), through `[relay] nameservers`.
    pub dnsbl_zones: Vec<String>,
    /// How long a blocklist may take to answer before the client is let in (milliseconds).
    pub dnsbl_timeout_ms: u64,
    /// Greylisting on port 25 (see the daemon's `guard::greylist`): the wait before a retry
    /// is accepted, the time within which it must come (seconds), how long a client that
    /// retried is let through (days), and the client networks and sender domains never
    /// greylisted.
    pub greylist: bool,
    pub greylist_delay: u64,
    pub greylist_retry_window: u64,
    pub greylist_whitelist_days: u64,
    pub greylist_allow: Vec<String>,
}

impl Default for Guard {
    fn default() -> Self {
        Self {
            max_auth_failures: 10,
            failure_window: 3600,
            ban_time: 3600,
            auth_failure_delay_ms: 1000,
            auth_failure_delay_max_ms: 15_000,
            ipv6_prefix: 64,
            trusted_networks: vec!["127.0.0.1/32".into(), "::1/128".into()],
            max_connections_per_minute: 120,
            max_unknown_recipients_per_hour: 20,
            max_messages_per_hour: 500,
            max_recipients_per_hour: 2000,
            dnsbl_zones: Vec::new(),
            dnsbl_timeout_ms: 2000,
            greylist: false,
            greylist_delay: 300,
            greylist_retry_window: 2 * 86400,
            greylist_whitelist_days: 36,
            greylist_allow: Vec::new(),
        }
    }
}

impl Guard {
    /// `trusted_networks`, parsed.
    pub fn trusted(&self) -> Result<Vec<ipnet::IpNet>, String> {
        self.trusted_networks
            .iter()
            .map(|n| {
                n.parse::<ipnet::IpNet>()
                    .or_else(|_| n.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map(|n| n.trunc())
                    .map_err(|_| {
                        format!("guard.trusted_networks: {n:?} is not a network or address")
                    })
            })
            .collect()
    }

    /// `greylist_allow`, parsed: client networks (or addresses) and sender domains.
    pub fn greylist_allow(&self) -> Result<(Vec<ipnet::IpNet>, Vec<String>), String> {
        let mut networks = Vec::new();
        let mut domains = Vec::new();
        for entry in &self.greylist_allow {
            if let Ok(n) = entry.parse::<ipnet::IpNet>() {
                networks.push(n.trunc());
            } else if let Ok(a) = entry.parse::<std::net::IpAddr>() {
                networks.push(ipnet::IpNet::from(a));
            } else if !entry.is_empty() && !entry.contains(['@', ' ', '/']) {
                domains.push(entry.trim_end_matches('.').to_ascii_lowercase());
            } else {
                return Err(format!(
                    "guard.greylist_allow: {entry:?} is not a network, an address or a domain"
                ));
            }
        }
        Ok((networks, domains))
    }

    /// `dnsbl_zones`, parsed.
    pub fn zones(&self) -> Result<Vec<crate::guard::dnsbl::Zone>, String> {
        self.dnsbl_zones
            .iter()
            .map(|z| crate::guard::dnsbl::Zone::parse(z))
            .collect()
    }

    /// What is wrong with these values, if anything.
    pub fn validate(&self) -> Result<(), String> {
        self.trusted()?;
        self.zones()?;
        self.greylist_allow()?;
        if self.greylist_retry_window <= self.greylist_delay {
            return Err("guard.greylist_retry_window must be longer than greylist_delay".into());
        }
        if self.max_auth_failures < 1
            || self.failure_window < 1
            || self.ban_time < 1
            || !(1..=128).contains(&self.ipv6_prefix)
            || self.auth_failure_delay_max_ms < self.auth_failure_delay_ms
        {
            return Err("guard.max_auth_failures, failure_window and ban_time must be at least 1, guard.ipv6_prefix between 1 and 128, and guard.auth_failure_delay_max_ms at least auth_failure_delay_ms".into());
        }
        Ok(())
    }
}
