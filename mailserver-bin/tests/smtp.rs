//! The real binary, spoken to by clients this project did not write (Python's smtplib, swaks)
//! and, where no client does what we need (hand-made pipelines, BDAT), raw TCP.

#![allow(clippy::unwrap_used)]

mod support;

use std::process::Command;
use std::time::Duration;

use support::{Server, python, require, strip_trace, write_file};

const SEND: &str = include_str!("clients/smtp_send.py");

fn send(server: &Server, tls: bool, from: &str, to: &[&str], body: &[u8]) -> String {
    let path = server.dir.join(format!("msg-{}.eml", rand_suffix()));
    write_file(&path, body);
    python(
        SEND,
        &[
            &server.port.to_string(),
            if tls { "tls" } else { "plain" },
            from,
            &to.join(","),
            path.to_str().unwrap(),
        ],
    )
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

#[test]
fn plain_and_starttls_delivery_with_smtplib() {
    let server = Server::start("basic", "");
    let body = b"From: a@example.org\r\nSubject: plain\r\n\r\nHello plain\r\n";
    send(
        &server,
        false,
        "a@example.org",
        &["alice@example.com"],
        body,
    );
    let tls_body = b"From: a@example.org\r\nSubject: tls\r\n\r\nHello TLS\r\n";
    send(
        &server,
        true,
        "a@example.org",
        &["alice@example.com", "bob@example.com"],
        tls_body,
    );
    let alice = server.messages("alice@example.com");
    assert_eq!(alice.len(), 2);
    let bodies: Vec<&[u8]> = alice.iter().map(|m| strip_trace(m)).collect();
    assert!(bodies.contains(&&body[..]));
    assert!(bodies.contains(&&tls_body[..]));
    let tls_copy = alice.iter().find(|m| strip_trace(m) == tls_body).unwrap();
    let header = String::from_utf8_lossy(&tls_copy[..tls_copy.len() - tls_body.len()]).into_owned();
    assert!(header.contains("with ESMTPS id"), "{header}");
    assert!(
        header.contains("from client.example.org ([127.0.0.1])"),
        "{header}"
    );
    assert!(
        !header.contains("for <"),
        "two recipients: no for clause: {header}"
    );
    assert_eq!(server.messages("bob@example.com").len(), 1);
    assert!(server.tmp_is_empty("alice@example.com"));
    // Two recipients: one file, hard-linked into both Maildirs (as Dovecot's LMTP stores
    // it), with Return-Path: and no Delivered-To:, which could name only one of them.
    assert!(
        header.starts_with("Return-Path: <a@example.org>\r\nReceived: "),
        "{header}"
    );
    let inode = |user: &str| {
        use std::os::unix::fs::MetadataExt;
        std::fs::read_dir(server.maildir(user).join("new"))
            .unwrap()
            .map(|e| e.unwrap().metadata().unwrap())
            .find(|m| m.len() == tls_copy.len() as u64)
            .map(|m| (m.ino(), m.nlink()))
            .unwrap()
    };
    assert_eq!(inode("alice@example.com"), inode("bob@example.com"));
    assert_eq!(inode("bob@example.com").1, 2);
    // The file name carries sizes Dovecot reads instead of stat()ing.
    let name = std::fs::read_dir(server.maildir("bob@example.com").join("new"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    let name = name.file_name().into_string().unwrap();
    let len = server.messages("bob@example.com")[0].len();
    assert!(name.ends_with(&format!(",S={len},W={len}")), "{name}");
    let log = server.log();
    assert!(
        log.contains("result=\"delivered\"") || log.contains("result=delivered"),
        "{log}"
    );
}

#[test]
fn swaks_starttls_and_pipelining() {
    require("swaks");
    let server = Server::start("swaks", "");
    let out = Command::new("swaks")
        .args(["--server", &format!("127.0.0.1:{}", server.port)])
        .args(["--from", "sender@example.org", "--to", "carol@example.com"])
        .args(["--tls", "--pipeline", "--helo", "swaks.example.org"])
        .args([
            "--header",
            "Subject: via swaks",
            "--body",
            "..dots\nline two",
        ])
        .output()
        .unwrap();
    let transcript = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "swaks failed:\n{transcript}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let messages = server.messages("carol@example.com");
    assert_eq!(messages.len(), 1);
    let text = String::from_utf8_lossy(strip_trace(&messages[0])).into_owned();
    assert!(text.contains("Subject: via swaks"));
    // swaks dot-stuffs the body line "..dots" to "...dots"; it must arrive as "..dots".
    assert!(text.contains("\r\n..dots\r\nline two\r\n"), "{text:?}");
}

#[test]
fn pipelined_session_replies_in_order() {
    let server = Server::start("pipeline", "");
    let mut c = server.connect();
    c.command("EHLO raw.example.org");
    c.send(
        b"MAIL FROM:<a@example.org>\r\nRCPT TO:<alice@example.com>\r\nRCPT TO:<nobody@example.com>\r\n\
          RCPT TO:<x@elsewhere.example>\r\nRCPT TO:<dave@example.com>\r\nDATA\r\n",
    );
    let replies: Vec<String> = (0..6).map(|_| c.reply()).collect();
    let codes: Vec<&str> = replies.iter().map(|r| &r[..9]).collect();
    assert_eq!(
        codes,
        [
            "250 2.1.0",
            "250 2.1.5",
            "550 5.1.1",
            "554 5.7.1",
            "250 2.1.5",
            "354 End d"
        ],
        "{replies:?}"
    );
    c.send(b"Subject: pipelined\r\n\r\n..one\r\n.\r\nMAIL FROM:<b@example.org>\r\nRCPT TO:<erin@example.com>\r\nDATA\r\n");
    assert!(c.reply().starts_with("250 2.0.0 Ok: queued as"));
    assert!(c.reply().starts_with("250 2.1.0"));
    assert!(c.reply().starts_with("250 2.1.5"));
    assert!(c.reply().starts_with("354"));
    c.send(b"second\r\n.\r\nQUIT\r\n");
    assert!(c.reply().starts_with("250 2.0.0"));
    assert!(c.reply().starts_with("221"));
    for user in ["alice@example.com", "dave@example.com"] {
        let m = server.messages(user);
        assert_eq!(m.len(), 1);
        assert_eq!(strip_trace(&m[0]), b"Subject: pipelined\r\n\r\n.one\r\n");
    }
    assert_eq!(
        strip_trace(&server.messages("erin@example.com")[0]),
        b"second\r\n"
    );
}

#[test]
fn bdat_chunks_are_binary_safe() {
    let server = Server::start("bdat", "");
    let mut c = server.connect();
    assert!(c.command("EHLO raw.example.org").contains("CHUNKING"));
    c.send(b"MAIL FROM:<a@example.org> BODY=BINARYMIME\r\nRCPT TO:<bob@example.com>\r\n");
    assert!(c.reply().starts_with("250"));
    assert!(c.reply().starts_with("250"));
    let part1 = b"Subject: bdat\r\n\r\n.not stuffed\r\n\0binary\n";
    let part2 = b"\r\n.\r\ntail";
    c.send(format!("BDAT {}\r\n", part1.len()).as_bytes());
    c.send(part1);
    assert!(c.reply().starts_with("250 2.0.0"));
    c.send(format!("BDAT {} LAST\r\n", part2.len()).as_bytes());
    c.send(part2);
    assert!(c.reply().starts_with("250 2.0.0 Ok: queued"));
    // BDAT 0 LAST with nothing before it is an empty message.
    c.send(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<bob@example.com>\r\nBDAT 0 LAST\r\n");
    for _ in 0..3 {
        assert!(c.reply().starts_with("250"));
    }
    c.command("QUIT");
    let m = server.messages("bob@example.com");
    assert_eq!(m.len(), 2);
    let bodies: Vec<&[u8]> = m.iter().map(|m| strip_trace(m)).collect();
    assert!(bodies.contains(&&[&part1[..], &part2[..]].concat()[..]));
    assert!(bodies.contains(&&b""[..]));
}

#[test]
fn eight_bit_and_utf8_addresses() {
    let server = Server::start("utf8", "");
    server.admin_ok(&["alias", "add", "jürgen@example.com", "alice@example.com"]);
    let body = "From: Jürgen <jürgen@exämple.org>\r\nSubject: Grüße\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nÄÖÜ äöü ß €\r\n";
    let out = send(
        &server,
        false,
        "jürgen@exämple.org",
        &["jürgen@example.com"],
        body.as_bytes(),
    );
    assert!(out.contains("refused {}"), "{out}");
    let m = server.messages("alice@example.com");
    assert_eq!(m.len(), 1);
    assert_eq!(strip_trace(&m[0]), body.as_bytes());
    let header = String::from_utf8_lossy(&m[0]).into_owned();
    assert!(header.contains("with UTF8SMTP id"), "{header}");
    // Without SMTPUTF8 a UTF-8 address is refused.
    let mut c = server.connect();
    c.command("EHLO raw.example.org");
    assert!(
        c.command("MAIL FROM:<jürgen@exämple.org>")
            .starts_with("553 5.6.7")
    );
}

#[test]
fn refusals_unknown_user_relay_size_long_command() {
    let server = Server::start("refuse", "[limits]\nmax_message_size = 2000\n");
    let mut c = server.connect();
    assert!(c.command("EHLO raw.example.org").contains("SIZE 2000"));
    assert!(c.command("MAIL FROM:<a@example.org>").starts_with("250"));
    let unknown = c.command("RCPT TO:<nobody@example.com>");
    assert!(unknown.starts_with("550 5.1.1"), "{unknown}");
    let relay = c.command("RCPT TO:<victim@gmail.com>");
    assert!(
        relay.starts_with("554 5.7.1") && relay.contains("Relay access denied"),
        "{relay}"
    );
    assert!(c.command("RCPT TO:<[192.0.2.1]>").starts_with("501"));
    assert!(
        c.command("RCPT TO:<x@[192.0.2.1]>")
            .starts_with("554 5.7.1")
    );
    assert!(c.command("RSET").starts_with("250"));
    // SIZE declared too big.
    assert!(
        c.command("MAIL FROM:<a@example.org> SIZE=2001")
            .starts_with("552 5.3.4")
    );
    // Body too big: read to the end, then refused.
    assert!(c.command("MAIL FROM:<a@example.org>").starts_with("250"));
    assert!(c.command("RCPT TO:<alice@example.com>").starts_with("250"));
    assert!(c.command("DATA").starts_with("354"));
    let big = "x".repeat(100) + "\r\n";
    c.send(big.repeat(30).as_bytes());
    assert!(c.command(".").starts_with("552 5.3.4"));
    // An over-long command line: refused, and the connection closed (a client could
    // otherwise send one that never ends).
    let long = format!("NOOP {}", "y".repeat(600));
    assert!(c.command(&long).starts_with("500 5.5.2"));
    assert!(c.reply().starts_with("421 4.7.0"));
    assert_eq!(c.read_to_end(), "");
    assert!(server.messages("alice@example.com").is_empty());
    assert!(server.tmp_is_empty("alice@example.com"));
}

/// What Postfix accepts is accepted: a 2,500-octet line is stored intact, and a bare LF is
/// stored as CRLF (Postfix 3.9's `smtpd_forbid_bare_newline = normalize`) while only
/// CRLF.CRLF ends the message, so the smuggling shape stays inside the message it came in.
/// The stricter behaviour is an option, and refuses both after reading to the real end.
#[test]
fn long_lines_and_bare_lf_are_stored_as_postfix_stores_them() {
    let send = |server: &Server, body: &[u8]| {
        let mut c = server.connect();
        assert!(c.command("EHLO client.example").starts_with("250"));
        assert!(c.command("MAIL FROM:<a@example.org>").starts_with("250"));
        assert!(c.command("RCPT TO:<alice@example.com>").starts_with("250"));
        assert!(c.command("DATA").starts_with("354"));
        c.send(body);
        let r = c.command(".");
        assert!(c.command("QUIT").starts_with("221"));
        r
    };
    let long = format!("Subject: long\r\n\r\n<p>{}</p>\r\n", "z".repeat(2500));
    let smuggle = b"Subject: x\r\n\r\nhello\n.\nMAIL FROM:<evil@example.org>\r\n";

    let server = Server::start("long-lines", "");
    let r = send(&server, long.as_bytes());
    assert!(r.starts_with("250"), "{r}");
    let r = send(&server, smuggle);
    assert!(r.starts_with("250"), "{r}");
    let stored = server.messages("alice@example.com");
    assert_eq!(stored.len(), 2);
    let bodies: Vec<&[u8]> = stored.iter().map(|m| strip_trace(m)).collect();
    assert!(bodies.contains(&long.as_bytes()), "the long line intact");
    let normalized = &b"Subject: x\r\n\r\nhello\r\n.\r\nMAIL FROM:<evil@example.org>\r\n"[..];
    assert!(
        bodies.contains(&normalized),
        "bare LF stored as CRLF, in one message"
    );
    assert!(
        !server.log().contains("evil@example.org"),
        "never a command"
    );

    let strict = Server::start(
        "long-lines-strict",
        "[smtp]\nlong_lines = \"reject\"\nbare_line_ending = \"reject\"\n",
    );
    let r = send(&strict, long.as_bytes());
    assert!(r.starts_with("550 5.6.0"), "{r}");
    let r = send(&strict, smuggle);
    assert!(r.starts_with("550 5.6.0"), "{r}");
    assert!(strict.messages("alice@example.com").is_empty());
    assert!(strict.tmp_is_empty("alice@example.com"));
}

const CONCURRENT: &str = include_str!("clients/smtp_concurrent.py");

#[test]
fn fifty_sessions_thousand_messages_exactly_once() {
    let server = Server::start("load", "");
    let users = ["alice", "bob", "carol", "dave", "erin"];
    let outbox = server.dir.join("outbox");
    std::fs::create_dir_all(&outbox).unwrap();
    let mut expected: Vec<Vec<Vec<u8>>> = vec![Vec::new(); users.len()];
    for i in 0..1000 {
        // Every 7th message goes to two users; sizes vary; some lines start with dots.
        let mut rcpt = vec![i % users.len()];
        if i % 7 == 0 {
            rcpt.push((i + 2) % users.len());
        }
        let mut body =
            format!("Message-ID: <{i}@load.example.org>\r\nSubject: load {i}\r\n\r\n").into_bytes();
        for line in 0..(i % 40) {
            body.extend_from_slice(
                format!(
                    "{}line {line} of message {i}\r\n",
                    if line % 5 == 0 { "." } else { "" }
                )
                .as_bytes(),
            );
        }
        write_file(&outbox.join(format!("{i:04}.eml")), &body);
        let list: Vec<String> = rcpt
            .iter()
            .map(|u| format!("{}@example.com", users[*u]))
            .collect();
        write_file(
            &outbox.join(format!("{i:04}.rcpt")),
            list.join(",").as_bytes(),
        );
        for u in rcpt {
            expected[u].push(body.clone());
        }
    }
    python(
        CONCURRENT,
        &[&server.port.to_string(), outbox.to_str().unwrap(), "50"],
    );
    for (u, user) in users.iter().enumerate() {
        let mut got: Vec<Vec<u8>> = server
            .messages(&format!("{user}@example.com"))
            .iter()
            .map(|m| strip_trace(m).to_vec())
            .collect();
        got.sort();
        let mut want = expected[u].clone();
        want.sort();
        assert_eq!(got.len(), want.len(), "{user}: message count");
        assert!(got == want, "{user}: contents differ");
        assert!(server.tmp_is_empty(&format!("{user}@example.com")));
    }
}

#[test]
fn sigterm_lets_a_message_finish_and_refuses_idle_sessions() {
    let mut server = Server::start("shutdown", "");
    let mut idle = server.connect();
    idle.command("EHLO idle.example.org");
    let mut busy = server.connect();
    busy.command("EHLO busy.example.org");
    assert!(busy.command("MAIL FROM:<a@example.org>").starts_with("250"));
    assert!(
        busy.command("RCPT TO:<alice@example.com>")
            .starts_with("250")
    );
    assert!(busy.command("DATA").starts_with("354"));
    busy.send(b"Subject: in flight\r\n\r\nfirst half\r\n");
    server.signal("TERM");
    // The idle session is told at once.
    let bye = idle.reply();
    assert!(bye.starts_with("421 4.3.2"), "{bye}");
    // New connections are refused.
    std::thread::sleep(Duration::from_millis(300));
    assert!(std::net::TcpStream::connect(("127.0.0.1", server.port)).is_err());
    // The message in flight completes and is acknowledged, then the session is closed.
    busy.send(b"second half\r\n.\r\n");
    assert!(busy.reply().starts_with("250 2.0.0 Ok: queued"));
    assert!(busy.reply().starts_with("421 4.3.2"));
    let status = server.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "{status:?}");
    let m = server.messages("alice@example.com");
    assert_eq!(m.len(), 1);
    assert_eq!(
        strip_trace(&m[0]),
        b"Subject: in flight\r\n\r\nfirst half\r\nsecond half\r\n"
    );
}

#[test]
fn client_vanishing_mid_message_leaves_nothing() {
    let server = Server::start("vanish", "");
    {
        let mut c = server.connect();
        c.command("EHLO gone.example.org");
        c.command("MAIL FROM:<a@example.org>");
        c.command("RCPT TO:<alice@example.com>");
        c.command("DATA");
        // More than the in-memory batch, so a tmp file exists when the client goes away.
        let chunk = "0123456789".repeat(10) + "\r\n";
        c.send(chunk.repeat(4000).as_bytes());
    }
    std::thread::sleep(Duration::from_millis(500));
    assert!(server.messages("alice@example.com").is_empty());
    assert!(server.tmp_is_empty("alice@example.com"));
}

#[test]
fn admin_cli_reports_bad_input() {
    let server = Server::start("cli", "");
    let cases: &[(&[&str], &str)] = &[
        (&["domain", "add", "example.com"], "already exists"),
        (&["domain", "add", "not_a_domain"], "not a valid domain"),
        (
            &["user", "add", "alice@example.com", "--password-stdin"],
            "already exists",
        ),
        (
            &["user", "add", "zed@unknown.example", "--password-stdin"],
            "does not exist",
        ),
        (
            &["user", "add", "no-at-sign", "--password-stdin"],
            "not a valid email address",
        ),
        (&["user", "remove", "ghost@example.com"], "does not exist"),
        (
            &["alias", "add", "x@unknown.example", "alice@example.com"],
            "does not exist",
        ),
        (&["alias", "remove", "x@example.com"], "does not exist"),
        (&["domain", "remove", "example.com"], "remove them first"),
    ];
    for (args, message) in cases {
        let out = server.admin(args, "pw\n");
        assert!(!out.status.success(), "{args:?} should fail");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(message), "{args:?}: {err}");
    }
    let out = server.admin_ok(&["user", "list", "example.com"]);
    assert!(out.contains("alice@example.com"));
    let out = server.admin_ok(&["user", "add", "frank@example.net"]);
    assert!(
        out.contains("password: "),
        "a generated password is shown once"
    );
    server.admin_ok(&["domain", "add", "empty.example"]);
    server.admin_ok(&["domain", "remove", "empty.example"]);
    let out = Command::new(support::BIN)
        .args(["config", "default"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("[listen]"));
    let bad = server.dir.join("bad.toml");
    write_file(&bad, b"[relay]\nhost = \"[relay.example\"\n");
    let out = Command::new(support::BIN)
        .args(["-c", bad.to_str().unwrap(), "serve"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("relay.host"));
}

#[test]
fn alias_domains_multi_target_aliases_and_catch_all() {
    let server = Server::start("aliases", "");
    server.admin_ok(&["domain", "add-alias", "example.org", "example.com"]);
    server.admin_ok(&[
        "alias",
        "add",
        "team@example.com",
        "alice@example.com",
        "bob@example.com",
    ]);
    server.admin_ok(&["alias", "add", "@example.com", "carol@example.com"]);
    let listed = server.admin_ok(&["domain", "list"]);
    assert!(
        listed
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>()
                == ["example.org", "yes", "example.com"]),
        "{listed}"
    );
    let refused = server.admin(&["domain", "add-alias", "example.net", "example.com"], "");
    assert!(
        !refused.status.success(),
        "example.net is a real domain already"
    );
    send(
        &server,
        false,
        "a@example.net",
        &["bob@example.org"],
        b"Subject: via alias domain\r\n\r\n1\r\n",
    );
    send(
        &server,
        false,
        "a@example.net",
        &["team@example.org"],
        b"Subject: team\r\n\r\n2\r\n",
    );
    send(
        &server,
        false,
        "a@example.net",
        &["whoever@example.org"],
        b"Subject: catch-all\r\n\r\n3\r\n",
    );
    let subjects = |user: &str| -> Vec<String> {
        server
            .messages(user)
            .iter()
            .map(|m| {
                String::from_utf8_lossy(strip_trace(m))
                    .lines()
                    .next()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    let mut bob = subjects("bob@example.com");
    bob.sort();
    assert_eq!(bob, ["Subject: team", "Subject: via alias domain"]);
    assert_eq!(subjects("alice@example.com"), ["Subject: team"]);
    assert_eq!(subjects("carol@example.com"), ["Subject: catch-all"]);
    // Remove the alias domain: example.org is foreign again, so relaying is refused.
    server.admin_ok(&["domain", "remove-alias", "example.org"]);
    let mut c = server.connect();
    c.command("EHLO raw.example.org");
    c.command("MAIL FROM:<a@example.net>");
    assert!(
        c.command("RCPT TO:<bob@example.org>")
            .starts_with("554 5.7.1")
    );
}

#[test]
fn deactivated_accounts_and_purge() {
    let server = Server::start("active", "");
    send(
        &server,
        false,
        "a@example.net",
        &["alice@example.com"],
        b"Subject: before\r\n\r\nx\r\n",
    );
    let pop3_login = |user: &str| -> String {
        let script = r#"
import poplib, sys
p = poplib.POP3("127.0.0.1", int(sys.argv[1]))
p.user(sys.argv[2])
try:
    print(p.pass_("secret").decode())
except poplib.error_proto as e:
    print(e.args[0].decode())
"#;
        python(script, &[&server.pop3_port.to_string(), user])
            .trim()
            .to_owned()
    };
    let rcpt = |to: &str| -> String {
        let mut c = server.connect();
        c.command("EHLO raw.example.org");
        c.command("MAIL FROM:<a@example.net>");
        c.command(&format!("RCPT TO:<{to}>"))
    };
    assert!(pop3_login("alice@example.com").starts_with("+OK"));

    server.admin_ok(&["user", "deactivate", "alice@example.com"]);
    assert!(rcpt("alice@example.com").starts_with("550 5.1.1"));
    assert!(pop3_login("alice@example.com").starts_with("-ERR [AUTH]"));
    let table = server.admin_ok(&["user", "list", "example.com"]);
    assert!(table.starts_with("ADDRESS"), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("alice@example.com") && l.contains(" no ")),
        "{table}"
    );
    server.admin_ok(&["user", "activate", "alice@example.com"]);
    assert!(rcpt("alice@example.com").starts_with("250"));

    server.admin_ok(&["domain", "deactivate", "example.com"]);
    assert!(
        rcpt("bob@example.com").starts_with("554 5.7.1"),
        "an inactive domain is not ours"
    );
    assert!(pop3_login("bob@example.com").starts_with("-ERR [AUTH]"));
    server.admin_ok(&["domain", "activate", "example.com"]);
    assert!(pop3_login("bob@example.com").starts_with("+OK"));

    let json = server.admin_ok(&["user", "list", "--json"]);
    assert!(
        json.trim_start().starts_with('[') && json.contains("\"address\":\"alice@example.com\""),
        "{json}"
    );
    assert!(
        server
            .admin_ok(&["domain", "list", "--json"])
            .contains("\"domain\":\"example.com\"")
    );

    // Removing keeps the mail; --purge deletes it.
    let maildir = server.maildir("alice@example.com");
    server.admin_ok(&["user", "remove", "alice@example.com"]);
    assert!(maildir.join("new").is_dir());
    server.admin_with_stdin(
        &["user", "add", "alice@example.com", "--password-stdin"],
        "secret\n",
    );
    let out = server.admin_ok(&["user", "remove", "alice@example.com", "--purge"]);
    assert!(out.contains("deleted"), "{out}");
    assert!(!maildir.exists());
    let missing = server.admin(&["user", "deactivate", "ghost@example.com"], "");
    assert!(String::from_utf8_lossy(&missing.stderr).contains("does not exist"));
}

/// `[accounts] cache_ttl`: a lookup is reused until it expires, so a change made meanwhile
/// shows only then; unknown addresses are remembered the same way.
#[test]
fn lookups_are_cached_for_their_ttl() {
    let server = Server::start("lookup-cache", "[accounts]\ncache_ttl = 2\n");
    let rcpt = |to: &str| -> String {
        let mut c = server.connect();
        c.command("EHLO raw.example.org");
        c.command("MAIL FROM:<a@example.net>");
        c.command(&format!("RCPT TO:<{to}>"))
    };
    assert!(rcpt("alice@example.com").starts_with("250"));
    assert!(rcpt("zoe@example.com").starts_with("550"));
    server.admin_ok(&["user", "deactivate", "alice@example.com"]);
    server.admin_with_stdin(
        &["user", "add", "zoe@example.com", "--password-stdin"],
        "secret\n",
    );
    // Within the TTL the server still answers from what it looked up.
    assert!(rcpt("alice@example.com").starts_with("250"));
    assert!(rcpt("zoe@example.com").starts_with("550"));
    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert!(rcpt("alice@example.com").starts_with("550 5.1.1"));
    assert!(rcpt("zoe@example.com").starts_with("250"));
}

#[test]
fn postmaster_always_has_a_mailbox() {
    // RFC 5321 §4.5.1: <Postmaster> without a domain must be accepted, and postmaster@ every
    // domain; without an alias it reaches the domain's oldest mailbox (alice here).
    let server = Server::start("postmaster", "");
    let mut c = server.connect();
    assert!(c.command("EHLO c.example").starts_with("250"));
    assert!(c.command("MAIL FROM:<a@example.org>").starts_with("250"));
    let r = c.command("RCPT TO:<postmaster>");
    assert!(r.starts_with("250"), "{r}");
    let r = c.command("RCPT TO:<Postmaster@EXAMPLE.com>");
    assert!(r.starts_with("250"), "{r}");
    assert!(c.command("DATA").starts_with("354"));
    c.send(b"Subject: to the postmaster\r\n\r\nhello\r\n");
    assert!(c.command(".").starts_with("250"));
    let got = server.messages("alice@example.com");
    assert_eq!(got.len(), 1, "one copy for both");
    // An alias decides where it goes, as does [smtp] postmaster.
    server.admin_ok(&["alias", "add", "postmaster@example.com", "bob@example.com"]);
    assert!(c.command("MAIL FROM:<a@example.org>").starts_with("250"));
    assert!(
        c.command("RCPT TO:<postmaster@example.com>")
            .starts_with("250")
    );
    assert!(c.command("DATA").starts_with("354"));
    c.send(b"Subject: to the postmaster\r\n\r\nagain\r\n");
    assert!(c.command(".").starts_with("250"));
    assert_eq!(server.messages("bob@example.com").len(), 1);
}

/// A message that has looped is refused at the end of DATA with 554 5.4.6, as Postfix
/// refuses it: one whose `Delivered-To:` names a mailbox it is for (delivered here, forwarded
/// out, and back; also through an alias), and one with more `Received:` fields than
/// `[limits] max_hops`. Each refusal is logged; nothing is stored.
#[test]
fn looped_mail_is_refused() {
    let server = Server::start("loops", "[limits]\nmax_hops = 5\n");
    server.admin_ok(&["alias", "add", "team@example.com", "alice@example.com"]);
    let send = |rcpt: &str, header: &str| {
        let mut c = server.connect();
        c.command("EHLO raw.example.org");
        assert!(c.command("MAIL FROM:<a@example.org>").starts_with("250"));
        assert!(c.command(&format!("RCPT TO:<{rcpt}>")).starts_with("250"));
        assert!(c.command("DATA").starts_with("354"));
        c.command(&format!("{header}Subject: loop\r\n\r\nbody\r\n."))
    };
    let reply = send("alice@example.com", "Delivered-To: Alice@Example.com\r\n");
    assert!(
        reply.starts_with("554 5.4.6") && reply.contains("loop"),
        "{reply}"
    );
    let reply = send("team@example.com", "Delivered-To: alice@example.com\r\n");
    assert!(reply.starts_with("554 5.4.6"), "through an alias: {reply}");
    let hops = "Received: from a by b; date\r\n".repeat(6);
    let reply = send("alice@example.com", &hops);
    assert!(
        reply.starts_with("554 5.4.6") && reply.contains("hops"),
        "{reply}"
    );
    assert!(server.messages("alice@example.com").is_empty());
    assert!(server.tmp_is_empty("alice@example.com"));
    // Within the limits, and delivered to someone else before: stored.
    let hops = "Received: from a by b; date\r\n".repeat(5);
    let reply = send(
        "alice@example.com",
        &format!("{hops}Delivered-To: bob@example.com\r\n"),
    );
    assert!(reply.starts_with("250"), "{reply}");
    assert_eq!(server.messages("alice@example.com").len(), 1);
    assert_eq!(
        server.log().matches("message refused: mail loop").count(),
        3
    );
}

/// An IDN is one domain whichever form is written: the CLI stores `Bücher.example` as its
/// A-label and shows the U-label; mail to `bob@bücher.example` (SMTPUTF8) and to
/// `bob@xn--bcher-kva.example` reaches the same mailbox; IMAP logs in with either form.
#[test]
fn an_idn_domain_is_one_domain_in_either_form() {
    let server = Server::start("idn", "");
    let added = server.admin_ok(&["domain", "add", "Bücher.example"]);
    assert!(
        added.contains("bücher.example (xn--bcher-kva.example)"),
        "{added}"
    );
    server.admin_with_stdin(
        &["user", "add", "bob@bücher.example", "--password-stdin"],
        "secret\n",
    );
    let list = server.admin_ok(&["domain", "list"]);
    assert!(list.contains("bücher.example"), "{list}");
    let out = python(
        "import imaplib, smtplib, sys\n\
         s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]))\n\
         s.ehlo()\n\
         print(s.sendmail('a@example.org', ['bob@bücher.example'], b'Subject: u-label\\r\\n\\r\\nx\\r\\n', mail_options=['SMTPUTF8']))\n\
         print(s.sendmail('a@example.org', ['bob@xn--bcher-kva.example'], b'Subject: a-label\\r\\n\\r\\nx\\r\\n'))\n\
         s.quit()\n\
         for user in ['bob@xn--bcher-kva.example', '\"bob@b\\u00fccher.example\"']:\n\
         \x20   m = imaplib.IMAP4('127.0.0.1', int(sys.argv[2]))\n\
         \x20   m._encoding = 'utf-8'\n\
         \x20   print(m.login(user, 'secret')[0], m.select('INBOX')[1][0].decode())\n\
         \x20   m.logout()\n",
        &[&server.port.to_string(), &server.imap_port.to_string()],
    );
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["{}", "{}", "OK 2", "OK 2"],
        "{out}"
    );
    // SELECT moved both from new/ to cur/ of the one Maildir, named by the A-label.
    let cur = server.maildir("bob@xn--bcher-kva.example").join("cur");
    assert_eq!(std::fs::read_dir(cur).unwrap().count(), 2);
}
