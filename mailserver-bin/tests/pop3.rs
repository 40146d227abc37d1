//! POP3 against the real binary, with clients we did not write: Python's poplib (STLS and
//! POP3S), curl (pop3:// and pop3s://), fetchmail (with and without --keep) and getmail6
//! (which reads the envelope back from Return-Path: and Delivered-To:).
#![allow(clippy::unwrap_used)]

mod support;

use std::process::Command;
use std::time::Duration;

use support::{Server, python, require};

const DELIVER: &str = include_str!("clients/pop3_deliver.py");

fn deliver(server: &Server, rcpt: &str, count: usize, tag: &str) {
    python(
        DELIVER,
        &[&server.port.to_string(), rcpt, &count.to_string(), tag],
    );
}

/// A poplib session: prints one line per step for the test to check.
const POPLIB: &str = include_str!("clients/pop3_poplib.py");

fn poplib(server: &Server, mode: &str, user: &str, actions: &[&str]) -> Vec<String> {
    let port = if mode == "pop3s" {
        server.pop3s_port
    } else {
        server.pop3_port
    };
    let mut args = vec![mode.to_owned(), port.to_string(), user.to_owned()];
    args.extend(actions.iter().map(|a| a.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    python(POPLIB, &args).lines().map(str::to_owned).collect()
}

fn line<'a>(out: &'a [String], key: &str) -> &'a str {
    out.iter()
        .find_map(|l| l.strip_prefix(&format!("{key} ")))
        .unwrap_or_else(|| panic!("no {key} line in {out:?}"))
}

fn files(server: &Server, user: &str) -> Vec<String> {
    let mut names = Vec::new();
    for sub in ["new", "cur"] {
        if let Ok(entries) = std::fs::read_dir(server.maildir(user).join(sub)) {
            names.extend(
                entries.map(|e| format!("{sub}/{}", e.unwrap().file_name().into_string().unwrap())),
            );
        }
    }
    names.sort();
    names
}

#[test]
fn poplib_over_stls_and_pop3s_with_expunge_policy() {
    let server = Server::start("pop3-poplib", "");
    deliver(&server, "alice@example.com", 3, "poplib");
    let stored = server.messages("alice@example.com");
    let out = poplib(
        &server,
        "stls",
        "alice@example.com",
        &["stat", "list", "uidl", "retr1", "top2"],
    );
    let capa = line(&out, "capa");
    assert!(
        capa.contains("STLS") && capa.contains("UIDL") && capa.contains("RESP-CODES"),
        "{capa}"
    );
    let sizes: Vec<usize> = stored.iter().map(Vec::len).collect();
    assert_eq!(
        line(&out, "stat"),
        format!("3 {}", sizes.iter().sum::<usize>())
    );
    assert_eq!(
        line(&out, "list"),
        sizes
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(" ")
    );
    let retr = line(&out, "retr");
    let hex: String = stored[0].iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(retr, hex, "RETR 1 returns the stored message");
    assert_eq!(
        line(&out, "top"),
        "8",
        "TOP 2 0: Return-Path, Delivered-To, the Received header (4 lines), Subject, blank line"
    );
    // RETR marked message 1 \Seen (moved to cur/ with S) at QUIT; the others stay in new/.
    let names = files(&server, "alice@example.com");
    assert_eq!(
        names
            .iter()
            .filter(|n| n.starts_with("cur/") && n.ends_with(":2,S"))
            .count(),
        1,
        "{names:?}"
    );
    let uidls = line(&out, "uidl").to_owned();

    // POP3S: DELE, RSET undoes it, DELE again, QUIT expunges.
    let out = poplib(
        &server,
        "pop3s",
        "alice@example.com",
        &["uidl", "dele1", "rset", "dele2", "stat"],
    );
    assert_eq!(
        line(&out, "uidl"),
        uidls,
        "UIDLs are stable across sessions"
    );
    assert!(line(&out, "rset").starts_with("+OK"));
    assert!(line(&out, "stat").starts_with("2 "));
    assert_eq!(
        files(&server, "alice@example.com").len(),
        2,
        "message 2 is gone, 1 and 3 remain"
    );
    let out = poplib(&server, "pop3s", "alice@example.com", &["uidl"]);
    let left: Vec<&str> = uidls.split(' ').collect();
    assert_eq!(line(&out, "uidl"), format!("{} {}", left[0], left[2]));
}

#[test]
fn uidls_survive_restarts_and_new_deliveries() {
    let mut server = Server::start("pop3-uidl", "");
    deliver(&server, "bob@example.com", 2, "before");
    let first = line(
        &poplib(&server, "pop3s", "bob@example.com", &["uidl"]),
        "uidl",
    )
    .to_owned();
    server.signal("TERM");
    server.wait_exit(Duration::from_secs(10));
    server.spawn();
    deliver(&server, "bob@example.com", 1, "after");
    let second = line(
        &poplib(&server, "pop3s", "bob@example.com", &["uidl"]),
        "uidl",
    )
    .to_owned();
    assert!(second.starts_with(&first), "{first} then {second}");
    assert_eq!(second.split(' ').count(), 3);
    assert!(
        std::fs::read_to_string(server.maildir("bob@example.com").join("dovecot-uidlist"))
            .unwrap()
            .starts_with("3 V")
    );
}

#[test]
fn keep_and_seen_policies_leave_mail_on_the_server() {
    let server = Server::start("pop3-keep", "[pop3]\ndelete_policy = \"keep\"\n");
    deliver(&server, "carol@example.com", 3, "keep");
    let before = files(&server, "carol@example.com");
    let out = poplib(
        &server,
        "pop3s",
        "carol@example.com",
        &["dele1", "dele2", "dele3", "stat"],
    );
    assert_eq!(line(&out, "stat"), "0 0");
    let after = files(&server, "carol@example.com");
    assert_eq!(after.len(), 3, "keep: every file stays: {after:?}");
    for (b, a) in before.iter().zip(&after) {
        let base = b.rsplit('/').next().unwrap();
        assert!(a.contains(base), "same message {b} -> {a}");
        assert!(!a.ends_with('S') || a.contains(":2,"), "{a}");
    }
    let keywords =
        std::fs::read_to_string(server.maildir("carol@example.com").join("dovecot-keywords"))
            .unwrap();
    assert!(keywords.contains("$POP3Deleted"), "{keywords}");
    // A later session no longer lists them; new mail shows up.
    deliver(&server, "carol@example.com", 1, "new");
    let out = poplib(&server, "pop3s", "carol@example.com", &["stat"]);
    assert!(line(&out, "stat").starts_with("1 "), "{out:?}");

    // Per-user override: dave gets `seen`, so deleted messages are also \Seen.
    server.admin_ok(&["user", "pop3-policy", "dave@example.com", "seen"]);
    deliver(&server, "dave@example.com", 1, "seen");
    poplib(&server, "pop3s", "dave@example.com", &["dele1"]);
    let names = files(&server, "dave@example.com");
    assert_eq!(names.len(), 1);
    let flags = names[0].rsplit(":2,").next().unwrap();
    assert!(
        flags.contains('S') && flags.chars().any(|c| c.is_ascii_lowercase()),
        "{names:?}"
    );
    // And `expunge` for erin overrides the server's `keep`.
    server.admin_ok(&["user", "pop3-policy", "erin@example.com", "expunge"]);
    deliver(&server, "erin@example.com", 1, "expunge");
    poplib(&server, "pop3s", "erin@example.com", &["dele1"]);
    assert!(files(&server, "erin@example.com").is_empty());
    let bad = server.admin(&["user", "pop3-policy", "erin@example.com", "shred"], "");
    assert!(!bad.status.success());
}

#[test]
fn second_session_gets_in_use_and_bad_password_gets_auth() {
    let server = Server::start("pop3-inuse", "");
    deliver(&server, "alice@example.com", 1, "lock");
    let mut first = pop3_raw(&server);
    assert!(first.command("USER alice@example.com").starts_with("+OK"));
    assert!(first.command("PASS secret").starts_with("+OK"));
    let mut second = pop3_raw(&server);
    second.command("USER alice@example.com");
    let r = second.command("PASS secret");
    assert!(r.starts_with("-ERR [IN-USE]"), "{r}");
    second.command("USER alice@example.com");
    let r = second.command("PASS wrong");
    assert!(r.starts_with("-ERR [AUTH]"), "{r}");
    assert!(first.command("QUIT").starts_with("+OK"));
    std::thread::sleep(Duration::from_millis(100));
    second.command("USER alice@example.com");
    assert!(
        second.command("PASS secret").starts_with("+OK"),
        "the lock is released at QUIT"
    );
    assert!(second.command("QUIT").starts_with("+OK"));
}

#[test]
fn sasl_plain_and_login_through_the_daemon() {
    let server = Server::start("pop3-sasl", "");
    let mut c = pop3_raw(&server);
    // alice@example.com / wrong, then / secret (RFC 5034 initial responses).
    let r = c.command("AUTH PLAIN AGFsaWNlQGV4YW1wbGUuY29tAHdyb25n");
    assert!(r.starts_with("-ERR [AUTH]"), "{r}");
    let r = c.command("AUTH PLAIN AGFsaWNlQGV4YW1wbGUuY29tAHNlY3JldA==");
    assert!(r.starts_with("+OK"), "{r}");
    assert!(c.command("QUIT").starts_with("+OK"));
    let mut c = pop3_raw(&server);
    assert!(c.command("AUTH LOGIN").starts_with("+ VXNlcm5hbWU6"));
    assert!(
        c.command("YWxpY2VAZXhhbXBsZS5jb20=")
            .starts_with("+ UGFzc3dvcmQ6")
    );
    let r = c.command("c2VjcmV0");
    assert!(r.starts_with("+OK"), "{r}");
    assert!(c.command("STAT").starts_with("+OK 0 0"));
}

struct Pop3Raw {
    stream: std::net::TcpStream,
    reader: std::io::BufReader<std::net::TcpStream>,
}

impl Pop3Raw {
    fn command(&mut self, line: &str) -> String {
        use std::io::{BufRead, Write};
        self.stream
            .write_all(format!("{line}\r\n").as_bytes())
            .unwrap();
        let mut reply = String::new();
        self.reader.read_line(&mut reply).unwrap();
        reply
    }
}

fn pop3_raw(server: &Server) -> Pop3Raw {
    use std::io::BufRead;
    let stream = std::net::TcpStream::connect(("127.0.0.1", server.pop3_port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
    let mut greeting = String::new();
    reader.read_line(&mut greeting).unwrap();
    assert!(greeting.starts_with("+OK"), "{greeting}");
    Pop3Raw { stream, reader }
}

fn curl(args: &[&str]) -> Vec<u8> {
    let out = Command::new("curl")
        .args(["-s", "--fail", "-u", "alice@example.com:secret"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn curl_pop3_and_pop3s() {
    require("curl");
    let server = Server::start("pop3-curl", "");
    deliver(&server, "alice@example.com", 2, "curl");
    let stored = server.messages("alice@example.com");
    // pop3:// on loopback may log in without TLS; pop3s:// is TLS from the start.
    let list =
        String::from_utf8(curl(&[&format!("pop3://127.0.0.1:{}/", server.pop3_port)])).unwrap();
    assert_eq!(
        list,
        format!("1 {}\r\n2 {}\r\n", stored[0].len(), stored[1].len())
    );
    let retr = curl(&["-k", &format!("pop3s://127.0.0.1:{}/2", server.pop3s_port)]);
    assert_eq!(retr, stored[1]);
    let retr = curl(&[
        "--ssl-reqd",
        &format!("pop3://127.0.0.1:{}/1", server.pop3_port),
        "-k",
    ]);
    assert_eq!(retr, stored[0], "pop3:// upgraded with STLS");
}

#[test]
fn fetchmail_keep_and_fetch() {
    require("fetchmail");
    let server = Server::start("pop3-fetchmail", "");
    deliver(&server, "alice@example.com", 3, "fetchmail");
    let home = server.dir.join("fetchmail");
    std::fs::create_dir_all(&home).unwrap();
    let rc = home.join("fetchmailrc");
    std::fs::write(
        &rc,
        format!(
            "set no syslog\npoll 127.0.0.1 protocol pop3 port {} uidl\n  user \"alice@example.com\" password \"secret\" ssl no sslcertck\n",
            server.pop3s_port
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&rc, std::fs::Permissions::from_mode(0o600)).unwrap();
    let run = |extra: &[&str], out: &str| {
        let bsmtp = home.join(out);
        let status = Command::new("fetchmail")
            .env("FETCHMAILHOME", &home)
            .env("HOME", &home)
            .args([
                "-f",
                rc.to_str().unwrap(),
                "--nodetach",
                "-v",
                "--bsmtp",
                bsmtp.to_str().unwrap(),
            ])
            .args(extra)
            .output()
            .unwrap();
        let log = String::from_utf8_lossy(&status.stdout).into_owned()
            + &String::from_utf8_lossy(&status.stderr);
        (
            status.status.code(),
            std::fs::read_to_string(&bsmtp).unwrap_or_default(),
            log,
        )
    };
    // --keep: all three fetched, all three still on the server.
    let (code, fetched, log) = run(&["--keep"], "keep.bsmtp");
    assert_eq!(code, Some(0), "{log}");
    assert_eq!(fetched.matches("Subject: fetchmail").count(), 3, "{log}");
    assert_eq!(files(&server, "alice@example.com").len(), 3);
    // Without --keep (and forgetting what it saw): fetched again, then deleted.
    let (code, fetched, log) = run(&["--all"], "fetch.bsmtp");
    assert_eq!(code, Some(0), "{log}");
    assert_eq!(fetched.matches("Subject: fetchmail").count(), 3, "{log}");
    assert!(files(&server, "alice@example.com").is_empty(), "{log}");
    // Nothing left: fetchmail's "no mail" exit code.
    let (code, _, log) = run(&[], "none.bsmtp");
    assert_eq!(code, Some(1), "{log}");
}

/// getmail6 fetches over POP3 and reads the envelope from what local delivery put in front of
/// each copy: the sender from `Return-Path:` (it logged "from <unknown>" without one) and,
/// as a multidrop retriever, the recipient from `Delivered-To:` (it refuses a message
/// without one). With `[storage] link_copies = false` (Postfix's way), a message to two
/// mailboxes gives each copy its own `Delivered-To:`.
#[test]
fn getmail_reads_the_envelope_from_return_path_and_delivered_to() {
    require("getmail");
    let server = Server::start("pop3-getmail", "[storage]\nlink_copies = false\n");
    // One message to alice and bob at once (two copies), and a bounce (null sender) to alice.
    python(
        "import smtplib, sys\n\
         s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]))\n\
         s.sendmail('sender@example.org', ['alice@example.com', 'bob@example.com'], b'Subject: both\\r\\n\\r\\nhello\\r\\n')\n\
         s.sendmail('', ['alice@example.com'], b'Subject: bounce\\r\\n\\r\\nreturned\\r\\n')\n\
         s.quit()\n",
        &[&server.port.to_string()],
    );
    for (user, count) in [("alice", 2), ("bob", 1)] {
        let copies = server.messages(&format!("{user}@example.com"));
        assert_eq!(copies.len(), count);
        for copy in &copies {
            let text = String::from_utf8_lossy(copy);
            assert!(
                text.starts_with("Return-Path: <")
                    && text.contains(&format!(
                        "\r\nDelivered-To: {user}@example.com\r\nReceived: "
                    )),
                "{text}"
            );
        }
    }
    let home = server.dir.join("getmail");
    let run = |user: &str, retriever: &str| {
        let dir = home.join(user);
        let maildir = dir.join("Maildir");
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(maildir.join(sub)).unwrap();
        }
        let rc = dir.join("getmailrc");
        std::fs::write(
            &rc,
            format!(
                "[retriever]\ntype = {retriever}\nserver = 127.0.0.1\nport = {}\nusername = {user}@example.com\npassword = secret\n{}\n[destination]\ntype = Maildir\npath = {}/\nuser = nobody\n\n[options]\nverbose = 2\nread_all = true\ndelete = false\n",
                server.pop3_port,
                if retriever.starts_with("Multidrop") { "envelope_recipient = delivered-to:1\n" } else { "" },
                maildir.display()
            ),
        )
        .unwrap();
        // getmail refuses to deliver as root: its Maildir is written as nobody.
        let chown = Command::new("chown")
            .args(["-R", "nobody"])
            .arg(&maildir)
            .status();
        assert!(chown.unwrap().success());
        let out = Command::new("getmail")
            .args([
                "--getmaildir",
                dir.to_str().unwrap(),
                "--rcfile",
                rc.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        let log = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{log}");
        log
    };
    let log = run("alice", "SimplePOP3Retriever");
    assert!(log.contains("from <sender@example.org>"), "{log}");
    assert!(log.contains("from <>"), "the bounce's null sender: {log}");
    assert!(!log.contains("unknown"), "{log}");
    // Multidrop: the recipient comes from Delivered-To: (getmail fails without it).
    let log = run("bob", "MultidropPOP3Retriever");
    assert!(log.contains("from <sender@example.org>"), "{log}");
    assert!(log.contains("delivered to Maildir"), "{log}");
}

/// This machine's first non-loopback IPv4 address.
fn non_loopback_ipv4() -> String {
    let out = Command::new("hostname").arg("-I").output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .find(|a| {
            a.parse::<std::net::Ipv4Addr>()
                .is_ok_and(|ip| !ip.is_loopback())
        })
        .expect("this test needs a non-loopback IPv4 address on the machine (hostname -I)")
        .to_owned()
}

const CLEARTEXT: &str = include_str!("clients/pop3_cleartext.py");

#[test]
fn no_cleartext_login_from_the_network() {
    let host = non_loopback_ipv4();
    let server = Server::start_on("pop3-cleartext", "", &host);
    let out = python(CLEARTEXT, &[&host, &server.pop3_port.to_string()]);
    let lines: Vec<String> = out.lines().map(str::to_owned).collect();
    let capa = line(&lines, "capa");
    assert!(
        capa.contains("STLS") && !capa.contains("USER") && !capa.contains("SASL"),
        "{capa}"
    );
    assert!(line(&lines, "user").starts_with("-ERR [AUTH]"), "{out}");
    let tls_capa = line(&lines, "tls-capa");
    assert!(
        tls_capa.contains("USER") && tls_capa.contains("SASL") && !tls_capa.contains("STLS"),
        "{tls_capa}"
    );
    assert!(line(&lines, "login").starts_with("+OK"), "{out}");

    let open = Server::start_on(
        "pop3-cleartext-allowed",
        "[pop3]\nallow_plaintext_auth = true\n",
        &host,
    );
    let out = python(CLEARTEXT, &[&host, &open.pop3_port.to_string()]);
    assert!(out.contains("user accepted"), "{out}");
}

/// An IMAP session open on the INBOX while a POP3 session retrieves one message and deletes
/// another: its next NOOP reports both.
const IMAP_SEES_POP3: &str = include_str!("clients/pop3_imap_sees_pop3.py");

#[test]
fn an_imap_session_sees_what_pop3_changed() {
    let server = Server::start("pop3-imap", "");
    deliver(&server, "alice@example.com", 3, "both");
    let out = python(
        IMAP_SEES_POP3,
        &[&server.imap_port.to_string(), &server.pop3_port.to_string()],
    );
    assert_eq!(
        out, "EXPUNGE 2\nFETCH 1 (UID 1 FLAGS (\\Seen \\Recent))\nSEARCH 1 2\n",
        "{out}"
    );
}
