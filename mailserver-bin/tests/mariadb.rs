//! The server against a real MariaDB holding a database as PostfixAdmin 3.3 creates it, with
//! users whose password hashes came from real tools: logins for every scheme, delivery through
//! aliases, alias domains, catch-all and multi-target aliases, inactive domains and mailboxes
//! refused, and our CLI writing rows PostfixAdmin can manage.
#![allow(clippy::unwrap_used)]

mod support;

use std::process::Command;

use support::{Server, python, require, strip_trace};

const USER: &str = "mailserver_test";
const PASSWORD: &str = "mailserver-test-pw";

fn mariadb(db: Option<&str>, sql: &str) -> String {
    let mut cmd = Command::new("mariadb");
    cmd.args(["--batch", "--skip-column-names"]);
    if let Some(db) = db {
        cmd.arg(db);
    }
    let out = cmd.args(["-e", sql]).output().expect("mariadb client");
    assert!(
        out.status.success(),
        "mariadb {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

struct Database(String);

impl Drop for Database {
    fn drop(&mut self) {
        let _ = Command::new("mariadb")
            .args(["-e", &format!("DROP DATABASE IF EXISTS {}", self.0)])
            .status();
    }
}

/// (mailbox, password, stored hash) for one user per scheme, from the real-tool fixture.
fn scheme_users() -> Vec<(String, String, String)> {
    let fixture = include_str!("fixtures/password-hashes.tsv");
    let mut seen = std::collections::HashSet::new();
    fixture
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let mut p = l.splitn(3, '\t');
            let (tool, password, hash) = (p.next()?, p.next()?, p.next()?);
            if tool == "python-plain-md5-bare" || !seen.insert(tool.to_owned()) {
                return None;
            }
            let local: String = tool
                .to_lowercase()
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .collect();
            Some((
                format!("{local}@example.com"),
                password.to_owned(),
                hash.to_owned(),
            ))
        })
        .collect()
}

fn sql_string(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''"))
}

#[test]
fn postfixadmin_database_on_mariadb() {
    require("mariadb");
    let db = Database(format!("mailserver_it_{}", std::process::id()));
    mariadb(
        None,
        &format!(
            "CREATE DATABASE {} CHARACTER SET latin1 COLLATE latin1_general_ci",
            db.0
        ),
    );
    let schema = include_str!("fixtures/postfixadmin-3.3-schema.sql");
    let load = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "mariadb {} < {}/tests/fixtures/postfixadmin-3.3-schema.sql",
            db.0,
            env!("CARGO_MANIFEST_DIR")
        ))
        .status()
        .unwrap();
    assert!(load.success() && schema.contains("1847"));
    mariadb(
        None,
        &format!(
            "CREATE USER IF NOT EXISTS '{USER}'@'%' IDENTIFIED BY '{PASSWORD}'; \
         CREATE USER IF NOT EXISTS '{USER}'@'localhost' IDENTIFIED BY '{PASSWORD}'; \
         GRANT ALL ON {0}.* TO '{USER}'@'%'; GRANT ALL ON {0}.* TO '{USER}'@'localhost'",
            db.0
        ),
    );

    // Data as PostfixAdmin's UI writes it: domains, mailboxes with self-aliases, aliases.
    let now = "NOW(), NOW()";
    let mut sql = format!(
        "INSERT INTO domain (domain, description, transport, created, modified, active) VALUES \
         ('example.com', 'Example', 'virtual', {now}, 1), ('example.net', '', 'virtual', {now}, 1), \
         ('inactive.example', '', 'virtual', {now}, 0); \
         INSERT INTO alias_domain (alias_domain, target_domain, created, modified, active) VALUES \
         ('example.org', 'example.com', {now}, 1);"
    );
    let users = scheme_users();
    assert!(users.len() >= 20, "{}", users.len());
    let mut mailboxes: Vec<(String, String, i32)> = users
        .iter()
        .map(|(u, _, h)| (u.clone(), h.clone(), 1))
        .collect();
    mailboxes.push(("gone@example.net".into(), "{PLAIN}secret".into(), 0));
    mailboxes.push(("ann@inactive.example".into(), "{PLAIN}secret".into(), 1));
    for (user, hash, active) in &mailboxes {
        let (local, domain) = user.split_once('@').unwrap();
        sql.push_str(&format!(
            "INSERT INTO mailbox (username, password, name, maildir, quota, local_part, domain, created, modified, active) \
             VALUES ({u}, {h}, 'Test', '{domain}/{local}/', 0, '{local}', '{domain}', {now}, {active}); \
             INSERT INTO alias (address, goto, domain, created, modified, active) VALUES ({u}, {u}, '{domain}', {now}, {active});",
            u = sql_string(user),
            h = sql_string(hash),
        ));
    }
    let first = users[0].0.clone();
    let second = users[1].0.clone();
    sql.push_str(&format!(
        "INSERT INTO alias (address, goto, domain, created, modified, active) VALUES \
         ('sales@example.com', '{first},{second}', 'example.com', {now}, 1), \
         ('@example.com', '{first}', 'example.com', {now}, 1);"
    ));
    mariadb(Some(&db.0), &sql);

    let url = format!("mysql://{USER}:{PASSWORD}@127.0.0.1:3306/{}", db.0);
    // quota2 is written every 20 ms here (every second by default).
    let server = Server::start_bare(
        "mariadb",
        &format!("[accounts]\nurl = \"{url}\"\nusage_write_ms = 20\n"),
    );

    check_logins(&server, &users);
    check_app_password(&server, &db.0, &users);

    check_delivery(&server, &first, &second);

    // Used quota goes into quota2, which PostfixAdmin's UI shows: three messages for `first`.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let usage = mariadb(
        Some(&db.0),
        &format!("SELECT bytes, messages FROM quota2 WHERE username = '{first}'"),
    );
    let mut cols = usage.split_whitespace();
    let bytes: u64 = cols.next().unwrap().parse().unwrap();
    assert!(bytes > 0 && cols.next() == Some("3"), "{usage}");

    check_cli(&server, &db, &first);

    check_console_admins(&server, &db);

    // A broken backend gives temporary errors, never "unknown user".
    mariadb(Some(&db.0), "RENAME TABLE mailbox TO mailbox_away");
    let rcpt = |to: &str| -> String {
        let mut c = server.connect();
        c.command("EHLO raw.example.org");
        c.command("MAIL FROM:<a@example.net>");
        c.command(&format!("RCPT TO:<{to}>"))
    };
    let r = rcpt(&first);
    assert!(r.starts_with("451 4.3.0"), "{r}");
    let login = python(
        POP3_LOGINS,
        &[
            &server.pop3_port.to_string(),
            &format!("[[{first:?}, {:?}]]", users[0].1),
        ],
    );
    assert!(login.contains("-ERR [SYS/TEMP]"), "{login}");
    mariadb(Some(&db.0), "RENAME TABLE mailbox_away TO mailbox");
    assert!(rcpt(&first).starts_with("250"));
}

/// Every scheme logs in over POP3 and IMAP (LOGIN and AUTHENTICATE PLAIN); inactive ones do not.
/// An app password as PostfixAdmin 4 stores it (a hash of its `encrypt` setting), in the
/// `mailbox_app_password` table we made beside its 3.3 tables: the first user logs in with it.
fn check_app_password(server: &Server, db: &str, users: &[(String, String, String)]) {
    let first = &users[0].0;
    let (app_password, hash) = include_str!("fixtures/password-hashes.tsv")
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split('\t').nth(1).zip(l.split('\t').nth(2)))
        .find(|(password, hash)| *password != users[0].1 && hash.starts_with("{SHA512-CRYPT}"))
        .unwrap();
    mariadb(
        Some(db),
        &format!(
            "INSERT INTO mailbox_app_password (username, description, password_hash) \
             VALUES ({}, 'Phone', {})",
            sql_string(first),
            sql_string(hash)
        ),
    );
    let out = python(
        POP3_LOGINS,
        &[
            &server.pop3_port.to_string(),
            &format!("[[{first:?}, {app_password:?}]]"),
        ],
    );
    assert!(
        out.lines().any(|l| l == format!("{first} +OK")),
        "app password: {out}"
    );
}

fn check_logins(server: &Server, users: &[(String, String, String)]) {
    // Every scheme logs in over POP3 with the password it was made from.
    let pairs: Vec<String> = users
        .iter()
        .map(|(u, p, _)| format!("[{:?}, {:?}]", u, p))
        .chain([
            "[\"gone@example.net\", \"secret\"]".into(),
            "[\"ann@inactive.example\", \"secret\"]".into(),
        ])
        .collect();
    let out = python(
        POP3_LOGINS,
        &[
            &server.pop3_port.to_string(),
            &format!("[{}]", pairs.join(",")),
        ],
    );
    for (user, _, _) in users {
        assert!(
            out.lines().any(|l| l == format!("{user} +OK")),
            "{user} could not log in:\n{out}"
        );
    }
    assert!(
        out.contains("gone@example.net -ERR [AUTH]"),
        "inactive mailbox: {out}"
    );
    assert!(
        out.contains("ann@inactive.example -ERR [AUTH]"),
        "inactive domain: {out}"
    );

    // And over IMAP, with LOGIN and with AUTHENTICATE PLAIN.
    let imap = r#"
import imaplib, sys, json
port, pairs = int(sys.argv[1]), json.loads(sys.argv[2])
for user, password in pairs:
    for how in ("login", "plain"):
        M = imaplib.IMAP4("127.0.0.1", port, timeout=20)
        try:
            if how == "login":
                typ = M.login(user, password)[0]
            else:
                typ = M.authenticate("PLAIN", lambda _: f"\0{user}\0{password}".encode())[0]
            print(user, how, typ)
            M.logout()
        except imaplib.IMAP4.error as e:
            print(user, how, "NO", str(e))
"#;
    let out = python(
        imap,
        &[
            &server.imap_port.to_string(),
            &format!("[{}]", pairs.join(",")),
        ],
    );
    for (user, _, _) in users {
        for how in ["login", "plain"] {
            assert!(
                out.lines().any(|l| l == format!("{user} {how} OK")),
                "{user} could not log in over IMAP ({how}):\n{out}"
            );
        }
    }
    assert!(
        out.contains("gone@example.net login NO") && out.contains("ann@inactive.example plain NO"),
        "inactive accounts logged in over IMAP: {out}"
    );
}

/// Delivery to a mailbox, its alias-domain twin, a multi-target alias and the catch-all.
fn check_delivery(server: &Server, first: &str, second: &str) {
    // Delivery: a mailbox, its alias-domain twin, a multi-target alias, the catch-all.
    let send = r#"
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]))
for rcpt in sys.argv[2:]:
    try:
        s.sendmail("a@example.net", [rcpt], ("Subject: to %s\r\n\r\nbody\r\n" % rcpt).encode())
        print(rcpt, "250")
    except smtplib.SMTPRecipientsRefused as e:
        print(rcpt, list(e.recipients.values())[0][0])
s.quit()
"#;
    let second_local = second.split('@').next().unwrap();
    let out = python(
        send,
        &[
            &server.port.to_string(),
            first,
            &format!("{second_local}@example.org"),
            "sales@example.com",
            "nobody@example.com",
            "gone@example.net",
            "ann@inactive.example",
            "someone@elsewhere.example",
        ],
    );
    assert!(out.contains("gone@example.net 550"), "{out}");
    assert!(out.contains("ann@inactive.example 554"), "{out}");
    assert!(out.contains("someone@elsewhere.example 554"), "{out}");
    let subjects = |user: &str| -> Vec<String> {
        let mut v: Vec<String> = server
            .messages(user)
            .iter()
            .map(|m| {
                String::from_utf8_lossy(strip_trace(m))
                    .lines()
                    .next()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        subjects(first),
        [
            format!("Subject: to {first}"),
            "Subject: to nobody@example.com".into(),
            "Subject: to sales@example.com".into()
        ]
    );
    assert_eq!(
        subjects(second),
        [
            format!("Subject: to {second_local}@example.org"),
            "Subject: to sales@example.com".into()
        ]
    );
}

/// Our CLI on the same database writes rows PostfixAdmin can manage.
fn check_cli(server: &Server, db: &Database, first: &str) {
    // Our CLI on the same database writes rows PostfixAdmin can manage.
    server.admin_with_stdin(
        &["user", "add", "new@example.com", "--password-stdin"],
        "pw\n",
    );
    server.admin_ok(&["alias", "add", "team@example.net", "new@example.com"]);
    server.admin_ok(&["domain", "add", "fresh.example"]);
    // PostfixAdmin 3.3 has no mailbox.smtp_active: the CLI says so instead of altering its table.
    let no_column = server.admin(&["user", "smtp", "new@example.com", "off"], "");
    assert!(!no_column.status.success());
    assert!(String::from_utf8_lossy(&no_column.stderr).contains("smtp_active"));
    // A message limit lives in our own table beside PostfixAdmin's.
    server.admin_ok(&["user", "message-quota", "new@example.com", "1"]);
    assert_eq!(
        mariadb(
            Some(&db.0),
            "SELECT messages FROM message_quota WHERE username = 'new@example.com'"
        )
        .trim(),
        "1"
    );
    // A mailing list lives in our own tables beside PostfixAdmin's too; its members may
    // post, others not.
    server.admin_ok(&["list", "add", "news@example.com"]);
    server.admin_ok(&["list", "subscribe", "news@example.com", first]);
    assert_eq!(
        mariadb(
            Some(&db.0),
            "SELECT address, role FROM mailing_list_member WHERE list = 'news@example.com'"
        )
        .trim(),
        format!("{first}\tmember")
    );
    let mut c = server.connect();
    c.command("EHLO raw.example.org");
    c.command(&format!("MAIL FROM:<{first}>"));
    assert!(c.command("RCPT TO:<news@example.com>").starts_with("250"));
    c.command("RSET");
    c.command("MAIL FROM:<a@example.org>");
    let refused = c.command("RCPT TO:<news@example.com>");
    assert!(refused.starts_with("550 5.7.1"), "{refused}");
    c.command("RSET");
    c.command("MAIL FROM:<a@example.org>");
    assert!(c.command("RCPT TO:<new@example.com>").starts_with("250"));
    assert!(c.command("DATA").starts_with("354"));
    assert!(c.command("Subject: one\r\n\r\nx\r\n.").starts_with("250"));
    c.command("MAIL FROM:<a@example.org>");
    let full = c.command("RCPT TO:<new@example.com>");
    assert!(full.starts_with("452 4.2.2"), "{full}");
    drop(c);
    let row = mariadb(
        Some(&db.0),
        "SELECT password, maildir, local_part, domain, active FROM mailbox WHERE username = 'new@example.com'",
    );
    assert!(row.starts_with("{ARGON2ID}$argon2id$"), "{row}");
    assert!(
        row.contains("example.com/new/\tnew\texample.com\t1"),
        "{row}"
    );
    assert_eq!(
        mariadb(
            Some(&db.0),
            "SELECT goto FROM alias WHERE address = 'new@example.com'"
        )
        .trim(),
        "new@example.com"
    );
    assert_eq!(
        mariadb(
            Some(&db.0),
            "SELECT goto FROM alias WHERE address = 'team@example.net'"
        )
        .trim(),
        "new@example.com"
    );
    assert_eq!(
        mariadb(
            Some(&db.0),
            "SELECT transport, description FROM domain WHERE domain = 'fresh.example'"
        )
        .trim(),
        "virtual"
    );
    let domains = server.admin_ok(&["domain", "list"]);
    assert!(
        !domains.lines().any(|l| l.starts_with("ALL ")),
        "the ALL pseudo-domain is hidden: {domains}"
    );
    assert_eq!(
        mariadb(
            Some(&db.0),
            "SELECT value FROM config WHERE name = 'version'"
        )
        .trim(),
        "1847"
    );

    // PostfixAdmin's domain limits and domain quota, kept in its own columns (MB).
    server.admin_ok(&["domain", "limits", "example.net", "--mailboxes", "1"]);
    let full = server.admin(
        &["user", "add", "new@example.net", "--password-stdin"],
        "pw\n",
    );
    assert!(
        String::from_utf8_lossy(&full.stderr).contains("at most 1 mailboxes"),
        "{full:?}"
    );
    server.admin_ok(&["domain", "limits", "example.com", "--max-quota", "10M"]);
    let over = server.admin(&["user", "quota", first, "20M"], "");
    assert!(!over.status.success(), "{over:?}");
    server.admin_ok(&["domain", "quota", "example.com", "5M"]);
    assert_eq!(
        mariadb(
            Some(&db.0),
            "SELECT CONCAT(quota, ' ', maxquota, ' ', mailboxes) FROM domain WHERE domain = 'example.com'"
        )
        .trim(),
        "5 10 0"
    );
    let listed = server.admin_ok(&["domain", "list", "--json"]);
    assert!(listed.contains("\"quota\":5242880"), "{listed}");
    server.admin_ok(&["domain", "quota", "example.com", "0"]);
    server.admin_ok(&["domain", "limits", "example.com", "--max-quota", "0"]);
    server.admin_ok(&["domain", "limits", "example.net", "--mailboxes", "0"]);
}

/// Logs each `[user, password]` pair of argv[2] in over POP3, printing the first word of
/// each answer.
const POP3_LOGINS: &str = include_str!("clients/mariadb_pop3_logins.py");

/// PostfixAdmin's admins log in to our console with their own passwords: a superadmin as its
/// setup makes one (md5crypt, its default `encrypt`, and the `ALL` row in `domain_admins`) sees
/// every domain, a domain admin only theirs.
fn check_console_admins(server: &Server, db: &Database) {
    let hashes = include_str!("fixtures/password-hashes.tsv");
    let row = |tool: &str| -> (String, String) {
        let line = hashes
            .lines()
            .find(|l| l.starts_with(&format!("{tool}\t")))
            .unwrap();
        let cols: Vec<&str> = line.split('\t').collect();
        (cols[1].to_owned(), cols[2].to_owned())
    };
    let (super_password, super_hash) = row("openssl-1");
    let (net_password, net_hash) = row("doveadm-SHA512-CRYPT");
    mariadb(
        Some(&db.0),
        &format!(
            "INSERT INTO admin (username, password, superadmin, created, modified, active) VALUES \
             ('admin@example.com', {}, 1, NOW(), NOW(), 1), \
             ('netadmin@example.net', {}, 0, NOW(), NOW(), 1); \
             INSERT INTO domain_admins (username, domain, created, active) VALUES \
             ('admin@example.com', 'ALL', NOW(), 1), ('netadmin@example.net', 'example.net', NOW(), 1);",
            sql_string(&super_hash),
            sql_string(&net_hash)
        ),
    );
    let base = format!("http://127.0.0.1:{}", server.http_port);
    let login = include_str!("clients/console_login.py");
    let seen = python(login, &[&base, "admin@example.com", &super_password]);
    assert!(
        seen.lines().any(|l| l == "example.com") && seen.lines().any(|l| l == "example.net"),
        "{seen}"
    );
    let seen = python(login, &[&base, "netadmin@example.net", &net_password]);
    assert_eq!(seen.trim(), "example.net");
    let seen = python(login, &[&base, "admin@example.com", "wrong"]);
    assert!(seen.starts_with("refused 401"), "{seen}");

    // PostfixAdmin's `log` table is the log of changes, as it is: a row PostfixAdmin wrote
    // and one of ours, read back through the API, the domain admin seeing only theirs.
    mariadb(
        Some(&db.0),
        "INSERT INTO log (timestamp, username, domain, action, data) VALUES \
         (NOW(), 'admin@example.com (192.0.2.9)', 'example.net', 'create_alias', 'old@example.net')",
    );
    let writer = server.admin_ok(&["token", "add", "admin@example.com", "--write"]);
    let reader = server.admin_ok(&["token", "add", "netadmin@example.net"]);
    let out = python(
        "import json, sys, urllib.request\n\
         base, writer, reader = sys.argv[1:4]\n\
         def call(token, path, body=None):\n\
         \x20   data = json.dumps(body).encode() if body is not None else None\n\
         \x20   req = urllib.request.Request(base + path, data=data, method='POST' if data else 'GET',\n\
         \x20       headers={'Authorization': 'Bearer ' + token, 'Content-Type': 'application/json'})\n\
         \x20   return json.loads(urllib.request.urlopen(req).read())\n\
         call(writer, '/api/domains', {'domain': 'logged.example'})\n\
         print('global', [(c['action'], c['domain']) for c in call(writer, '/api/log')])\n\
         print('net', [(c['action'], c['domain']) for c in call(reader, '/api/log')])\n",
        &[&base, writer.trim(), reader.trim()],
    );
    // Newest first: ours, the CLI's tokens, PostfixAdmin's, then the CLI's earlier changes.
    assert!(
        out.contains(
            "global [('api: domain added', 'logged.example'), ('token add', ''), \
             ('token add', ''), ('create_alias', 'example.net'), ('domain limits', 'example.net')"
        ) && out.contains("net [('create_alias', 'example.net'), ('domain limits', 'example.net')"),
        "{out}"
    );
    let row = mariadb(
        Some(&db.0),
        "SELECT username, action, data FROM log WHERE domain = 'logged.example'",
    );
    assert!(
        row.contains(
            "admin@example.com (127.0.0.1)\tapi: domain added\tdomain logged.example added"
        ),
        "{row}"
    );
}
