//! A server killed with SIGKILL in the middle of taking mail from 20 clients, 7 times over:
//! every message it acknowledged is in its mailboxes exactly once, nothing half-written is
//! visible, and usage (`maildirsize` and `quota2`) equals what the mailboxes hold after the
//! restart (the start after an unclean stop counts it again).
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::HashMap;
use std::process::Command;
use std::time::Duration;

use support::Server;

const UNTIL_KILLED: &str = include_str!("clients/smtp_until_killed.py");

/// The client's number of a message: `<round.client.number@crash.example>`.
fn number(id: &str) -> usize {
    let local = id.trim_matches(['<', '>']).split('@').next().unwrap();
    local.rsplit('.').next().unwrap().parse().unwrap()
}

/// Message-ID -> how many times it is in `user`'s `new/`, after checking every file is whole.
fn stored(server: &Server, user: &str) -> HashMap<String, usize> {
    let mut ids = HashMap::new();
    for message in server.messages(user) {
        let text = String::from_utf8(message).unwrap();
        let id = text
            .lines()
            .find_map(|l| l.strip_prefix("Message-ID: "))
            .unwrap_or_else(|| panic!("a message without its Message-ID: {text}"))
            .to_owned();
        // Whole: as many lines as its number says, and the final CRLF.
        let i = number(&id);
        assert_eq!(text.matches("line of text\r\n").count(), i % 50, "{text}");
        *ids.entry(id).or_insert(0) += 1;
    }
    ids
}

#[test]
fn sigkill_during_ingest_loses_and_duplicates_nothing_and_usage_stays_exact() {
    let mut server = Server::start("crash", "");
    let acked = server.dir.join("acked");
    let script = server.dir.join("until_killed.py");
    std::fs::write(&script, UNTIL_KILLED).unwrap();
    for round in 0..7 {
        let mut clients = Command::new("python3")
            .arg(&script)
            .args([&server.port.to_string(), "20", &round.to_string()])
            .arg(&acked)
            .spawn()
            .unwrap();
        // Long enough for every client to be in the middle of something.
        std::thread::sleep(Duration::from_millis(700 + 150 * round));
        server.signal("KILL");
        server.wait_exit(Duration::from_secs(10));
        assert!(clients.wait().unwrap().success());
        server.spawn();
        assert!(
            server.log().contains("the last run did not stop in order"),
            "{}",
            server.log()
        );
    }
    let acked = std::fs::read_to_string(&acked).unwrap();
    let acked: Vec<&str> = acked.lines().collect();
    assert!(
        acked.len() > 100,
        "only {} messages acknowledged",
        acked.len()
    );
    let alice = stored(&server, "alice@example.com");
    let bob = stored(&server, "bob@example.com");
    for id in &acked {
        assert_eq!(alice.get(*id), Some(&1), "{id} for alice");
        let i = number(id);
        if i % 4 == 1 {
            assert_eq!(bob.get(*id), Some(&1), "{id} for bob");
        }
    }
    // What was stored but not acknowledged (the kill came before the 250) is there once.
    assert!(alice.values().chain(bob.values()).all(|&n| n == 1));
    for user in ["alice@example.com", "bob@example.com"] {
        let dir = server.maildir(user).join("new");
        let (bytes, messages) = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().metadata().unwrap().len())
            .fold((0, 0), |(b, n), len| (b + len, n + 1));
        let out = server.admin_ok(&["quota", "recalc", user]);
        let same = format!("{bytes} octets in {messages} messages");
        assert!(
            out.contains(&format!(
                "{user}: {same} (maildirsize said {same}, quota2 {same})"
            )),
            "{out}"
        );
    }
}

/// What a crash leaves in a Maildir's `tmp/` (a delivery cut off) is removed once it is older
/// than `[limits] tmp_max_age` (36 hours by default, as Dovecot), at start and daily; a
/// younger file may be a delivery in progress and stays.
#[test]
fn files_a_crash_left_in_tmp_are_removed_once_old() {
    let mut server = Server::start("crash-tmp", "");
    // The files appear while the server is stopped: a running server's own start-up sweep
    // could otherwise remove the old one and log it before the restart truncates its log.
    server.signal("TERM");
    server.wait_exit(Duration::from_secs(20));
    let tmp = server.maildir("alice@example.com").join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::write(tmp.join("1700000000.M1P1.mx.example.com"), b"Subject: half").unwrap();
    std::fs::write(tmp.join("young"), b"Subject: in progress").unwrap();
    let touched = Command::new("touch")
        .args(["-d", "2 days ago"])
        .arg(tmp.join("1700000000.M1P1.mx.example.com"))
        .status()
        .unwrap();
    assert!(touched.success());
    server.spawn();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    // The line is logged just after the removal: wait for both.
    while tmp.join("1700000000.M1P1.mx.example.com").exists()
        || !server.log().contains("removed files a crash left in tmp/")
    {
        assert!(std::time::Instant::now() < deadline, "{}", server.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(tmp.join("young").exists());
}
