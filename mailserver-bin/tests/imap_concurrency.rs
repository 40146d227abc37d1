//! IMAP when several things happen to one mailbox at once, or quickly one after another: what
//! clients running all day on several devices meet (issue 26).
#![allow(clippy::unwrap_used)]

mod support;

use support::{Server, python, python_within};

/// Creates, fills and deletes the same folder three times within a second.
const RECREATE: &str = include_str!("clients/imap_concurrency_recreate.py");

#[test]
fn a_folder_deleted_and_made_again_in_one_second_never_reuses_its_uidvalidity() {
    // RFC 9051 §2.3.1.1: a UIDVALIDITY must not be reused with other UIDs.
    let server = Server::start("recreate", "");
    let out = python(RECREATE, &[&server.imap_port.to_string()]);
    let statuses: Vec<&str> = out.lines().filter(|l| l.starts_with("status")).collect();
    assert_eq!(statuses.len(), 3, "{out}");
    let mut validities = Vec::new();
    for status in &statuses {
        assert!(
            status.starts_with("status OK") && status.contains("MESSAGES 1 "),
            "one message per APPEND: {out}\n{}",
            server.log()
        );
        let v = status
            .split("UIDVALIDITY ")
            .nth(1)
            .unwrap()
            .trim_end_matches(')');
        validities.push(v.to_owned());
    }
    validities.sort();
    validities.dedup();
    assert_eq!(validities.len(), 3, "{out}");
    for line in out.lines().filter(|l| !l.starts_with("status")) {
        assert!(line.contains(" OK"), "{out}\n{}", server.log());
    }
}

/// Four sessions on one INBOX, each setting, clearing and setting a flag of its own on the
/// same messages at once; then every message must have all four, and no STORE may fail.
const FOUR_FLAGS: &str = include_str!("clients/imap_concurrency_four_flags.py");

#[test]
fn concurrent_stores_of_different_flags_lose_none() {
    let server = Server::start("four-flags", "");
    let out = python(FOUR_FLAGS, &[&server.imap_port.to_string()]);
    // What the files say (Dovecot reads flags from there): S, F, R and keyword 0 (`a`).
    let cur = server.maildir("alice@example.com").join("cur");
    let mut on_disk_missing = 0;
    for entry in std::fs::read_dir(&cur).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let flags = name.split_once(":2,").map_or("", |(_, f)| f).to_owned();
        on_disk_missing += "SFRa".chars().filter(|c| !flags.contains(*c)).count();
    }
    assert_eq!(on_disk_missing, 0, "flags missing from the files");
    assert!(out.contains("errors 0 "), "{out}\n{}", server.log());
    assert!(out.contains("missing 0"), "{out}");
}

/// Ten messages to keep and eight to drop; then three sessions at once mark the eight
/// `\Deleted` and EXPUNGE them, eight rounds over.
const SAME_EXPUNGE: &str = include_str!("clients/imap_concurrency_same_expunge.py");

#[test]
fn sessions_expunging_the_same_messages_take_them_off_the_quota_once() {
    let server = Server::start("same-expunge", "");
    server.admin_ok(&["user", "quota", "alice@example.com", "1G"]);
    let out = python(SAME_EXPUNGE, &[&server.imap_port.to_string()]);
    // What is on disk: the ten kept messages.
    let maildir = server.maildir("alice@example.com");
    let mut on_disk = (0u64, 0u64);
    for sub in ["cur", "new"] {
        for entry in std::fs::read_dir(maildir.join(sub)).unwrap() {
            on_disk.0 += entry.unwrap().metadata().unwrap().len();
            on_disk.1 += 1;
        }
    }
    assert_eq!(on_disk.1, 10, "{out}");
    // maildirsize (Dovecot's count) agrees with the files.
    let text = std::fs::read_to_string(maildir.join("maildirsize")).unwrap();
    let counted = text.lines().skip(1).fold((0i64, 0i64), |acc, l| {
        let mut parts = l.split_whitespace().map(|n| n.parse::<i64>().unwrap());
        (acc.0 + parts.next().unwrap(), acc.1 + parts.next().unwrap())
    });
    assert_eq!(counted, (on_disk.0 as i64, 10), "{text}");
    // And IMAP says so (RFC 9208: STORAGE in KiB).
    let kib = on_disk.0.div_ceil(1024);
    assert!(
        out.contains(&format!("STORAGE {kib} "))
            || out.contains(&format!("STORAGE {} ", on_disk.0 / 1024)),
        "{out}, expected {kib} KiB"
    );
}

/// Two sessions; A sets a keyword the folder never had; both must hear `* FLAGS` naming it
/// before any FETCH shows it (RFC 3501 §7.2.6).
const NEW_KEYWORD: &str = include_str!("clients/imap_concurrency_new_keyword.py");

#[test]
fn a_new_keyword_is_announced_with_flags_before_fetch_shows_it() {
    let server = Server::start("new-keyword", "");
    let out = python(NEW_KEYWORD, &[&server.imap_port.to_string()]);
    for line in out.lines() {
        let flags = line
            .find("* FLAGS (")
            .unwrap_or_else(|| panic!("no FLAGS: {out}"));
        let fetch = line
            .find(" FETCH (")
            .unwrap_or_else(|| panic!("no FETCH: {out}"));
        assert!(flags < fetch, "{out}");
        assert!(line[flags..fetch].contains("$Project"), "{out}");
    }
}

const ESEARCH_MODSEQ: &str = include_str!("clients/imap_concurrency_esearch_modseq.py");

#[test]
fn esearch_min_max_give_the_modseq_of_the_messages_they_name() {
    // RFC 4731 §3.2 / RFC 7162 §3.1.5: with only MIN and MAX, MODSEQ is the highest of those
    // messages; with COUNT (or ALL), of every match.
    let server = Server::start("esearch-modseq", "");
    let out = python(ESEARCH_MODSEQ, &[&server.imap_port.to_string()]);
    let lines: Vec<&str> = out.lines().collect();
    let modseq = |uid: u32| -> u64 {
        let pattern = format!("UID {uid} MODSEQ (");
        let at = lines[2].find(&pattern).unwrap() + pattern.len();
        lines[2][at..].split(')').next().unwrap().parse().unwrap()
    };
    let (first, second, third) = (modseq(1), modseq(2), modseq(3));
    assert!(second > first.max(third), "{out}");
    assert!(
        lines[0].ends_with(&format!("MIN 1 MAX 3 MODSEQ {}", first.max(third))),
        "{out}"
    );
    assert!(lines[1].ends_with(&format!("MODSEQ {second}")), "{out}");
}

const RECENT_ONCE: &str = include_str!("clients/imap_concurrency_recent_once.py");

#[test]
fn new_mail_is_recent_to_one_session_only() {
    // RFC 3501 §2.3.2: \Recent goes to exactly one session (mutt counts new mail with it).
    let server = Server::start("recent-once", "");
    let out = python(
        RECENT_ONCE,
        &[&server.imap_port.to_string(), &server.port.to_string()],
    );
    let counts: Vec<u32> = out
        .trim()
        .trim_matches(['[', ']'])
        .split(", ")
        .map(|n| n.parse().unwrap())
        .collect();
    // Each session: its RECENT count, then how many SEARCH RECENT finds.
    let claimed: Vec<u32> = counts.chunks(2).map(|c| c[1]).collect();
    assert_eq!(claimed.iter().sum::<u32>(), 2, "{out}");
    for pair in counts.chunks(2) {
        assert_eq!(pair[0], pair[1], "RECENT and SEARCH RECENT agree: {out}");
    }
}

const LSUB_PARENT: &str = include_str!("clients/imap_concurrency_lsub_parent.py");

#[test]
fn lsub_with_percent_names_the_unsubscribed_parent_as_noselect() {
    // RFC 3501 §6.3.9.
    let server = Server::start("lsub-parent", "");
    let out = python(LSUB_PARENT, &[&server.imap_port.to_string()]);
    let mut lines = out.lines();
    assert_eq!(
        lines.next().unwrap(),
        r#"% ['(\\Noselect) "." Work']"#,
        "{out}"
    );
    assert_eq!(
        lines.next().unwrap(),
        r#"* ['() "." Work.Projects']"#,
        "{out}"
    );
}

/// Sessions on one mailbox doing what clients do, at random, for a while: STORE of flags and
/// keywords, FETCH, EXPUNGE, APPEND, COPY and MOVE to another folder, SELECT/CLOSE, and CREATE/
/// RENAME/DELETE of folders of their own. Checked as it goes: no NO or BAD but those the
/// situation explains (a message another session expunged), MODSEQs that never go back for a
/// message in one session (RFC 7162 §3.1), and at the end every session agreeing on the flags
/// and MODSEQs, and the quota equal to the files.
const STRESS: &str = include_str!("clients/imap_concurrency_stress.py");

/// Ten sessions for 60 s (issue 26; `STRESS_SECONDS` for longer or shorter runs).
#[test]
fn ten_sessions_at_random_on_one_mailbox_keep_it_whole() {
    let server = Server::start("stress", "");
    server.admin_ok(&["user", "quota", "alice@example.com", "1G"]);
    let seconds = std::env::var("STRESS_SECONDS").unwrap_or_else(|_| "60".into());
    let limit = seconds.parse::<u32>().unwrap_or(60) + 120;
    let out = python_within(
        limit,
        STRESS,
        &[&server.imap_port.to_string(), &seconds, "10"],
    );
    eprintln!("{out}");
    assert!(out.starts_with("problems 0"), "{out}");
    assert!(out.contains("modseq_backwards 0 "), "{out}");
    assert!(!server.log().contains("SERVERBUG"), "{}", server.log());
    // The quota (maildirsize, as Dovecot keeps it) equals the files of every folder.
    let root = server.maildir("alice@example.com");
    let mut files = (0i64, 0i64);
    for folder in [root.clone(), root.join(".Archive")] {
        for sub in ["cur", "new"] {
            for entry in std::fs::read_dir(folder.join(sub)).unwrap() {
                files.0 += entry.unwrap().metadata().unwrap().len() as i64;
                files.1 += 1;
            }
        }
    }
    let text = std::fs::read_to_string(root.join("maildirsize")).unwrap();
    let counted = text.lines().skip(1).fold((0i64, 0i64), |acc, l| {
        let mut parts = l.split_whitespace().map(|n| n.parse::<i64>().unwrap());
        (acc.0 + parts.next().unwrap(), acc.1 + parts.next().unwrap())
    });
    assert_eq!(counted, files, "maildirsize against the files");
}
