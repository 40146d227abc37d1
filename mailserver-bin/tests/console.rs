//! The web console in headless Chromium (Selenium, `clients/console.py`): a global admin logs
//! in, adds a domain and a mailbox that then receives mail; a domain admin sees only their
//! domain; a POST without its CSRF token is refused; axe-core finds no serious or critical
//! accessibility violation on the pages. Also `mailserver admin`.

#![allow(clippy::unwrap_used)]

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;

use support::dns::Dns;
use support::lists::wait_for;
use support::{Server, free_port, python, require, system_python};

/// axe-core's browser script, fetched from npm once into the target directory.
fn axe_core() -> PathBuf {
    require("npm");
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("axe-core-4.10.2");
    let script = dir.join("package/axe.min.js");
    if !script.exists() {
        std::fs::create_dir_all(&dir).unwrap();
        let packed = Command::new("npm")
            .args(["pack", "--silent", "axe-core@4.10.2"])
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(packed.status.success(), "npm pack axe-core: {packed:?}");
        let unpacked = Command::new("tar")
            .args(["xzf", "axe-core-4.10.2.tgz"])
            .current_dir(&dir)
            .status()
            .unwrap();
        assert!(unpacked.success());
    }
    script
}

#[test]
fn admins_manage_domains_and_mailboxes_in_a_browser() {
    for program in ["chromium", "chromedriver"] {
        require(program);
    }
    // Outbound mail goes to a relay that is down: it waits in the queue. The DNS check asks a
    // local unbound serving an empty example.com.
    let dns_dir = std::env::temp_dir().join(format!("console-dns-{}", std::process::id()));
    std::fs::create_dir_all(&dns_dir).unwrap();
    let dns = Dns::start(&dns_dir, &["example.com"], &[]);
    let server = Server::start(
        "console",
        &format!(
            "[relay]\nhost = \"[127.0.0.1]:{}\"\ntls = \"none\"\nnameservers = [\"127.0.0.1:{}\"]\n\
             [filters]\nspamd = \"127.0.0.1:{}\"\nspamd_on_failure = \"accept\"\n",
            free_port(),
            dns.port,
            free_port()
        ),
    );
    add_admins(&server);

    // A message for a domain that cannot be reached waits in the queue.
    python(
        include_str!("clients/submission_submit.py"),
        &[
            &server.submission_port.to_string(),
            "alice@example.com",
            "far@remote.example",
            "waiting",
        ],
    );
    wait_for("the message in the queue", || {
        server
            .admin_ok(&["queue", "list"])
            .contains("far@remote.example")
    });

    server.admin_ok(&["ban", "add", "192.0.2.7", "--reason", "test ban"]);

    let shots = server.dir.join("shots");
    std::fs::create_dir_all(&shots).unwrap();
    let axe = axe_core();
    let base = format!("http://127.0.0.1:{}", server.http_port);
    let out = system_python(
        include_str!("clients/console.py"),
        &[&base, shots.to_str().unwrap(), axe.to_str().unwrap()],
    );
    for line in [
        "global admin added newco.example and ceo@newco.example",
        "domain admin sees only example.net",
        "csrf-less POST refused",
        "alice changed her password and forwards to bob",
        "and set her out-of-office reply and spam threshold",
        "mailbox disabled, enabled, given a password and a quota; alias added and removed",
        "domain limits, alias domain and pop3 policy set",
        " held, released and removed",
        "dns records shown and checked",
        "ban lifted",
        "log of changes shown",
        "token made in the console opens the API; a revoked one does not",
        "french pages and messages",
    ] {
        assert!(out.contains(line), "{out}");
    }
    let accessibility = out
        .lines()
        .find_map(|l| l.strip_prefix("accessibility: "))
        .unwrap();
    let pages: serde_json::Value = serde_json::from_str(accessibility).unwrap();
    for page in [
        "login",
        "dashboard",
        "domain",
        "account",
        "queue",
        "dns",
        "bans",
        "log",
        "tokens",
    ] {
        assert_eq!(
            pages[page],
            serde_json::json!([]),
            "{page}: {accessibility}"
        );
    }

    assert!(
        server
            .admin_ok(&["queue", "list"])
            .contains("the queue is empty"),
        "removed in the console"
    );
    let domains = server.admin_ok(&["domain", "list"]);
    assert!(
        domains.contains("newco.test") && !domains.contains("old-newco.test"),
        "{domains}"
    );

    imap_logins(&server, &out);

    // The mailbox made in the browser receives mail.
    let mut smtp = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    let mut said = String::new();
    for line in [
        "EHLO client.example",
        "MAIL FROM:<someone@example.org>",
        "RCPT TO:<ceo@newco.example>",
        "RCPT TO:<sales@newco.example>",
        "RCPT TO:<alice@example.com>",
        "DATA",
        "From: someone@example.org\r\nTo: ceo@newco.example, alice@example.com\r\nSubject: welcome\r\n\r\nHello.\r\n.",
        "QUIT",
    ] {
        smtp.write_all(format!("{line}\r\n").as_bytes()).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    smtp.read_to_string(&mut said).unwrap();
    assert!(said.contains("250 2.0.0"), "{said}");
    wait_for("the mail to ceo@newco.example", || {
        server.messages("ceo@newco.example").len() == 1
    });
    // Alice keeps a copy and forwards to bob.
    wait_for("alice's copy and bob's", || {
        server.messages("alice@example.com").len() == 1
            && server.messages("bob@example.com").len() == 1
    });

    // Alice is away: her reply to the sender waits in the queue (the relay is down).
    wait_for("alice's out-of-office reply", || {
        server
            .admin_ok(&["queue", "list"])
            .contains("someone@example.org")
    });

    // Every change is in the audit log too: who, what, from where.
    let log = server.log();
    for entry in [
        "domain added who=boss@example.com from=127.0.0.1 domain=newco.example",
        "mailbox added who=boss@example.com from=127.0.0.1 domain=newco.example data=Mailbox ceo@newco.example added.",
        "alias removed who=boss@example.com from=127.0.0.1 domain=newco.example data=Alias old@newco.example removed.",
        "console: POST without its CSRF token refused",
        "authentication failed peer=127.0.0.1 protocol=console user=boss@example.com",
        "password changed who=alice@example.com from=127.0.0.1",
        "app password added who=alice@example.com from=127.0.0.1 domain=example.com data=Thunderbird",
        "out-of-office on who=alice@example.com",
        "spam threshold set who=alice@example.com from=127.0.0.1 domain=example.com data=3.5",
    ] {
        assert!(log.contains(entry), "{entry} in\n{log}");
    }
}

/// Alice logs in to IMAP with the password she chose in the console, and with the app password
/// she made there (`out`: what console.py printed); ceo with the password the admin set.
fn imap_logins(server: &Server, out: &str) {
    // Alice logs in to IMAP with the password she chose; the old one no longer works.
    let imap = python(
        "import imaplib, ssl, sys\n\
         ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE\n\
         for password in ('Alice-new-pass-1', 'secret'):\n\
         \x20   c = imaplib.IMAP4_SSL('127.0.0.1', int(sys.argv[1]), ssl_context=ctx)\n\
         \x20   try:\n\
         \x20       c.login('alice@example.com', password); print(password, 'accepted'); c.logout()\n\
         \x20   except imaplib.IMAP4.error:\n\
         \x20       print(password, 'refused')\n",
        &[&server.imaps_port.to_string()],
    );
    assert!(
        imap.contains("Alice-new-pass-1 accepted") && imap.contains("secret refused"),
        "{imap}"
    );
    // Her app password logs in to IMAP too (not to the console: console.py).
    let secret = out
        .lines()
        .find_map(|l| l.strip_prefix("alice made an app password "))
        .and_then(|l| l.split(' ').next())
        .unwrap();
    let app = python(
        "import imaplib, ssl, sys\n\
         ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE\n\
         c = imaplib.IMAP4_SSL('127.0.0.1', int(sys.argv[1]), ssl_context=ctx)\n\
         c.login('alice@example.com', sys.argv[2]); print('app password in'); c.logout()\n",
        &[&server.imaps_port.to_string(), secret],
    );
    assert!(app.contains("app password in"), "{app}");
    // The password the admin set for ceo works too.
    let ceo = python(
        "import imaplib, ssl, sys\n\
         ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE\n\
         c = imaplib.IMAP4_SSL('127.0.0.1', int(sys.argv[1]), ssl_context=ctx)\n\
         c.login('ceo@newco.example', 'Ceo-other-456'); print('ceo in'); c.logout()\n",
        &[&server.imaps_port.to_string()],
    );
    assert!(ceo.contains("ceo in"), "{ceo}");
}

/// The console's admins, as `mailserver admin` makes them: a global one and one of
/// example.net.
fn add_admins(server: &Server) {
    let out = server.admin_with_stdin(
        &[
            "admin",
            "add",
            "boss@example.com",
            "--global",
            "--password-stdin",
        ],
        "Boss-pass-42\n",
    );
    assert!(out.contains("added admin boss@example.com"), "{out}");
    server.admin_with_stdin(
        &[
            "admin",
            "add",
            "postmaster@example.net",
            "--domain",
            "example.net",
            "--password-stdin",
        ],
        "Net-pass-42\n",
    );
    let listed = server.admin_ok(&["admin", "list"]);
    assert!(
        listed.contains("boss@example.com") && listed.contains("all domains"),
        "{listed}"
    );
    assert!(
        listed.contains("postmaster@example.net  example.net"),
        "{listed}"
    );
    let refused = server.admin(&["admin", "add", "x@example.com"], "");
    assert!(!refused.status.success());
}
