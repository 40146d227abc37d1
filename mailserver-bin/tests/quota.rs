//! Per-mailbox quotas: usage kept in Maildir++ `maildirsize`, refusal at RCPT once full (452
//! 4.2.2, or 552 5.2.2 if configured), room made by a POP3 expunge.
#![allow(clippy::unwrap_used)]

mod support;

use support::{Server, python};

fn deliver_one(server: &Server, rcpt: &str, mail_from: &str) -> (String, Option<String>) {
    let mut c = server.connect();
    c.command("EHLO raw.example.org");
    c.command(mail_from);
    let rcpt_reply = c.command(&format!("RCPT TO:<{rcpt}>"));
    if !rcpt_reply.starts_with("250") {
        return (rcpt_reply, None);
    }
    assert!(c.command("DATA").starts_with("354"));
    let body = format!("Subject: quota\r\n\r\n{}\r\n.", "x".repeat(500));
    let done = c.command(&body);
    (rcpt_reply, Some(done))
}

#[test]
fn quota_refuses_when_full_and_pop3_makes_room() {
    let server = Server::start("quota", "");
    server.admin_ok(&["user", "quota", "alice@example.com", "2K"]);
    let mut delivered = 0;
    let full = loop {
        let (rcpt, done) = deliver_one(&server, "alice@example.com", "MAIL FROM:<a@example.net>");
        match done {
            Some(d) => {
                assert!(d.starts_with("250"), "{d}");
                delivered += 1;
                assert!(delivered < 10, "quota never reached");
            }
            None => break rcpt,
        }
    };
    assert!(full.starts_with("452 4.2.2"), "{full}");
    assert!(delivered >= 2, "{delivered}");
    let maildirsize =
        std::fs::read_to_string(server.maildir("alice@example.com").join("maildirsize")).unwrap();
    assert!(maildirsize.starts_with("2048S\n"), "{maildirsize}");
    let json = server.admin_ok(&["user", "list", "example.com", "--json"]);
    assert!(json.contains("\"quota\":2048"), "{json}");
    // Other users are not affected.
    assert!(
        deliver_one(&server, "bob@example.com", "MAIL FROM:<a@example.net>")
            .1
            .is_some()
    );

    // A POP3 client deletes everything: room again.
    let script = r#"
import poplib, sys
p = poplib.POP3("127.0.0.1", int(sys.argv[1]))
p.user("alice@example.com"); p.pass_("secret")
n = p.stat()[0]
for i in range(1, n + 1):
    p.dele(i)
p.quit()
print(n)
"#;
    let deleted: usize = python(script, &[&server.pop3_port.to_string()])
        .trim()
        .parse()
        .unwrap();
    assert_eq!(deleted, delivered);
    let (rcpt, done) = deliver_one(&server, "alice@example.com", "MAIL FROM:<a@example.net>");
    assert!(
        rcpt.starts_with("250") && done.unwrap().starts_with("250"),
        "{rcpt}"
    );
    // A declared SIZE that would not fit is refused before any data is sent.
    let (rcpt, _) = deliver_one(
        &server,
        "alice@example.com",
        "MAIL FROM:<a@example.net> SIZE=5000",
    );
    assert!(rcpt.starts_with("452 4.2.2"), "{rcpt}");
    let bad = server.admin(&["user", "quota", "alice@example.com", "lots"], "");
    assert!(!bad.status.success());
}

#[test]
fn permanent_quota_refusal_when_configured() {
    let server = Server::start(
        "quota-permanent",
        "[smtp]\nquota_exceeded = \"permanent\"\n",
    );
    server.admin_ok(&["user", "quota", "carol@example.com", "100"]);
    assert!(
        deliver_one(&server, "carol@example.com", "MAIL FROM:<a@example.net>")
            .1
            .is_some()
    );
    let (rcpt, _) = deliver_one(&server, "carol@example.com", "MAIL FROM:<a@example.net>");
    assert!(rcpt.starts_with("552 5.2.2"), "{rcpt}");
}

/// RFC 9208 over IMAP: the quota root and usage a client shows, SETQUOTA refused, and APPEND
/// refused with OVERQUOTA once the mailbox is full.
#[test]
fn imap_reports_the_quota_and_refuses_append_over_it() {
    let server = Server::start("quota-imap", "");
    server.admin_ok(&["user", "quota", "alice@example.com", "4K"]);
    let (rcpt, done) = deliver_one(&server, "alice@example.com", "MAIL FROM:<a@example.org>");
    assert!(rcpt.starts_with("250"), "{rcpt}");
    assert!(done.unwrap().starts_with("250"));
    let script = r#"
import imaplib, json, sys
out = {}
for user in ("alice@example.com", "bob@example.com"):
    M = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
    M.login(user, "secret")
    typ, data = M.getquotaroot("INBOX")
    out[user] = [typ] + [[x.decode() if x else None for x in part] for part in data]
    if user.startswith("alice"):
        typ, data = M.getquota('""')
        out["getquota"] = [typ, data[0].decode()]
        # imaplib returns NO rather than raising it.
        typ, data = M.setquota('""', "(STORAGE 99999)")
        out["setquota"] = typ + " " + data[0].decode()
        typ, data = M.append("INBOX", None, None, b"Subject: big\r\n\r\n" + b"x" * 8000 + b"\r\n")
        out["append"] = typ + " " + data[0].decode()
    M.logout()
print(json.dumps(out))
"#;
    let out = python(script, &[&server.imap_port.to_string()]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["alice@example.com"][0], "OK", "{out}");
    assert_eq!(v["alice@example.com"][1][0], "INBOX \"\"", "{out}");
    let quota = v["alice@example.com"][2][0].as_str().unwrap();
    assert!(quota.starts_with("\"\" (STORAGE 1 4)"), "{out}");
    assert_eq!(v["getquota"][0], "OK", "{out}");
    assert!(
        v["getquota"][1]
            .as_str()
            .unwrap()
            .starts_with("\"\" (STORAGE 1 4)"),
        "{out}"
    );
    assert!(
        v["setquota"].as_str().unwrap().starts_with("NO [NOPERM]"),
        "{out}"
    );
    assert!(
        v["append"].as_str().unwrap().starts_with("NO [OVERQUOTA]"),
        "{out}"
    );
    // Without a limit there is no quota root.
    assert_eq!(v["bob@example.com"][1][0], "INBOX", "{out}");
}

/// A message-count limit for every mailbox (Dovecot's `quota_rule = *:messages=N`): SMTP
/// refuses the message past it, IMAP reports the MESSAGE resource (QUOTA=RES-MESSAGE) and
/// refuses APPEND and COPY, and messages in folders count too.
#[test]
fn message_count_limit_over_smtp_and_imap() {
    let server = Server::start("quota-messages", "[limits]\nmax_messages_per_mailbox = 3\n");
    for _ in 0..2 {
        let (rcpt, done) = deliver_one(&server, "alice@example.com", "MAIL FROM:<a@example.org>");
        assert!(
            rcpt.starts_with("250") && done.unwrap().starts_with("250"),
            "{rcpt}"
        );
    }
    let script = r#"
import imaplib, json, sys
M = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
M.login("alice@example.com", "secret")
out = {"caps": sorted(M.capabilities)}
out["append_sent"] = M.append("Sent", None, None, b"Subject: s\r\n\r\nx\r\n")[0]
typ, data = M.getquotaroot("INBOX")
out["quota"] = [x.decode() if isinstance(x, bytes) else None for x in data[1]]
M.select("INBOX")
typ, data = M.copy("1", "Archive")
out["copy"] = typ + " " + data[0].decode()
typ, data = M.append("INBOX", None, None, b"Subject: t\r\n\r\nx\r\n")
out["append"] = typ + " " + data[0].decode()
print(json.dumps(out))
"#;
    let out = python(script, &[&server.imap_port.to_string()]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(out.contains("QUOTA=RES-MESSAGE"), "{out}");
    assert_eq!(v["append_sent"], "OK", "{out}");
    assert_eq!(v["quota"][0], "\"\" (MESSAGE 3 3)", "{out}");
    assert!(
        v["copy"].as_str().unwrap().starts_with("NO [OVERQUOTA]"),
        "{out}"
    );
    assert!(
        v["append"].as_str().unwrap().starts_with("NO [OVERQUOTA]"),
        "{out}"
    );
    let (rcpt, _) = deliver_one(&server, "alice@example.com", "MAIL FROM:<a@example.org>");
    assert!(rcpt.starts_with("452 4.2.2"), "{rcpt}");
    let maildirsize =
        std::fs::read_to_string(server.maildir("alice@example.com").join("maildirsize")).unwrap();
    assert!(maildirsize.starts_with("0S,3C\n"), "{maildirsize}");
}

/// A mailbox's own message limit (`user message-quota`) overrides the server's: lower,
/// none, or back to the default; `user list` shows count and limit.
#[test]
fn a_mailbox_may_have_its_own_message_limit() {
    let server = Server::start(
        "quota-own-messages",
        "[limits]\nmax_messages_per_mailbox = 3\n",
    );
    let deliver = || deliver_one(&server, "alice@example.com", "MAIL FROM:<a@example.org>").0;
    let out = server.admin_ok(&["user", "message-quota", "alice@example.com", "1"]);
    assert_eq!(out, "alice@example.com may hold 1 messages\n");
    assert!(deliver().starts_with("250"));
    assert!(deliver().starts_with("452 4.2.2"));
    let list = server.admin_ok(&["user", "list"]);
    let row = list.lines().find(|l| l.starts_with("alice@")).unwrap();
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(&cells[4..6], ["1", "1"], "{list}");
    server.admin_ok(&["user", "message-quota", "alice@example.com", "none"]);
    for _ in 0..4 {
        assert!(deliver().starts_with("250"));
    }
    let json = server.admin_ok(&["user", "list", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let alice = v
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["address"] == "alice@example.com")
        .unwrap();
    assert_eq!(
        (alice["messages"].as_i64(), alice["message_quota"].as_u64()),
        (Some(5), Some(0))
    );
    let out = server.admin_ok(&["user", "message-quota", "alice@example.com", "default"]);
    assert_eq!(
        out,
        "alice@example.com may hold 3 messages (the server's default)\n"
    );
    assert!(deliver().starts_with("452 4.2.2"));
    let bad = server.admin(&["user", "message-quota", "alice@example.com", "lots"], "");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not a message count"));
    let unknown = server.admin(&["user", "message-quota", "nobody@example.com", "5"], "");
    assert!(!unknown.status.success());
}

/// A domain's quota covers all its mailboxes together (PostfixAdmin's `domain.quota`, in
/// MB): once alice's mail fills it, mail for bob is refused too, over SMTP and IMAP APPEND.
#[test]
fn domain_quota_covers_all_its_mailboxes() {
    let server = Server::start("quota-domain", "");
    server.admin_ok(&["domain", "quota", "example.com", "1M"]);
    let listed = server.admin_ok(&["domain", "list", "--json"]);
    assert!(listed.contains("\"quota\":1048576"), "{listed}");
    let big = |rcpt: &str| {
        let mut c = server.connect();
        c.command("EHLO raw.example.org");
        c.command("MAIL FROM:<a@example.org>");
        let reply = c.command(&format!("RCPT TO:<{rcpt}>"));
        if !reply.starts_with("250") {
            return reply;
        }
        assert!(c.command("DATA").starts_with("354"));
        let line = "x".repeat(998);
        let body: String = (0..600).map(|_| format!("{line}\r\n")).collect();
        c.command(&format!("Subject: big\r\n\r\n{body}."))
    };
    // Without a declared SIZE, a message is refused once the quota is used up.
    assert!(big("alice@example.com").starts_with("250"));
    assert!(big("alice@example.com").starts_with("250"));
    let refused = big("bob@example.com");
    assert!(refused.starts_with("452 4.2.2"), "{refused}");
    let script = r#"
import imaplib, sys
M = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
M.login("bob@example.com", "secret")
typ, data = M.append("INBOX", None, None, b"Subject: big\r\n\r\n" + b"y" * 500000 + b"\r\n")
print(typ, data[0].decode())
"#;
    let out = python(script, &[&server.imap_port.to_string()]);
    assert!(out.starts_with("NO [OVERQUOTA]"), "{out}");
    // Another domain is not affected.
    let other = server.admin_ok(&["domain", "list"]);
    assert!(other.contains("QUOTA"), "{other}");
}

/// PostfixAdmin's domain limits, enforced by the admin CLI: how many mailboxes and aliases a
/// domain may have, and its largest mailbox quota.
#[test]
fn domain_limits_bound_mailboxes_aliases_and_quotas() {
    let server = Server::start("domain-limits", "");
    let out = server.admin_ok(&[
        "domain",
        "limits",
        "example.com",
        "--mailboxes",
        "5",
        "--aliases",
        "1",
        "--max-quota",
        "10M",
    ]);
    assert!(
        out.contains("mailboxes 5, aliases 1, largest mailbox quota 10 MB"),
        "{out}"
    );
    let json = server.admin_ok(&["domain", "limits", "example.com", "--json"]);
    assert!(json.contains("\"max_quota_mb\":10"), "{json}");
    // The five test users fill it.
    let full = server.admin(
        &["user", "add", "zoe@example.com", "--password-stdin"],
        "pw\n",
    );
    assert!(!full.status.success());
    let err = String::from_utf8_lossy(&full.stderr);
    assert!(err.contains("at most 5 mailboxes"), "{err}");
    server.admin_ok(&["alias", "add", "sales@example.com", "alice@example.com"]);
    let second = server.admin(&["alias", "add", "info@example.com", "bob@example.com"], "");
    assert!(!second.status.success());
    assert!(String::from_utf8_lossy(&second.stderr).contains("at most 1 aliases"));
    // Adding a target to an existing alias is not a new alias.
    server.admin_ok(&["alias", "add", "sales@example.com", "bob@example.com"]);
    let big = server.admin(&["user", "quota", "alice@example.com", "20M"], "");
    assert!(!big.status.success());
    assert!(String::from_utf8_lossy(&big.stderr).contains("at most 10 MB"));
    server.admin_ok(&["user", "quota", "alice@example.com", "5M"]);
    server.admin_ok(&["domain", "limits", "example.com", "--mailboxes", "-1"]);
    let none = server.admin(
        &["user", "add", "zoe@example.com", "--password-stdin"],
        "pw\n",
    );
    assert!(String::from_utf8_lossy(&none.stderr).contains("may have no mailboxes"));
    server.admin_ok(&["domain", "limits", "example.com", "--mailboxes", "0"]);
    server.admin_with_stdin(
        &["user", "add", "zoe@example.com", "--password-stdin"],
        "pw\n",
    );
}

/// `quota recalc` (Dovecot's `doveadm quota recalc`): usage counted again from the files,
/// whatever `maildirsize` and `quota2` said, and a clear message for an unknown mailbox.
#[test]
fn quota_recalc_counts_the_files_again() {
    // quota2 is written every 20 ms here (every second by default).
    let server = Server::start("quota-recalc", "[accounts]\nusage_write_ms = 20\n");
    for _ in 0..3 {
        let (_, done) = deliver_one(&server, "alice@example.com", "MAIL FROM:<a@example.net>");
        assert!(done.unwrap().starts_with("250"));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    let maildir = server.maildir("alice@example.com");
    let sizes: u64 = std::fs::read_dir(maildir.join("new"))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    // A file removed behind the server's back, and usage gone wrong.
    let gone = std::fs::read_dir(maildir.join("new"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    let gone_size = gone.metadata().unwrap().len();
    std::fs::remove_file(gone.path()).unwrap();
    std::fs::write(maildir.join("maildirsize"), "0S\n999 7\n").unwrap();
    let out = server.admin_ok(&["quota", "recalc", "alice@example.com"]);
    let expected = sizes - gone_size;
    assert!(
        out.contains(&format!(
            "alice@example.com: {expected} octets in 2 messages"
        )),
        "{out}"
    );
    assert!(
        out.contains("maildirsize said 999 octets in 7 messages"),
        "{out}"
    );
    assert!(
        out.contains(&format!("quota2 {sizes} octets in 3 messages")),
        "{out}"
    );
    let maildirsize = std::fs::read_to_string(maildir.join("maildirsize")).unwrap();
    assert_eq!(maildirsize, format!("0S\n{expected} 2\n"));
    // quota2 holds the recount now: a second recalc finds nothing to change.
    let again = server.admin_ok(&["quota", "recalc", "--all"]);
    assert!(
        again.contains(&format!("quota2 {expected} octets in 2 messages")),
        "{again}"
    );
    let unknown = server.admin(&["quota", "recalc", "nobody@example.com"], "");
    assert!(!unknown.status.success());
    let err = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        err.contains("nobody@example.com has no mailbox here"),
        "{err}"
    );
}
