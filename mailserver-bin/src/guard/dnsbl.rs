//! DNS blocklists at connect (Postfix's `reject_rbl_client`, postscreen's DNSBL check): the
//! client's address is looked up in each configured zone (`7.2.0.192.zen.example` for
//! 192.0.2.7, nibbles for IPv6), and an answer the zone's filter accepts refuses the client.
//! Answers are cached for their TTL (at most an hour). A zone that does not answer in time
//! lets the client in (a broken list must not stop mail) and is logged.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use mail_auth::MessageAuthenticator;
use tracing::warn;

/// Addresses whose answers are kept at most (then all are dropped: a cache, not a record).
const MAX_CACHED: usize = 65_536;
const MAX_TTL: Duration = Duration::from_secs(3600);

/// One zone, and the answers that mean "listed" (any when empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    pub name: String,
    pub answers: Vec<Ipv4Addr>,
}

impl Zone {
    /// `zone` or `zone=127.0.0.2,127.0.0.3` (`[guard] dnsbl_zones`).
    pub fn parse(text: &str) -> Result<Zone, String> {
        let (name, answers) = text.split_once('=').unwrap_or((text, ""));
        let name = name.trim().trim_end_matches('.').to_ascii_lowercase();
        let valid = !name.is_empty()
            && name.split('.').all(|l| {
                !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if !valid {
            return Err(format!(
                "guard.dnsbl_zones: {text:?} is not zone or zone=127.0.0.2,…"
            ));
        }
        let answers = answers
            .split(',')
            .filter(|a| !a.trim().is_empty())
            .map(|a| a.trim().parse::<Ipv4Addr>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| {
                format!("guard.dnsbl_zones: {text:?} has an answer that is not an IPv4 address")
            })?;
        Ok(Zone { name, answers })
    }

    /// The name to look `ip` up by in this zone.
    fn query(&self, ip: IpAddr) -> String {
        let reversed = match ip {
            IpAddr::V4(v4) => {
                let [a, b, c, d] = v4.octets();
                format!("{d}.{c}.{b}.{a}")
            }
            IpAddr::V6(v6) => {
                let hex: Vec<String> = v6
                    .octets()
                    .iter()
                    .rev()
                    .flat_map(|o| [o & 0xf, o >> 4])
                    .map(|n| format!("{n:x}"))
                    .collect();
                hex.join(".")
            }
        };
        format!("{reversed}.{}.", self.name)
    }
}

/// Where a client is listed: the zone and its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub zone: String,
    pub answer: Ipv4Addr,
}

/// The configured zones and a resolver to ask them.
pub struct Dnsbl {
    zones: Vec<Zone>,
    resolver: MessageAuthenticator,
    timeout: Duration,
    cache: Mutex<HashMap<IpAddr, (Instant, Option<Listed>)>>,
}

impl std::fmt::Debug for Dnsbl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dnsbl").field("zones", &self.zones).finish()
    }
}

impl Dnsbl {
    pub fn new(zones: Vec<Zone>, resolver: MessageAuthenticator, timeout: Duration) -> Self {
        Self {
            zones,
            resolver,
            timeout,
            cache: Mutex::default(),
        }
    }

    /// The first zone that lists `ip`, asking them all at once.
    pub async fn check(&self, ip: IpAddr) -> Option<Listed> {
        let now = Instant::now();
        if let Some((until, listed)) = self.lock().get(&ip)
            && now < *until
        {
            return listed.clone();
        }
        let lookups = self.zones.iter().map(|zone| self.ask(zone, ip));
        // All zones at once: the wait is the slowest one's, not their sum.
        let answers = futures_util::future::join_all(lookups).await;
        let mut expires = now + MAX_TTL;
        let mut listed = None;
        for (zone, answer) in self.zones.iter().zip(answers) {
            let Some((until, found)) = answer else {
                // Not answered: not cached either, so the next client asks again.
                expires = now;
                continue;
            };
            expires = expires.min(until);
            if listed.is_none() {
                listed = found.map(|answer| Listed {
                    zone: zone.name.clone(),
                    answer,
                });
            }
        }
        if expires > now {
            let mut cache = self.lock();
            if cache.len() >= MAX_CACHED {
                cache.clear();
            }
            cache.insert(ip, (expires, listed.clone()));
        }
        listed
    }

    /// One zone's answer for `ip` and until when it holds; `None` when it did not answer.
    async fn ask(&self, zone: &Zone, ip: IpAddr) -> Option<(Instant, Option<Ipv4Addr>)> {
        let name = zone.query(ip);
        let lookup = tokio::time::timeout(self.timeout, self.resolver.ipv4_lookup_raw(&name));
        match lookup.await {
            Ok(Ok(entry)) => {
                let hit = entry
                    .entry
                    .iter()
                    .copied()
                    .find(|a| zone.answers.is_empty() || zone.answers.contains(a));
                Some((entry.expires.min(Instant::now() + MAX_TTL), hit))
            }
            Ok(Err(mail_auth::Error::Dns(mail_auth::DnsError::RecordNotFound(_)))) => {
                Some((Instant::now() + MAX_TTL, None))
            }
            Ok(Err(e)) => {
                warn!(zone = %zone.name, %ip, error = %e, "DNSBL lookup failed; the client is let in");
                None
            }
            Err(_) => {
                warn!(zone = %zone.name, %ip, "DNSBL lookup timed out; the client is let in");
                None
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, (Instant, Option<Listed>)>> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_parse_and_name_their_queries() {
        let z = Zone::parse("Zen.Example.=127.0.0.2, 127.0.0.3").unwrap();
        assert_eq!(z.name, "zen.example");
        assert_eq!(
            z.answers,
            [
                "127.0.0.2".parse::<Ipv4Addr>().unwrap(),
                "127.0.0.3".parse().unwrap()
            ]
        );
        assert_eq!(
            z.query("192.0.2.7".parse().unwrap()),
            "7.2.0.192.zen.example."
        );
        assert_eq!(
            z.query("2001:db8::1".parse().unwrap()),
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.zen.example."
        );
        assert!(Zone::parse("bad zone").is_err());
        assert!(Zone::parse("zone=not-an-ip").is_err());
        assert!(Zone::parse("bl.example").unwrap().answers.is_empty());
    }
}
