//! Mailing lists: made and filled with the CLI, posted to over SMTP by members (the list's
//! copy reaches local members' Maildirs and a remote member through the relay, with the
//! `List-*` fields and the list's bounce address as envelope sender), refused to others at
//! RCPT, and held to the list's size limit.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use support::sink::Sink;
use support::{Server, assert_contains, free_port};

/// Sends `message` from `from` to `to` over port 25; each step's reply.
fn post(server: &Server, from: &str, to: &str, mail_params: &str, message: &str) -> Vec<String> {
    let mut smtp = server.connect();
    let mut replies = vec![
        smtp.command("EHLO client.example"),
        smtp.command(&format!("MAIL FROM:<{from}>{mail_params}")),
        smtp.command(&format!("RCPT TO:<{to}>")),
    ];
    if replies[2].starts_with("250") {
        replies.push(smtp.command("DATA"));
        replies.push(smtp.command(&format!("{message}\r\n.")));
    }
    smtp.command("QUIT");
    replies
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// team@example.com ("Team", prefix "[team]"): alice, bob and friend@remote.example as
/// members, dave as an owner who takes no posts; the relay is `sink`.
fn team(name: &str, sink: &Sink) -> Server {
    team_with(name, sink, "")
}

/// `team`, with more configuration.
fn team_with(name: &str, sink: &Sink, extra: &str) -> Server {
    let server = Server::start(
        name,
        &format!(
            "[relay]\nhost = \"[127.0.0.1]:{}\"\ntls = \"none\"\n[queue]\nmin_backoff = 1\nmax_backoff = 2\n{extra}",
            sink.port
        ),
    );
    server.admin_ok(&["list", "add", "team@example.com", "--name", "Team"]);
    server.admin_ok(&[
        "list",
        "subscribe",
        "team@example.com",
        "alice@example.com",
        "bob@example.com",
        "friend@remote.example",
    ]);
    server.admin_ok(&[
        "list",
        "subscribe",
        "team@example.com",
        "dave@example.com",
        "--owner",
        "--nomail",
    ]);
    server.admin_ok(&[
        "list",
        "set",
        "team@example.com",
        "subject-prefix",
        "[team]",
    ]);
    let shown = server.admin_ok(&["list", "show", "team@example.com"]);
    assert_contains(
        &shown,
        &[
            "posting         members",
            "subject-prefix  [team]",
            "people          4",
        ],
    );
    let members = server.admin_ok(&["list", "members", "team@example.com"]);
    assert!(
        members.find("dave@example.com").unwrap() < members.find("alice@example.com").unwrap(),
        "owners first: {members}"
    );
    let deciders = server.admin_ok(&["list", "moderators", "team@example.com"]);
    assert!(
        deciders.contains("dave@example.com") && !deciders.contains("alice@example.com"),
        "{deciders}"
    );

    server
}

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

/// The `Reply-To:` address of `message`.
fn reply_to(message: &[u8]) -> String {
    let text = String::from_utf8_lossy(message);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("Reply-To: "))
        .unwrap_or_else(|| panic!("no Reply-To in {text}"));
    line.trim().trim_matches(['<', '>']).to_owned()
}

#[test]
fn joining_and_leaving_by_mail_each_take_a_confirming_reply() {
    let sink = Sink::start("lists-commands", free_port(), &[]);
    let server = team("lists-commands", &sink);
    let members = || server.admin_ok(&["list", "members", "team@example.com"]);
    let erin = "erin@example.com";
    let count = |n: usize| {
        wait_for(&format!("erin's message {n}"), || {
            server.messages(erin).len() == n
        });
        String::from_utf8_lossy(&server.messages(erin)[n - 1]).into_owned()
    };

    // Subscribe: a confirmation comes back; erin is a member only once she replies to it.
    let r = post(
        &server,
        erin,
        "team+subscribe@example.com",
        "",
        "Subject: subscribe\r\n\r\n",
    );
    assert!(r.last().unwrap().starts_with("250"), "{r:?}");
    let confirmation = count(1);
    assert_contains(
        &confirmation,
        &[
            "Subject: Confirm your subscription to team@example.com",
            "Auto-Submitted: auto-replied",
            "Return-Path: <team+bounces@example.com>",
        ],
    );
    let confirm = reply_to(confirmation.as_bytes());
    assert!(confirm.starts_with("team+confirm-"), "{confirm}");
    assert!(!members().contains(erin));
    let r = post(
        &server,
        erin,
        &confirm,
        "",
        "Subject: Re: Confirm\r\n\r\nyes\r\n",
    );
    assert!(r.last().unwrap().starts_with("250"), "{r:?}");
    assert_contains(
        &count(2),
        &[
            "Subject: Welcome to team@example.com",
            "To leave, write to team+unsubscribe@example.com",
        ],
    );
    assert!(members().contains(erin));
    // The token works once.
    post(&server, erin, &confirm, "", "Subject: again\r\n\r\n");
    assert_contains(&count(3), &["Subject: No such request to team@example.com"]);

    // Her copy of a post names the commands.
    post(
        &server,
        "alice@example.com",
        "team@example.com",
        "",
        "Subject: news\r\n\r\nx\r\n",
    );
    assert_contains(
        &count(4),
        &[
            "List-Help: <mailto:team+help@example.com?subject=help>",
            "List-Subscribe: <mailto:team+subscribe@example.com?subject=subscribe>",
            " <mailto:team+unsubscribe@example.com?subject=unsubscribe>\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click",
        ],
    );

    // Leaving takes a reply too.
    post(
        &server,
        erin,
        "team+unsubscribe@example.com",
        "",
        "Subject: unsubscribe\r\n\r\n",
    );
    let confirmation = count(5);
    assert_contains(
        &confirmation,
        &["Subject: Confirm leaving team@example.com"],
    );
    assert!(members().contains(erin));
    post(
        &server,
        erin,
        &reply_to(confirmation.as_bytes()),
        "",
        "Subject: Re\r\n\r\n",
    );
    assert_contains(&count(6), &["Subject: You have left team@example.com"]);
    assert!(!members().contains(erin));

    // Help, and a closed list.
    post(
        &server,
        erin,
        "team+help@example.com",
        "",
        "Subject: help\r\n\r\n",
    );
    assert_contains(
        &count(7),
        &[
            "Subject: Help for team@example.com",
            "To join, write to team+subscribe@example.com",
        ],
    );
    server.admin_ok(&["list", "set", "team@example.com", "subscription", "closed"]);
    post(
        &server,
        erin,
        "team+subscribe@example.com",
        "",
        "Subject: subscribe\r\n\r\n",
    );
    assert_contains(
        &count(8),
        &["Subject: Subscriptions to team@example.com are closed"],
    );
    // Robots get no answer, and <> may not send commands.
    post(
        &server,
        erin,
        "team+help@example.com",
        "",
        "Auto-Submitted: auto-replied\r\nSubject: help\r\n\r\n",
    );
    let r = post(
        &server,
        "",
        "team+help@example.com",
        "",
        "Subject: help\r\n\r\n",
    );
    assert!(r[2].starts_with("550"), "{r:?}");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(server.messages(erin).len(), 8);
}

#[test]
fn a_moderated_post_waits_for_a_moderators_reply() {
    let sink = Sink::start("lists-moderated", free_port(), &[]);
    let server = team("lists-moderated", &sink);
    server.admin_ok(&["list", "set", "team@example.com", "posting", "moderated"]);
    let dave = "dave@example.com";
    let nth = |user: &str, n: usize| {
        wait_for(&format!("{user}'s message {n}"), || {
            server.messages(user).len() >= n
        });
        String::from_utf8_lossy(&server.messages(user)[n - 1]).into_owned()
    };

    // Carol (not a member) posts: held; dave, the owner, is asked; carol is told.
    let r = post(
        &server,
        "carol@example.com",
        "team@example.com",
        "",
        "Subject: proposal\r\n\r\nLet us meet.\r\n",
    );
    assert!(r.last().unwrap().starts_with("250"), "{r:?}");
    let request = nth(dave, 1);
    assert_contains(
        &request,
        &[
            "Subject: Moderate: proposal (from carol@example.com)",
            "Content-Type: message/rfc822",
            "Let us meet.",
        ],
    );
    assert_contains(&nth("carol@example.com", 1), &["awaits a moderator"]);
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
        &nth("bob@example.com", 1),
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
        &nth("bob@example.com", 2),
        &[
            "Subject: [team] proposal",
            "List-Id: Team <team.example.com>",
        ],
    );
    assert_contains(&nth("alice@example.com", 1), &["Subject: [team] proposal"]);
    assert!(String::from_utf8_lossy(&sink.wait_for(1)[0]).contains("Subject: [team] proposal"));

    // A second post is refused by dave: carol is told, nobody else gets it.
    post(
        &server,
        "carol@example.com",
        "team@example.com",
        "",
        "Subject: spam\r\n\r\nBuy.\r\n",
    );
    let request = nth(dave, 2);
    let reject = request
        .lines()
        .find_map(|l| l.strip_prefix("To refuse it, write to "))
        .unwrap()
        .trim_end_matches('.')
        .to_owned();
    post(&server, dave, &reject, "", "Subject: no\r\n\r\n");
    assert_contains(
        &nth("carol@example.com", 3),
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
        &nth("alice@example.com", 2),
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

#[test]
fn joining_a_list_whose_owners_approve_takes_their_reply_too() {
    let sink = Sink::start("lists-approve", free_port(), &[]);
    let server = team("lists-approve", &sink);
    server.admin_ok(&["list", "set", "team@example.com", "subscription", "approve"]);
    let erin = "erin@example.com";
    let nth = |user: &str, n: usize| {
        wait_for(&format!("{user}'s message {n}"), || {
            server.messages(user).len() == n
        });
        String::from_utf8_lossy(&server.messages(user)[n - 1]).into_owned()
    };
    // Erin asks for the digest and confirms; then the owner (dave) is asked.
    post(
        &server,
        erin,
        "team+subscribe-digest@example.com",
        "",
        "Subject: subscribe\r\n\r\n",
    );
    let confirmation = nth(erin, 1);
    post(
        &server,
        erin,
        &reply_to(confirmation.as_bytes()),
        "",
        "Subject: Re\r\n\r\n",
    );
    assert_contains(
        &nth(erin, 2),
        &["Subject: Your request to join team@example.com awaits approval"],
    );
    let request = nth("dave@example.com", 1);
    assert_contains(
        &request,
        &["Subject: Approve: erin@example.com asks to join team@example.com"],
    );
    let members = || server.admin_ok(&["list", "members", "team@example.com"]);
    assert!(!members().contains(erin));
    // Someone who is not an owner cannot approve.
    let approve = reply_to(request.as_bytes());
    assert!(approve.starts_with("team+approve-"), "{approve}");
    post(
        &server,
        "alice@example.com",
        &approve,
        "",
        "Subject: Re\r\n\r\n",
    );
    assert_contains(
        &nth("alice@example.com", 1),
        &["Subject: Not a moderator of team@example.com"],
    );
    assert!(!members().contains(erin));
    // The owner's reply lets her in, for the digest she asked for.
    post(
        &server,
        "dave@example.com",
        &approve,
        "",
        "Subject: Re\r\n\r\nok\r\n",
    );
    assert_contains(&nth(erin, 3), &["Subject: Welcome to team@example.com"]);
    assert_contains(&members(), &["erin@example.com       member  digest"]);
}

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

#[test]
fn an_owner_manages_the_list_by_mail_once_they_confirm() {
    let sink = Sink::start("lists-admin", free_port(), &[]);
    let server = team("lists-admin", &sink);
    let nth = |user: &str, n: usize| {
        wait_for(&format!("{user}'s message {n}"), || {
            server.messages(user).len() == n
        });
        String::from_utf8_lossy(&server.messages(user)[n - 1]).into_owned()
    };
    let dave = "dave@example.com";
    // Someone else cannot.
    post(
        &server,
        "alice@example.com",
        "team+admin@example.com",
        "",
        "Subject: admin\r\n\r\nremove bob@example.com\r\n",
    );
    assert_contains(
        &nth("alice@example.com", 1),
        &["Subject: Not an owner of team@example.com"],
    );
    // The owner's commands wait for the owner's reply.
    post(
        &server,
        dave,
        "team+admin@example.com",
        "",
        "Subject: changes\r\n\r\nsubscribe carol@example.com digest\r\n\
         unsubscribe bob@example.com\r\nset subject-prefix [T]\r\n\r\n-- \r\nDave\r\n",
    );
    let confirmation = nth(dave, 1);
    assert_contains(
        &confirmation,
        &[
            "Subject: Confirm changes to team@example.com",
            "  subscribe carol@example.com digest\r\n  unsubscribe bob@example.com\r\n  set subject-prefix [T]\r\n",
        ],
    );
    let members = || server.admin_ok(&["list", "members", "team@example.com"]);
    assert!(members().contains("bob@example.com"));
    post(
        &server,
        dave,
        &reply_to(confirmation.as_bytes()),
        "",
        "Subject: Re\r\n\r\nyes\r\n",
    );
    assert_contains(
        &nth(dave, 2),
        &[
            "Subject: Changes to team@example.com",
            "subscribe carol@example.com digest: done",
            "unsubscribe bob@example.com: done",
            "set subject-prefix [T]: done",
        ],
    );
    let now = members();
    assert!(!now.contains("bob@example.com"), "{now}");
    assert_contains(&now, &["carol@example.com      member  digest"]);
    assert_contains(
        &server.admin_ok(&["list", "show", "team@example.com"]),
        &["subject-prefix  [T]"],
    );
    // `members` alone is answered at once, to the owner's address; a mistake changes nothing.
    post(
        &server,
        dave,
        "team+admin@example.com",
        "",
        "Subject: who\r\n\r\nmembers\r\n",
    );
    assert_contains(
        &nth(dave, 3),
        &[
            "Subject: Members of team@example.com",
            "carol@example.com  member  digest",
        ],
    );
    post(
        &server,
        dave,
        "team+admin@example.com",
        "",
        "Subject: oops\r\n\r\nset posting everyone\r\n",
    );
    assert_contains(
        &nth(dave, 4),
        &[
            "Subject: Nothing done on team@example.com",
            "posting is one of anyone, members, owners, moderated",
            "subscribe ADDRESS [digest|nomail]",
        ],
    );
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
