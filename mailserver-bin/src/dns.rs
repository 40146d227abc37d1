//! The DNS records a domain of ours should publish (MX, SPF, DKIM, DMARC, client SRV): in
//! zone-file syntax for `mailserver dns` (its DKIM keys made first when missing), and
//! compared with what the domain publishes for `mailserver status`.

use mail_auth::MessageAuthenticator;
use mail_auth::hickory_resolver::proto::rr::RData;

use crate::AnyError;
use crate::config::Config;
use crate::dkim;

/// One record to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The owner name, without the final dot.
    pub name: String,
    pub kind: &'static str,
    /// The data: for TXT the whole text (split into strings when written).
    pub value: String,
}

/// The records `domain` should publish with `keys` (its DKIM public keys).
pub fn expected(config: &Config, domain: &str, keys: &dkim::PublicKeys) -> Vec<Record> {
    let host = &config.hostname;
    let fill = |t: &str| t.replace("{domain}", domain).replace("{hostname}", host);
    let record = |name: String, kind, value: String| Record { name, kind, value };
    let mut out = vec![
        record(domain.to_owned(), "MX", format!("10 {host}.")),
        record(domain.to_owned(), "TXT", fill(&config.dns.spf)),
    ];
    let (selector, key) = &keys.rsa;
    out.push(record(
        format!("{selector}._domainkey.{domain}"),
        "TXT",
        format!("v=DKIM1; k=rsa; p={key}"),
    ));
    if let Some((selector, key)) = &keys.ed25519 {
        out.push(record(
            format!("{selector}._domainkey.{domain}"),
            "TXT",
            format!("v=DKIM1; k=ed25519; p={key}"),
        ));
    }
    out.push(record(
        format!("_dmarc.{domain}"),
        "TXT",
        fill(&config.dns.dmarc),
    ));
    for (service, offered) in crate::clients::all(&config.listen) {
        let target = match offered {
            Some(s) => format!("0 1 {} {host}.", s.port),
            None => "0 0 0 .".to_owned(),
        };
        out.push(record(format!("_{service}._tcp.{domain}"), "SRV", target));
    }
    out.extend(web_records(config, domain));
    out
}

/// The names of what the HTTP listener serves for `domain` (autoconfig, autodiscover, the
/// MTA-STS policy) and the MTA-STS and TLS reporting records; none without `[listen] http`.
fn web_records(config: &Config, domain: &str) -> Vec<Record> {
    if config.listen.http.is_empty() {
        return Vec::new();
    }
    let host = &config.hostname;
    let record = |name: String, kind, value: String| Record { name, kind, value };
    let mut out = vec![
        record(format!("autoconfig.{domain}"), "CNAME", format!("{host}.")),
        record(
            format!("autodiscover.{domain}"),
            "CNAME",
            format!("{host}."),
        ),
        record(
            format!("_autodiscover._tcp.{domain}"),
            "SRV",
            format!("0 1 443 {host}."),
        ),
    ];
    if let Some(policy) = config.mta_sts.policy(host) {
        out.push(record(
            format!("mta-sts.{domain}"),
            "CNAME",
            format!("{host}."),
        ));
        let id = crate::config::MtaSts::policy_id(&policy);
        out.push(record(
            format!("_mta-sts.{domain}"),
            "TXT",
            format!("v=STSv1; id={id}"),
        ));
    }
    if !config.mta_sts.tls_rpt.is_empty() {
        let rua = config.mta_sts.tls_rpt.replace("{domain}", domain);
        out.push(record(
            format!("_smtp._tls.{domain}"),
            "TXT",
            format!("v=TLSRPTv1; rua={rua}"),
        ));
    }
    out
}

/// The zone-file lines for `domain`; DKIM keys are made first when missing.
pub fn records(config: &Config, domain: &str) -> Result<String, AnyError> {
    let keys = dkim::Dkim::from_config(config).ensure_keys(domain)?;
    let ttl = config.dns.ttl;
    let host = &config.hostname;
    // TXT strings hold at most 255 octets each (RFC 1035 §3.3).
    let txt = |value: &str| -> String {
        let parts: Vec<String> = value
            .as_bytes()
            .chunks(250)
            .map(|c| format!("\"{}\"", String::from_utf8_lossy(c)))
            .collect();
        if parts.len() == 1 {
            parts[0].clone()
        } else {
            format!("( {} )", parts.join(" "))
        }
    };
    let shown = crate::accounts::display_domain(domain);
    let mut out = if shown == domain {
        format!("; DNS records for {domain}: publish them in its zone.\n")
    } else {
        format!("; DNS records for {shown} ({domain}): publish them in its zone.\n")
    };
    out.push_str(&format!(
        "; {host} also needs A/AAAA records, and its addresses a PTR back to {host}.\n"
    ));
    for r in expected(config, domain, &keys) {
        if r.kind == "SRV" && r.name.starts_with("_submissions.") {
            out.push_str(
                "; Where mail programs find the server (RFC 6186, RFC 8314); \".\" means not \
                 offered.\n",
            );
        }
        if r.name.starts_with("autoconfig.") {
            out.push_str(&format!(
                "; Where mail programs fetch their settings and senders the MTA-STS policy: \
                 these names must reach [listen] http through a web server with a certificate \
                 for each (HTTPS on 443). {host}'s own name needs one too.\n"
            ));
        }
        let value = if r.kind == "TXT" {
            txt(&r.value)
        } else {
            r.value
        };
        out.push_str(&format!("{}.\t{ttl}\tIN\t{}\t{value}\n", r.name, r.kind));
    }
    Ok(out)
}

/// What differs between what `domain` publishes and `expected`: `(problem, text)`, where a
/// problem (a missing or wrong MX or DKIM key, no SPF or DMARC record) needs attention and
/// the rest (an SPF or DMARC policy of the admin's own) is for information.
pub async fn check(
    resolver: &MessageAuthenticator,
    domain: &str,
    expected: &[Record],
) -> Vec<(bool, String)> {
    let mut found = Vec::new();
    for r in expected {
        match r.kind {
            "MX" => {
                let host = r.value.split(' ').nth(1).unwrap_or("").to_lowercase();
                match resolver.0.mx_lookup(format!("{}.", r.name)).await {
                    Ok(mx) => {
                        let hosts: Vec<String> = mx
                            .answers()
                            .iter()
                            .filter_map(|rec| match &rec.data {
                                RData::MX(m) => Some(m.exchange.to_string().to_lowercase()),
                                _ => None,
                            })
                            .collect();
                        if !hosts.contains(&host) {
                            found.push((true, format!("{domain}: MX is {hosts:?}, not {host}")));
                        }
                    }
                    Err(e) => found.push((true, format!("{domain}: no MX record ({e})"))),
                }
            }
            "TXT" => {
                let published = crate::resolver::txt_records(resolver, &r.name).await;
                let what = if r.name.starts_with("_dmarc.") {
                    "DMARC"
                } else if r.name.contains("._domainkey.") {
                    "DKIM"
                } else if r.name.starts_with("_mta-sts.") {
                    "MTA-STS"
                } else if r.name.starts_with("_smtp._tls.") {
                    "TLS-RPT"
                } else {
                    "SPF"
                };
                // Mail flows without these two: their absence is for information.
                let needed = !matches!(what, "MTA-STS" | "TLS-RPT");
                let prefix = r.value.split(';').next().unwrap_or("").split(' ').next();
                let same_kind: Vec<&String> = published
                    .iter()
                    .filter(|t| prefix.is_some_and(|p| t.starts_with(p)))
                    .collect();
                let normal = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
                if same_kind.is_empty() {
                    found.push((needed, format!("{domain}: no {what} record at {}", r.name)));
                } else if !same_kind.iter().any(|t| normal(t) == normal(&r.value)) {
                    found.push((
                        what == "DKIM",
                        format!(
                            "{domain}: {what} at {} is {:?}, ours is {:?}",
                            r.name, same_kind[0], r.value
                        ),
                    ));
                }
            }
            _ => {}
        }
    }
    found
}

/// What differs between what `domain` publishes and what it should ([`check`]), its DKIM
/// keys read (never made: `mailserver dns` makes them).
pub async fn check_domain(
    resolver: &MessageAuthenticator,
    config: &Config,
    domain: &str,
) -> Vec<(bool, String)> {
    match dkim::Dkim::from_config(config).public_keys(domain) {
        Ok(keys) => check(resolver, domain, &expected(config, domain, &keys)).await,
        Err(e) => vec![(
            true,
            format!("{domain}: no DKIM keys ({e}): run `mailserver dns {domain}`"),
        )],
    }
}

/// The DMARC policy (`p=`, lowercase) `domain` publishes, or its organizational domain
/// (`sp=` when it gives one) when it publishes none itself; `None` without a record. The
/// organizational domain is taken as the last two labels, which holds for the domains whose
/// policy matters here (a poster's) but not under public suffixes like `co.uk`.
pub async fn dmarc_policy(resolver: &MessageAuthenticator, domain: &str) -> Option<String> {
    let tag = |record: &str, name: &str| {
        record.split(';').find_map(|t| {
            let (k, v) = t.split_once('=')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_ascii_lowercase())
        })
    };
    let dmarc = |records: Vec<String>| {
        records
            .into_iter()
            .find(|r| r.trim_start().to_ascii_lowercase().starts_with("v=dmarc1"))
    };
    if let Some(record) =
        dmarc(crate::resolver::txt_records(resolver, &format!("_dmarc.{domain}")).await)
    {
        return tag(&record, "p");
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() <= 2 {
        return None;
    }
    let organizational = labels[labels.len() - 2..].join(".");
    let record =
        dmarc(crate::resolver::txt_records(resolver, &format!("_dmarc.{organizational}")).await)?;
    tag(&record, "sp").or_else(|| tag(&record, "p"))
}
