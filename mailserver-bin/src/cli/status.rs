//! `mailserver status [--json]`: what an admin checks first. The running server's own view
//! (version, uptime, listeners, sessions, queue, free space, certificate, accounts backend,
//! alert conditions) from its HTTP listener's `/status`, and each domain's DNS records
//! compared with ours through the resolver. Exits non-zero when something needs attention.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::AnyError;
use crate::accounts::Accounts;
use crate::config::Config;

/// Runs the command.
pub async fn run(config: &Config, accounts: &Accounts, as_json: bool) -> Result<(), AnyError> {
    let mut attention: Vec<String> = Vec::new();
    let server = match server_status(config).await {
        Ok(v) => {
            for c in v["attention"].as_array().into_iter().flatten() {
                attention.push(c["subject"].as_str().unwrap_or("?").to_owned());
            }
            Some(v)
        }
        Err(e) => {
            attention.push(e);
            None
        }
    };
    let mut dns = serde_json::Map::new();
    match crate::resolver::resolver(&config.relay) {
        Ok(resolver) => {
            for d in accounts.list_domains().await? {
                if !d.active || d.backup_mx {
                    continue;
                }
                let found = crate::dns::check_domain(&resolver, config, &d.name).await;
                attention.extend(found.iter().filter(|f| f.0).map(|f| f.1.clone()));
                let found: Vec<Value> = found
                    .iter()
                    .map(|(problem, text)| json!({"problem": problem, "text": text}))
                    .collect();
                dns.insert(d.name, Value::Array(found));
            }
        }
        Err(e) => attention.push(format!("no DNS resolver to check records with: {e}")),
    }
    if as_json {
        let report = json!({"server": server, "dns": dns, "attention": attention});
        println!("{report:#}");
    } else {
        print_report(server.as_ref(), &dns, &attention);
    }
    if attention.is_empty() {
        Ok(())
    } else {
        Err(format!("{} things need attention", attention.len()).into())
    }
}

/// The server's `/status`, from the first `[listen] http` address.
async fn server_status(config: &Config) -> Result<Value, String> {
    let Some(addr) = config.listen.http.first() else {
        return Err(
            "the HTTP listener is off ([listen] http): the running server cannot be \
                    asked"
                .to_owned(),
        );
    };
    let mut addr = *addr;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let ask = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        stream
            .write_all(b"GET /status HTTP/1.0\r\nHost: localhost\r\n\r\n")
            .await?;
        let mut answer = Vec::new();
        stream
            .take(16 * 1024 * 1024)
            .read_to_end(&mut answer)
            .await?;
        Ok::<_, std::io::Error>(answer)
    };
    let answer = tokio::time::timeout(Duration::from_secs(15), ask)
        .await
        .map_err(|_| format!("the server does not answer on http://{addr}/status"))?
        .map_err(|e| format!("the server does not answer on http://{addr}/status: {e}"))?;
    let text = String::from_utf8_lossy(&answer);
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    serde_json::from_str(body).map_err(|e| format!("http://{addr}/status: {e}"))
}

fn print_report(
    server: Option<&Value>,
    dns: &serde_json::Map<String, Value>,
    attention: &[String],
) {
    if let Some(s) = server {
        let up = s["uptime_seconds"].as_i64().unwrap_or(0);
        println!(
            "mailserver {} on {}, up {}d {}h {}m",
            s["version"].as_str().unwrap_or("?"),
            s["hostname"].as_str().unwrap_or("?"),
            up / 86_400,
            up % 86_400 / 3600,
            up % 3600 / 60
        );
        let listeners: Vec<String> = s["listeners"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(name, addrs)| format!("{name} {}", join(addrs)))
            .collect();
        println!("listeners: {}", listeners.join(", "));
        let sessions: Vec<String> = s["sessions"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(p, n)| format!("{p} {n}"))
            .collect();
        println!("sessions: {}", sessions.join(", "));
        let r = &s["readings"];
        println!(
            "queue: {} messages, the oldest waiting {} s",
            r["queue_messages"], r["queue_oldest"]
        );
        for d in r["disks"].as_array().into_iter().flatten() {
            let (free, size) = (d[1].as_f64().unwrap_or(0.0), d[2].as_f64().unwrap_or(0.0));
            println!(
                "disk: {} {:.1} GB free of {:.1} GB ({:.1} %)",
                d[0].as_str().unwrap_or("?"),
                free / 1e9,
                size / 1e9,
                if size > 0.0 { free * 100.0 / size } else { 0.0 }
            );
        }
        match r["certificate_left"].as_i64() {
            Some(left) => println!("certificate: expires in {} days", left / 86_400),
            None => println!("certificate: expiry unknown"),
        }
        match r["accounts_error"].as_str() {
            Some(e) => println!("accounts backend: {e}"),
            None => println!("accounts backend: answering"),
        }
    }
    for (domain, found) in dns {
        let found = found.as_array().map(Vec::as_slice).unwrap_or(&[]);
        if found.is_empty() {
            println!("DNS {domain}: MX, SPF, DKIM and DMARC as ours");
        }
        for f in found {
            println!("DNS {}", f["text"].as_str().unwrap_or("?"));
        }
    }
    if attention.is_empty() {
        println!("nothing needs attention");
    } else {
        println!("needs attention:");
        for a in attention {
            println!("  - {a}");
        }
    }
}

fn join(v: &Value) -> String {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect::<Vec<_>>()
        .join(" ")
}
