//! Password guessing (issue 21): failed logins counted across protocols, answered late,
//! banned on every listener, bans kept across a restart and lifted on time, `mailserver ban`,
//! and the Fail2Ban filter in `contrib/` checked against our log lines by `fail2ban-regex`.

mod support;

use std::time::{Duration, Instant};

use support::dns::Dns;
use support::{Server, python, require};

const CLIENT: &str = include_str!("clients/guard.py");

/// The first line each listener sends a client from `source`: SMTP, submission, IMAP, POP3,
/// then the implicit-TLS IMAPS (where a banned client gets nothing).
fn probe(server: &Server, source: &str) -> Vec<String> {
    let ports = [
        server.port,
        server.submission_port,
        server.imap_port,
        server.pop3_port,
        server.imaps_port,
    ]
    .map(|p| p.to_string());
    let mut args = vec!["probe", source];
    args.extend(ports.iter().map(String::as_str));
    python(CLIENT, &args).lines().map(str::to_owned).collect()
}

fn assert_banned(server: &Server, source: &str) {
    let lines = probe(server, source);
    assert!(
        lines[0].starts_with("421 4.7.0 Your address is banned"),
        "{lines:?}"
    );
    assert!(lines[1].starts_with("421 4.7.0"), "{lines:?}");
    assert!(
        lines[2].starts_with("* BYE Your address is banned"),
        "{lines:?}"
    );
    assert!(
        lines[3].starts_with("-ERR [SYS/TEMP] Your address is banned"),
        "{lines:?}"
    );
    assert_eq!(lines[4], "closed", "no TLS for a banned client");
}

fn login(server: &Server, source: &str) -> String {
    python(CLIENT, &["login", &server.imap_port.to_string(), source])
}

/// Waits up to `seconds` for `check` to hold.
fn within(seconds: u64, check: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    check()
}

#[test]
fn thirty_wrong_passwords_ban_the_address_everywhere_until_the_ban_lifts() {
    require("fail2ban-regex");
    let mut server = Server::start(
        "guard",
        "[guard]\nmax_auth_failures = 10\nban_time = 3600\nauth_failure_delay_ms = 20\nauth_failure_delay_max_ms = 80\n",
    );
    let imap = server.imap_port.to_string();
    let started = Instant::now();
    let out = python(CLIENT, &["guess", &imap, "127.0.0.7", "30"]);
    // Ten answered (each later than the one before, up to the cap), then turned away.
    assert_eq!(out.trim(), "failed 10 refused 20", "{}", server.log());
    assert!(started.elapsed() >= Duration::from_millis(20 + 40 + 80 * 8));
    assert_banned(&server, "127.0.0.7");
    // Its neighbour is not banned, and logs in.
    assert_eq!(login(&server, "127.0.0.8").trim(), "ok");
    let log = server.log();
    assert!(
        log.contains(
            "authentication failed peer=127.0.0.7 protocol=imap user=alice@example.com failures=10"
        ),
        "{log}"
    );
    assert!(log.contains("address banned network=127.0.0.7/32"), "{log}");
    assert!(
        log.contains("connection refused: address banned peer=127.0.0.7"),
        "{log}"
    );
    let listed = server.admin_ok(&["ban", "list"]);
    assert!(
        listed.contains("127.0.0.7/32") && listed.contains("10 failed logins (imap)"),
        "{listed}"
    );

    // Trusted addresses (a webmail on this host) are never delayed or banned.
    let local = python(CLIENT, &["guess", &imap, "127.0.0.1", "12"]);
    assert_eq!(local.trim(), "failed 12 refused 0");
    // The Fail2Ban filter in contrib/ finds every failure but the trusted ones.
    let filter = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../contrib/fail2ban/filter.d/mailserver.conf"
    );
    let log_file = server.dir.join("server.log");
    let f2b = std::process::Command::new("fail2ban-regex")
        .args(["--print-all-matched", log_file.to_str().unwrap(), filter])
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&f2b.stdout);
    assert!(f2b.status.success(), "{report}");
    assert!(report.contains("Failregex: 10 total"), "{report}");
    assert!(report.contains("peer=127.0.0.7 protocol=imap"), "{report}");
    assert!(!report.contains("peer=127.0.0.1 "), "{report}");

    // A restart keeps the ban.
    server.signal("TERM");
    server.wait_exit(Duration::from_secs(20));
    server.spawn();
    assert_banned(&server, "127.0.0.7");
    assert!(
        server
            .log()
            .contains("bans in force from the last run bans=1")
    );

    // Lifted by the admin while the server runs; another added by hand lifts on time.
    server.admin_ok(&["ban", "remove", "127.0.0.7"]);
    assert!(within(5, || login(&server, "127.0.0.7").trim() == "ok"));
    server.admin_ok(&["ban", "add", "127.0.0.9", "--seconds", "4"]);
    assert!(within(5, || probe(&server, "127.0.0.9")[2].starts_with("* BYE")));
    assert!(within(8, || login(&server, "127.0.0.9").trim() == "ok"));
    let bad = server.admin(&["ban", "add", "not-an-address"], "");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("is not an address or network"));
}

/// SMTP AUTH, POP3 and IMAP failures from one address add up to one count.
#[test]
fn failures_over_every_protocol_count_together() {
    let server = Server::start(
        "guard-mixed",
        "[guard]\nmax_auth_failures = 10\nauth_failure_delay_ms = 1\nauth_failure_delay_max_ms = 5\n",
    );
    let (submission, pop3) = (
        server.submission_port.to_string(),
        server.pop3_port.to_string(),
    );
    let out = python(CLIENT, &["mixed", &submission, &pop3, "127.0.0.10", "4"]);
    assert_eq!(out.trim(), "smtp 4 pop3 4", "{}", server.log());
    let imap = server.imap_port.to_string();
    let out = python(CLIENT, &["guess", &imap, "127.0.0.10", "3"]);
    assert_eq!(out.trim(), "failed 2 refused 1", "{}", server.log());
    let log = server.log();
    for protocol in ["smtp", "pop3", "imap"] {
        let line = format!("authentication failed peer=127.0.0.10 protocol={protocol}");
        assert!(log.contains(&line), "{log}");
    }
    assert!(log.contains("reason=10 failed logins (imap)"), "{log}");
}

/// The rate limits: connections per address per minute (turned away at connect), unknown
/// recipients per address (a directory harvest gets 450), messages and recipients per
/// authenticated user (451); each refusal logged.
#[test]
fn rate_limits_answer_4xx_and_are_logged() {
    let server = Server::start(
        "guard-rates",
        // Its clients are strangers on port 25: no SPF lookup may leave for the internet.
        "[sender_auth]\nenabled = false\n[guard]\nmax_connections_per_minute = 4\nmax_unknown_recipients_per_hour = 3\nmax_messages_per_hour = 2\nmax_recipients_per_hour = 3\n",
    );
    let lines = probe(&server, "127.0.0.11");
    assert!(
        lines[..4].iter().all(|l| !l.contains("Too many")),
        "{lines:?}"
    );
    let lines = probe(&server, "127.0.0.11");
    assert!(
        lines[0].starts_with("421 4.7.0 Too many connections from your address"),
        "{lines:?}"
    );
    assert!(
        lines[2].starts_with("* BYE Too many connections"),
        "{lines:?}"
    );
    assert_eq!(lines[4], "closed");
    // Not on another address, nor on a trusted one.
    assert!(probe(&server, "127.0.0.15")[0].starts_with("220 "));
    let smtp = server.port.to_string();
    let out = python(CLIENT, &["harvest", &smtp, "127.0.0.12"]);
    assert_eq!(out.trim(), "550 550 550 450 450", "{}", server.log());
    let submission = server.submission_port.to_string();
    let out = python(CLIENT, &["sending", &submission, "127.0.0.13"]);
    assert_eq!(out.trim(), "250 250 451", "{}", server.log());
    let out = python(CLIENT, &["recipients", &submission, "127.0.0.14"]);
    assert_eq!(out.trim(), "250 250 250 451 451", "{}", server.log());
    let log = server.log();
    for line in [
        "connection refused: too many connections per minute from the address peer=127.0.0.11",
        "recipient rejected: unknown recipients per hour of the address reached",
        "sender rejected: messages per hour of the user reached",
        "recipients per hour of the user reached",
    ] {
        assert!(log.contains(line), "{line}\n{log}");
    }
}

/// DNSBL at connect on port 25, through a local unbound: a listed address gets 554 5.7.1
/// (Postfix's words), an answer outside a zone's filter and an unlisted address are let in,
/// submission is not checked, and a blocklist that does not answer lets clients in, logged.
#[test]
fn dnsbl_listed_clients_are_refused_at_connect_on_port_25() {
    let dir = std::env::temp_dir().join(format!("mailserver-it-{}-dnsbl-zone", std::process::id()));
    let mut dns = Dns::start(
        &dir,
        &["bl.test", "other.test"],
        &[
            "20.0.0.127.bl.test. 300 IN A 127.0.0.2",
            "21.0.0.127.other.test. 300 IN A 127.0.0.4",
        ],
    );
    let server = Server::start(
        "dnsbl",
        &format!(
            "[relay]\nnameservers = [\"127.0.0.1:{}\"]\n[guard]\ndnsbl_zones = [\"bl.test\", \"other.test=127.0.0.5\"]\ndnsbl_timeout_ms = 1000\n",
            dns.port
        ),
    );
    let greeting = |source: &str, port: u16| python(CLIENT, &["probe", source, &port.to_string()]);
    let first = |source: &str| greeting(source, server.port).trim().to_owned();
    assert_eq!(
        first("127.0.0.20"),
        "554 5.7.1 Service unavailable; client [127.0.0.20] blocked using bl.test"
    );
    assert!(first("127.0.0.21").starts_with("220 "));
    assert!(first("127.0.0.22").starts_with("220 "));
    // Submission (the second line) is not checked.
    assert!(greeting("127.0.0.20", server.submission_port).starts_with("220 "));
    let log = server.log();
    assert!(
        log.contains("connection refused: address on a DNS blocklist peer=127.0.0.20"),
        "{log}"
    );
    // The list is down: clients are let in after dnsbl_timeout_ms (less than the probe's
    // 2 s wait for a greeting), and it is logged.
    dns.stop();
    assert!(first("127.0.0.23").starts_with("220 "));
    let log = server.log();
    assert!(log.contains("DNSBL lookup"), "{log}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Greylisting on port 25: a new triplet waits, its retry after the delay passes and lets the
/// client's /24 through (also after a restart); the allow-list's networks and sender domains
/// never wait.
#[test]
fn greylisting_makes_new_senders_retry_once() {
    let mut server = Server::start(
        "greylist",
        "[sender_auth]\nenabled = false\n[guard]\ngreylist = true\ngreylist_delay = 3\ngreylist_allow = [\"127.0.2.0/24\", \"partner.example\"]\n",
    );
    let smtp = server.port.to_string();
    let rcpt = |source: &str, sender: &str, port: &str| {
        python(CLIENT, &["rcpt", port, source, sender])
            .trim()
            .to_owned()
    };
    assert_eq!(rcpt("127.0.0.30", "a@remote.example", &smtp), "451");
    assert_eq!(
        rcpt("127.0.0.30", "a@remote.example", &smtp),
        "451",
        "too early"
    );
    std::thread::sleep(Duration::from_millis(3200));
    assert_eq!(
        rcpt("127.0.0.31", "a@remote.example", &smtp),
        "250",
        "a neighbour retried"
    );
    assert_eq!(server.messages("alice@example.com").len(), 1);
    assert_eq!(
        rcpt("127.0.0.32", "b@elsewhere.example", &smtp),
        "250",
        "let through"
    );
    assert_eq!(
        rcpt("127.0.1.30", "a@remote.example", &smtp),
        "451",
        "another /24"
    );
    assert_eq!(rcpt("127.0.2.5", "c@remote.example", &smtp), "250");
    assert_eq!(rcpt("127.0.3.5", "d@partner.example", &smtp), "250");
    let log = server.log();
    assert!(
        log.contains("recipient greylisted peer=127.0.0.30"),
        "{log}"
    );
    // Kept across a restart.
    server.signal("TERM");
    server.wait_exit(Duration::from_secs(20));
    server.spawn();
    assert_eq!(rcpt("127.0.0.33", "e@new.example", &smtp), "250");
    assert_eq!(rcpt("127.0.1.31", "z@fresh.example", &smtp), "451");
    // The triplet 127.0.1.30 left before the restart was kept: its retry passes.
    std::thread::sleep(Duration::from_millis(3200));
    assert_eq!(rcpt("127.0.1.32", "a@remote.example", &smtp), "250");
}
