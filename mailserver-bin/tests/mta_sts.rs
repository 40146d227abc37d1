//! Outbound mail honours recipient domains' MTA-STS policies (RFC 8461), each fetched over
//! HTTPS from `mta-sts.<domain>` (a Python HTTPS server with a private CA's certificate), with
//! the domains' records in a local DNS server (unbound) and our own server as their MX (STARTTLS
//! with a certificate for `mx.good.example` only):
//! - `good.example` (enforce, its MX named, the certificate valid): delivered over TLS;
//! - `bad.example` (enforce, the MX's certificate not valid for its name): kept in the queue;
//! - `nomatch.example` (enforce, the policy names another MX): kept in the queue;
//! - `testing.example` (testing, the same invalid certificate): delivered;
//! - `none.example` (no policy): delivered as before.

#![allow(clippy::unwrap_used)]

mod support;

use std::process::{Child, Command, Stdio};

use support::dns::Dns;
use support::lists::wait_for;
use support::{Server, free_port, python, require};

/// A private CA (`ca.pem`) in `dir`, and a certificate it signed for `names` as `<file>.pem`
/// and `<file>.key`.
fn certificate(dir: &std::path::Path, file: &str, names: &[&str]) {
    require("openssl");
    let sh = |script: &str| {
        let out = Command::new("sh")
            .arg("-c")
            .arg(script)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "{script}: {out:?}");
    };
    if !dir.join("ca.pem").exists() {
        sh(
            "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=sts-test-ca",
        );
    }
    let san: Vec<String> = names.iter().map(|n| format!("DNS:{n}")).collect();
    sh(&format!(
        "openssl req -newkey rsa:2048 -nodes -keyout {file}.key -out {file}.csr -subj /CN={} && \
         printf 'subjectAltName={}\\n' > {file}.cnf && openssl x509 -req -in {file}.csr -CA ca.pem \
         -CAkey ca.key -CAcreateserial -out {file}.pem -days 2 -extfile {file}.cnf",
        names[0],
        san.join(",")
    ));
}

/// Serves each domain's policy by the Host asked, over HTTPS.
const POLICY_SERVER: &str = r#"
import http.server, ssl, sys
port, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3]
policies = {
    "good.example": ("enforce", "mx.good.example"),
    "bad.example": ("enforce", "mx.bad.example"),
    "nomatch.example": ("enforce", "mail.nomatch.example"),
    "testing.example": ("testing", "mx.bad.example"),
}
class Policy(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        host = self.headers.get("Host", "").removeprefix("mta-sts.")
        if self.path != "/.well-known/mta-sts.txt" or host not in policies:
            self.send_error(404); return
        mode, mx = policies[host]
        body = f"version: STSv1\r\nmode: {mode}\r\nmx: {mx}\r\nmax_age: 86400\r\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        print("served", host, flush=True)
server = http.server.HTTPServer(("127.0.0.1", port), Policy)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
server.socket = context.wrap_socket(server.socket, server_side=True)
print("ready", flush=True)
server.serve_forever()
"#;

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const DOMAINS: [&str; 5] = [
    "good.example",
    "bad.example",
    "nomatch.example",
    "testing.example",
    "none.example",
];

#[test]
fn outbound_mail_honours_recipients_mta_sts_policies() {
    // The recipients' MX: our server, its certificate valid for mx.good.example only.
    let mut mx = Server::prepare("sts-mx", "");
    let pki = mx.dir.join("pki");
    std::fs::create_dir_all(&pki).unwrap();
    certificate(&pki, "mx", &["mx.good.example"]);
    let policy_names: Vec<String> = DOMAINS.iter().map(|d| format!("mta-sts.{d}")).collect();
    let policy_names: Vec<&str> = policy_names.iter().map(String::as_str).collect();
    certificate(&pki, "policy", &policy_names);
    let config = std::fs::read_to_string(mx.dir.join("mailserver.toml")).unwrap();
    std::fs::write(
        mx.dir.join("mailserver.toml"),
        format!(
            "{config}\n[tls]\ncert = \"{0}/mx.pem\"\nkey = \"{0}/mx.key\"\n",
            pki.display()
        ),
    )
    .unwrap();
    for d in DOMAINS {
        mx.admin_ok(&["domain", "add", d]);
        mx.admin_with_stdin(
            &["user", "add", &format!("u@{d}"), "--password-stdin"],
            "secret\n",
        );
    }
    mx.spawn();

    // The policies, over HTTPS.
    let https_port = free_port();
    let mut policy_server = Killed(
        Command::new("python3")
            .args(["-c", POLICY_SERVER, &https_port.to_string()])
            .arg(pki.join("policy.pem"))
            .arg(pki.join("policy.key"))
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut ready = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(policy_server.0.stdout.as_mut().unwrap()),
        &mut ready,
    )
    .unwrap();
    assert_eq!(ready, "ready\n");

    // The domains' records.
    let mut data = vec![
        "mx.good.example. 3600 IN A 127.0.0.1".to_owned(),
        "mx.bad.example. 3600 IN A 127.0.0.1".to_owned(),
    ];
    for d in DOMAINS {
        let mx_host = match d {
            "good.example" | "nomatch.example" => "mx.good.example",
            _ => "mx.bad.example",
        };
        data.push(format!("{d}. 3600 IN MX 10 {mx_host}."));
        data.push(format!("mta-sts.{d}. 3600 IN A 127.0.0.1"));
        if d != "none.example" {
            data.push(format!(
                "_mta-sts.{d}. 3600 IN TXT \"v=STSv1; id=20261206\""
            ));
        }
    }
    let data: Vec<&str> = data.iter().map(String::as_str).collect();
    let dns = Dns::start(&mx.dir.join("dns"), &DOMAINS, &data);

    // The sender: its MX lookups and policy fetches go to the servers above.
    let sender = Server::start(
        "sts-sender",
        &format!(
            "[relay]\nmx_port = {}\nmta_sts_port = {https_port}\nca_file = \"{}\"\n\
             nameservers = [\"127.0.0.1:{}\"]\n[queue]\nmin_backoff = 1\nmax_backoff = 2\n",
            mx.port,
            pki.join("ca.pem").display(),
            dns.port
        ),
    );
    let to: Vec<String> = DOMAINS.iter().map(|d| format!("u@{d}")).collect();
    python(
        include_str!("clients/submission_submit.py"),
        &[
            &sender.submission_port.to_string(),
            "alice@example.com",
            &to.join(","),
            "under MTA-STS",
        ],
    );

    // Delivered where the policy allows it (or there is none).
    for d in ["good.example", "testing.example", "none.example"] {
        wait_for(&format!("the mail to u@{d}"), || {
            mx.messages(&format!("u@{d}")).len() == 1
        });
    }
    let good = String::from_utf8_lossy(&mx.messages("u@good.example")[0]).into_owned();
    assert!(good.contains("with ESMTPS"), "over TLS: {good}");
    // Kept back where it does not, with the reason; tried again, never sent without TLS.
    wait_for("the refusals in the log", || {
        let log = sender.log();
        log.contains("no MX host of nomatch.example is one its MTA-STS policy names")
            && log.contains("certificate not valid for name \"mx.bad.example\"")
    });
    std::thread::sleep(std::time::Duration::from_secs(3));
    for d in ["bad.example", "nomatch.example"] {
        assert!(
            mx.messages(&format!("u@{d}")).is_empty(),
            "nothing reached u@{d}"
        );
    }
    let queue = sender.admin_ok(&["queue", "list"]);
    assert!(
        queue.contains("u@bad.example") && queue.contains("u@nomatch.example"),
        "{queue}"
    );
    // Each policy was fetched once, then kept (max_age) while its id stayed the same, though
    // the kept-back mail was tried again.
    let log = sender.log();
    for d in [
        "good.example",
        "bad.example",
        "nomatch.example",
        "testing.example",
    ] {
        let fetched = log
            .lines()
            .filter(|l| l.contains("mta-sts policy fetched") && l.contains(&format!("domain={d}")))
            .count();
        assert_eq!(fetched, 1, "{d}: {log}");
    }
    assert!(
        log.matches("no MX host of nomatch.example").count() >= 2,
        "{log}"
    );
    drop(policy_server);
}
