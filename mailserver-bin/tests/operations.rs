//! Running it as a mail host: metrics scraped by Debian's Prometheus, health and readiness,
//! the switch to the mail user after binding, private files, certificates swapped by SIGHUP
//! while an IMAP IDLE session stays connected.
#![allow(clippy::unwrap_used)]

mod support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{Server, assert_contains, free_port, require};

/// Sends one message to alice over SMTP.
fn send_to_alice(server: &Server) {
    let mut smtp = server.connect();
    for (line, code) in [
        ("EHLO client.example", "250"),
        ("MAIL FROM:<sender@example.org>", "250"),
        ("RCPT TO:<alice@example.com>", "250"),
        ("DATA", "354"),
    ] {
        let reply = smtp.command(line);
        assert!(reply.starts_with(code), "{line}: {reply}");
    }
    let reply = smtp.command("Subject: hello\r\n\r\nbody\r\n.");
    assert!(reply.starts_with("250"), "{reply}");
    smtp.command("QUIT");
}

/// Waits for `f` to be true, up to `seconds`.
fn wait_for(seconds: u64, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn prometheus_scrapes_the_metrics_and_promtool_finds_them_clean() {
    require("prometheus");
    require("promtool");
    require("curl");
    let server = Server::start("metrics", "");
    assert_eq!(server.http_get("/health"), (200, "ok\n".to_owned()));
    assert_eq!(server.http_get("/ready"), (200, "ready\n".to_owned()));
    send_to_alice(&server);
    let imap = std::net::TcpStream::connect(("127.0.0.1", server.imap_port)).unwrap();
    let mut lines = std::io::BufReader::new(imap.try_clone().unwrap());
    let mut greeting = String::new();
    std::io::BufRead::read_line(&mut lines, &mut greeting).unwrap();
    std::io::Write::write_all(&mut &imap, b"a LOGIN alice@example.com wrong\r\n").unwrap();
    let mut reply = String::new();
    std::io::BufRead::read_line(&mut lines, &mut reply).unwrap();
    assert!(reply.starts_with("a NO"), "{reply}");

    let (status, text) = server.http_get("/metrics");
    assert_eq!(status, 200);
    assert_contains(
        &text,
        &[
            "mailserver_messages_total{result=\"accepted\"} 1",
            "mailserver_connections_total{protocol=\"smtp\",result=\"accepted\"}",
            "mailserver_authentications_total{protocol=\"imap\",result=\"failure\"} 1",
            "mailserver_sessions{protocol=\"imap\"} 1",
            "mailserver_queue_messages 0",
            "mailserver_disk_free_bytes{store=\"mail\"}",
            "mailserver_certificate_expiry_timestamp_seconds",
            "mailserver_backend_latency_seconds_count{backend=\"accounts\"}",
            // The one delivery's rename into new/ was made durable by one sync.
            "mailserver_fsync_batches_total 1\n",
            "mailserver_fsync_batched_changes_total 1\n",
        ],
    );
    let mut lint = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut lint.stdin.take().unwrap(), text.as_bytes()).unwrap();
    let lint = lint.wait_with_output().unwrap();
    assert!(
        lint.status.success() && lint.stdout.is_empty() && lint.stderr.is_empty(),
        "promtool check metrics: {lint:?}\n{text}"
    );

    // Debian's Prometheus scrapes the listener every second; a query on the counter.
    let dir = server.dir.join("prometheus");
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_port();
    std::fs::write(
        dir.join("prometheus.yml"),
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: mailserver\n    \
             static_configs:\n      - targets: ['127.0.0.1:{}']\n",
            server.http_port
        ),
    )
    .unwrap();
    let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
    let mut prometheus = Command::new("prometheus")
        .arg(format!(
            "--config.file={}",
            dir.join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let query = "http://127.0.0.1:{port}/api/v1/query?query=\
                 sum(mailserver_messages_total%7Bresult%3D%22accepted%22%7D)"
        .replace("{port}", &port.to_string());
    let deadline = Instant::now() + Duration::from_secs(60);
    let (found, last) = loop {
        let out = Command::new("curl").args(["-s", &query]).output().unwrap();
        let last = String::from_utf8_lossy(&out.stdout).into_owned();
        if let Ok(answer) = serde_json::from_str::<serde_json::Value>(&last)
            && answer["data"]["result"][0]["value"][1] == "1"
        {
            break (true, last);
        }
        if Instant::now() > deadline {
            break (false, last);
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let _ = prometheus.kill();
    let _ = prometheus.wait();
    assert!(
        found,
        "Prometheus never saw the message: {last}\n{}",
        std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default()
    );
}

/// A system user for the test, made once.
fn mail_user() -> (String, u32) {
    let name = "mwtest";
    if Command::new("id").arg(name).output().unwrap().status.code() != Some(0) {
        let made = Command::new("useradd")
            .args([
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                name,
            ])
            .status()
            .unwrap();
        // Another test binary may have made it meanwhile.
        assert!(
            made.success()
                || Command::new("id")
                    .arg(name)
                    .output()
                    .unwrap()
                    .status
                    .success()
        );
    }
    let uid = String::from_utf8(
        Command::new("id")
            .args(["-u", name])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .parse()
    .unwrap();
    (name.to_owned(), uid)
}

#[test]
fn serves_as_the_mail_user_with_private_files() {
    let (user, uid) = mail_user();
    let mut server = Server::start("privileges", &format!("user = \"{user}\""));
    let pid = server.child.as_ref().unwrap().id().to_string();
    let ps = Command::new("ps")
        .args(["-o", "user=", "-p", &pid])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&ps.stdout).trim(), user);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert_contains(
        &status,
        &[
            &format!("Uid:\t{uid}\t{uid}\t{uid}\t{uid}"),
            "CapEff:\t0000000000000000",
        ],
    );

    send_to_alice(&server);
    let maildir = server.maildir("alice@example.com");
    let new = std::fs::read_dir(maildir.join("new")).unwrap();
    let file = new.map(|e| e.unwrap().path()).next().unwrap();
    let meta = std::fs::metadata(&file).unwrap();
    assert_eq!(
        (meta.uid(), meta.permissions().mode() & 0o777),
        (uid, 0o600)
    );
    for dir in [maildir.clone(), maildir.join("new")] {
        let meta = std::fs::metadata(&dir).unwrap();
        assert_eq!(
            (meta.uid(), meta.permissions().mode() & 0o777),
            (uid, 0o700),
            "{}",
            dir.display()
        );
    }
    let db = std::fs::metadata(server.dir.join("data/accounts.db")).unwrap();
    assert_eq!(db.uid(), uid, "the database made by the admin command");

    // A certificate only root may read: the reload is refused, and the server goes on.
    let certs = server.dir.join("root-only");
    std::fs::create_dir_all(&certs).unwrap();
    make_certificate(&certs, "root-only.example");
    for f in ["cert.pem", "key.pem"] {
        std::fs::set_permissions(certs.join(f), std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let config = std::fs::read_to_string(&server.config).unwrap();
    std::fs::write(
        &server.config,
        format!(
            "{config}[tls]\ncert = \"{0}/cert.pem\"\nkey = \"{0}/key.pem\"\n",
            certs.display()
        ),
    )
    .unwrap();
    server.signal("HUP");
    wait_for(10, "the failed reload", || {
        server.log().contains("reload failed")
    });
    assert_contains(&server.log(), &["Permission denied"]);
    assert_eq!(server.http_get("/ready").0, 200);
    send_to_alice(&server);
    server.signal("TERM");
    assert!(server.wait_exit(Duration::from_secs(30)).success());
}

#[test]
fn a_server_started_by_root_without_a_user_refuses() {
    let mut server = Server::start_bare("root-refused", "");
    server.signal("TERM");
    server.wait_exit(Duration::from_secs(30));
    let text = std::fs::read_to_string(&server.config).unwrap();
    std::fs::write(&server.config, text.replace("run_as_root = true\n", "")).unwrap();
    let out = Command::new(support::BIN)
        .args(["-c", server.config.to_str().unwrap(), "serve"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_contains(
        &String::from_utf8_lossy(&out.stderr),
        &["refusing to serve mail as root", "user = \"vmail\""],
    );
}

/// A self-signed certificate for `name` in `dir` (`cert.pem`, `key.pem`).
fn make_certificate(dir: &std::path::Path, name: &str) {
    require("openssl");
    let made = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
        ])
        .arg(format!("/CN={name}"))
        .arg("-keyout")
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
}

/// The IDLE session stays; a new connection gets the new certificate; the session still
/// hears of new mail. Arguments: IMAPS port, SMTP port, the new certificate's file; reads a
/// line on stdin once idling, when the certificate has been swapped.
const IDLE_ACROSS_RELOAD: &str = r#"
import hashlib, smtplib, socket, ssl, sys
imaps, smtp_port, new_cert = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
def served():
    with socket.create_connection(("127.0.0.1", imaps)) as raw:
        with ctx.wrap_socket(raw) as tls:
            return hashlib.sha256(tls.getpeercert(binary_form=True)).hexdigest()
old = served()
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", imaps)))
f = s.makefile("rb")
def line():
    l = f.readline().decode()
    assert l, "connection closed"
    return l
line()
s.sendall(b"a LOGIN alice@example.com secret\r\n")
while not line().startswith("a OK"): pass
s.sendall(b"b SELECT INBOX\r\n")
while not line().startswith("b OK"): pass
s.sendall(b"c IDLE\r\n")
assert line().startswith("+"), "no continuation"
print("IDLING", flush=True)
sys.stdin.readline()
new = served()
want = hashlib.sha256(ssl.PEM_cert_to_DER_cert(open(new_cert).read())).hexdigest()
assert new != old and new == want, (old, new, want)
with smtplib.SMTP("127.0.0.1", smtp_port) as m:
    m.sendmail("sender@example.org", ["alice@example.com"], "Subject: during idle\r\n\r\nhi\r\n")
l = line()
assert "EXISTS" in l, l
s.sendall(b"DONE\r\n")
while True:
    l = line()
    if l.startswith("c "):
        assert l.startswith("c OK"), l
        break
s.sendall(b"d LOGOUT\r\n")
print("SWAPPED", flush=True)
"#;

#[test]
fn sighup_swaps_the_certificate_while_an_idle_session_stays() {
    let dir = std::env::temp_dir().join(format!("mailserver-it-{}-certs", std::process::id()));
    let (old, new) = (dir.join("old"), dir.join("new"));
    for (d, name) in [(&old, "old.example"), (&new, "new.example")] {
        std::fs::create_dir_all(d).unwrap();
        make_certificate(d, name);
    }
    let live = dir.join("live");
    std::fs::create_dir_all(&live).unwrap();
    for f in ["cert.pem", "key.pem"] {
        std::fs::copy(old.join(f), live.join(f)).unwrap();
    }
    let server = Server::start(
        "reload",
        &format!(
            "[tls]\ncert = \"{0}/cert.pem\"\nkey = \"{0}/key.pem\"\n",
            live.display()
        ),
    );
    let mut client = Command::new("timeout")
        .args(["60", "python3", "-c", IDLE_ACROSS_RELOAD])
        .args([
            server.imaps_port.to_string(),
            server.port.to_string(),
            new.join("cert.pem").display().to_string(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(client.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
    assert_eq!(line, "IDLING\n", "{}", server.log());
    // As certbot's deploy hook does: new files, then `systemctl reload`.
    for f in ["cert.pem", "key.pem"] {
        std::fs::copy(new.join(f), live.join(f)).unwrap();
    }
    server.signal("HUP");
    wait_for(10, "the reload", || server.log().contains("reloaded"));
    std::io::Write::write_all(&mut client.stdin.take().unwrap(), b"go\n").unwrap();
    let out = client.wait_with_output().unwrap();
    line.clear();
    std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
    assert!(
        out.status.success() && line == "SWAPPED\n",
        "{line}\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        server.log()
    );
}

/// A tmpfs mounted for a test, unmounted when dropped (after the server using it).
struct Mounted(std::path::PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn an_alert_reaches_the_postmaster_when_the_file_system_fills() {
    let mut server = Server::prepare(
        "alert",
        "[alerts]\ninterval = 1\nmin_free_percent = 30.0\n[limits]\nmin_free_space = 0\n",
    );
    let data = server.dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=16m", "tmpfs"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(mounted.status.success(), "mount a tmpfs: {mounted:?}");
    let _mount = Mounted(data.clone());
    server.admin_ok(&["domain", "add", "example.com"]);
    server.admin_with_stdin(
        &["user", "add", "alice@example.com", "--password-stdin"],
        "secret\n",
    );
    server.admin_ok(&[
        "alias",
        "add",
        "postmaster@example.com",
        "alice@example.com",
    ]);
    server.spawn();
    let (_, text) = server.http_get("/metrics");
    assert!(
        !text.contains("mailserver_alert{kind=\"disk\"} 1"),
        "{text}"
    );

    // Filled to 80 %: 20 % free, below the 30 % of the configuration.
    std::fs::write(data.join("filler"), vec![0u8; 13 * 1024 * 1024]).unwrap();
    wait_for(20, "the alert in alice's INBOX", || {
        server
            .messages("alice@example.com")
            .iter()
            .any(|m| String::from_utf8_lossy(m).contains("disk space low"))
    });
    let alert = server
        .messages("alice@example.com")
        .into_iter()
        .map(|m| String::from_utf8_lossy(&m).into_owned())
        .find(|m| m.contains("disk space low"))
        .unwrap();
    assert_contains(
        &alert,
        &[
            "Subject: [mx.example.com] disk space low:",
            "Auto-Submitted: auto-generated",
            "below min_free_percent = 30",
        ],
    );
    assert_contains(&server.log(), &["WARN", "alert: disk space low"]);
    let (_, text) = server.http_get("/metrics");
    assert_contains(&text, &["mailserver_alert{kind=\"disk\"} 1"]);
    // Told once, not at every check.
    std::thread::sleep(Duration::from_secs(3));
    let told = server
        .messages("alice@example.com")
        .iter()
        .filter(|m| String::from_utf8_lossy(m).contains("disk space low"))
        .count();
    assert_eq!(told, 1);

    std::fs::remove_file(data.join("filler")).unwrap();
    wait_for(10, "the alert to clear", || {
        server.log().contains("alert cleared")
    });
    let (_, text) = server.http_get("/metrics");
    assert_contains(&text, &["mailserver_alert{kind=\"disk\"} 0"]);
    server.signal("TERM");
    server.wait_exit(Duration::from_secs(30));
}

/// `mailserver dns`'s records of `domains`, as the test DNS server takes them.
fn published(server: &Server, domains: &[&str]) -> Vec<String> {
    domains
        .iter()
        .flat_map(|d| {
            server
                .admin_ok(&["dns", d])
                .lines()
                .filter(|l| !l.starts_with(';'))
                .map(|l| l.replace("( ", "").replace(" )", "").replace('\t', " "))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn status_says_what_needs_attention() {
    let dns_port = free_port();
    let mut server = Server::start(
        "status",
        &format!("[relay]\nnameservers = [\"127.0.0.1:{dns_port}\"]\n"),
    );
    let records = published(&server, &["example.com", "example.net"]);
    let data: Vec<&str> = records.iter().map(String::as_str).collect();
    let zones = ["example.com", "example.net"];
    let dns = support::dns::Dns::start_on(dns_port, &server.dir.join("dns"), &zones, &data);

    let out = server.admin(&["status"], "");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_contains(
        &text,
        &[
            "mailserver 0.1.0 on mx.example.com, up 0d 0h 0m",
            &format!("smtp 127.0.0.1:{}", server.port),
            "sessions: ",
            "queue: 0 messages",
            "accounts backend: answering",
            "certificate: expires in 8",
            "DNS example.com: MX, SPF, DKIM and DMARC as ours",
            "nothing needs attention",
        ],
    );
    let out = server.admin(&["status", "--json"], "");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["server"]["hostname"], "mx.example.com");
    assert_eq!(report["attention"], serde_json::json!([]));

    // example.net publishes another DKIM key: the admin is told, and the exit status says so.
    drop(dns);
    let changed: Vec<String> = records
        .iter()
        .map(|r| {
            if r.starts_with("mail._domainkey.example.net.") {
                r.replacen("p=", "p=AAAA", 1)
            } else {
                r.clone()
            }
        })
        .collect();
    let data: Vec<&str> = changed.iter().map(String::as_str).collect();
    let _dns = support::dns::Dns::start_on(dns_port, &server.dir.join("dns2"), &zones, &data);
    let out = server.admin(&["status"], "");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    assert_contains(
        &text,
        &[
            "needs attention:",
            "example.net: DKIM at mail._domainkey.example.net is",
        ],
    );

    // The server stopped: said so.
    server.signal("TERM");
    server.wait_exit(Duration::from_secs(30));
    let out = server.admin(&["status"], "");
    assert!(!out.status.success());
    assert_contains(
        &String::from_utf8_lossy(&out.stdout),
        &["the server does not answer on http://127.0.0.1:"],
    );
}

#[test]
fn systemd_hears_ready_the_watchdog_reloading_and_stopping() {
    let mut server = Server::prepare("notify", "");
    server.admin_ok(&["domain", "add", "example.com"]);
    let path = server.dir.join("notify.sock");
    let socket = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    server.env = vec![
        ("NOTIFY_SOCKET".into(), path.display().to_string()),
        ("WATCHDOG_USEC".into(), "400000".into()),
    ];
    server.spawn();
    let next = || {
        let mut buf = [0u8; 512];
        let n = socket.recv(&mut buf).expect("a notification");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    // Readiness once serving, then the watchdog every 200 ms.
    assert_eq!(next(), "READY=1\n");
    assert_eq!(next(), "WATCHDOG=1\n");
    server.signal("HUP");
    let mut seen = Vec::new();
    while !seen
        .iter()
        .any(|m: &String| m.starts_with("RELOADING=1\nMONOTONIC_USEC="))
    {
        seen.push(next());
    }
    while next() != "READY=1\n" {}
    server.signal("TERM");
    while next() != "STOPPING=1\n" {}
    server.wait_exit(Duration::from_secs(30));
}

/// MAIL, RCPT and a message of about `size` octets to alice on an open SMTP session: the
/// reply to its end.
fn send_sized(smtp: &mut support::Raw, size: usize) -> String {
    for (line, code) in [
        ("MAIL FROM:<sender@example.org>", "250"),
        ("RCPT TO:<alice@example.com>", "250"),
        ("DATA", "354"),
    ] {
        let reply = smtp.command(line);
        assert!(reply.starts_with(code), "{line}: {reply}");
    }
    let body = "x".repeat(76) + "\r\n";
    smtp.command(&format!(
        "Subject: sized\r\n\r\n{}.",
        body.repeat(size / body.len() + 1)
    ))
}

/// The SIZE an EHLO advertises.
fn advertised_size(smtp: &mut support::Raw) -> String {
    let ehlo = smtp.command("EHLO client.example");
    ehlo.lines()
        .find_map(|l| l.strip_prefix("250-SIZE ").or(l.strip_prefix("250 SIZE ")))
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn sighup_applies_the_new_configuration_to_new_sessions_only() {
    let server = Server::start(
        "reconfigure",
        "[limits]\nmax_message_size = 100000\nmax_connections_per_address = 10\n\
         [imap]\nlisting_cache = 500\n",
    );
    let mut before = server.connect();
    assert_eq!(advertised_size(&mut before), "100000");
    let reloads = |server: &Server| server.log().matches("reloaded;").count();
    let text = std::fs::read_to_string(&server.config).unwrap();
    let changed = text
        .replace("max_message_size = 100000", "max_message_size = 3000")
        .replace(
            "max_connections_per_address = 10",
            "max_connections_per_address = 2",
        )
        .replace("listing_cache = 500", "listing_cache = 900");
    std::fs::write(&server.config, &changed).unwrap();
    server.signal("HUP");
    wait_for(10, "the reload", || reloads(&server) == 1);
    assert_contains(
        &server.log(),
        &[
            "take effect only after a restart",
            "[imap] separator, listing_cache",
        ],
    );
    // A new session has the new limit; the one already open keeps its own.
    let mut after = server.connect();
    assert_eq!(advertised_size(&mut after), "3000");
    let refused = send_sized(&mut after, 5000);
    assert!(refused.starts_with("552"), "{refused}");
    assert_eq!(advertised_size(&mut before), "100000");
    let accepted = send_sized(&mut before, 5000);
    assert!(accepted.starts_with("250"), "{accepted}");
    // The two open sessions were counted before the reload and still are: a third from the
    // same address is now one too many.
    let third = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    let mut greeting = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(third), &mut greeting).unwrap();
    assert!(greeting.starts_with("421"), "{greeting}");
    // A file that does not load changes nothing.
    std::fs::write(&server.config, format!("{changed}\n[limits\n")).unwrap();
    server.signal("HUP");
    wait_for(10, "the failed reload", || {
        server.log().contains("reload failed")
    });
    after.command("QUIT");
    let mut later = server.connect();
    assert_eq!(advertised_size(&mut later), "3000");
    assert_eq!(reloads(&server), 1);
    before.command("QUIT");
}
