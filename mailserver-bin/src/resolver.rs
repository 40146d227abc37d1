//! The DNS resolver the daemon's lookups go through (MX hosts, DNSBL zones): the system's
//! (`/etc/resolv.conf`), or the name servers `[relay] nameservers` names.

use std::net::SocketAddr;

use mail_auth::MessageAuthenticator;
use mail_auth::hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts,
};

/// A resolver asking `nameservers` (over UDP, then TCP), or the system's when there are none.
pub fn resolver(nameservers: &[SocketAddr]) -> Result<MessageAuthenticator, String> {
    let resolver = if nameservers.is_empty() {
        MessageAuthenticator::new_system_conf()
    } else {
        let servers = nameservers
            .iter()
            .map(|a| {
                let mut udp = ConnectionConfig::udp();
                udp.port = a.port();
                let mut tcp = ConnectionConfig::tcp();
                tcp.port = a.port();
                NameServerConfig::new(a.ip(), true, vec![udp, tcp])
            })
            .collect();
        MessageAuthenticator::new(
            ResolverConfig::from_parts(None, Vec::new(), servers),
            ResolverOpts::default(),
        )
    };
    resolver.map_err(|e| e.to_string())
}
