//! `[relay]`: the host outbound mail goes through, or the recipients' MX hosts.

use std::net::SocketAddr;

use serde::Deserialize;

/// TLS towards the next hop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RelayTls {
    /// Plain text, credentials included.
    None,
    /// STARTTLS when offered, certificate not checked (Postfix's `may`).
    Opportunistic,
    /// STARTTLS (or implicit TLS) with a certificate valid for the host name.
    Required,
}

/// Where outbound mail goes (Postfix's relayhost).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Relay {
    /// `[mail.example.org]:25`, `mail.example.org:587` or `[192.0.2.1]:25`; the port
    /// defaults to 25.
    pub host: String,
    pub tls: RelayTls,
    /// Connect with TLS at once (a relay on port 465).
    pub implicit_tls: bool,
    /// PEM file of the CA(s) a `required` relay's certificate is checked against (an
    /// internal PKI); empty: the system's roots.
    pub ca_file: String,
    /// AUTH credentials; empty: no AUTH.
    pub username: String,
    pub password: String,
    /// Without a host: the port MX hosts are reached on (Postfix's smtp_tcp_port).
    pub mx_port: u16,
    /// Honour recipient domains' MTA-STS policies (RFC 8461), fetched over HTTPS on this port.
    pub mta_sts: bool,
    pub mta_sts_port: u16,
    /// The name servers every lookup asks (MX records, DNSBL, SPF, DKIM, DMARC); empty:
    /// /etc/resolv.conf's.
    pub nameservers: Vec<SocketAddr>,
    /// Validate every answer with DNSSEC, from the root's keys or those in the file
    /// `dnssec_trust_anchor` (DNSKEY records).
    pub dnssec: bool,
    pub dnssec_trust_anchor: String,
}

impl Default for Relay {
    fn default() -> Self {
        Self {
            host: String::new(),
            tls: RelayTls::Opportunistic,
            implicit_tls: false,
            ca_file: String::new(),
            username: String::new(),
            password: String::new(),
            mx_port: 25,
            mta_sts: true,
            mta_sts_port: 443,
            nameservers: Vec::new(),
            dnssec: false,
            dnssec_trust_anchor: String::new(),
        }
    }
}

impl Relay {
    /// The host name (brackets and port stripped) and port.
    pub fn host_port(&self) -> Option<(String, u16)> {
        let h = self.host.trim();
        if h.is_empty() {
            return None;
        }
        let (name, port) = match h.strip_prefix('[') {
            Some(rest) => {
                let (name, after) = rest.split_once(']')?;
                let port = match after {
                    "" => 25,
                    p => p.strip_prefix(':')?.parse().ok()?,
                };
                (name.to_owned(), port)
            }
            None => match h.rsplit_once(':') {
                Some((name, p)) => (name.to_owned(), p.parse().ok()?),
                None => (h.to_owned(), 25),
            },
        };
        (!name.is_empty()).then_some((name, port))
    }
}
