//! The DNS records a domain of ours should publish (MX, SPF, DKIM, DMARC, client SRV),
//! in zone-file syntax; its DKIM keys are made first when missing.

use crate::AnyError;
use crate::config::Config;
use crate::dkim;

/// The zone-file lines for `domain`; DKIM keys are made first when missing.
pub fn records(config: &Config, domain: &str) -> Result<String, AnyError> {
    let dkim = dkim::Dkim::from_config(config);
    let keys = dkim.ensure_keys(domain)?;
    let ttl = config.dns.ttl;
    let host = &config.hostname;
    let fill = |t: &str| t.replace("{domain}", domain).replace("{hostname}", host);
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
    out.push_str(&format!("{domain}.\t{ttl}\tIN\tMX\t10 {host}.\n"));
    out.push_str(&format!(
        "{domain}.\t{ttl}\tIN\tTXT\t{}\n",
        txt(&fill(&config.dns.spf))
    ));
    let (selector, key) = &keys.rsa;
    out.push_str(&format!(
        "{selector}._domainkey.{domain}.\t{ttl}\tIN\tTXT\t{}\n",
        txt(&format!("v=DKIM1; k=rsa; p={key}"))
    ));
    if let Some((selector, key)) = &keys.ed25519 {
        out.push_str(&format!(
            "{selector}._domainkey.{domain}.\t{ttl}\tIN\tTXT\t{}\n",
            txt(&format!("v=DKIM1; k=ed25519; p={key}"))
        ));
    }
    out.push_str(&format!(
        "_dmarc.{domain}.\t{ttl}\tIN\tTXT\t{}\n",
        txt(&fill(&config.dns.dmarc))
    ));
    out.push_str(
        "; Where mail programs find the server (RFC 6186, RFC 8314); \".\" means not offered.\n",
    );
    let listen = &config.listen;
    for (service, addrs) in [
        ("submissions", &listen.submissions),
        ("submission", &listen.submission),
        ("imaps", &listen.imaps),
        ("imap", &listen.imap),
        ("pop3s", &listen.pop3s),
        ("pop3", &listen.pop3),
    ] {
        let target = match addrs.first() {
            Some(a) => format!("0 1 {} {host}.", a.port()),
            None => "0 0 0 .".to_owned(),
        };
        out.push_str(&format!(
            "_{service}._tcp.{domain}.\t{ttl}\tIN\tSRV\t{target}\n"
        ));
    }
    Ok(out)
}
