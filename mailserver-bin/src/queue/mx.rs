//! Where mail for a domain goes without a relay host (RFC 5321 §5.1): its MX hosts by
//! preference, the domain itself when it has none, nowhere when it publishes a null MX
//! (RFC 7505).

use std::net::IpAddr;
use std::sync::Arc;

use mail_auth::common::cache::NoCache;
use mail_auth::hickory_resolver::proto::op::ResponseCode;
use mail_auth::{IpLookupStrategy, MX, MessageAuthenticator, RecordSet};
use tracing::info;

use super::mta_sts::{Mode, Policies};
use crate::config::RelayTls;

/// MX hosts tried per domain and addresses per host, as Postfix's smtp_mx_address_limit
/// keeps a broken zone from holding a delivery for long.
const MAX_HOSTS: usize = 5;
const MAX_ADDRESSES: usize = 4;

/// The hosts to try, best first, each with its addresses; and the TLS to use with them.
pub type Route = (Vec<(String, Vec<IpAddr>)>, RelayTls);

/// Why a domain cannot be reached, as a reply line for the recipient's record.
#[derive(Debug, Clone)]
pub enum RouteError {
    Permanent(String),
    Temporary(String),
}

pub struct MxResolver {
    resolver: MessageAuthenticator,
    /// Our own name: an MX list naming us is cut before us (we are its backup).
    me: String,
    /// Recipients' MTA-STS policies, unless `[relay] mta_sts` is off.
    sts: Option<Policies>,
}

impl std::fmt::Debug for MxResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MxResolver")
    }
}

impl MxResolver {
    /// The system's resolvers (`/etc/resolv.conf`), or these name servers; `me` is our host
    /// name; `verified` checks MTA-STS policy hosts' certificates.
    pub fn new(
        relay: &crate::config::Relay,
        me: &str,
        verified: Arc<rustls::ClientConfig>,
    ) -> Result<Self, String> {
        let me = me.trim_end_matches('.').to_lowercase();
        let sts = relay
            .mta_sts
            .then(|| Policies::new(verified, relay.mta_sts_port));
        crate::resolver::resolver(relay).map(|resolver| Self { resolver, me, sts })
    }

    /// The hosts to try for `domain` and the TLS to insist on with them (`tls` unless its
    /// MTA-STS policy enforces TLS): in `enforce`, only the MX hosts the policy names, with a
    /// valid certificate; in `testing`, all of them, the others logged.
    pub async fn route(&self, domain: &str, tls: RelayTls) -> Result<Route, RouteError> {
        let hosts = self.hosts(domain).await?;
        let Some(sts) = &self.sts else {
            return Ok((hosts, tls));
        };
        let records =
            crate::resolver::txt_records(&self.resolver, &format!("_mta-sts.{domain}")).await;
        let policy_host = format!("mta-sts.{domain}");
        let addresses = async { self.addresses(&policy_host).await.unwrap_or_default() };
        let Some(policy) = sts.policy(domain, records, addresses).await else {
            return Ok((hosts, tls));
        };
        let others: Vec<&str> = hosts
            .iter()
            .map(|(h, _)| h.as_str())
            .filter(|h| !policy.allows(h))
            .collect();
        match policy.mode {
            Mode::Enforce => {
                if !others.is_empty() {
                    info!(%domain, skipped = ?others, "mta-sts: MX hosts the policy does not name");
                }
                let named: Vec<_> = hosts
                    .into_iter()
                    .filter(|(h, _)| policy.allows(h))
                    .collect();
                if named.is_empty() {
                    return Err(RouteError::Temporary(format!(
                        "451 4.7.5 no MX host of {domain} is one its MTA-STS policy names"
                    )));
                }
                Ok((named, RelayTls::Required))
            }
            Mode::Testing => {
                if !others.is_empty() {
                    info!(%domain, hosts = ?others, "mta-sts testing: the policy does not name these MX hosts");
                }
                Ok((hosts, tls))
            }
            Mode::None => Ok((hosts, tls)),
        }
    }

    /// The addresses of `name` (IPv4 first), at most [`MAX_ADDRESSES`].
    async fn addresses(&self, name: &str) -> Result<Vec<IpAddr>, String> {
        let no_cache4: Option<&NoCache<Box<str>, RecordSet<std::net::Ipv4Addr>>> = None;
        let no_cache6: Option<&NoCache<Box<str>, RecordSet<std::net::Ipv6Addr>>> = None;
        self.resolver
            .ip_lookup(
                name,
                IpLookupStrategy::Ipv4thenIpv6,
                MAX_ADDRESSES,
                no_cache4,
                no_cache6,
            )
            .await
            .map_err(|e| e.to_string())
    }

    /// The hosts to try for `domain`, best first, each with its addresses.
    pub async fn hosts(&self, domain: &str) -> Result<Vec<(String, Vec<IpAddr>)>, RouteError> {
        let no_mx_cache: Option<&NoCache<Box<str>, RecordSet<MX>>> = None;
        let names: Vec<String> = match self.resolver.mx_lookup(domain, no_mx_cache).await {
            Ok(records) => {
                let name = |e: &str| e.trim_end_matches('.').to_lowercase();
                if records
                    .rrset
                    .iter()
                    .flat_map(|mx| mx.exchanges.iter())
                    .all(|e| name(e).is_empty())
                {
                    return Err(RouteError::Permanent(format!(
                        "556 5.1.10 {domain} does not accept mail (null MX)"
                    )));
                }
                // RFC 5321 §5.1: a host in the list tries only hosts more preferred than
                // itself (records come sorted by preference).
                let ours = records
                    .rrset
                    .iter()
                    .position(|mx| mx.exchanges.iter().any(|e| name(e) == self.me));
                let better = &records.rrset[..ours.unwrap_or(records.rrset.len())];
                if better.is_empty() {
                    return Err(RouteError::Permanent(format!(
                        "554 5.4.6 mail for {domain} loops back to myself"
                    )));
                }
                better
                    .iter()
                    .flat_map(|mx| mx.exchanges.iter())
                    .map(|e| name(e))
                    .filter(|n| !n.is_empty())
                    .collect()
            }
            Err(mail_auth::Error::Dns(mail_auth::DnsError::RecordNotFound(
                ResponseCode::NXDomain,
            ))) => {
                return Err(RouteError::Permanent(format!(
                    "550 5.1.2 {domain}: domain not found"
                )));
            }
            // No MX: the domain itself is the mail host (RFC 5321 §5.1).
            Err(mail_auth::Error::Dns(mail_auth::DnsError::RecordNotFound(_))) => {
                vec![domain.to_owned()]
            }
            Err(e) => {
                return Err(RouteError::Temporary(format!(
                    "451 4.4.3 MX lookup for {domain} failed: {e}"
                )));
            }
        };
        let mut hosts = Vec::new();
        let mut last_error = String::new();
        for name in names.into_iter().take(MAX_HOSTS) {
            match self.addresses(&name).await {
                Ok(addrs) if !addrs.is_empty() => hosts.push((name, addrs)),
                Ok(_) => last_error = format!("{name} has no address"),
                Err(e) => last_error = format!("{name}: {e}"),
            }
        }
        if hosts.is_empty() {
            return Err(RouteError::Temporary(format!(
                "451 4.4.3 no mail host of {domain} has an address ({last_error})"
            )));
        }
        Ok(hosts)
    }
}
