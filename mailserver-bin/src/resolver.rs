//! The DNS resolver every lookup of the daemon goes through (MX hosts, DNSBL zones, SPF,
//! DKIM, DMARC): the system's (`/etc/resolv.conf`) or the name servers `[relay] nameservers`
//! names, caching answers for their TTL, validating them with DNSSEC when `[relay] dnssec`
//! asks.

use std::path::Path;
use std::sync::Arc;

use mail_auth::MessageAuthenticator;
use mail_auth::hickory_resolver::TokioResolver;
use mail_auth::hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts,
};
use mail_auth::hickory_resolver::net::runtime::TokioRuntimeProvider;
use mail_auth::hickory_resolver::proto::dnssec::TrustAnchors;
use mail_auth::hickory_resolver::proto::rr::RData;
use mail_auth::hickory_resolver::system_conf::read_system_conf;

use crate::config::Relay;

/// A resolver asking `relay.nameservers` (over UDP, then TCP), or the system's when there are
/// none, validating with DNSSEC when `relay.dnssec` is set.
pub fn resolver(relay: &Relay) -> Result<MessageAuthenticator, String> {
    let (config, mut options) = if relay.nameservers.is_empty() {
        read_system_conf().map_err(|e| format!("cannot read /etc/resolv.conf: {e}"))?
    } else {
        let servers = relay
            .nameservers
            .iter()
            .map(|a| {
                let mut udp = ConnectionConfig::udp();
                udp.port = a.port();
                let mut tcp = ConnectionConfig::tcp();
                tcp.port = a.port();
                NameServerConfig::new(a.ip(), true, vec![udp, tcp])
            })
            .collect();
        (
            ResolverConfig::from_parts(None, Vec::new(), servers),
            ResolverOpts::default(),
        )
    };
    options.validate = relay.dnssec;
    let mut builder = TokioResolver::builder_with_config(config, TokioRuntimeProvider::default());
    if relay.dnssec && !relay.dnssec_trust_anchor.is_empty() {
        let path = Path::new(&relay.dnssec_trust_anchor);
        let anchors = TrustAnchors::from_file(path).map_err(|e| {
            format!(
                "[relay] dnssec_trust_anchor {}: {e}",
                relay.dnssec_trust_anchor
            )
        })?;
        builder = builder.with_trust_anchor(Arc::new(anchors));
    }
    let resolver = builder
        .with_options(options)
        .build()
        .map_err(|e| e.to_string())?;
    Ok(MessageAuthenticator(resolver))
}

/// The TXT records at `name`, each as one text.
pub async fn txt_records(resolver: &MessageAuthenticator, name: &str) -> Vec<String> {
    let Ok(lookup) = resolver.0.txt_lookup(format!("{name}.")).await else {
        return Vec::new();
    };
    lookup
        .answers()
        .iter()
        .filter_map(|rec| match &rec.data {
            RData::TXT(txt) => Some(
                txt.txt_data
                    .iter()
                    .map(|part| String::from_utf8_lossy(part).into_owned())
                    .collect::<String>(),
            ),
            _ => None,
        })
        .collect()
}
