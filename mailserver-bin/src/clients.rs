//! What mail programs are told about this server, in one place: which of its listeners a
//! client may use, on which port and with which TLS, best first. `mailserver dns` publishes it
//! as SRV records (RFC 6186, RFC 8314) and the HTTP listener as the documents clients fetch to
//! set themselves up (`http::autoconfig`), so the two never disagree.

use crate::config::Listen;

/// A protocol a mail program speaks to us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Imap,
    Pop3,
    /// Message submission (RFC 6409): outgoing mail.
    Submission,
}

/// How a connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// TLS from the first octet (RFC 8314: preferred).
    Implicit,
    /// STARTTLS / STLS before authenticating.
    StartTls,
}

/// One listener a client may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Service {
    pub protocol: Protocol,
    pub security: Security,
    pub port: u16,
}

/// Every client service by its SRV name, best first (implicit TLS before STARTTLS, IMAP before
/// POP3), with the port of its first listener, or `None` when it is not offered.
pub fn all(listen: &Listen) -> [(&'static str, Option<Service>); 6] {
    use {Protocol::*, Security::*};
    let service = |protocol, security, addrs: &Vec<std::net::SocketAddr>| {
        let port = addrs.first()?.port();
        Some(Service {
            protocol,
            security,
            port,
        })
    };
    [
        (
            "submissions",
            service(Submission, Implicit, &listen.submissions),
        ),
        (
            "submission",
            service(Submission, StartTls, &listen.submission),
        ),
        ("imaps", service(Imap, Implicit, &listen.imaps)),
        ("imap", service(Imap, StartTls, &listen.imap)),
        ("pop3s", service(Pop3, Implicit, &listen.pop3s)),
        ("pop3", service(Pop3, StartTls, &listen.pop3)),
    ]
}

/// The services offered for `protocol`, best first.
pub fn offered(listen: &Listen, protocol: Protocol) -> Vec<Service> {
    let mut found: Vec<Service> = all(listen)
        .into_iter()
        .filter_map(|(_, s)| s)
        .filter(|s| s.protocol == protocol)
        .collect();
    found.sort_by_key(|s| s.security != Security::Implicit);
    found
}
