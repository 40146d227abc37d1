//! Sieve at delivery: users' scripts stored as Pigeonhole stores them, filing, flags,
//! vacation replies as RFC 5230/3834 want them, refusals, and what a broken script does.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::{Server, assert_contains};

/// Sends `message` from `from` (empty: `<>`) to `to` over SMTP; the reply to its end.
fn send(server: &Server, from: &str, to: &str, message: &str) -> String {
    send_to(server, from, &[to], message)
}

/// [`send`] to several recipients in one transaction.
fn send_to(server: &Server, from: &str, to: &[&str], message: &str) -> String {
    let mut smtp = server.connect();
    let rcpts = to.iter().map(|t| (format!("RCPT TO:<{t}>"), "250"));
    let lines = [
        ("EHLO client.example".to_owned(), "250"),
        (format!("MAIL FROM:<{from}>"), "250"),
    ]
    .into_iter()
    .chain(rcpts)
    .chain([("DATA".to_owned(), "354")]);
    for (line, code) in lines {
        let reply = smtp.command(&line);
        assert!(reply.starts_with(code), "{line}: {reply}");
    }
    let reply = smtp.command(&format!("{message}\r\n."));
    smtp.command("QUIT");
    reply
}

/// Stores `script` as the user's active script through the admin command.
fn put_active(server: &Server, user: &str, name: &str, script: &str) {
    let out = server.admin(&["sieve", "put", user, name, "-", "--activate"], script);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The message files of one folder (`""`: the inbox), in `new/` and `cur/`.
fn files(server: &Server, user: &str, folder: &str) -> Vec<(String, String)> {
    let root = match folder {
        "" => server.maildir(user),
        f => server.maildir(user).join(format!(".{f}")),
    };
    let mut out = Vec::new();
    for sub in ["new", "cur"] {
        if let Ok(entries) = std::fs::read_dir(root.join(sub)) {
            for e in entries {
                let e = e.unwrap();
                out.push((
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read_to_string(e.path()).unwrap(),
                ));
            }
        }
    }
    out
}

/// team@example.com: alice and a remote address, so that mail to it goes through the queue,
/// which then delivers alice's copy.
fn team_with_a_remote_member(server: &Server) {
    server.admin_ok(&[
        "alias",
        "add",
        "team@example.com",
        "alice@example.com",
        "someone@remote.example",
    ]);
}

fn wait_for(seconds: u64, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_script_files_flags_and_keeps_copies() {
    let server = Server::start("sieve-file", "");
    put_active(
        &server,
        "alice@example.com",
        "main",
        "require [\"fileinto\", \"mailbox\", \"imap4flags\", \"copy\"];\n\
         if header :contains \"subject\" \"invoice\" {\n  fileinto :create \"Invoices\";\n  stop;\n}\n\
         if address :is \"from\" \"boss@example.org\" {\n  fileinto :copy :create :flags \"\\\\Flagged\" \"Boss\";\n}\n\
         if header :contains \"subject\" \"read me\" {\n  addflag \"\\\\Seen\";\n}\n",
    );
    let listed = server.admin_ok(&["sieve", "list", "alice@example.com"]);
    assert_eq!(listed, "main  (active)\n");
    // As Pigeonhole keeps it: ~/sieve/main.sieve, ~/.dovecot.sieve linking to it.
    let home = server.maildir("alice@example.com");
    assert_eq!(
        std::fs::read_link(home.join(".dovecot.sieve")).unwrap(),
        Path::new("sieve/main.sieve")
    );
    let ok = |r: String| assert!(r.starts_with("250"), "{r}");
    ok(send(
        &server,
        "shop@example.org",
        "alice@example.com",
        "Subject: Your invoice 42\r\n\r\nPay.\r\n",
    ));
    ok(send(
        &server,
        "boss@example.org",
        "alice@example.com",
        "From: Boss <boss@example.org>\r\nSubject: plans\r\n\r\nx\r\n",
    ));
    ok(send(
        &server,
        "friend@example.org",
        "alice@example.com",
        "Subject: read me\r\n\r\nx\r\n",
    ));
    let invoices = files(&server, "alice@example.com", "Invoices");
    assert_eq!(invoices.len(), 1);
    assert!(invoices[0].1.contains("Your invoice 42"));
    let boss = files(&server, "alice@example.com", "Boss");
    assert_eq!(boss.len(), 1, "{boss:?}");
    assert!(boss[0].0.ends_with(":2,F"), "{}", boss[0].0);
    let inbox = files(&server, "alice@example.com", "");
    assert_eq!(inbox.len(), 2, "{inbox:?}");
    assert!(
        inbox
            .iter()
            .any(|(n, t)| t.contains("read me") && n.ends_with(":2,S")),
        "{inbox:?}"
    );
    assert!(inbox.iter().any(|(_, t)| t.contains("Subject: plans")));
    // Usage counts every copy: three messages, four files.
    let usage = std::fs::read_to_string(home.join("maildirsize")).unwrap();
    let copies: i64 = usage
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(1)?.parse::<i64>().ok())
        .sum();
    assert_eq!(copies, 4, "{usage}");
}

#[test]
fn an_existing_pigeonhole_script_runs_unchanged() {
    let server = Server::start("sieve-pigeonhole", "");
    // What Roundcube's managesieve plugin wrote for a user of Dovecot, moved as it is.
    let home = server.maildir("bob@example.com");
    std::fs::create_dir_all(home.join("sieve")).unwrap();
    std::fs::write(
        home.join("sieve/roundcube.sieve"),
        "require [\"fileinto\",\"variables\"];\r\n# rule:[lists]\r\n\
         if header :matches \"list-id\" \"*<*.*>\" {\r\n\tfileinto \"Lists\";\r\n\tstop;\r\n}\r\n\
         # rule:[spam]\r\nif anyof (header :contains \"x-spam-flag\" \"YES\")\r\n{\r\n\tdiscard;\r\n}\r\n",
    )
    .unwrap();
    std::os::unix::fs::symlink("sieve/roundcube.sieve", home.join(".dovecot.sieve")).unwrap();
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(home.join(".Lists").join(sub)).unwrap();
    }
    for (subject, extra) in [
        ("list mail", "List-Id: Users <users.example.org>\r\n"),
        ("spam", "X-Spam-Flag: YES\r\n"),
        ("plain", ""),
    ] {
        let r = send(
            &server,
            "x@example.org",
            "bob@example.com",
            &format!("{extra}Subject: {subject}\r\n\r\nx\r\n"),
        );
        assert!(r.starts_with("250"), "{r}");
    }
    assert_eq!(files(&server, "bob@example.com", "Lists").len(), 1);
    let inbox = files(&server, "bob@example.com", "");
    assert_eq!(inbox.len(), 1, "the spam is discarded: {inbox:?}");
    assert!(inbox[0].1.contains("Subject: plain"));
    assert_eq!(
        server.admin_ok(&["sieve", "list", "bob@example.com"]),
        "roundcube  (active)\n"
    );
}

#[test]
fn vacation_answers_each_sender_once_and_never_an_automaton() {
    let server = Server::start("sieve-vacation", "");
    put_active(
        &server,
        "alice@example.com",
        "away",
        "require \"vacation\";\nvacation :days 3 :subject \"Out of office\" \"I am away until Monday.\";\n",
    );
    let to_alice = "To: Alice <alice@example.com>\r\n";
    for _ in 0..2 {
        let r = send(
            &server,
            "bob@example.com",
            "alice@example.com",
            &format!("{to_alice}Subject: question\r\nMessage-ID: <q@example.com>\r\n\r\nx\r\n"),
        );
        assert!(r.starts_with("250"), "{r}");
    }
    // None to a list, an auto-reply, a bounce, or mail that does not name alice.
    send(
        &server,
        "carol@example.com",
        "alice@example.com",
        &format!("{to_alice}List-Id: <l.example.com>\r\nSubject: list\r\n\r\nx\r\n"),
    );
    send(
        &server,
        "dave@example.com",
        "alice@example.com",
        &format!("{to_alice}Auto-Submitted: auto-replied\r\nSubject: auto\r\n\r\nx\r\n"),
    );
    send(
        &server,
        "",
        "alice@example.com",
        &format!("{to_alice}Subject: bounce\r\n\r\nx\r\n"),
    );
    send(
        &server,
        "erin@example.com",
        "alice@example.com",
        "To: someone@example.org\r\nSubject: bcc\r\n\r\nx\r\n",
    );
    wait_for(10, "the vacation reply", || {
        !server.messages("bob@example.com").is_empty()
    });
    std::thread::sleep(Duration::from_millis(1500));
    let replies = server.messages("bob@example.com");
    assert_eq!(replies.len(), 1, "one reply to two messages");
    let reply = String::from_utf8_lossy(&replies[0]);
    for part in [
        "Subject: Out of office",
        "Auto-Submitted: auto-replied",
        "In-Reply-To: <q@example.com>",
        "From: <alice@example.com>",
        "I am away until Monday.",
    ] {
        assert!(reply.contains(part), "{part} in {reply}");
    }
    assert!(
        reply.contains("Return-Path: <>"),
        "sent from the null sender: {reply}"
    );
    for other in ["carol@example.com", "dave@example.com", "erin@example.com"] {
        assert!(server.messages(other).is_empty(), "no reply to {other}");
    }
    // Everything was still delivered to alice.
    assert_eq!(files(&server, "alice@example.com", "").len(), 6);
    let log = server.log();
    for reason in [
        "the message is from a mailing list",
        "the message is auto-submitted",
        "the sender is <>",
        "does not name the user",
    ] {
        assert!(log.contains(reason), "{reason}\n{log}");
    }
}

#[test]
fn reject_refuses_and_a_broken_script_keeps_the_mail() {
    let server = Server::start("sieve-reject", "");
    put_active(
        &server,
        "carol@example.com",
        "strict",
        "require \"reject\";\nif header :contains \"subject\" \"lottery\" { reject \"No lotteries, thanks.\"; }\n",
    );
    let r = send(
        &server,
        "x@example.org",
        "carol@example.com",
        "Subject: You won the lottery\r\n\r\nx\r\n",
    );
    assert!(
        r.starts_with("550 5.7.1") && r.contains("No lotteries"),
        "{r}"
    );
    assert!(files(&server, "carol@example.com", "").is_empty());
    // A script that does not compile is refused by the admin command, with where.
    let out = server.admin(
        &["sieve", "put", "dave@example.com", "bad", "-"],
        "if true { fileinto \"x\"; }\n",
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 1, column 11") && err.contains("fileinto"),
        "{err}"
    );
    // Written straight into the store (as an old Dovecot left it), it keeps the mail in the
    // inbox and says why, in the log and in ~/.dovecot.sieve.log.
    let home = server.maildir("dave@example.com");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(home.join(".dovecot.sieve"), "if true { fileinto \"x\"; }\n").unwrap();
    let r = send(
        &server,
        "x@example.org",
        "dave@example.com",
        "Subject: hello\r\n\r\nx\r\n",
    );
    assert!(r.starts_with("250"), "{r}");
    assert_eq!(files(&server, "dave@example.com", "").len(), 1);
    let why = std::fs::read_to_string(home.join(".dovecot.sieve.log")).unwrap();
    assert!(why.contains("require \"fileinto\""), "{why}");
    assert!(server.log().contains("sieve script failed"));
}

/// Runs Debian's sieve-connect against the server's ManageSieve port as `user` (password
/// `secret` through a descriptor, the certificate not verified: the test's is self-signed).
fn sieve_connect(server: &Server, user: &str, args: &[&str]) -> (bool, String) {
    sieve_connect_as(server, user, "secret", args)
}

fn sieve_connect_as(server: &Server, user: &str, password: &str, args: &[&str]) -> (bool, String) {
    support::require("sieve-connect");
    let mut command = format!(
        "exec 3<<<{password}; timeout 60 sieve-connect --server 127.0.0.1 --port {} --user {user} \
         --passwordfd 3 --notlsverify --authmech PLAIN",
        server.managesieve_port
    );
    for a in args {
        command.push_str(&format!(" '{a}'"));
    }
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(&command)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn sieve_connect_manages_scripts_over_managesieve() {
    let server = Server::start("sieve-managesieve", "");
    let dir = server.dir.join("scripts");
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.sieve");
    std::fs::write(
        &good,
        "require [\"fileinto\", \"mailbox\"];\nif header :contains \"subject\" \"report\" {\n  fileinto :create \"Reports\";\n}\n",
    )
    .unwrap();
    let bad = dir.join("bad.sieve");
    std::fs::write(
        &bad,
        "require \"fileinto\";\nif true {\n  filinto \"x\";\n}\n",
    )
    .unwrap();
    let user = "erin@example.com";
    let good = good.to_str().unwrap();
    let (ok, out) = sieve_connect(
        &server,
        user,
        &["--localsieve", good, "--remotesieve", "work", "--upload"],
    );
    assert!(ok, "{out}\n{}", server.log());
    let (ok, out) = sieve_connect(&server, user, &["--remotesieve", "work", "--activate"]);
    assert!(ok, "{out}");
    let (ok, out) = sieve_connect(&server, user, &["--list"]);
    assert!(ok && out.contains("\"work\" ACTIVE"), "{out}");
    // The script is the one delivery runs.
    let r = send(
        &server,
        "x@example.org",
        user,
        "Subject: weekly report\r\n\r\nx\r\n",
    );
    assert!(r.starts_with("250"), "{r}");
    assert_eq!(files(&server, user, "Reports").len(), 1);
    // A script that does not compile is refused, saying where.
    let (ok, out) = sieve_connect(
        &server,
        user,
        &["--localsieve", bad.to_str().unwrap(), "--checkscript"],
    );
    assert!(
        !ok && out.contains("line 3, column 3") && out.contains("filinto"),
        "{out}"
    );
    let (ok, out) = sieve_connect(
        &server,
        user,
        &[
            "--localsieve",
            bad.to_str().unwrap(),
            "--remotesieve",
            "bad",
            "--upload",
        ],
    );
    assert!(!ok, "{out}");
    let fetched = dir.join("fetched.sieve");
    let (ok, out) = sieve_connect(
        &server,
        user,
        &[
            "--remotesieve",
            "work",
            "--localsieve",
            fetched.to_str().unwrap(),
            "--download",
        ],
    );
    assert!(ok, "{out}");
    assert_eq!(
        std::fs::read_to_string(&fetched).unwrap(),
        std::fs::read_to_string(good).unwrap()
    );
    let (ok, out) = sieve_connect(&server, user, &["--remotesieve", "work", "--delete"]);
    assert!(!ok, "the active script is not deleted: {out}");
    let (ok, out) = sieve_connect(&server, user, &["--deactivate"]);
    assert!(ok, "{out}");
    let (ok, out) = sieve_connect(&server, user, &["--remotesieve", "work", "--delete"]);
    assert!(ok, "{out}");
    let (_, out) = sieve_connect(&server, user, &["--list"]);
    assert!(!out.contains("work"), "{out}");
    // A wrong password is refused.
    let (ok, out) = sieve_connect_as(&server, user, "wrong", &["--list"]);
    assert!(!ok, "{out}");
}

#[test]
fn mail_delivered_through_the_queue_runs_the_scripts_too() {
    let server = Server::start("sieve-queue", "");
    put_active(
        &server,
        "alice@example.com",
        "main",
        "require [\"fileinto\", \"mailbox\", \"vacation\"];\n\
         if header :contains \"subject\" \"invoice\" { fileinto :create \"Invoices\"; }\n\
         vacation :days 1 \"Away.\";\n",
    );
    // An alias with a remote target beside her puts the message in the queue, which then
    // delivers her copy.
    team_with_a_remote_member(&server);
    let mut smtp = server.connect();
    for line in [
        "EHLO client.example",
        "MAIL FROM:<bob@example.com>",
        "RCPT TO:<team@example.com>",
        "DATA",
    ] {
        let reply = smtp.command(line);
        assert!(
            reply.starts_with('2') || reply.starts_with('3'),
            "{line}: {reply}"
        );
    }
    let reply = smtp.command("To: alice@example.com\r\nSubject: invoice 7\r\n\r\nx\r\n.");
    assert!(reply.starts_with("250"), "{reply}");
    smtp.command("QUIT");
    wait_for(15, "the queued copy filed", || {
        files(&server, "alice@example.com", "Invoices").len() == 1
    });
    assert!(files(&server, "alice@example.com", "").is_empty());
    wait_for(15, "the vacation reply", || {
        !server.messages("bob@example.com").is_empty()
    });
}

#[test]
fn duplicate_files_a_message_seen_before() {
    let server = Server::start("sieve-duplicate", "");
    put_active(
        &server,
        "carol@example.com",
        "dups",
        "require [\"duplicate\", \"fileinto\", \"mailbox\", \"date\", \"relational\"];\n\
         if duplicate { fileinto :create \"Duplicates\"; stop; }\n\
         if currentdate :value \"lt\" \"year\" \"2000\" { discard; }\n",
    );
    for _ in 0..2 {
        let r = send(
            &server,
            "x@example.org",
            "carol@example.com",
            "Message-ID: <same@example.org>\r\nSubject: twice\r\n\r\nx\r\n",
        );
        assert!(r.starts_with("250"), "{r}");
    }
    assert_eq!(files(&server, "carol@example.com", "").len(), 1);
    assert_eq!(files(&server, "carol@example.com", "Duplicates").len(), 1);
}

#[test]
fn notify_tells_by_mail_but_never_of_automatic_mail() {
    let server = Server::start("sieve-notify", "");
    put_active(
        &server,
        "dave@example.com",
        "tell",
        "require [\"enotify\", \"variables\"];\n\
         if header :matches \"subject\" \"*\" { set \"s\" \"${1}\"; }\n\
         notify :importance \"1\" :message \"Mail for dave: ${s}\" \"mailto:erin@example.com\";\n",
    );
    let r = send(
        &server,
        "x@example.org",
        "dave@example.com",
        "Subject: urgent\r\n\r\nx\r\n",
    );
    assert!(r.starts_with("250"), "{r}");
    let r = send(
        &server,
        "x@example.org",
        "dave@example.com",
        "Auto-Submitted: auto-generated\r\nSubject: robot\r\n\r\nx\r\n",
    );
    assert!(r.starts_with("250"), "{r}");
    wait_for(10, "the notification", || {
        !server.messages("erin@example.com").is_empty()
    });
    std::thread::sleep(Duration::from_millis(1000));
    let told = server.messages("erin@example.com");
    assert_eq!(told.len(), 1);
    let text = String::from_utf8_lossy(&told[0]);
    assert!(
        text.contains("Subject: Mail for dave: urgent")
            && text.contains("Auto-Submitted: auto-notified"),
        "{text}"
    );
    // The notifying script keeps the message.
    assert_eq!(files(&server, "dave@example.com", "").len(), 2);
}

#[test]
fn include_runs_the_users_other_scripts_and_global_ones() {
    let global = std::env::temp_dir().join(format!("sieve-global-{}", std::process::id()));
    std::fs::create_dir_all(&global).unwrap();
    std::fs::write(
        global.join("spam.sieve"),
        "require [\"fileinto\", \"mailbox\"];\nif header :contains \"x-spam-flag\" \"YES\" { fileinto :create \"Junk\"; stop; }\n",
    )
    .unwrap();
    let server = Server::start(
        "sieve-include",
        &format!("[sieve]\nglobal_dir = \"{}\"\n", global.display()),
    );
    let out = server.admin(
        &["sieve", "put", "bob@example.com", "lists", "-"],
        "require [\"fileinto\", \"mailbox\"];\nif exists \"list-id\" { fileinto :create \"Lists\"; }\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    put_active(
        &server,
        "bob@example.com",
        "main",
        "require [\"include\"];\ninclude :global \"spam\";\ninclude :personal \"lists\";\ninclude :optional \"missing\";\n",
    );
    for (subject, extra) in [
        ("spam", "X-Spam-Flag: YES\r\n"),
        ("list", "List-Id: <l.example.org>\r\n"),
        ("plain", ""),
    ] {
        let r = send(
            &server,
            "x@example.org",
            "bob@example.com",
            &format!("{extra}Subject: {subject}\r\n\r\nx\r\n"),
        );
        assert!(r.starts_with("250"), "{r}");
    }
    assert_eq!(files(&server, "bob@example.com", "Junk").len(), 1);
    assert_eq!(files(&server, "bob@example.com", "Lists").len(), 1);
    assert_eq!(files(&server, "bob@example.com", "").len(), 1);
    let _ = std::fs::remove_dir_all(&global);
}

#[test]
fn roundcube_filters_and_out_of_office_work_over_managesieve() {
    let server = Server::start("sieve-roundcube", "");
    let roundcube = support::roundcube::Roundcube::start(
        &server,
        &["managesieve"],
        "$config['managesieve_vacation'] = 1;",
    );
    // In Chromium: Settings > Folders > create "Invoices"; Settings > Filters > create
    // "subject contains invoice -> Invoices"; Settings > Out of Office > on.
    let out = roundcube.drive("roundcube_sieve.py", &["alice@example.com", "secret"]);
    for said in [
        "Folder created successfully",
        "Filter saved successfully",
        "Out-of-office data saved successfully",
    ] {
        assert!(out.contains(said), "{said}: {out}");
    }
    // The one script Roundcube keeps, active, holding both rules.
    assert_eq!(
        server.admin_ok(&["sieve", "list", "alice@example.com"]),
        "roundcube  (active)\n"
    );
    let script = server.admin_ok(&["sieve", "get", "alice@example.com", "roundcube"]);
    assert_contains(
        &script,
        &[
            "header :contains \"subject\" \"invoice\"",
            "fileinto \"Invoices\"",
            "vacation",
        ],
    );
    // Mail then files, and one reply goes out for two messages from one sender.
    for subject in ["Your invoice 2026-118", "lunch?"] {
        let r = send(
            &server,
            "bob@example.com",
            "alice@example.com",
            &format!(
                "From: Bob <bob@example.com>\r\nTo: Alice <alice@example.com>\r\n\
                 Subject: {subject}\r\nMessage-ID: <{}@example.com>\r\n\r\nx\r\n",
                subject.len()
            ),
        );
        assert!(r.starts_with("250"), "{r}");
    }
    let invoices = files(&server, "alice@example.com", "Invoices");
    assert_eq!(invoices.len(), 1, "{invoices:?}");
    assert!(invoices[0].1.contains("Subject: Your invoice 2026-118"));
    let inbox = files(&server, "alice@example.com", "");
    assert_eq!(inbox.len(), 1, "{inbox:?}");
    assert!(inbox[0].1.contains("Subject: lunch?"));
    wait_for(10, "the out-of-office reply", || {
        !server.messages("bob@example.com").is_empty()
    });
    std::thread::sleep(Duration::from_millis(1500));
    let replies = server.messages("bob@example.com");
    assert_eq!(replies.len(), 1, "one reply to two messages");
    assert_contains(
        &String::from_utf8_lossy(&replies[0]),
        &[
            "Subject: Away until Monday",
            "Auto-Submitted: auto-replied",
            "I am out of the office and will answer when I am back.",
        ],
    );
}

#[test]
fn editheader_changes_the_stored_and_redirected_copies() {
    let server = Server::start("sieve-editheader", "");
    let script = "require [\"editheader\", \"fileinto\", \"mailbox\", \"copy\"];\n\
         deleteheader \"x-unwanted\";\n\
         deleteheader \"received\";\n\
         addheader \"X-Filtered\" \"by the user's script\";\n\
         addheader :last \"X-Note\" \"Grüße\";\n\
         if header :contains \"x-filtered\" \"script\" { fileinto :create :copy \"Marked\"; }\n\
         redirect :copy \"bob@example.com\";\n";
    put_active(&server, "alice@example.com", "edit", script);
    let message = "X-Unwanted: one\r\nSubject: edited\r\nX-Unwanted: two\r\n\r\nbody\r\n";
    let r = send(&server, "carol@example.com", "alice@example.com", message);
    assert!(r.starts_with("250"), "{r}");
    let inbox = files(&server, "alice@example.com", "");
    let marked = files(&server, "alice@example.com", "Marked");
    assert_eq!((inbox.len(), marked.len()), (1, 1), "{inbox:?} {marked:?}");
    wait_for(10, "the redirected copy", || {
        !server.messages("bob@example.com").is_empty()
    });
    let redirected = String::from_utf8_lossy(&server.messages("bob@example.com")[0]).into_owned();
    for copy in [&inbox[0].1, &marked[0].1, &redirected] {
        assert_contains(
            copy,
            &[
                "X-Filtered: by the user's script\r\n",
                "X-Note: =?UTF-8?B?R3LDvMOfZQ==?=\r\n\r\nbody",
                "Subject: edited",
            ],
        );
        assert!(!copy.contains("X-Unwanted"), "{copy}");
    }
    // Received is protected (RFC 5293 §6): our own stays.
    assert!(inbox[0].1.contains("Received: from client.example"));
    // The fields go where the script put them: first, and last of the header.
    let at = |f: &str| inbox[0].1.find(f).unwrap();
    assert!(at("X-Filtered") < at("Subject") && at("Subject") < at("X-Note"));

    // The same through the queue (an alias with a remote member puts the message there).
    team_with_a_remote_member(&server);
    let r = send(&server, "carol@example.com", "team@example.com", message);
    assert!(r.starts_with("250"), "{r}");
    wait_for(15, "the queued copy", || {
        files(&server, "alice@example.com", "Marked").len() == 2
    });
    for (_, copy) in files(&server, "alice@example.com", "Marked") {
        assert!(
            copy.contains("X-Filtered: by the user's script\r\n") && !copy.contains("X-Unwanted"),
            "{copy}"
        );
    }
}

#[test]
fn a_vacation_reply_to_a_remote_sender_leaves_dkim_signed_through_the_queue() {
    let sink = support::sink::Sink::start("sieve-vacation-relay", support::free_port(), &[]);
    let server = Server::start(
        "sieve-vacation-relay",
        &format!(
            "[relay]\nhost = \"[127.0.0.1]:{}\"\ntls = \"none\"\n[queue]\nmin_backoff = 1\nmax_backoff = 2\n",
            sink.port
        ),
    );
    put_active(
        &server,
        "alice@example.com",
        "away",
        "require \"vacation\";\nvacation :subject \"Away\" \"Back on Monday.\";\n",
    );
    let r = send(
        &server,
        "friend@remote.example",
        "alice@example.com",
        "From: Friend <friend@remote.example>\r\nTo: alice@example.com\r\nSubject: hi\r\n\
         Message-ID: <f1@remote.example>\r\n\r\nx\r\n",
    );
    assert!(r.starts_with("250"), "{r}");
    let dumps = sink.wait_for(1);
    let reply = String::from_utf8_lossy(&dumps[0]).into_owned();
    assert_contains(
        &reply,
        &[
            // From the null sender, to the sender, signed with the domain's key.
            "X-Mail-Args: <>",
            "X-Rcpt-Args: <friend@remote.example>",
            "DKIM-Signature:",
            "d=example.com",
            "To: Friend <friend@remote.example>",
            "Subject: Away",
            "Auto-Submitted: auto-replied",
            "In-Reply-To: <f1@remote.example>",
        ],
    );
}

/// One message to five mailboxes is one file hard-linked where each recipient's script puts
/// it (Dovecot's LMTP stores it so), except the copy whose script edited its header, which
/// is a file of its own, and the one discarded. Each mailbox's usage counts its copy.
#[test]
fn one_message_to_several_mailboxes_is_one_file_unless_a_script_changes_a_copy() {
    use std::os::unix::fs::MetadataExt;
    let server = Server::start("sieve-shared", "");
    put_active(
        &server,
        "alice@example.com",
        "lists",
        "require [\"fileinto\", \"imap4flags\"];\nfileinto :flags \"\\\\Flagged\" \"Lists\";\n",
    );
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(server.maildir("alice@example.com").join(".Lists").join(sub))
            .unwrap();
    }
    put_active(
        &server,
        "bob@example.com",
        "mark",
        "require \"editheader\";\naddheader \"X-Bob\" \"seen by bob's script\";\n",
    );
    put_active(&server, "carol@example.com", "drop", "discard;\n");
    let everyone = ["alice", "bob", "carol", "dave", "erin"].map(|u| format!("{u}@example.com"));
    let to: Vec<&str> = everyone.iter().map(String::as_str).collect();
    let r = send_to(
        &server,
        "x@example.org",
        &to,
        "Subject: to all\r\n\r\nhello\r\n",
    );
    assert!(r.starts_with("250"), "{r}");
    let path = |user: &str, folder: &str| {
        let root = match folder {
            "" => server.maildir(user),
            f => server.maildir(user).join(format!(".{f}")),
        };
        let mut found: Vec<std::path::PathBuf> = ["new", "cur"]
            .iter()
            .filter_map(|sub| std::fs::read_dir(root.join(sub)).ok())
            .flatten()
            .map(|e| e.unwrap().path())
            .collect();
        assert!(found.len() <= 1, "{found:?}");
        found.pop()
    };
    let inode = |p: &std::path::Path| std::fs::metadata(p).unwrap().ino();
    let alice = path("alice@example.com", "Lists").expect("filed into Lists");
    assert!(alice.to_string_lossy().ends_with(":2,F"), "{alice:?}");
    let dave = path("dave@example.com", "").unwrap();
    let erin = path("erin@example.com", "").unwrap();
    assert_eq!(inode(&alice), inode(&dave));
    assert_eq!(inode(&dave), inode(&erin));
    assert_eq!(std::fs::metadata(&dave).unwrap().nlink(), 3);
    let shared = std::fs::read_to_string(&dave).unwrap();
    assert!(
        shared.starts_with("Return-Path: <x@example.org>\r\nReceived: "),
        "{shared}"
    );
    assert!(!shared.contains("X-Bob"), "{shared}");
    let bob = path("bob@example.com", "").unwrap();
    assert_ne!(inode(&bob), inode(&dave));
    let bobs = std::fs::read_to_string(&bob).unwrap();
    assert!(bobs.contains("X-Bob: seen by bob's script"), "{bobs}");
    assert!(bobs.contains("Subject: to all"), "{bobs}");
    assert!(path("carol@example.com", "").is_none(), "discarded");
    for (user, messages) in [("alice", 1), ("bob", 1), ("dave", 1), ("erin", 1)] {
        let usage = std::fs::read_to_string(
            server
                .maildir(&format!("{user}@example.com"))
                .join("maildirsize"),
        )
        .unwrap();
        let counted: i64 = usage
            .lines()
            .skip(1)
            .filter_map(|l| l.split_whitespace().nth(1)?.parse::<i64>().ok())
            .sum();
        assert_eq!(counted, messages, "{user}: {usage}");
    }
}
