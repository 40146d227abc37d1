//! Mailing lists, what they keep: digests for the members who chose them, the archive of
//! every post, and the archive read over IMAP by the members.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::PathBuf;
use std::time::Duration;

use support::lists::{post, team, team_with, wait_for};
use support::sink::Sink;
use support::{assert_contains, free_port};

#[test]
fn digest_readers_get_the_posts_together_and_every_post_is_archived() {
    let sink = Sink::start("lists-digest", free_port(), &[]);
    let server = team_with(
        "lists-digest",
        &sink,
        "[lists]\ndigest_interval = 3600\ndigest_max_posts = 2\n",
    );
    server.admin_ok(&[
        "list",
        "subscribe",
        "team@example.com",
        "carol@example.com",
        "--digest",
    ]);
    for (n, subject) in [(1, "first"), (2, "second")] {
        let r = post(
            &server,
            "alice@example.com",
            "team@example.com",
            "",
            &format!(
                "From: Alice <alice@example.com>\r\nSubject: {subject}\r\n\
                 Message-ID: <d{n}@example.com>\r\n\r\nPost {subject}.\r\n"
            ),
        );
        assert!(r.last().unwrap().starts_with("250"), "{r:?}");
        wait_for("bob's copy", || {
            server.messages("bob@example.com").len() == n
        });
    }
    // The second post fills the digest: carol gets both in one message, and no copy of each.
    wait_for("carol's digest", || {
        !server.messages("carol@example.com").is_empty()
    });
    std::thread::sleep(Duration::from_secs(1));
    let got = server.messages("carol@example.com");
    assert_eq!(got.len(), 1);
    let digest = String::from_utf8_lossy(&got[0]).into_owned();
    assert_contains(
        &digest,
        &[
            "Subject: [team] Team digest, 2 posts",
            "List-Id: Team <team.example.com>",
            "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
            "Content-Type: multipart/digest;",
            "  1. [team] first (Alice <alice@example.com>)",
            "  2. [team] second (Alice <alice@example.com>)",
            "Post first.",
            "Post second.",
        ],
    );
    // Every post is in the list's archive, a Maildir.
    let archive = server.dir.join("data/mail/example.com/.lists/team/new");
    assert_eq!(std::fs::read_dir(&archive).unwrap().count(), 2);
    // A third post waits for the next digest.
    post(
        &server,
        "alice@example.com",
        "team@example.com",
        "",
        "Subject: third\r\n\r\nPost third.\r\n",
    );
    wait_for("bob's third copy", || {
        server.messages("bob@example.com").len() == 3
    });
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(server.messages("carol@example.com").len(), 1);
    assert_eq!(std::fs::read_dir(&archive).unwrap().count(), 3);
    // With the archive off, posts are no longer kept.
    server.admin_ok(&["list", "set", "team@example.com", "archive", "no"]);
    server.admin_ok(&[
        "list",
        "unsubscribe",
        "team@example.com",
        "carol@example.com",
    ]);
    post(
        &server,
        "alice@example.com",
        "team@example.com",
        "",
        "Subject: fourth\r\n\r\nPost fourth.\r\n",
    );
    wait_for("bob's fourth copy", || {
        server.messages("bob@example.com").len() == 4
    });
    assert_eq!(std::fs::read_dir(&archive).unwrap().count(), 3);
}

/// A member reads the archive over IMAP (see the script's header).
const ARCHIVE_IMAP: &str = include_str!("clients/lists_archive_imap.py");

#[test]
fn members_read_the_lists_archive_over_imap_and_change_nothing() {
    let sink = Sink::start("lists-archive-imap", free_port(), &[]);
    let server = team("lists-archive-imap", &sink);
    server.admin_ok(&["list", "set", "team@example.com", "archive", "members"]);
    for n in 1..=2 {
        post(
            &server,
            "alice@example.com",
            "team@example.com",
            "",
            &format!("Subject: archived {n}\r\n\r\nPost {n}.\r\n"),
        );
        wait_for("bob's copy", || {
            server.messages("bob@example.com").len() == n
        });
    }
    let out = support::python(ARCHIVE_IMAP, &[&server.imap_port.to_string()]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let text = |k: &str| v[k].to_string();
    assert!(text("list").contains("Lists.team"), "{out}");
    assert!(text("list").contains("Noselect"), "the parent Lists: {out}");
    assert!(text("status").contains("MESSAGES 2"), "{out}");
    for k in ["create", "store", "copy_in", "delete"] {
        assert!(
            text(k).contains("ERROR") || text(k).contains("NO"),
            "{k}: {out}"
        );
    }
    assert!(text("create").contains("read-only"), "{out}");
    assert!(text("append").contains("NOPERM"), "{out}");
    assert_eq!(v["select"][0], "OK", "{out}");
    assert_eq!(v["select"][1][0], "2", "{out}");
    assert_eq!(v["select"][2], true, "READ-ONLY: {out}");
    assert_contains(
        &text("subjects"),
        &["[team] archived 1", "[team] archived 2"],
    );
    assert_eq!(
        v["copy_out"][0], "OK",
        "a member may copy a post to their own: {out}"
    );
    assert_eq!(v["subscribe"][0], "OK", "{out}");
    assert!(text("lsub").contains("Lists.team"), "{out}");
    // Carol is not on the list: no archive for her.
    assert!(!text("other_list").contains("Lists"), "{out}");
    assert!(!text("other_select").contains("OK"), "{out}");
    // Nothing was changed in the archive; alice's INBOX got her copy.
    let files = |dir: PathBuf| std::fs::read_dir(dir).map_or(0, Iterator::count);
    let archive = server.dir.join("data/mail/example.com/.lists/team");
    assert_eq!(files(archive.join("new")) + files(archive.join("cur")), 2);
    // Reading a post (FETCH BODY[], not PEEK) marks nothing in the shared archive.
    assert_eq!(v["fetch_body"][0], "OK", "{out}");
    let seen = std::fs::read_dir(archive.join("cur"))
        .into_iter()
        .flatten()
        .any(|e| e.unwrap().file_name().to_string_lossy().contains(":2,S"));
    assert!(!seen, "a flag was stored in the archive");
    assert_eq!(files(server.maildir("alice@example.com").join("cur")), 1);
}
