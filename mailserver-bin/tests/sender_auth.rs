//! Sender authentication on port 25 (issue 21), against a private DNS server holding the
//! SPF, DKIM and DMARC records of test domains, with messages signed and ARC-sealed by
//! dkimpy: SPF pass/fail/softfail, DKIM pass and fail, DMARC reject and quarantine, ARC on a
//! forwarded message, each in one Authentication-Results field as RFC 8601 spells it, and a
//! forged field of ours removed.

mod support;

use std::path::Path;
use std::process::Command;

use support::dns::Dns;
use support::{Server, assert_contains, require, system_python};

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
    let data: Vec<&str> = data.iter().map(String::as_str).collect();
    let zones = [
        "sender.test",
        "soft.test",
        "quar.test",
        "arcfrom.test",
        "forward.test",
        "client.test",
    ];
    Dns::start(&dir.join("dns"), &zones, &data)
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
            // As Gmail words a signature whose body hash no longer matches.
            "dkim=neutral (body hash did not verify) header.i=@arcfrom.test header.s=sel",
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
        &["dmarc=fail (policy not aligned) header.from=sender.test policy.dmarc=reject"],
    );
    assert!(
        server
            .log()
            .contains("sender rejected: SPF fail ([sender_auth] reject_spf_fail)")
    );
    drop(dns);
    let _ = std::fs::remove_dir_all(&dir);
}
