//! MTA-STS (RFC 8461) for the mail we send to other domains' MX hosts: a domain that publishes
//! `_mta-sts` and a policy at `https://mta-sts.<domain>/.well-known/mta-sts.txt` is sent mail
//! only through the MX hosts its policy names and only over TLS with a certificate valid for
//! the host (`enforce`); in `testing`, what would have been refused is logged and mail goes as
//! usual.
//!
//! Policies are kept for their `max_age`; the TXT record's `id` says when to fetch again. A
//! kept policy stands when the TXT record or the fetch fails (§5.1: an attacker who blocks
//! either cannot turn TLS off), and a domain with no kept policy whose fetch fails gets its
//! mail as if it had none (§5, the failure logged).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tracing::{info, warn};

/// What a policy asks of senders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Enforce,
    Testing,
    None,
}

/// A domain's policy (RFC 8461 §3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub mode: Mode,
    /// MX host patterns: a name, or `*.` and a name (one more label on the left).
    pub mx: Vec<String>,
    /// Seconds it may be kept.
    pub max_age: u64,
}

/// The largest policy read (§3.3 says senders may cap it; 64 KiB is what others allow).
const MAX_POLICY: u64 = 64 * 1024;
/// How long a fetch may take (§3.3 suggests up to a minute; a queue run should not wait so).
const FETCH_TIMEOUT: Duration = Duration::from_secs(20);

impl Policy {
    /// Reads a policy file; `None` when it is not a valid STSv1 policy.
    pub fn parse(text: &str) -> Option<Policy> {
        let (mut version, mut mode, mut max_age, mut mx) = (None, None, None, Vec::new());
        for line in text.lines() {
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            match key.trim() {
                "version" => version = Some(value == "STSv1"),
                "mode" => {
                    mode = match value {
                        "enforce" => Some(Mode::Enforce),
                        "testing" => Some(Mode::Testing),
                        "none" => Some(Mode::None),
                        _ => return None,
                    }
                }
                "max_age" => max_age = value.parse::<u64>().ok().filter(|&a| a <= 31_557_600),
                "mx" => mx.push(value.trim_end_matches('.').to_ascii_lowercase()),
                _ => {}
            }
        }
        let mode = mode?;
        if version != Some(true) || (mx.is_empty() && mode != Mode::None) {
            return None;
        }
        Some(Policy {
            mode,
            mx,
            max_age: max_age?,
        })
    }

    /// Whether MX host `host` is one the policy names (§4.1).
    pub fn allows(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.mx
            .iter()
            .any(|pattern| match pattern.strip_prefix("*.") {
                Some(parent) => host
                    .split_once('.')
                    .is_some_and(|(label, rest)| !label.is_empty() && rest == parent),
                None => *pattern == host,
            })
    }
}

/// The `id` of a domain's `_mta-sts` TXT record, when it publishes exactly one STSv1 record.
pub fn record_id(records: &[String]) -> Option<String> {
    let mut sts = records
        .iter()
        .filter(|r| r.trim_start().starts_with("v=STSv1"));
    let record = sts.next()?;
    if sts.next().is_some() {
        return None;
    }
    record.split(';').find_map(|field| {
        let (key, value) = field.split_once('=')?;
        let value = value.trim();
        (key.trim() == "id"
            && (1..=32).contains(&value.len())
            && value.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then(|| value.to_owned())
    })
}

struct Kept {
    id: String,
    policy: Policy,
    until: Instant,
}

/// The policies learnt, and how to fetch more.
pub struct Policies {
    kept: Mutex<HashMap<String, Kept>>,
    /// Checks the policy host's certificate (the system's roots, or `[relay] ca_file`).
    tls: Arc<rustls::ClientConfig>,
    port: u16,
}

impl Policies {
    pub fn new(tls: Arc<rustls::ClientConfig>, port: u16) -> Self {
        Self {
            kept: Mutex::new(HashMap::new()),
            tls,
            port,
        }
    }

    /// The policy in force for `domain`, given its `_mta-sts` TXT records (none when the
    /// lookup failed) and the addresses of `mta-sts.<domain>` (looked up only when a fetch is
    /// due).
    pub async fn policy<F>(
        &self,
        domain: &str,
        records: Vec<String>,
        addresses: F,
    ) -> Option<Policy>
    where
        F: std::future::Future<Output = Vec<IpAddr>>,
    {
        let now = Instant::now();
        let kept = {
            let mut all = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
            all.retain(|_, k| k.until > now);
            all.get(domain).map(|k| (k.id.clone(), k.policy.clone()))
        };
        let id = match (record_id(&records), kept) {
            (Some(id), Some((kept_id, policy))) if id == kept_id => return Some(policy),
            (Some(id), _) => id,
            // No record, or no answer: a kept policy stands until it expires.
            (_, kept) => return kept.map(|(_, policy)| policy),
        };
        match self.fetch(domain, addresses.await).await {
            Ok(policy) => {
                info!(%domain, %id, mode = ?policy.mode, "mta-sts policy fetched");
                let until = now + Duration::from_secs(policy.max_age);
                let kept = Kept {
                    id,
                    policy: policy.clone(),
                    until,
                };
                self.kept
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(domain.to_owned(), kept);
                Some(policy)
            }
            Err(e) => {
                let kept = self
                    .kept
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get(domain)
                    .map(|k| k.policy.clone());
                warn!(%domain, error = %e, kept = kept.is_some(), "mta-sts policy fetch failed");
                kept
            }
        }
    }

    /// `GET /.well-known/mta-sts.txt` from `mta-sts.<domain>` over HTTPS, its certificate
    /// checked, no redirect followed (§3.3).
    async fn fetch(&self, domain: &str, addresses: Vec<IpAddr>) -> Result<Policy, String> {
        let host = format!("mta-sts.{domain}");
        let name = rustls_pki_types::ServerName::try_from(host.clone())
            .map_err(|e| format!("{host}: {e}"))?;
        let mut last = format!("{host} has no address");
        for addr in addresses {
            let attempt = async {
                let tcp = TcpStream::connect((addr, self.port))
                    .await
                    .map_err(|e| e.to_string())?;
                let connector = TlsConnector::from(Arc::clone(&self.tls));
                let mut tls = connector
                    .connect(name.clone(), tcp)
                    .await
                    .map_err(|e| format!("TLS: {e}"))?;
                // HTTP/1.0: the answer ends with the connection, never in chunks.
                let request = format!(
                    "GET /.well-known/mta-sts.txt HTTP/1.0\r\nHost: {host}\r\n\
                     User-Agent: mailserver\r\nAccept: text/plain\r\n\r\n"
                );
                tls.write_all(request.as_bytes())
                    .await
                    .map_err(|e| e.to_string())?;
                let mut answer = Vec::new();
                match (&mut tls)
                    .take(MAX_POLICY + 8192)
                    .read_to_end(&mut answer)
                    .await
                {
                    // Many servers close without TLS's close_notify: the answer is whole
                    // when it is as long as its Content-Length says (checked below).
                    Err(e) if e.kind() != std::io::ErrorKind::UnexpectedEof => {
                        return Err(e.to_string());
                    }
                    _ => {}
                }
                policy_from_answer(&answer)
            };
            match tokio::time::timeout(FETCH_TIMEOUT, attempt).await {
                Ok(Ok(policy)) => return Ok(policy),
                Ok(Err(e)) => last = format!("{host}[{addr}]:{}: {e}", self.port),
                Err(_) => last = format!("{host}[{addr}]:{}: timed out", self.port),
            }
        }
        Err(last)
    }
}

/// The policy in an HTTP answer: status 200, `text/plain`, a valid body.
fn policy_from_answer(answer: &[u8]) -> Result<Policy, String> {
    let text = std::str::from_utf8(answer).map_err(|_| "the answer is not UTF-8".to_owned())?;
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or("the answer has no end of header")?;
    let mut lines = head.lines();
    let status = lines.next().unwrap_or("");
    if status.split(' ').nth(1) != Some("200") {
        return Err(format!("answered {status:?}"));
    }
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim().to_ascii_lowercase();
        if name.eq_ignore_ascii_case("content-type") && !value.starts_with("text/plain") {
            return Err(format!("the policy is {value}, not text/plain"));
        }
        if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(format!("the policy came with transfer-encoding {value}"));
        }
        if name.eq_ignore_ascii_case("content-length") && value.parse() != Ok(body.len()) {
            return Err(format!(
                "the policy was cut short ({} of {value} octets)",
                body.len()
            ));
        }
    }
    if body.len() as u64 > MAX_POLICY {
        return Err("the policy is larger than 64 KiB".into());
    }
    Policy::parse(body).ok_or_else(|| "not a valid STSv1 policy".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_read_and_matched() {
        let p = Policy::parse(
            "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmax_age: 86400\r\n",
        )
        .unwrap();
        assert_eq!(p.mode, Mode::Enforce);
        assert!(p.allows("MAIL.example.com."));
        assert!(p.allows("mx1.example.net"));
        assert!(!p.allows("a.b.example.net"));
        assert!(!p.allows("example.net"));
        assert!(!p.allows("mail.example.org"));
        assert_eq!(
            Policy::parse("version: STSv1\nmode: enforce\nmax_age: 1\n"),
            None
        );
        assert_eq!(
            Policy::parse("version: STSv2\nmode: testing\nmx: a\nmax_age: 1\n"),
            None
        );
        assert_eq!(
            Policy::parse("version: STSv1\nmode: later\nmx: a\nmax_age: 1\n"),
            None
        );
        assert!(Policy::parse("version: STSv1\nmode: none\nmax_age: 1\n").is_some());
        assert_eq!(
            record_id(&["v=STSv1; id=20261206T01".into(), "v=spf1 -all".into()]),
            Some("20261206T01".into())
        );
        assert_eq!(
            record_id(&["v=STSv1; id=a".into(), "v=STSv1; id=b".into()]),
            None
        );
        assert_eq!(record_id(&["v=STSv1; id=not valid".into()]), None);
        let answer = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nversion: STSv1\nmode: testing\nmx: a.example\nmax_age: 60\n";
        assert_eq!(policy_from_answer(answer).unwrap().mode, Mode::Testing);
        assert!(policy_from_answer(b"HTTP/1.1 301 Moved\r\nLocation: x\r\n\r\n").is_err());
        assert!(policy_from_answer(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\nversion: STSv1\nmode: testing\nmx: a\nmax_age: 1\n").is_err());
    }

    proptest::proptest! {
        // Whatever a policy host sends: no panic, and a policy read is one RFC 8461 allows.
        #[test]
        fn any_answer_reads_safely(answer in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = policy_from_answer(&answer);
        }

        #[test]
        fn any_policy_text_reads_safely(
            text in "(version: STSv[12]|mode: (enforce|testing|none|x)|mx: [a-z*.]{0,12}|max_age: [0-9]{0,10}|[ -~]{0,20})(\r?\n(version: STSv1|mode: (enforce|testing|none)|mx: [a-z*.]{0,12}|max_age: [0-9]{0,10}|[ -~]{0,20})){0,6}"
        ) {
            if let Some(p) = Policy::parse(&text) {
                proptest::prop_assert!(p.mode == Mode::None || !p.mx.is_empty());
                proptest::prop_assert!(p.max_age <= 31_557_600);
            }
        }

        #[test]
        fn any_record_gives_a_valid_id(records in proptest::collection::vec("(v=STSv1; )?(id=)?[ -~]{0,40}", 0..3)) {
            if let Some(id) = record_id(&records) {
                proptest::prop_assert!((1..=32).contains(&id.len()));
                proptest::prop_assert!(id.bytes().all(|b| b.is_ascii_alphanumeric()));
            }
        }
    }
}
