//! Submission (587 STARTTLS, 465 TLS) with real clients (Python smtplib, swaks), and the
//! outbound queue delivering to a relay host played by Postfix's smtp-sink, or by a second
//! mailserver that requires STARTTLS with a private CA and AUTH.

#![allow(clippy::unwrap_used)]

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::sink::Sink;
use support::{
    Server, assert_contains, free_port, private_ca, python, require, strip_delivery_fields,
};

fn relay_config(port: u16, extra: &str) -> String {
    format!(
        "[relay]\nhost = \"[127.0.0.1]:{port}\"\ntls = \"none\"\n{extra}\n[queue]\nmin_backoff = 1\nmax_backoff = 2\n"
    )
}

/// Sends with smtplib over 587 + STARTTLS as alice; prints the refused recipients.
const SUBMIT: &str = include_str!("clients/submission_submit.py");

fn submit(server: &Server, to: &str, subject: &str) {
    python(
        SUBMIT,
        &[
            &server.submission_port.to_string(),
            "alice@example.com",
            to,
            subject,
        ],
    );
}

/// Like `submit`, with DSN parameters for MAIL and for every RCPT.
fn submit_dsn(server: &Server, to: &str, subject: &str, mail: &str, rcpt: &str) {
    python(
        SUBMIT,
        &[
            &server.submission_port.to_string(),
            "alice@example.com",
            to,
            subject,
            mail,
            rcpt,
        ],
    );
}

/// Waits for `count` messages in `user`'s new/.
fn wait_messages(server: &Server, user: &str, count: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = server.messages(user);
        if got.len() >= count {
            return got
                .iter()
                .map(|m| String::from_utf8_lossy(m).into_owned())
                .collect();
        }
        assert!(
            Instant::now() < deadline,
            "{user} has {} of {count} messages; log:\n{}",
            got.len(),
            server.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Sends a test message as alice with swaks; `tls` is `--tls` (STARTTLS) or `--tls-on-connect`.
fn swaks(port: u16, tls: &str, auth: &str, to: &str, extra: &[&str]) {
    require("swaks");
    let out = Command::new("swaks")
        .args([
            "--server",
            &format!("127.0.0.1:{port}"),
            tls,
            "--auth",
            auth,
        ])
        .args([
            "--auth-user",
            "alice@example.com",
            "--auth-password",
            "secret",
        ])
        .args(["--from", "alice@example.com", "--to", to])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "swaks: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// Waits until the queue has nothing left.
fn wait_queue_empty(server: &Server) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !server
        .admin_ok(&["queue", "list"])
        .contains("the queue is empty")
    {
        assert!(
            Instant::now() < deadline,
            "queue not empty; log:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn header_section(message: &[u8]) -> String {
    let text = String::from_utf8_lossy(message);
    text.split("\r\n\r\n").next().unwrap_or("").to_owned()
}

/// What the relay got, without what smtp-sink puts in front (X-Client-Addr and friends, and
/// its own Received: line).
fn relayed_message(dump: &[u8]) -> &[u8] {
    let ours = b"Received: by mx.example.com";
    let start = dump
        .windows(ours.len())
        .position(|w| w == ours)
        .expect("no Received: line of ours in the dump");
    &dump[start..]
}

#[test]
fn submission_relays_through_postfix_smtp_sink_and_delivers_locally() {
    let sink_port = free_port();
    let sink = Sink::start("relay", sink_port, &[]);
    let server = Server::start("submission", &relay_config(sink.port, ""));
    submit(&server, "someone@remote.example,bob@example.com", "first");
    let dumps = sink.wait_for(1);
    assert_eq!(dumps.len(), 1);
    let dump = String::from_utf8_lossy(&dumps[0]).to_string();
    assert_contains(
        &dump,
        &[
            "X-Mail-Args: <alice@example.com>",
            "X-Rcpt-Args: <someone@remote.example>",
        ],
    );
    assert!(
        !dump.contains("bob@example.com>"),
        "local recipients stay here: {dump}"
    );
    // Bob's copy is the one that went out, byte for byte.
    wait_messages(&server, "bob@example.com", 1);
    let local = server.messages("bob@example.com").remove(0);
    let local = strip_delivery_fields(&local).to_vec();
    // smtp-sink stores lines with LF endings and a record separator after the message.
    let relayed = String::from_utf8_lossy(relayed_message(&dumps[0])).to_string();
    let local_text = String::from_utf8_lossy(&local).replace("\r\n", "\n");
    assert_eq!(relayed.strip_suffix('\n'), Some(local_text.as_str()));
    // RFC 6409 completion, and no client address in the trace.
    let header = header_section(&local);
    assert_contains(&header, &["\r\nMessage-ID: <", "\r\nDate: "]);
    assert!(
        header.starts_with("Received: by mx.example.com (mailserver) with ESMTPSA id "),
        "{header}"
    );
    assert!(
        !header.contains("127.0.0.1") && !header.contains("laptop"),
        "{header}"
    );
    assert!(String::from_utf8_lossy(&local).ends_with("Hello.\r\n.leading dot\r\n"));

    // swaks over 465 (implicit TLS), AUTH LOGIN; a message that has its own Message-ID keeps it.
    swaks(
        server.submissions_port,
        "--tls-on-connect",
        "LOGIN",
        "other@remote.example",
        &["--header", "Message-Id: <own@alice.example>"],
    );
    // And the other way round: swaks on 587 with STARTTLS, smtplib on 465.
    swaks(
        server.submission_port,
        "--tls",
        "PLAIN",
        "third@remote.example",
        &[],
    );
    let smtps = r#"
import smtplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP_SSL("127.0.0.1", int(sys.argv[1]), context=ctx, timeout=30)
s.login("alice@example.com", "secret")
print(s.sendmail("alice@example.com", ["fourth@remote.example"], b"Subject: over 465\r\n\r\nhi\r\n"))
s.quit()
"#;
    assert_eq!(
        python(smtps, &[&server.submissions_port.to_string()]),
        "{}\n"
    );
    let dumps = sink.wait_for(4);
    for to in ["third@remote.example", "fourth@remote.example"] {
        assert!(
            dumps
                .iter()
                .any(|d| String::from_utf8_lossy(d).contains(&format!("X-Rcpt-Args: <{to}>"))),
            "{to} not relayed"
        );
    }
    // Dump files made in the same second sort in random order.
    let second = dumps
        .iter()
        .map(|d| String::from_utf8_lossy(relayed_message(d)).to_string())
        .find(|d| d.contains("Message-Id: <own@alice.example>"))
        .expect("swaks's message was not relayed");
    assert!(
        !second.contains("Message-ID: <"),
        "no second Message-ID: {second}"
    );
    wait_queue_empty(&server);

    // Several local recipients of a queued message each get their own copy, with the
    // Return-Path and Delivered-To that are theirs (as Postfix's virtual(8) writes them).
    submit(
        &server,
        "carol@example.com,dave@example.com,x@remote.example",
        "shared",
    );
    wait_queue_empty(&server);
    for user in ["carol", "dave"] {
        let copy = server.messages(&format!("{user}@example.com")).remove(0);
        let text = String::from_utf8_lossy(&copy);
        assert!(
            text.starts_with(&format!(
                "Return-Path: <alice@example.com>\r\nDelivered-To: {user}@example.com\r\n"
            )),
            "{text}"
        );
    }
}

#[test]
fn submission_refuses_strangers_and_port_25_never_relays() {
    let server = Server::start("submission-refusals", &relay_config(free_port(), ""));
    server.admin_ok(&["alias", "add", "sales@example.com", "alice@example.com"]);
    server.admin_ok(&["alias", "add", "@example.net", "alice@example.com"]);
    let script = r#"
import base64, smtplib, ssl, sys
port, mx = int(sys.argv[1]), int(sys.argv[2])
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
def b64(s): return base64.b64encode(s.encode()).decode()
s = smtplib.SMTP("127.0.0.1", port, timeout=30)
s.ehlo("client.example")
# MAIL before AUTH
print("noauth", s.docmd("MAIL FROM:<alice@example.com>")[0])
s.starttls(context=ctx); s.ehlo("client.example")
print("auth-offered", "PLAIN" in s.esmtp_features.get("auth", "") and "LOGIN" in s.esmtp_features.get("auth", ""))
# Outlook's AUTH LOGIN with the user name on the command line.
print("login", s.docmd("AUTH LOGIN " + b64("alice@example.com"))[0], s.docmd(b64("secret"))[0])
for sender in ["bob@example.com", "sales@example.com", "anyone@example.net", "<>", "alice@example.com"]:
    code = s.docmd("MAIL FROM:<%s>" % sender.strip("<>"))[0]
    print("from", sender, code)
    if code == 250: s.docmd("RSET")
s.quit()
m = smtplib.SMTP("127.0.0.1", mx, timeout=30)
m.ehlo("client.example")
print("mx-auth", "auth" in m.esmtp_features)
m.docmd("MAIL FROM:<alice@example.com>")
print("mx-relay", m.docmd("RCPT TO:<someone@remote.example>")[0])
m.quit()
"#;
    let out = python(
        script,
        &[
            &server.submission_port.to_string(),
            &server.port.to_string(),
        ],
    );
    let expected = "noauth 530\nauth-offered True\nlogin 334 235\nfrom bob@example.com 553\nfrom sales@example.com 250\nfrom anyone@example.net 553\nfrom <> 553\nfrom alice@example.com 250\nmx-auth False\nmx-relay 554\n";
    assert_eq!(out, expected);

    // PostfixAdmin's smtp_active: the password still opens the mailbox, not submission.
    let login = r#"
import smtplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=30)
s.starttls(context=ctx)
try:
    s.login("bob@example.com", "secret"); print("235")
except smtplib.SMTPAuthenticationError as e:
    print(e.smtp_code)
"#;
    let port = server.submission_port.to_string();
    server.admin_ok(&["user", "smtp", "bob@example.com", "off"]);
    assert_eq!(python(login, &[&port]), "535\n");
    server.admin_ok(&["user", "smtp", "bob@example.com", "on"]);
    assert_eq!(python(login, &[&port]), "235\n");
}

#[test]
fn relay_down_then_up_kill_9_in_between_delivers_each_message_once() {
    let sink_port = free_port();
    let mut server = Server::start("queue-restart", &relay_config(sink_port, ""));
    for i in 1..=3 {
        submit(&server, "someone@remote.example", &format!("queued {i}"));
    }
    // Every attempt fails: the relay is down.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let list = server.admin_ok(&["queue", "list"]);
        if list.matches("deferred").count() == 3 && list.contains("cannot connect") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not deferred: {list}\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let list = server.admin_ok(&["queue", "list", "--json"]);
    let id = list
        .split("\"id\":\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    assert!(
        server
            .admin_ok(&["queue", "show", &id])
            .contains("Subject: queued")
    );
    server.admin_ok(&["queue", "hold", &id]);
    // SIGKILL in the middle of retrying, then a restart with the relay up.
    let mut child = server.child.take().unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let sink = Sink::start("restart", sink_port, &[]);
    server.spawn();
    server.admin_ok(&["queue", "flush"]);
    let dumps = sink.wait_for(2);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(sink.messages().len(), 2, "the held message stays");
    assert!(server.admin_ok(&["queue", "list"]).contains("hold"));
    server.admin_ok(&["queue", "release", &id]);
    sink.wait_for(3);
    std::thread::sleep(Duration::from_secs(2));
    let mut subjects: Vec<String> = sink
        .messages()
        .iter()
        .map(|m| {
            let text = String::from_utf8_lossy(m).to_string();
            text.lines()
                .find(|l| l.starts_with("Subject: "))
                .unwrap()
                .to_owned()
        })
        .collect();
    subjects.sort();
    assert_eq!(
        subjects,
        vec![
            "Subject: queued 1",
            "Subject: queued 2",
            "Subject: queued 3"
        ],
        "each message exactly once"
    );
    drop(dumps);
    wait_queue_empty(&server);
}

#[test]
fn a_permanent_refusal_bounces_to_the_sender_mailbox() {
    let sink_port = free_port();
    let _sink = Sink::start("reject", sink_port, &["-f", "RCPT"]);
    let server = Server::start("bounce", &relay_config(sink_port, ""));
    submit(
        &server,
        "nobody@remote.example,bob@example.com",
        "will bounce",
    );
    wait_messages(&server, "alice@example.com", 1);
    let bounce = String::from_utf8_lossy(&server.messages("alice@example.com")[0]).to_string();
    assert_contains(
        &bounce,
        &[
            "Content-Type: multipart/report; report-type=delivery-status",
            "Final-Recipient: rfc822; nobody@remote.example",
            "Action: failed",
            "Status: 5.",
            "Diagnostic-Code: smtp; 5",
        ],
    );
    assert!(
        bounce.contains("Subject: will bounce"),
        "the original is attached: {bounce}"
    );
    assert!(
        !bounce.contains("bob@example.com"),
        "bob got his copy: {bounce}"
    );
    assert_eq!(server.messages("bob@example.com").len(), 1);
    wait_queue_empty(&server);
}

#[test]
fn relay_with_starttls_against_a_private_ca_and_auth() {
    // The relay host: a second mailserver whose submission port wants STARTTLS and AUTH, with
    // a certificate from a private CA.
    let ca_dir = std::env::temp_dir().join(format!("relay-ca-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&ca_dir);
    std::fs::create_dir_all(&ca_dir).unwrap();
    private_ca(&ca_dir);
    let pem = |f: &str| ca_dir.join(f).display().to_string();
    let relay = Server::start(
        "relay-host",
        &format!(
            "[tls]\ncert = \"{}\"\nkey = \"{}\"\n",
            pem("server.pem"),
            pem("server.key")
        ),
    );
    relay.admin_ok(&["domain", "add", "remote.example"]);
    relay.admin_with_stdin(
        &["user", "add", "someone@remote.example", "--password-stdin"],
        "far\n",
    );
    let config = format!(
        "[relay]\nhost = \"[127.0.0.1]:{}\"\ntls = \"required\"\nca_file = \"{}\"\nusername = \"alice@example.com\"\npassword = \"secret\"\n[queue]\nmin_backoff = 1\n",
        relay.submission_port,
        pem("ca.pem")
    );
    let server = Server::start("relay-client", &config);
    submit(&server, "someone@remote.example", "over tls");
    let deadline = Instant::now() + Duration::from_secs(20);
    while relay.messages("someone@remote.example").is_empty() {
        assert!(
            Instant::now() < deadline,
            "nothing relayed; log:\n{}\nrelay log:\n{}",
            server.log(),
            relay.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let got = String::from_utf8_lossy(&relay.messages("someone@remote.example")[0]).to_string();
    assert!(
        got.contains("with ESMTPSA"),
        "TLS and AUTH on the relay leg: {got}"
    );
    assert!(got.contains("Subject: over tls"));

    // The same relay with a CA that did not sign its certificate: nothing goes, it waits.
    let wrong_ca = ca_dir.join("wrong");
    std::fs::create_dir_all(&wrong_ca).unwrap();
    private_ca(&wrong_ca);
    let config = config.replace(
        &pem("ca.pem"),
        &wrong_ca.join("ca.pem").display().to_string(),
    );
    let untrusting = Server::start("relay-client-wrong-ca", &config);
    submit(&untrusting, "someone@remote.example", "must wait");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let list = untrusting.admin_ok(&["queue", "list"]);
        if list.contains("deferred") {
            assert!(list.contains("TLS"), "{list}");
            break;
        }
        assert!(Instant::now() < deadline, "{list}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(relay.messages("someone@remote.example").len(), 1);
    let _ = std::fs::remove_dir_all(&ca_dir);
}

#[test]
fn an_alias_forwarding_outside_goes_through_the_queue_and_keeps_a_copy() {
    let sink_port = free_port();
    let sink = Sink::start("forward", sink_port, &[]);
    let server = Server::start("forward", &relay_config(sink_port, ""));
    // PostfixAdmin's forward-and-keep: the mailbox is among its own alias's targets.
    server.admin_ok(&[
        "alias",
        "add",
        "carol@example.com",
        "carol@example.com",
        "carol@elsewhere.example",
    ]);
    let script = r#"
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=30)
print(s.sendmail("sender@outside.example", ["carol@example.com"], b"Subject: fwd\r\n\r\nforward me\r\n"))
s.quit()
"#;
    assert_eq!(python(script, &[&server.port.to_string()]), "{}\n");
    let dumps = sink.wait_for(1);
    let dump = String::from_utf8_lossy(&dumps[0]).to_string();
    assert!(
        dump.contains("X-Rcpt-Args: <carol@elsewhere.example>"),
        "{dump}"
    );
    assert!(dump.contains("forward me"));
    // SRS: the forward leaves under our domain, so SPF at elsewhere.example checks us.
    let srs = dump
        .lines()
        .find_map(|l| l.strip_prefix("X-Mail-Args: <"))
        .and_then(|l| l.split('>').next())
        .unwrap()
        .to_owned();
    assert!(srs.starts_with("SRS0="), "{srs}");
    assert!(
        srs.ends_with("=outside.example=sender@mx.example.com"),
        "{srs}"
    );
    wait_messages(&server, "carol@example.com", 1);
    // A bounce to the SRS address goes back to the original sender; a forged one is refused.
    let script = r#"
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=30)
s.ehlo("elsewhere.example")
s.docmd("MAIL FROM:<>")
print(s.docmd("RCPT TO:<%s>" % sys.argv[2])[0])
print(s.docmd("RCPT TO:<%s>" % sys.argv[2].replace("SRS0=", "SRS0=X", 1))[0])
print(s.docmd("DATA")[0])
s.send(b"Subject: bounce\r\n\r\nreturned\r\n.\r\n")
print(s.getreply()[0])
s.quit()
"#;
    let out = python(script, &[&server.port.to_string(), &srs]);
    assert_eq!(out, "250\n550\n354\n250\n");
    let dumps = sink.wait_for(2);
    assert!(
        dumps
            .iter()
            .any(|d| String::from_utf8_lossy(d).contains("X-Rcpt-Args: <sender@outside.example>")),
        "the bounce went on to the original sender"
    );
}

/// Checks every DKIM signature of a message (stdin) with dkimpy, the DNS answered from the
/// records `mailserver dns` printed (argv[1]); prints one result per signature.

#[test]
fn outgoing_mail_is_dkim_signed_and_dkimpy_verifies_it() {
    let sink_port = free_port();
    let sink = Sink::start("dkim", sink_port, &[]);
    let server = Server::start("dkim", &relay_config(sink_port, ""));
    let zone = server.admin_ok(&["dns", "example.com"]);
    for expected in [
        "example.com.\t3600\tIN\tMX\t10 mx.example.com.",
        "example.com.\t3600\tIN\tTXT\t\"v=spf1 mx -all\"",
        "mail._domainkey.example.com.\t3600\tIN\tTXT\t( \"v=DKIM1; k=rsa; p=",
        "mail-ed25519._domainkey.example.com.\t3600\tIN\tTXT\t\"v=DKIM1; k=ed25519; p=",
        "_dmarc.example.com.\t3600\tIN\tTXT\t\"v=DMARC1; p=none; rua=mailto:postmaster@example.com\"",
        &format!(
            "_submission._tcp.example.com.\t3600\tIN\tSRV\t0 1 {} mx.example.com.",
            server.submission_port
        ),
        &format!(
            "_imaps._tcp.example.com.\t3600\tIN\tSRV\t0 1 {} mx.example.com.",
            server.imaps_port
        ),
    ] {
        assert!(zone.contains(expected), "missing {expected:?} in\n{zone}");
    }
    // The keys stay: asking again prints the same records.
    assert_eq!(server.admin_ok(&["dns", "example.com"]), zone);
    let refused = server.admin(&["dns", "not-ours.example"], "");
    assert!(!refused.status.success());
    let zone_file = server.dir.join("zone.txt");
    std::fs::write(&zone_file, &zone).unwrap();

    submit(&server, "someone@remote.example", "signed");
    let dumps = sink.wait_for(1);
    let dump = String::from_utf8_lossy(&dumps[0]).to_string();
    // What the relay received, from our first header on, with its CRLFs back.
    let start = dump.find("DKIM-Signature:").expect("no DKIM-Signature");
    let message = dump[start..]
        .strip_suffix('\n')
        .unwrap()
        .replace('\n', "\r\n");
    assert_eq!(message.matches("DKIM-Signature:").count(), 2, "{message}");
    let verdicts = support::dkim_verdicts(&zone_file, &message);
    assert_eq!(
        verdicts, "0 True\n1 True\n",
        "dkimpy: {verdicts}\n{message}"
    );

    // Every domain added has keys from the start (example.net's were made by `domain add`,
    // and the zone shows them in the form RFC 6376 §3.6.1 wants: SubjectPublicKeyInfo).
    let net = server.admin_ok(&["dns", "example.net"]);
    assert!(
        net.contains("k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"),
        "{net}"
    );
    assert!(net.contains("k=ed25519; p="), "{net}");
    // Mail from a domain without keys (removed here) goes out unsigned.
    std::fs::remove_dir_all(server.dir.join("data/dkim/example.net")).unwrap();
    server.admin_ok(&["alias", "add", "alice@example.net", "alice@example.com"]);
    python(
        &SUBMIT.replace(
            "From: Alice <alice@example.com>",
            "From: Alice <alice@example.net>",
        ),
        &[
            &server.submission_port.to_string(),
            "alice@example.net",
            "someone@remote.example",
            "unsigned",
        ],
    );
    let dumps = sink.wait_for(2);
    let unsigned = dumps
        .iter()
        .map(|d| String::from_utf8_lossy(d).to_string())
        .find(|d| d.contains("Subject: unsigned"))
        .unwrap();
    assert!(!unsigned.contains("DKIM-Signature"), "{unsigned}");
}

/// A small authoritative DNS server on UDP for the MX tests: MX and A records from a JSON
/// table (argv[2]); names listed under "nxdomain" do not exist; anything else has no records.
const FAKE_DNS: &str = include_str!("clients/submission_fake_dns.py");

#[test]
fn without_a_relay_mail_goes_to_each_domains_mx_hosts_in_order() {
    let sink_port = free_port();
    let sink = Sink::start("mx", sink_port, &[]);
    let dns_port = free_port();
    let zone = r#"{
        "remote.example": {"MX": [[10, "mx1.remote.example"], [20, "mx2.remote.example"]]},
        "mx1.remote.example": {"A": "127.0.0.3"},
        "mx2.remote.example": {"A": "127.0.0.1"},
        "implicit.example": {"A": "127.0.0.1"},
        "nullmx.example": {"MX": [[0, "."]]},
        "backup.example": {"MX": [[10, "primary.backup.example"], [20, "mx.example.com"]]},
        "primary.backup.example": {"A": "127.0.0.1"},
        "nxdomain": ["gone.example"]
    }"#;
    let mut dns = Command::new("python3")
        .args(["-c", FAKE_DNS, &dns_port.to_string(), zone])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut ready = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(dns.stdout.as_mut().unwrap()),
        &mut ready,
    )
    .unwrap();
    assert_eq!(ready, "ready\n");
    let config = format!(
        "[relay]\nmx_port = {sink_port}\nnameservers = [\"127.0.0.1:{dns_port}\"]\n[queue]\nmin_backoff = 1\n"
    );
    let server = Server::start("mx", &config);
    submit(
        &server,
        "someone@remote.example,other@implicit.example",
        "via mx",
    );
    submit(&server, "a@nullmx.example,b@gone.example", "no route");
    let dumps = sink.wait_for(2);
    let texts: Vec<String> = dumps
        .iter()
        .map(|d| String::from_utf8_lossy(d).to_string())
        .collect();
    // The first MX host refuses connections; the second takes the mail.
    assert!(
        texts
            .iter()
            .any(|t| t.contains("X-Rcpt-Args: <someone@remote.example>")),
        "{texts:?}"
    );
    assert!(
        texts
            .iter()
            .any(|t| t.contains("X-Rcpt-Args: <other@implicit.example>")),
        "{texts:?}"
    );
    wait_messages(&server, "alice@example.com", 1);
    let bounce = String::from_utf8_lossy(&server.messages("alice@example.com")[0]).to_string();
    assert_contains(
        &bounce,
        &[
            "Final-Recipient: rfc822; a@nullmx.example",
            "Status: 5.1.10",
            "Final-Recipient: rfc822; b@gone.example",
            "Status: 5.1.2",
        ],
    );
    assert!(
        server.log().contains("mx1.remote.example[127.0.0.3]"),
        "the first MX was tried"
    );

    // A backup MX (PostfixAdmin's backupmx): any address of the domain is taken on port 25
    // and passed on to the more preferred MX host, never to ourselves, sender unchanged.
    server.admin_ok(&["domain", "add", "backup.example", "--backup-mx"]);
    assert!(
        server
            .admin_ok(&["domain", "list", "--json"])
            .contains("\"backup_mx\":true")
    );
    let script = r#"
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=30)
print(s.sendmail("someone@outside.example", ["anyone@backup.example"], b"Subject: for the primary\r\n\r\nhi\r\n"))
s.quit()
"#;
    assert_eq!(python(script, &[&server.port.to_string()]), "{}\n");
    let dumps = sink.wait_for(3);
    let relayed = dumps
        .iter()
        .map(|d| String::from_utf8_lossy(d).to_string())
        .find(|d| d.contains("Subject: for the primary"))
        .expect("backup MX mail not passed on");
    assert!(
        relayed.contains("X-Rcpt-Args: <anyone@backup.example>"),
        "{relayed}"
    );
    assert!(
        relayed.contains("X-Mail-Args: <someone@outside.example>"),
        "no SRS: {relayed}"
    );
    let _ = dns.kill();
    let _ = dns.wait();
}

#[test]
fn dsn_success_notices_and_what_notify_and_ret_ask_for() {
    // A relay without DSN (-N): success there is "relayed", reported by us.
    let sink_port = free_port();
    let sink = Sink::start("dsn", sink_port, &["-N"]);
    let server = Server::start("dsn", &relay_config(sink_port, ""));
    // Only local: delivered straight into Maildir, then the notice.
    submit_dsn(
        &server,
        "bob@example.com",
        "local only",
        "ENVID=QQ1",
        "NOTIFY=SUCCESS ORCPT=rfc822;Bob+40example.com",
    );
    let notices = wait_messages(&server, "alice@example.com", 1);
    let notice = &notices[0];
    assert_contains(
        notice,
        &[
            "Subject: Successful Mail Delivery Report",
            "Original-Envelope-Id: QQ1",
            "Final-Recipient: rfc822; bob@example.com",
            "Original-Recipient: rfc822; Bob@example.com",
            "Action: delivered\r\nStatus: 2.0.0",
            "Content-Type: text/rfc822-headers",
        ],
    );
    assert!(!notice.contains("Hello."), "headers only: {notice}");
    // Local and remote in one message: both reported, one as relayed.
    submit_dsn(
        &server,
        "bob@example.com,someone@remote.example",
        "both",
        "",
        "NOTIFY=SUCCESS",
    );
    let notices = wait_messages(&server, "alice@example.com", 2);
    let notice = notices
        .iter()
        .find(|n| n.contains("someone@remote.example"))
        .unwrap();
    assert_contains(
        notice,
        &[
            "Final-Recipient: rfc822; bob@example.com\r\nAction: delivered",
            "Final-Recipient: rfc822; someone@remote.example\r\nAction: relayed",
        ],
    );
    // No NOTIFY: no notice.
    submit(&server, "bob@example.com", "quiet");
    wait_messages(&server, "bob@example.com", 3);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(server.messages("alice@example.com").len(), 2);
    drop(sink);

    // A relay with DSN takes the request on: nothing from us, NOTIFY passed along.
    let sink_port = free_port();
    let sink = Sink::start("dsn-relay", sink_port, &[]);
    let server = Server::start("dsn-relay", &relay_config(sink_port, ""));
    submit_dsn(
        &server,
        "someone@remote.example",
        "passed on",
        "RET=HDRS ENVID=QQ2",
        "NOTIFY=SUCCESS,FAILURE",
    );
    let dumps = sink.wait_for(1);
    let dump = String::from_utf8_lossy(&dumps[0]).to_string();
    assert!(
        dump.contains("RET=HDRS") && dump.contains("ENVID=QQ2"),
        "{dump}"
    );
    assert!(dump.contains("NOTIFY=SUCCESS,FAILURE"), "{dump}");
    std::thread::sleep(Duration::from_millis(500));
    assert!(server.messages("alice@example.com").is_empty());
}

#[test]
fn a_bounce_honours_ret_envid_and_notify_never() {
    let sink_port = free_port();
    let _sink = Sink::start("reject-dsn", sink_port, &["-f", "RCPT"]);
    let server = Server::start("bounce-dsn", &relay_config(sink_port, ""));
    submit_dsn(
        &server,
        "nobody@remote.example",
        "never tell",
        "",
        "NOTIFY=NEVER",
    );
    submit_dsn(
        &server,
        "nobody@remote.example",
        "headers only",
        "RET=HDRS ENVID=Q+2B3",
        "NOTIFY=FAILURE",
    );
    let bounces = wait_messages(&server, "alice@example.com", 1);
    let bounce = &bounces[0];
    assert_contains(
        bounce,
        &[
            "Subject: headers only",
            "Original-Envelope-Id: Q+3",
            "Content-Type: text/rfc822-headers",
        ],
    );
    assert!(!bounce.contains("Hello."), "{bounce}");
    wait_queue_empty(&server);
    assert_eq!(
        server.messages("alice@example.com").len(),
        1,
        "NOTIFY=NEVER: no bounce"
    );
}

#[test]
fn a_sender_hears_once_that_mail_is_delayed() {
    // Nothing listens on the relay's port: every attempt is deferred.
    let relay_port = free_port();
    let server = Server::start(
        "delay-warning",
        &format!("{}delay_warning = 1\n", relay_config(relay_port, "")),
    );
    submit(&server, "someone@remote.example", "waits");
    submit_dsn(
        &server,
        "other@remote.example",
        "quiet",
        "",
        "NOTIFY=FAILURE",
    );
    let notices = wait_messages(&server, "alice@example.com", 1);
    let notice = &notices[0];
    assert_contains(
        notice,
        &[
            "Subject: Delayed Mail (still being retried)",
            "Action: delayed",
            "Status: 4.",
            "Will-Retry-Until: ",
            "Final-Recipient: rfc822; someone@remote.example",
            "Content-Type: text/rfc822-headers",
            "Subject: waits",
        ],
    );
    assert!(!notice.contains("Hello."), "{notice}");
    // NOTIFY=FAILURE asked for no delay notice; and each sender hears once.
    assert!(!notice.contains("Subject: quiet"), "{notice}");
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(
        server.messages("alice@example.com").len(),
        1,
        "{}",
        server.log()
    );
    let queue = server.admin_ok(&["queue", "list"]);
    assert_eq!(queue.lines().count(), 3, "both still queued: {queue}");
}

#[test]
fn queue_flush_tries_deferred_mail_at_once_but_not_held_mail() {
    // An hour before any retry: only the flush can send these now.
    let relay_port = free_port();
    let server = Server::start(
        "queue-flush",
        &format!(
            "[relay]\nhost = \"[127.0.0.1]:{relay_port}\"\ntls = \"none\"\n\
             [queue]\nmin_backoff = 3600\nmax_backoff = 3600\n"
        ),
    );
    submit(&server, "someone@remote.example", "deferred");
    submit(&server, "someone@remote.example", "held");
    let deadline = Instant::now() + Duration::from_secs(20);
    while server
        .admin_ok(&["queue", "list", "--json"])
        .matches("\"attempts\":\"1\"")
        .count()
        < 2
    {
        assert!(Instant::now() < deadline, "{}", server.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    let list = server.admin_ok(&["queue", "list", "--json"]);
    let held = list
        .split("\"id\":\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_owned())
        .find(|id| {
            server
                .admin_ok(&["queue", "show", id])
                .contains("Subject: held")
        })
        .unwrap();
    server.admin_ok(&["queue", "hold", &held]);
    let sink = Sink::start("flush", relay_port, &[]);
    let out = server.admin_ok(&["queue", "flush"]);
    assert!(out.starts_with("1 messages"), "{out}");
    let dumps = sink.wait_for(1);
    assert!(String::from_utf8_lossy(&dumps[0]).contains("Subject: deferred"));
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(sink.messages().len(), 1, "the held message stays");
}

/// Eight clients, each submitting its share of `count` messages in one session; prints the
/// subjects the server acknowledged, one per line.
const SUBMIT_MANY: &str = include_str!("clients/submission_submit_many.py");

#[test]
fn queue_commands_in_a_loop_while_clients_submit_lose_and_duplicate_nothing() {
    let sink_port = free_port();
    let sink = Sink::start("admin-loop", sink_port, &[]);
    let server = Server::start("admin-loop", &relay_config(sink.port, ""));
    let done = std::sync::atomic::AtomicBool::new(false);
    let count = 500;
    let (acked, rounds) = std::thread::scope(|scope| {
        let admin = scope.spawn(|| {
            let mut rounds = 0;
            // Each command may find a message gone (delivered) or busy (being delivered).
            let run = |args: &[&str]| {
                let out = server.admin(args, "");
                let err = String::from_utf8_lossy(&out.stderr);
                assert!(
                    out.status.success()
                        || err.contains("no queued message")
                        || err.contains("being delivered"),
                    "{args:?}: {err}"
                );
                String::from_utf8_lossy(&out.stdout).into_owned()
            };
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                let list = run(&["queue", "list", "--json"]);
                if let Some(id) = list
                    .split("\"id\":\"")
                    .nth(1)
                    .and_then(|s| s.split('"').next())
                {
                    run(&["queue", "show", id]);
                    run(&["queue", "hold", id]);
                    run(&["queue", "release", id]);
                }
                run(&["queue", "list"]);
                run(&["queue", "flush"]);
                rounds += 1;
            }
            rounds
        });
        let acked = python(
            SUBMIT_MANY,
            &[&server.submission_port.to_string(), &count.to_string()],
        );
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        (acked, admin.join().unwrap())
    });
    let acked: Vec<&str> = acked.lines().collect();
    assert_eq!(acked.len(), count);
    assert!(rounds > 5, "the admin loop ran {rounds} times only");
    // A message held by the loop is released by it: everything leaves.
    wait_queue_empty(&server);
    let dumps = sink.wait_for(count);
    let mut seen = std::collections::HashMap::new();
    for dump in &dumps {
        let text = String::from_utf8_lossy(dump);
        let subject = text
            .lines()
            .find_map(|l| l.strip_prefix("Subject: "))
            .expect("a relayed message without its subject")
            .to_owned();
        *seen.entry(subject).or_insert(0) += 1;
    }
    for subject in acked {
        assert_eq!(
            seen.get(subject),
            Some(&1),
            "{subject} was acknowledged but relayed {:?} times; log:\n{}",
            seen.get(subject),
            server.log()
        );
    }
    assert_eq!(dumps.len(), count, "more relayed than acknowledged");
}

/// A 2,500-octet line (HTML mailers write them) is stored whole, and relayed broken into
/// lines of at most 998 octets by an inserted CRLF and space, as Postfix's
/// `smtp_line_length_limit` breaks it: RFC 5321 §4.5.3.1.6 lets the next hop refuse longer.
#[test]
fn a_long_line_is_kept_and_broken_only_when_relayed() {
    let sink_port = free_port();
    let sink = Sink::start("long-line", sink_port, &[]);
    let server = Server::start("long-line", &relay_config(sink.port, ""));
    let long: String = (0..2500)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let body = format!("before\n{long}\nafter\n");
    swaks(
        server.submissions_port,
        "--tls-on-connect",
        "PLAIN",
        "someone@remote.example,bob@example.com",
        &["--body", &body],
    );
    wait_messages(&server, "bob@example.com", 1);
    let local = String::from_utf8_lossy(&server.messages("bob@example.com")[0]).to_string();
    assert!(local.contains(&format!("\r\n{long}\r\n")), "stored whole");
    let dumps = sink.wait_for(1);
    // smtp-sink writes lines with LF endings.
    let relayed = String::from_utf8_lossy(relayed_message(&dumps[0])).to_string();
    assert!(relayed.lines().all(|l| l.len() <= 998), "{relayed}");
    assert!(
        relayed.contains(&format!("\n{}\n ", &long[..998])),
        "{relayed}"
    );
    assert!(relayed.replace("\n ", "").contains(&format!("\n{long}\n")));
}
