//! Mailing lists: made and filled with the CLI, posted to over SMTP by members (the list's
//! copy reaches local members' Maildirs and a remote member through the relay, with the
//! `List-*` fields and the list's bounce address as envelope sender), refused to others at
//! RCPT, held to the list's size limit and to its moderators; bounces, DMARC, one-click
//! unsubscribe. Joining and owners' commands are in `lists_membership.rs`, digests and
//! archives in `lists_archive.rs`; the common ground is `support::lists`.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use support::lists::{nth, post, reply_to, team, wait_for};
use support::sink::Sink;
use support::{Server, assert_contains, free_port};

#[test]
fn a_members_post_reaches_every_member_with_the_lists_fields() {
    let sink = Sink::start("lists", free_port(), &[]);
    let server = team("lists", &sink);
    // A member posts: alice and bob (local) and friend (remote) get the list's copy; dave,
    // an owner who takes no posts, does not.
    let replies = post(
        &server,
        "alice@example.com",
        "team@example.com",
        "",
        "From: Alice <alice@example.com>\r\nTo: team@example.com\r\nSubject: hello\r\n\
         Message-ID: <p1@example.com>\r\n\r\nHi all.\r\n",
    );
    assert!(replies.last().unwrap().starts_with("250"), "{replies:?}");
    for user in ["alice@example.com", "bob@example.com"] {
        wait_for(user, || server.messages(user).len() == 1);
        let copy = String::from_utf8_lossy(&server.messages(user)[0]).into_owned();
        assert_contains(
            &copy,
            &[
                // Each copy's own envelope sender (VERP), where its bounces would go.
                &format!(
                    "Return-Path: <team+bounces-{}@example.com>",
                    user.replace('@', "=")
                ),
                "List-Id: Team <team.example.com>",
                "List-Post: <mailto:team@example.com>",
                "List-Owner: <mailto:team+owner@example.com>",
                "Precedence: list",
                "Subject: [team] hello",
                "Reply-To: <team@example.com>",
                "From: Alice <alice@example.com>",
                "Hi all.",
            ],
        );
    }
    let dumps = sink.wait_for(1);
    let remote = String::from_utf8_lossy(&dumps[0]).into_owned();
    assert_contains(
        &remote,
        &[
            "X-Mail-Args: <team+bounces-friend=remote.example@example.com>",
            "X-Rcpt-Args: <friend@remote.example>",
            "List-Id: Team <team.example.com>",
            "Subject: [team] hello",
            "DKIM-Signature:",
        ],
    );
    assert!(server.messages("dave@example.com").is_empty());

    // The owner address reaches the owners (dave), as List-Owner says.
    let replies = post(
        &server,
        "carol@example.com",
        "team+owner@example.com",
        "",
        "Subject: q\r\n\r\nx\r\n",
    );
    assert!(replies.last().unwrap().starts_with("250"), "{replies:?}");
    assert_eq!(server.messages("dave@example.com").len(), 1);
}

#[test]
fn other_senders_large_posts_and_bad_settings_are_refused() {
    let sink = Sink::start("lists-refused", free_port(), &[]);
    let server = team("lists-refused", &sink);
    // Not a member: refused at RCPT, nothing queued.
    let replies = post(
        &server,
        "carol@example.com",
        "team@example.com",
        "",
        "Subject: x\r\n\r\nx\r\n",
    );
    assert!(
        replies[2].starts_with("550 5.7.1")
            && replies[2].contains("only members of team@example.com"),
        "{replies:?}"
    );
    // Nor is a bounce a post.
    let replies = post(
        &server,
        "",
        "team@example.com",
        "",
        "Subject: x\r\n\r\nx\r\n",
    );
    assert!(replies[2].starts_with("550"), "{replies:?}");

    // The list's size limit, declared in SIZE.
    server.admin_ok(&["list", "set", "team@example.com", "max-size", "2K"]);
    let replies = post(
        &server,
        "alice@example.com",
        "team@example.com",
        " SIZE=5000",
        "Subject: x\r\n\r\nx\r\n",
    );
    assert!(replies[2].starts_with("552 5.3.4"), "{replies:?}");

    // Anyone may post once the policy says so.
    server.admin_ok(&["list", "set", "team@example.com", "posting", "anyone"]);
    let replies = post(
        &server,
        "carol@example.com",
        "team@example.com",
        "",
        "Subject: from carol\r\n\r\nx\r\n",
    );
    assert!(replies.last().unwrap().starts_with("250"), "{replies:?}");
    wait_for("carol's post", || {
        server.messages("bob@example.com").len() == 1
    });

    // Bad settings and unknown lists are clear errors.
    let out = server.admin(
        &["list", "set", "team@example.com", "posting", "everyone"],
        "",
    );
    assert!(!out.status.success());
    assert_contains(
        &String::from_utf8_lossy(&out.stderr),
        &["posting is one of anyone, members, owners"],
    );
    let out = server.admin(&["list", "add", "bob@example.com"], "");
    assert!(!out.status.success());
    assert_contains(
        &String::from_utf8_lossy(&out.stderr),
        &["already a mailbox, an alias or a mailing list"],
    );
    server.admin_ok(&["list", "remove", "team@example.com"]);
    let out = server.admin(&["list", "members", "team@example.com"], "");
    assert_contains(
        &String::from_utf8_lossy(&out.stderr),
        &["mailing list team@example.com does not exist"],
    );
}

#[test]
fn a_moderated_post_waits_for_a_moderators_reply() {
    let sink = Sink::start("lists-moderated", free_port(), &[]);
    let server = team("lists-moderated", &sink);
    server.admin_ok(&["list", "set", "team@example.com", "posting", "moderated"]);
    let dave = "dave@example.com";

    // Carol (not a member) posts: held; dave, the owner, is asked; carol is told.
    let r = post(
        &server,
        "carol@example.com",
        "team@example.com",
        "",
        "Subject: proposal\r\n\r\nLet us meet.\r\n",
    );
    assert!(r.last().unwrap().starts_with("250"), "{r:?}");
    let request = nth(&server, dave, 1);
    assert_contains(
        &request,
        &[
            "Subject: Moderate: proposal (from carol@example.com)",
            "Content-Type: message/rfc822",
            "Let us meet.",
        ],
    );
    assert_contains(
        &nth(&server, "carol@example.com", 1),
        &["awaits a moderator"],
    );
    assert!(
        server.admin_ok(&["queue", "list"]).contains("hold"),
        "held in the queue"
    );
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        server.messages("bob@example.com").is_empty(),
        "not sent before approval"
    );

    // Bob, a member, may not decide; dave's reply approves it, and the members get it.
    let approve = reply_to(request.as_bytes());
    post(
        &server,
        "bob@example.com",
        &approve,
        "",
        "Subject: Re\r\n\r\n",
    );
    assert_contains(
        &nth(&server, "bob@example.com", 1),
        &["Subject: Not a moderator of team@example.com"],
    );
    post(
        &server,
        dave,
        &approve,
        "",
        "Subject: Re: Moderate\r\n\r\nok\r\n",
    );
    assert_contains(
        &nth(&server, "bob@example.com", 2),
        &[
            "Subject: [team] proposal",
            "List-Id: Team <team.example.com>",
        ],
    );
    assert_contains(
        &nth(&server, "alice@example.com", 1),
        &["Subject: [team] proposal"],
    );
    assert!(String::from_utf8_lossy(&sink.wait_for(1)[0]).contains("Subject: [team] proposal"));

    // A second post is refused by dave: carol is told, nobody else gets it.
    post(
        &server,
        "carol@example.com",
        "team@example.com",
        "",
        "Subject: spam\r\n\r\nBuy.\r\n",
    );
    let request = nth(&server, dave, 2);
    let reject = request
        .lines()
        .find_map(|l| l.strip_prefix("To refuse it, write to "))
        .unwrap()
        .trim_end_matches('.')
        .to_owned();
    post(&server, dave, &reject, "", "Subject: no\r\n\r\n");
    assert_contains(
        &nth(&server, "carol@example.com", 3),
        &["Subject: Your post to team@example.com was not accepted"],
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(server.messages("alice@example.com").len(), 1);
    assert!(
        !server.admin_ok(&["queue", "list"]).contains("hold"),
        "the refused post is gone"
    );

    // The owner's own post is not held.
    server.admin_ok(&["list", "subscribe", "team@example.com", dave, "--owner"]);
    post(
        &server,
        dave,
        "team@example.com",
        "",
        "Subject: from the owner\r\n\r\nx\r\n",
    );
    assert_contains(
        &nth(&server, "alice@example.com", 2),
        &["Subject: [team] from the owner"],
    );
}

#[test]
fn a_member_whose_mail_bounces_three_times_and_then_a_probe_is_removed() {
    // The relay refuses every recipient for good, as a dead mailbox's server would.
    let sink = Sink::start("lists-bounces", free_port(), &["-f", "RCPT"]);
    let server = team("lists-bounces", &sink);
    for n in 1..=3 {
        let r = post(
            &server,
            "alice@example.com",
            "team@example.com",
            "",
            &format!("Subject: post {n}\r\n\r\nx\r\n"),
        );
        assert!(r.last().unwrap().starts_with("250"), "{r:?}");
        wait_for(&format!("post {n}"), || {
            server.messages("bob@example.com").len() == n
        });
        if n < 3 {
            // Let the bounce be counted before the next post.
            std::thread::sleep(Duration::from_secs(1));
            assert!(
                server
                    .admin_ok(&["list", "members", "team@example.com"])
                    .contains("friend@remote.example")
            );
        }
    }
    // Each copy has the envelope sender of its recipient (VERP).
    let copy = String::from_utf8_lossy(&server.messages("bob@example.com")[0]).into_owned();
    assert_contains(
        &copy,
        &["Return-Path: <team+bounces-bob=example.com@example.com>"],
    );
    // After the third bounce the member is probed; the probe bounces too.
    wait_for("the owner's notice", || {
        !server.messages("dave@example.com").is_empty()
    });
    assert_contains(
        &server.log(),
        &[
            "list member probed: its mail bounces",
            "list member removed: its mail and the probe bounce",
        ],
    );
    let notice = String::from_utf8_lossy(&server.messages("dave@example.com")[0]).into_owned();
    assert_contains(
        &notice,
        &[
            "Subject: friend@remote.example was removed from team@example.com",
            "bounced 3 times, and so did a probe",
            "Content-Type: message/rfc822",
            "Subject: Mail from team@example.com to you bounces",
        ],
    );
    assert!(
        !server
            .admin_ok(&["list", "members", "team@example.com"])
            .contains("friend@remote.example")
    );
    // The poster saw none of it: only the list's three copies.
    std::thread::sleep(Duration::from_secs(1));
    let alice = server.messages("alice@example.com");
    assert_eq!(alice.len(), 3);
    assert!(
        alice
            .iter()
            .all(|m| String::from_utf8_lossy(m).contains("List-Id: Team"))
    );
}

#[test]
fn a_post_from_a_strict_dmarc_domain_goes_out_from_the_list() {
    let dir = std::env::temp_dir().join(format!("lists-dmarc-{}", std::process::id()));
    let dns = support::dns::Dns::start(
        &dir,
        &["strict.example", "relaxed.example"],
        &[
            "_dmarc.strict.example. 300 IN TXT \"v=DMARC1; p=reject\"",
            "_dmarc.relaxed.example. 300 IN TXT \"v=DMARC1; p=none\"",
        ],
    );
    let sink = Sink::start("lists-dmarc", free_port(), &[]);
    let server = Server::start(
        "lists-dmarc",
        &format!(
            "[relay]\nhost = \"[127.0.0.1]:{}\"\ntls = \"none\"\nnameservers = [\"127.0.0.1:{}\"]\n\
             [sender_auth]\nenabled = false\n",
            sink.port, dns.port
        ),
    );
    server.admin_ok(&["list", "add", "team@example.com", "--name", "Team"]);
    server.admin_ok(&[
        "list",
        "subscribe",
        "team@example.com",
        "bob@example.com",
        "friend@remote.example",
    ]);
    server.admin_ok(&["list", "set", "team@example.com", "posting", "anyone"]);
    for (from, subject) in [
        ("Boss <boss@strict.example>", "strict"),
        ("Pal <pal@relaxed.example>", "relaxed"),
    ] {
        let sender = from.split(['<', '>']).nth(1).unwrap();
        let r = post(
            &server,
            sender,
            "team@example.com",
            "",
            &format!("From: {from}\r\nSubject: {subject}\r\n\r\nx\r\n"),
        );
        assert!(r.last().unwrap().starts_with("250"), "{r:?}");
    }
    wait_for("both posts", || {
        server.messages("bob@example.com").len() == 2
    });
    let copies: Vec<String> = server
        .messages("bob@example.com")
        .iter()
        .map(|m| String::from_utf8_lossy(m).into_owned())
        .collect();
    let strict = copies
        .iter()
        .find(|c| c.contains("Subject: strict"))
        .unwrap();
    assert_contains(
        strict,
        &[
            "From: Boss via Team <team@example.com>",
            "Reply-To: <team@example.com>, Boss <boss@strict.example>",
        ],
    );
    let relaxed = copies
        .iter()
        .find(|c| c.contains("Subject: relaxed"))
        .unwrap();
    assert_contains(
        relaxed,
        &[
            "From: Pal <pal@relaxed.example>",
            "Reply-To: <team@example.com>",
        ],
    );
    // The remote copy goes out From the list too, signed by the list's domain.
    let dumps = sink.wait_for(2);
    let remote = dumps
        .iter()
        .map(|d| String::from_utf8_lossy(d).into_owned())
        .find(|d| d.contains("Subject: strict"))
        .unwrap();
    assert_contains(
        &remote,
        &["From: Boss via Team <team@example.com>", "d=example.com"],
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The https link in `copy`'s `List-Unsubscribe` field, as a path on our listener.
fn unsubscribe_path(copy: &str) -> String {
    let start = copy
        .find("List-Unsubscribe: <https://mx.example.com/")
        .unwrap_or_else(|| panic!("no https link in {copy}"))
        + "List-Unsubscribe: <https://mx.example.com".len();
    let end = start + copy[start..].find('>').unwrap();
    copy[start..end].to_owned()
}

#[test]
fn a_one_click_post_to_a_members_link_removes_the_member() {
    let sink = Sink::start("lists-one-click", free_port(), &[]);
    let server = team("lists-one-click", &sink);
    let zone = server.dir.join("zone.txt");
    std::fs::write(&zone, server.admin_ok(&["dns", "example.com"])).unwrap();
    let replies = post(
        &server,
        "alice@example.com",
        "team@example.com",
        "",
        "From: Alice <alice@example.com>\r\nTo: team@example.com\r\nSubject: news\r\n\
         Message-ID: <p2@example.com>\r\n\r\nRead me.\r\n",
    );
    assert!(replies.last().unwrap().starts_with("250"), "{replies:?}");
    // Each member's copy has its own link (RFC 8058), beside the mailto: command address.
    wait_for("bob's copy", || {
        server.messages("bob@example.com").len() == 1
    });
    wait_for("alice's copy", || {
        server.messages("alice@example.com").len() == 1
    });
    let bobs = String::from_utf8_lossy(&server.messages("bob@example.com")[0]).into_owned();
    let alices = String::from_utf8_lossy(&server.messages("alice@example.com")[0]).into_owned();
    assert_contains(
        &bobs,
        &[
            "<mailto:team+unsubscribe@example.com?subject=unsubscribe>",
            "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
        ],
    );
    assert_eq!(bobs.matches("List-Unsubscribe:").count(), 1, "{bobs}");
    let bobs_link = unsubscribe_path(&bobs);
    assert_ne!(bobs_link, unsubscribe_path(&alices));

    // The remote member's copy: the list domain's signature covers both fields.
    let dumps = sink.wait_for(1);
    let dump = String::from_utf8_lossy(&dumps[0]).into_owned();
    let start = dump.find("DKIM-Signature:").expect("no DKIM-Signature");
    let message = dump[start..]
        .strip_suffix('\n')
        .unwrap()
        .replace('\n', "\r\n");
    assert_contains(
        &message,
        &["List-Unsubscribe-Post: List-Unsubscribe=One-Click"],
    );
    let signature = &message[..message.find("\r\nList-Unsubscribe:").unwrap()];
    assert!(
        signature.contains("d=example.com")
            && signature
                .to_ascii_lowercase()
                .contains("list-unsubscribe-post"),
        "{signature}"
    );
    let verdicts = support::dkim_verdicts(&zone, &message);
    assert_eq!(
        verdicts, "0 True\n1 True\n",
        "dkimpy: {verdicts}\n{message}"
    );

    // Following the link shows a button and removes no one (scanners follow links).
    let (status, page) = server.http_get(&bobs_link);
    assert_eq!(status, 200, "{page}");
    assert_contains(&page, &["bob@example.com", "List-Unsubscribe", "One-Click"]);
    assert_contains(
        &server.admin_ok(&["list", "members", "team@example.com"]),
        &["bob@example.com"],
    );
    // A forged or damaged token does nothing.
    let damaged = format!("{}x", &bobs_link[..bobs_link.len() - 2]);
    let (status, _) = server.http("POST", &damaged, Some("List-Unsubscribe=One-Click"));
    assert_eq!(status, 404);
    // The one-click POST a mail client sends: bob is gone, at once and for good.
    let (status, page) = server.http("POST", &bobs_link, Some("List-Unsubscribe=One-Click"));
    assert_eq!(status, 200, "{page}");
    let members = server.admin_ok(&["list", "members", "team@example.com"]);
    assert!(!members.contains("bob@example.com"), "{members}");
    assert_contains(&members, &["alice@example.com", "friend@remote.example"]);
    assert_contains(
        &server.log(),
        &["list member unsubscribed by one-click link"],
    );
    // Again: nothing more to do, still a success.
    let (status, _) = server.http("POST", &bobs_link, Some("List-Unsubscribe=One-Click"));
    assert_eq!(status, 200);
}
