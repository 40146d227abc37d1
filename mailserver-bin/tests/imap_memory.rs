//! Memory with a large mailbox (issue 26): ten sessions sync a 100,000-message INBOX as a
//! client's first sync does (UIDs and flags, then every ENVELOPE) and log out. The process's
//! peak stays under 100 MB (its resident size less the pages of the program's own file), and
//! once the folder has no session left (after `[imap] folder_linger`) it gives back what the
//! folder took. Before: one session took the process to 300-450 MB, and ten held 204 MB
//! after they had all logged out. Release build, same run (benches/imap-scale.sh's INBOX):
//! 106 MB resident at the peak of which 13 MB is the program, back to 38 MB afterwards.
#![allow(clippy::unwrap_used)]

mod support;

use support::{Server, python_within};

const MESSAGES: usize = 100_000;

/// Writes `MESSAGES` small messages into the Maildir `cur/` at `root`, as a migration leaves
/// them (names with their sizes, a third \Seen).
fn fill(root: &std::path::Path) {
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(root.join(sub)).unwrap();
    }
    for i in 0..MESSAGES {
        let body = format!(
            "From: User {n} <user{n}@example.org>\r\nTo: alice@example.com\r\n\
             Subject: report {i} budget meeting\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\n\
             Message-ID: <{i}@example.org>\r\n\r\nbody of message {i}\r\n",
            n = i % 300
        );
        let flags = if i % 3 == 0 { "S" } else { "" };
        let name = format!(
            "{}.M{i}P1.example,S={len},W={len}:2,{flags}",
            1_700_000_000 + i,
            len = body.len()
        );
        std::fs::write(root.join("cur").join(name), body).unwrap();
    }
}

/// The sessions' script: a first sync by one session (what a running server has on disk
/// afterwards: the folder's listing and header fields); then ten sessions log in, and 25 s
/// later (freed memory goes back to the system over the allocator's 10 s decay) the resident
/// size is the idle figure; they sync at once and log out; the peak (VmHWM, reset after the
/// logins) and the size 30 s later, the folder let go.
const SYNC: &str = include_str!("clients/imap_memory_sync.py");

#[test]
fn ten_sessions_syncing_a_100k_inbox_stay_bounded_and_give_memory_back() {
    let server = Server::start("imap-memory", "[imap]\nfolder_linger = 1\n");
    fill(&server.maildir("alice@example.com"));
    let pid = server.child.as_ref().unwrap().id().to_string();
    // A debug build takes a few minutes over the first sync of 100,000 messages.
    let out = python_within(
        600,
        SYNC,
        &[&server.imap_port.to_string(), &pid, &MESSAGES.to_string()],
    );
    let figures: Vec<f64> = out
        .split(|c: char| c.is_whitespace() || c == '(')
        .filter_map(|w| w.parse().ok())
        .collect();
    let [idle, peak, after, _text] = figures[..] else {
        panic!("{out}\n{}", server.log());
    };
    assert!(peak <= 100.0, "peak {peak:.1} MB: {out}");
    assert!(after <= idle + 20.0, "not given back: {out}");
    println!("{out}");
}
