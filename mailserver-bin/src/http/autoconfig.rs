//! The documents mail programs fetch to set themselves up from an address alone, built from
//! the listeners [`crate::clients`] names (so they say what the SRV records say):
//! Thunderbird's autoconfig (`config-v1.1.xml`), Outlook's autodiscover (POX, the 2006a
//! response schema) and an Apple configuration profile (`.mobileconfig`); and the MTA-STS
//! policy (RFC 8461) senders fetch from `mta-sts.<domain>`.
//!
//! Each answers for our domains only, and for any address at one: whether a mailbox exists is
//! not told (the login name is the address itself). Logins are full addresses, passwords
//! travel only over TLS (implicit, or STARTTLS before AUTH), so every document names
//! `password-cleartext` inside TLS and never a plain connection.

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use sha2::{Digest, Sha256};
use tracing::{info, warn};

use super::text::{escape, form_value};
use crate::clients::{self, Protocol, Security, Service};
use crate::health::Sources;

/// The routes: each document at every path its clients ask.
pub fn router(sources: Arc<Sources>) -> Router {
    Router::new()
        .route(
            "/.well-known/autoconfig/mail/config-v1.1.xml",
            get(thunderbird),
        )
        .route("/mail/config-v1.1.xml", get(thunderbird))
        .route("/autodiscover/autodiscover.xml", post(outlook))
        .route("/Autodiscover/Autodiscover.xml", post(outlook))
        .route("/apple/mobileconfig", get(apple))
        .route("/.well-known/mta-sts.txt", get(mta_sts))
        // An autodiscover request is a few hundred octets.
        .layer(DefaultBodyLimit::max(16 * 1024))
        .with_state(sources)
}

/// A refusal, logged: `what` was asked for something that is not ours to answer.
fn not_ours(what: &str, asked: &str) -> Response {
    info!(
        document = what,
        asked, "client settings refused: not one of our domains"
    );
    (
        StatusCode::NOT_FOUND,
        "No mail settings are published here for that domain.\n",
    )
        .into_response()
}

/// The name a request was sent to, without its port.
fn host_of(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name.to_owned(),
        _ => host.to_owned(),
    }
}

/// `named` (a domain as a client wrote it) as we store it, if it is one of ours.
async fn our_domain(sources: &Sources, named: &str) -> Option<String> {
    let domain = crate::accounts::normalize_domain(named).ok()?;
    match sources.accounts.is_local_domain(&domain).await {
        Ok(true) => Some(domain),
        Ok(false) => None,
        Err(e) => {
            warn!(error = %e, "client settings: the accounts backend did not answer");
            None
        }
    }
}

/// The services offered to clients, and the host they connect to.
struct Offer {
    host: String,
    incoming: Vec<Service>,
    outgoing: Vec<Service>,
}

impl Offer {
    fn of(sources: &Sources) -> Self {
        let config = sources.config.get();
        let mut incoming = clients::offered(&config.listen, Protocol::Imap);
        incoming.extend(clients::offered(&config.listen, Protocol::Pop3));
        Offer {
            host: config.hostname.clone(),
            incoming,
            outgoing: clients::offered(&config.listen, Protocol::Submission),
        }
    }

    /// A client can read and send: one incoming and one outgoing service at least.
    fn usable(&self) -> bool {
        !self.incoming.is_empty() && !self.outgoing.is_empty()
    }
}

/// Thunderbird (and K-9/Thunderbird for Android, Evolution, …): `?emailaddress=` names the
/// address; without it, the domain is the host asked, less `autoconfig.`.
async fn thunderbird(
    State(sources): State<Arc<Sources>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let address = query.as_deref().and_then(|q| form_value(q, "emailaddress"));
    let host = host_of(&headers);
    let named = match &address {
        Some(a) => a.rsplit_once('@').map_or("", |(_, d)| d).to_owned(),
        None => host.strip_prefix("autoconfig.").unwrap_or(&host).to_owned(),
    };
    let Some(domain) = our_domain(&sources, &named).await else {
        return not_ours("autoconfig", &named);
    };
    let offer = Offer::of(&sources);
    if !offer.usable() {
        return unusable("autoconfig");
    }
    xml(
        "application/xml; charset=utf-8",
        thunderbird_xml(&offer, &domain),
    )
}

/// Neither reading nor sending is offered: no settings can be given.
fn unusable(what: &str) -> Response {
    warn!(
        document = what,
        "client settings refused: no IMAP/POP3 or no submission listener to offer"
    );
    (
        StatusCode::NOT_FOUND,
        "This server offers no mail client settings.\n",
    )
        .into_response()
}

fn xml(content_type: &'static str, body: String) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// `clientConfig` version 1.1, the format Thunderbird's `readFromXML` reads.
fn thunderbird_xml(offer: &Offer, domain: &str) -> String {
    let domain = escape(domain);
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<clientConfig version=\"1.1\">\n  \
         <emailProvider id=\"{domain}\">\n    <domain>{domain}</domain>\n    \
         <displayName>{domain} mail</displayName>\n    \
         <displayShortName>{domain}</displayShortName>\n"
    );
    let servers = offer
        .incoming
        .iter()
        .map(|s| ("incomingServer", s))
        .chain(offer.outgoing.iter().map(|s| ("outgoingServer", s)));
    for (element, s) in servers {
        let kind = match s.protocol {
            Protocol::Imap => "imap",
            Protocol::Pop3 => "pop3",
            Protocol::Submission => "smtp",
        };
        let socket = match s.security {
            Security::Implicit => "SSL",
            Security::StartTls => "STARTTLS",
        };
        out.push_str(&format!(
            "    <{element} type=\"{kind}\">\n      <hostname>{}</hostname>\n      \
             <port>{}</port>\n      <socketType>{socket}</socketType>\n      \
             <username>%EMAILADDRESS%</username>\n      \
             <authentication>password-cleartext</authentication>\n    </{element}>\n",
            escape(&offer.host),
            s.port
        ));
    }
    out.push_str("  </emailProvider>\n</clientConfig>\n");
    out
}

/// Outlook's POX autodiscover: the address is in the request's `<EMailAddress>`.
async fn outlook(State(sources): State<Arc<Sources>>, body: String) -> Response {
    let Some(address) = element_text(&body, "EMailAddress") else {
        info!("autodiscover refused: no EMailAddress in the request");
        return (StatusCode::BAD_REQUEST, "No EMailAddress in the request.\n").into_response();
    };
    let named = address.rsplit_once('@').map_or("", |(_, d)| d);
    if our_domain(&sources, named).await.is_none() {
        return not_ours("autodiscover", named);
    }
    let offer = Offer::of(&sources);
    if !offer.usable() {
        return unusable("autodiscover");
    }
    xml(
        "application/xml; charset=utf-8",
        outlook_xml(&offer, address),
    )
}

/// The text of the first `<tag>…</tag>` in `xml`, trimmed.
fn element_text<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&format!("</{tag}>"))?;
    Some(xml[start..end].trim()).filter(|t| !t.is_empty())
}

/// The 2006a response: the best IMAP, POP3 and SMTP service each (Outlook takes one per type).
fn outlook_xml(offer: &Offer, address: &str) -> String {
    let address = escape(address);
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Autodiscover xmlns=\"http://schemas.\
         microsoft.com/exchange/autodiscover/responseschema/2006\">\n  <Response xmlns=\"\
         http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a\">\n    \
         <User><DisplayName>{address}</DisplayName></User>\n    <Account>\n      \
         <AccountType>email</AccountType>\n      <Action>settings</Action>\n"
    );
    let first = |protocol| {
        offer
            .incoming
            .iter()
            .chain(&offer.outgoing)
            .find(|s| s.protocol == protocol)
    };
    for (kind, service) in [
        ("IMAP", first(Protocol::Imap)),
        ("POP3", first(Protocol::Pop3)),
        ("SMTP", first(Protocol::Submission)),
    ] {
        let Some(s) = service else { continue };
        let encryption = match s.security {
            Security::Implicit => "SSL",
            Security::StartTls => "TLS",
        };
        out.push_str(&format!(
            "      <Protocol>\n        <Type>{kind}</Type>\n        <Server>{}</Server>\n        \
             <Port>{}</Port>\n        <DomainRequired>off</DomainRequired>\n        \
             <LoginName>{address}</LoginName>\n        <SPA>off</SPA>\n        \
             <SSL>on</SSL>\n        <Encryption>{encryption}</Encryption>\n        \
             <AuthRequired>on</AuthRequired>\n      </Protocol>\n",
            escape(&offer.host),
            s.port
        ));
    }
    out.push_str("    </Account>\n  </Response>\n</Autodiscover>\n");
    out
}

/// An Apple configuration profile for `?emailaddress=` (iOS, iPadOS and macOS Mail install it).
async fn apple(State(sources): State<Arc<Sources>>, RawQuery(query): RawQuery) -> Response {
    let Some(address) = query.as_deref().and_then(|q| form_value(q, "emailaddress")) else {
        info!("mobileconfig refused: no emailaddress");
        return (
            StatusCode::BAD_REQUEST,
            "Add ?emailaddress=<your address> to the link.\n",
        )
            .into_response();
    };
    let named = address.rsplit_once('@').map_or("", |(_, d)| d);
    let Some(domain) = our_domain(&sources, named).await else {
        return not_ours("mobileconfig", named);
    };
    let offer = Offer::of(&sources);
    if !offer.usable() {
        return unusable("mobileconfig");
    }
    let disposition = format!("attachment; filename=\"{domain}.mobileconfig\"");
    let profile = apple_profile(&offer, &domain, &address).into_bytes();
    let body = match sources.config.get().tls.sign_profiles {
        true => match sources.certificates.sign(&profile) {
            Ok(signed) => signed,
            Err(e) => {
                warn!(error = %e, "mobileconfig sent unsigned: it could not be signed ([tls] sign_profiles)");
                profile
            }
        },
        false => profile,
    };
    (
        [
            (
                header::CONTENT_TYPE,
                "application/x-apple-aspen-config; charset=utf-8".to_owned(),
            ),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response()
}

/// A stable UUID for `parts` (the same account gets the same profile, so installing it again
/// replaces the old one): SHA-256 of them, marked as a version 8 (custom) UUID.
fn uuid(parts: &[&str]) -> String {
    let digest = Sha256::digest(parts.join("\0").as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02X}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// The profile: one `com.apple.mail.managed` payload (Apple Mail takes IMAP or POP3, and
/// SMTP), inside a `Configuration`.
fn apple_profile(offer: &Offer, domain: &str, address: &str) -> String {
    let reversed: Vec<&str> = offer.host.rsplit('.').collect();
    let reversed = reversed.join(".");
    let account = uuid(&[&offer.host, address, "account"]);
    let profile = uuid(&[&offer.host, address, "profile"]);
    let (incoming, outgoing) = (offer.incoming[0], offer.outgoing[0]);
    let kind = match incoming.protocol {
        Protocol::Pop3 => "EmailTypePOP",
        _ => "EmailTypeIMAP",
    };
    let s = |key: &str, value: &str| {
        format!(
            "      <key>{key}</key>\n      <string>{}</string>\n",
            escape(value)
        )
    };
    let n = |key: &str, value: u16| {
        format!("      <key>{key}</key>\n      <integer>{value}</integer>\n")
    };
    let t = |key: &str| format!("      <key>{key}</key>\n      <true/>\n");
    let mail = [
        s("EmailAccountDescription", address),
        s("EmailAccountName", address),
        s("EmailAccountType", kind),
        s("EmailAddress", address),
        s("IncomingMailServerAuthentication", "EmailAuthPassword"),
        s("IncomingMailServerHostName", &offer.host),
        n("IncomingMailServerPortNumber", incoming.port),
        t("IncomingMailServerUseSSL"),
        s("IncomingMailServerUsername", address),
        s("OutgoingMailServerAuthentication", "EmailAuthPassword"),
        s("OutgoingMailServerHostName", &offer.host),
        n("OutgoingMailServerPortNumber", outgoing.port),
        t("OutgoingMailServerUseSSL"),
        s("OutgoingMailServerUsername", address),
        t("OutgoingPasswordSameAsIncomingPassword"),
        s("PayloadDescription", &format!("Mail account {address}")),
        s("PayloadDisplayName", address),
        s("PayloadIdentifier", &format!("{reversed}.mail.{account}")),
        s("PayloadType", "com.apple.mail.managed"),
        s("PayloadUUID", &account),
        n("PayloadVersion", 1),
    ]
    .concat();
    let top = |text: String| text.replacen("      ", "  ", 2);
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE plist PUBLIC \"-//Apple//DTD \
         PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n\
         <plist version=\"1.0\">\n<dict>\n  <key>PayloadContent</key>\n  <array>\n    <dict>\n\
         {mail}    </dict>\n  </array>\n{}{}{}{}{}</dict>\n</plist>\n",
        top(s("PayloadDisplayName", &format!("{domain} mail"))),
        top(s(
            "PayloadIdentifier",
            &format!("{reversed}.mobileconfig.{profile}")
        )),
        top(s("PayloadType", "Configuration")),
        top(s("PayloadUUID", &profile)),
        top(n("PayloadVersion", 1)),
    )
}

/// The MTA-STS policy, for `mta-sts.<domain>` only (RFC 8461 §3.3).
async fn mta_sts(State(sources): State<Arc<Sources>>, headers: HeaderMap) -> Response {
    let host = host_of(&headers);
    let Some(named) = host.strip_prefix("mta-sts.") else {
        return not_ours("mta-sts", &host);
    };
    if our_domain(&sources, named).await.is_none() {
        return not_ours("mta-sts", named);
    }
    let config = sources.config.get();
    match config.mta_sts.policy(&config.hostname) {
        Some(policy) => ([(header::CONTENT_TYPE, "text/plain")], policy).into_response(),
        None => {
            info!(
                domain = named,
                "mta-sts policy refused: [mta_sts] mode is none"
            );
            (StatusCode::NOT_FOUND, "No MTA-STS policy is published.\n").into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer() -> Offer {
        let service = |protocol, security, port| Service {
            protocol,
            security,
            port,
        };
        Offer {
            host: "mx.example.com".into(),
            incoming: vec![
                service(Protocol::Imap, Security::Implicit, 993),
                service(Protocol::Pop3, Security::StartTls, 110),
            ],
            outgoing: vec![service(Protocol::Submission, Security::StartTls, 587)],
        }
    }

    #[test]
    fn documents_name_the_offered_services() {
        let tb = thunderbird_xml(&offer(), "example.org");
        assert!(tb.contains("<incomingServer type=\"imap\">"), "{tb}");
        assert!(tb.contains("<port>993</port>\n      <socketType>SSL</socketType>"));
        assert!(tb.contains("<port>587</port>\n      <socketType>STARTTLS</socketType>"));
        let ol = outlook_xml(&offer(), "a&b@example.org");
        assert!(
            ol.contains("<LoginName>a&amp;b@example.org</LoginName>"),
            "{ol}"
        );
        assert!(ol.contains("<Type>POP3</Type>"));
        assert!(ol.contains("<Encryption>TLS</Encryption>"));
        let apple = apple_profile(&offer(), "example.org", "a@example.org");
        assert!(apple.contains("<string>Configuration</string>"), "{apple}");
        assert_eq!(
            uuid(&["mx.example.com", "a@example.org", "account"]),
            uuid(&["mx.example.com", "a@example.org", "account"])
        );
        assert_eq!(
            element_text("<a><EMailAddress> x@y </EMailAddress>", "EMailAddress"),
            Some("x@y")
        );
        assert_eq!(
            element_text("<EMailAddress></EMailAddress>", "EMailAddress"),
            None
        );
    }
}
