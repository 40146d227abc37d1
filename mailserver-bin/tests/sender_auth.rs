//! Sender authentication on port 25 (issue 21), against a private DNS server holding the
//! SPF, DKIM and DMARC records of test domains, with messages signed and ARC-sealed by
//! dkimpy: SPF pass/fail/softfail, DKIM pass and fail, DMARC reject and quarantine, ARC on a
//! forwarded message, each in one Authentication-Results field as RFC 8601 spells it, and a
//! forged field of ours removed.

mod support;

use std::path::Path;
use std::process::Command;

use support::dns::Dns;
use support::sink::Sink;
use support::{Server, assert_contains, free_port, require, system_python};

const CLIENT: &str = include_str!("clients/sender_auth.py");

/// An RSA key for `domain` in `dir` (`<domain>.pem`, PKCS#1 as dkimpy reads it), and its DKIM
/// record's `p=` value.
fn dkim_key(dir: &Path, domain: &str) -> String {
    require("openssl");
    let pem = dir.join(format!("{domain}.pem"));
    let made = Command::new("openssl")
        .args(["genrsa", "-traditional", "-out"])
        .arg(&pem)
        .arg("1024")
        .output()
        .expect("openssl genrsa");
    assert!(made.status.success(), "{made:?}");
    let public = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "openssl rsa -in {} -pubout -outform DER 2>/dev/null | base64 -w0",
            pem.display()
        ))
        .output()
        .expect("openssl rsa");
    assert!(public.status.success(), "{public:?}");
    String::from_utf8(public.stdout).expect("base64")
}

/// The `Authentication-Results:` fields of a stored message, unfolded.
fn results(message: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(message);
    let header = text.split("\r\n\r\n").next().unwrap_or_default();
    let unfolded = header.replace("\r\n\t", " ").replace("\r\n ", " ");
    unfolded
        .lines()
        .filter(|l| {
            l.to_ascii_lowercase()
                .starts_with("authentication-results:")
        })
        .map(str::to_owned)
        .collect()
}

fn only_one_of_ours(message: &[u8]) -> String {
    let ours: Vec<String> = results(message)
        .into_iter()
        .filter(|r| r.starts_with("Authentication-Results: mx.example.com;"))
        .collect();
    assert_eq!(ours.len(), 1, "{ours:?}");
    ours[0].clone()
}

/// The test domains' keys (in `dir`) and records, served by a private unbound.
fn test_zones(dir: &Path) -> Dns {
    test_zones_on(dir, free_port(), &[], &[])
}

/// [`test_zones`] on `port`, with `zones` and `extra` records besides.
fn test_zones_on(dir: &Path, port: u16, zones: &[&str], extra: &[&str]) -> Dns {
    assert!(
        Command::new("/usr/bin/python3")
            .args(["-c", "import dkim, authres"])
            .status()
            .expect("python3")
            .success(),
        "dkimpy or authres is missing; run ./scripts/test, which installs python3-dkim and python3-authres"
    );
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).expect("the test directory");
    let keys: Vec<(&str, String)> = ["sender.test", "arcfrom.test", "forward.test"]
        .into_iter()
        .map(|d| (d, dkim_key(dir, d)))
        .collect();
    let mut data = vec![
        "sender.test. 300 IN TXT \"v=spf1 ip4:127.0.0.9 -all\"".to_owned(),
        "_dmarc.sender.test. 300 IN TXT \"v=DMARC1; p=reject\"".to_owned(),
        "soft.test. 300 IN TXT \"v=spf1 ip4:127.0.0.9 ~all\"".to_owned(),
        "quar.test. 300 IN TXT \"v=spf1 -all\"".to_owned(),
        "_dmarc.quar.test. 300 IN TXT \"v=DMARC1; p=quarantine\"".to_owned(),
        "arcfrom.test. 300 IN TXT \"v=spf1 -all\"".to_owned(),
        "_dmarc.arcfrom.test. 300 IN TXT \"v=DMARC1; p=none\"".to_owned(),
        "forward.test. 300 IN TXT \"v=spf1 ip4:127.0.0.11 -all\"".to_owned(),
    ];
    for (domain, p) in &keys {
        let (a, b) = p.split_at(p.len() / 2);
        data.push(format!(
            "sel._domainkey.{domain}. 300 IN TXT \"v=DKIM1; k=rsa; p={a}\" \"{b}\""
        ));
    }
    data.extend(extra.iter().map(|r| (*r).to_owned()));
    let data: Vec<&str> = data.iter().map(String::as_str).collect();
    let mut all_zones = vec![
        "sender.test",
        "soft.test",
        "quar.test",
        "arcfrom.test",
        "forward.test",
        "client.test",
    ];
    all_zones.extend(zones);
    Dns::start_on(port, &dir.join("dns"), &all_zones, &data)
}

/// The keys' directory of a test.
fn keys_dir(test: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("mailserver-it-{}-{test}-keys", std::process::id()))
}

#[test]
fn spf_dkim_dmarc_and_arc_are_judged_and_recorded() {
    let dir = keys_dir("sender-auth");
    let dns = test_zones(&dir);
    let server = Server::start(
        "sender-auth",
        &format!("[relay]\nnameservers = [\"127.0.0.1:{}\"]\n", dns.port),
    );
    let send = |case: &str| {
        let port = server.port.to_string();
        system_python(CLIENT, &[&port, dir.to_str().expect("a UTF-8 path"), case])
            .trim()
            .to_owned()
    };

    // Signed, SPF pass, aligned: pass everywhere; the sender's own "mx.example.com" field
    // is gone, ours is the only one.
    assert_eq!(send("pass"), "250");
    let inbox = server.messages("alice@example.com");
    let ours = only_one_of_ours(&inbox[0]);
    assert_contains(
        &ours,
        &[
            "dkim=pass header.i=@sender.test header.s=sel header.b=",
            "spf=pass (mx.example.com: domain of alice@sender.test designates 127.0.0.9 as permitted sender) smtp.mailfrom=alice@sender.test",
            "dmarc=pass header.from=sender.test policy.dmarc=reject",
        ],
    );
    assert!(!String::from_utf8_lossy(&inbox[0]).contains("(forged)"));

    // The same at 400 KiB: written to disk before the verdict, which is put in after.
    assert_eq!(send("big"), "250");
    let inbox = server.messages("alice@example.com");
    let big = &inbox[1];
    assert!(big.len() > 400_000);
    assert_contains(
        &only_one_of_ours(big),
        &["dkim=pass", "spf=pass", "dmarc=pass"],
    );
    assert!(!String::from_utf8_lossy(&big[..4096]).contains("(forged)"));

    // Changed after signing, from an address SPF does not allow: p=reject refuses it.
    let refused = send("tampered");
    assert_eq!(
        refused,
        "550 5.7.1 Rejected by DMARC policy for sender.test"
    );
    assert_eq!(server.messages("alice@example.com").len(), 2);

    // ~all from elsewhere, no signature, no DMARC record: softfail, delivered.
    assert_eq!(send("softfail"), "250");
    let inbox = server.messages("alice@example.com");
    assert_contains(
        &only_one_of_ours(&inbox[2]),
        &[
            "dkim=none",
            "spf=softfail (mx.example.com: domain of bob@soft.test reports soft fail for 127.0.0.10) smtp.mailfrom=bob@soft.test",
            "dmarc=none header.from=soft.test",
        ],
    );

    // p=quarantine and a failure: delivered to Junk (\Junk special use), not the inbox.
    assert_eq!(send("quarantine"), "250");
    assert_eq!(server.messages("alice@example.com").len(), 3);
    let junk = server.maildir("alice@example.com").join(".Junk/new");
    let files: Vec<_> = std::fs::read_dir(&junk)
        .expect("a Junk folder")
        .map(|e| std::fs::read(e.expect("an entry").path()).expect("a message"))
        .collect();
    assert_eq!(files.len(), 1);
    assert_contains(
        &only_one_of_ours(&files[0]),
        &[
            "spf=fail (mx.example.com: domain of carol@quar.test does not designate 127.0.0.10 as permitted sender) smtp.mailfrom=carol@quar.test",
            "dmarc=fail (policy not aligned) header.from=quar.test policy.dmarc=quarantine",
        ],
    );

    // Forwarded by a list that changed it and sealed it: the author's signature fails, the
    // ARC chain passes.
    assert_eq!(send("arc"), "250");
    let inbox = server.messages("alice@example.com");
    assert_contains(
        &only_one_of_ours(&inbox[3]),
        &[
            "dkim=fail (body hash did not verify) header.i=@arcfrom.test header.s=sel",
            "spf=pass (mx.example.com: domain of list@forward.test designates 127.0.0.11 as permitted sender) smtp.mailfrom=list@forward.test",
            "arc=pass smtp.remote-ip=127.0.0.11",
            "dmarc=fail (policy not aligned) header.from=arcfrom.test policy.dmarc=none",
        ],
    );
    let log = server.log();
    assert_contains(
        &log,
        &[
            "sender authentication",
            "results=dkim=pass spf=pass dmarc=pass",
            "message refused by a check",
            "action=\"junk\"",
        ],
    );
    drop(dns);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Per recipient domain, DMARC failures may be only reported; and with `reject_spf_fail`, an
/// SPF fail is refused at MAIL FROM (550 5.7.23) as policyd-spf refuses it.
#[test]
fn dmarc_may_only_report_and_spf_fail_may_be_refused() {
    let dir = keys_dir("sender-auth-report");
    let dns = test_zones(&dir);
    let server = Server::start(
        "sender-auth-report",
        &format!(
            "[relay]\nnameservers = [\"127.0.0.1:{}\"]\n[sender_auth]\nreject_spf_fail = true\n[sender_auth.domains.\"example.com\"]\ndmarc = \"report\"\n",
            dns.port
        ),
    );
    let send = |case: &str| {
        let port = server.port.to_string();
        system_python(CLIENT, &[&port, dir.to_str().expect("a UTF-8 path"), case])
            .trim()
            .to_owned()
    };
    // SPF fail for sender.test: refused at MAIL FROM now.
    assert_eq!(
        send("tampered"),
        "550 5.7.23 Message rejected due to: SPF fail - 127.0.0.10 is not allowed to send mail for sender.test"
    );
    // softfail passes MAIL FROM; no DMARC record: delivered.
    assert_eq!(send("softfail"), "250");
    // A DMARC failure under p=reject, for example.com which only reports: delivered, told.
    assert_eq!(send("reported"), "250");
    let inbox = server.messages("alice@example.com");
    assert_eq!(inbox.len(), 2);
    assert_contains(
        &only_one_of_ours(&inbox[1]),
        &[
            "dkim=fail (body hash did not verify) header.i=@sender.test header.s=sel header.b=",
            "spf=softfail",
            "dmarc=fail (policy not aligned) header.from=sender.test policy.dmarc=reject",
        ],
    );
    assert!(
        server
            .log()
            .contains("sender rejected: SPF fail ([sender_auth] reject_spf_fail)")
    );
    drop(dns);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The `_domainkey` TXT records `mailserver dns` prints for `domain` (making its keys), as
/// unbound `local-data` lines.
fn our_dkim_records(server: &Server, domain: &str) -> Vec<String> {
    server
        .admin_ok(&["dns", domain])
        .lines()
        .filter(|l| l.contains("._domainkey.") && l.contains("TXT"))
        .map(|l| l.replace('\t', " ").replace("( ", "").replace(" )", ""))
        .collect()
}

/// What smtp-sink dumped of the relayed message with `subject` (the `count`-th), from its
/// first header field on (after the sink's own `X-…` lines), with CRLF line ends, in a file
/// of `dir`.
fn relayed(
    sink: &Sink,
    count: usize,
    subject: &str,
    first_field: &str,
    dir: &Path,
) -> std::path::PathBuf {
    let dump = sink
        .wait_for(count)
        .into_iter()
        .map(|d| String::from_utf8_lossy(&d).into_owned())
        .find(|d| d.contains(&format!("Subject: {subject}\n")))
        .expect("the relayed message");
    let start = dump.find(first_field).expect("the relayed message");
    let message = dump[start..]
        .strip_suffix('\n')
        .unwrap_or(&dump[start..])
        .replace('\n', "\r\n");
    let path = dir.join(format!("relayed-{subject}.eml"));
    std::fs::write(&path, message).expect("the relayed message");
    path
}

/// An alias forwarding elsewhere ARC-seals what it forwards with its domain's key (the seal
/// checked by dkimpy), and what we sign on the way out passes our own verifier when it comes
/// back in.
#[test]
fn forwards_are_arc_sealed_and_our_own_signatures_verify() {
    let dir = keys_dir("sender-auth-forward");
    let dns_port = free_port();
    let sink = Sink::start("sender-auth-forward", free_port(), &[]);
    let server = Server::start(
        "sender-auth-forward",
        &format!(
            "[relay]\nnameservers = [\"127.0.0.1:{dns_port}\"]\nhost = \"[127.0.0.1]:{}\"\ntls = \"none\"\n",
            sink.port
        ),
    );
    server.admin_ok(&["alias", "add", "fwd@example.com", "friend@remote.test"]);
    let ours = our_dkim_records(&server, "example.com");
    assert_eq!(ours.len(), 2, "RSA and Ed25519: {ours:?}");
    let mut extra = ours;
    extra.push("example.com. 300 IN TXT \"v=spf1 ip4:127.0.0.12 -all\"".into());
    extra.push("_dmarc.example.com. 300 IN TXT \"v=DMARC1; p=reject\"".into());
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    // DMARC's tree walk asks _dmarc.com too: NXDOMAIN there, as the internet answers.
    let dns = test_zones_on(&dir, dns_port, &["example.com", "com"], &extra);
    let client = |args: &[&str]| system_python(RELAYED, args).trim().to_owned();

    // Signed by sender.test, to the alias: judged, sealed by example.com, relayed.
    let port = server.port.to_string();
    let keys = dir.to_str().expect("a UTF-8 path");
    let sent = system_python(CLIENT, &[&port, keys, "pass", "fwd@example.com"]);
    assert_eq!(sent.trim(), "250");
    let forwarded = relayed(&sink, 1, "pass", "ARC-Seal:", &dir);
    let text = std::fs::read_to_string(&forwarded).expect("the relayed message");
    assert_contains(
        &text,
        &[
            "ARC-Seal: i=1; a=rsa-sha256; s=mail; d=example.com; cv=none;",
            "ARC-Message-Signature: i=1; a=rsa-sha256; s=mail; d=example.com;",
            "ARC-Authentication-Results: i=1; mx.example.com;",
            "Authentication-Results: mx.example.com;",
        ],
    );
    let path = forwarded.to_str().expect("a UTF-8 path");
    assert_eq!(
        client(&["arc", path, &dns_port.to_string()]),
        "pass success"
    );

    // Alice's mail leaves signed; sent back in from an address SPF allows, our own verifier
    // passes both signatures and DMARC.
    let submitted = system_python(
        SUBMIT,
        &[&server.submission_port.to_string(), "friend@remote.test"],
    );
    assert_eq!(submitted.trim(), "{}");
    let outbound = relayed(&sink, 2, "out", "DKIM-Signature:", &dir);
    let path = outbound.to_str().expect("a UTF-8 path");
    let back = client(&["resend", path, &port, "127.0.0.12", "alice@example.com"]);
    assert_eq!(back, "250");
    let inbox = server.messages("alice@example.com");
    let results = only_one_of_ours(&inbox[0]);
    assert_contains(
        &results,
        &[
            "dkim=pass header.d=example.com header.s=mail header.b=",
            "dkim=pass header.d=example.com header.s=mail-ed25519 header.b=",
            "spf=pass (mx.example.com: domain of alice@example.com designates 127.0.0.12 as permitted sender)",
            "dmarc=pass header.from=example.com policy.dmarc=reject",
        ],
    );
    drop(dns);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Sends as alice over submission (587, STARTTLS, AUTH) to the one recipient given.
const SUBMIT: &str = r#"
import smtplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=30)
s.starttls(context=ctx)
s.login("alice@example.com", "secret")
msg = b"From: Alice <alice@example.com>\r\nTo: friend@remote.test\r\nSubject: out\r\n\r\nHello.\r\n"
print(s.sendmail("alice@example.com", [sys.argv[2]], msg))
s.quit()
"#;

const RELAYED: &str = include_str!("clients/sender_auth_relayed.py");

/// `signed.test`, signed with ldns-signzone by keys whose DNSKEYs go into `anchor`; the TXT
/// record of `bad.signed.test` is changed after signing, so its signature no longer holds.
/// Returns the signed zone file.
fn signed_zone(dir: &Path, anchor: &Path) -> std::path::PathBuf {
    require("ldns-signzone");
    let zone = dir.join("signed.test.zone");
    std::fs::write(
        &zone,
        "$ORIGIN signed.test.\n$TTL 300\n@ IN SOA ns.signed.test. admin.signed.test. 1 3600 600 86400 300\n@ IN NS ns.signed.test.\nns IN A 127.0.0.1\ngood IN TXT \"v=spf1 ip4:127.0.0.13 -all\"\nbad IN TXT \"v=spf1 ip4:127.0.0.14 -all\"\n",
    )
    .expect("the zone");
    let sh = |script: &str| {
        let out = Command::new("sh")
            .arg("-c")
            .arg(script)
            .current_dir(dir)
            .output()
            .expect("sh");
        assert!(out.status.success(), "{script}: {out:?}");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let ksk = sh("ldns-keygen -a ECDSAP256SHA256 -k signed.test");
    let zsk = sh("ldns-keygen -a ECDSAP256SHA256 signed.test");
    sh(&format!("ldns-signzone signed.test.zone {ksk} {zsk}"));
    // Both keys are anchors: hickory asks the parent for DS records unless every DNSKEY of
    // the zone is one (the parent, test., is not signed here).
    let keys =
        [&ksk, &zsk].map(|k| std::fs::read_to_string(dir.join(format!("{k}.key"))).expect("a key"));
    std::fs::write(anchor, keys.concat()).expect("the trust anchor");
    let signed = dir.join("signed.test.zone.signed");
    let text = std::fs::read_to_string(&signed).expect("the signed zone");
    let forged = text.replace("ip4:127.0.0.14", "ip4:127.0.0.13");
    assert_ne!(forged, text);
    std::fs::write(&signed, forged).expect("the signed zone");
    signed
}

/// With `[relay] dnssec`, answers are validated from the configured trust anchor: a signed
/// SPF record counts, one changed after signing does not (temperror), where a server that
/// does not validate believes it.
#[test]
fn dnssec_validation_keeps_forged_records_out() {
    let dir = keys_dir("sender-auth-dnssec");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("the test directory");
    let anchor = dir.join("anchor.key");
    let zone = signed_zone(&dir, &anchor);
    let port = free_port();
    let dns = Dns::start_with(
        port,
        &dir.join("dns"),
        &["client.test"],
        &[],
        &[("signed.test", &zone)],
    );
    let start = |name: &str, dnssec: bool| {
        Server::start(
            name,
            &format!(
                "[relay]\nnameservers = [\"127.0.0.1:{port}\"]\ndnssec = {dnssec}\ndnssec_trust_anchor = \"{}\"\n",
                anchor.display()
            ),
        )
    };
    let validating = start("sender-auth-dnssec", true);
    let trusting = start("sender-auth-no-dnssec", false);
    let keys = dir.to_str().expect("a UTF-8 path");
    let spf = |server: &Server, case: &str, n: usize| {
        let sent = system_python(CLIENT, &[&server.port.to_string(), keys, case]);
        assert_eq!(sent.trim(), "250");
        let result = only_one_of_ours(&server.messages("alice@example.com")[n]);
        let at = result.find("spf=").expect("an SPF result");
        result[at..]
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(spf(&validating, "dnssec-good", 0), "spf=pass");
    assert_eq!(spf(&validating, "dnssec-bad", 1), "spf=temperror");
    assert_eq!(spf(&trusting, "dnssec-bad", 0), "spf=pass");
    drop(dns);
    let _ = std::fs::remove_dir_all(&dir);
}
