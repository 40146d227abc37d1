//! Mailing lists, who is on them: joining and leaving by mail (each confirmed by a reply),
//! lists whose owners approve new members, and owners managing their list by mail.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use support::lists::{nth, post, reply_to, team, wait_for};
use support::sink::Sink;
use support::{assert_contains, free_port};

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
fn joining_a_list_whose_owners_approve_takes_their_reply_too() {
    let sink = Sink::start("lists-approve", free_port(), &[]);
    let server = team("lists-approve", &sink);
    server.admin_ok(&["list", "set", "team@example.com", "subscription", "approve"]);
    let erin = "erin@example.com";
    // Erin asks for the digest and confirms; then the owner (dave) is asked.
    post(
        &server,
        erin,
        "team+subscribe-digest@example.com",
        "",
        "Subject: subscribe\r\n\r\n",
    );
    let confirmation = nth(&server, erin, 1);
    post(
        &server,
        erin,
        &reply_to(confirmation.as_bytes()),
        "",
        "Subject: Re\r\n\r\n",
    );
    assert_contains(
        &nth(&server, erin, 2),
        &["Subject: Your request to join team@example.com awaits approval"],
    );
    let request = nth(&server, "dave@example.com", 1);
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
        &nth(&server, "alice@example.com", 1),
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
    assert_contains(
        &nth(&server, erin, 3),
        &["Subject: Welcome to team@example.com"],
    );
    assert_contains(&members(), &["erin@example.com       member  digest"]);
}

#[test]
fn an_owner_manages_the_list_by_mail_once_they_confirm() {
    let sink = Sink::start("lists-admin", free_port(), &[]);
    let server = team("lists-admin", &sink);
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
        &nth(&server, "alice@example.com", 1),
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
    let confirmation = nth(&server, dave, 1);
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
        &nth(&server, dave, 2),
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
        &nth(&server, dave, 3),
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
        &nth(&server, dave, 4),
        &[
            "Subject: Nothing done on team@example.com",
            "posting is one of anyone, members, owners, moderated",
            "subscribe ADDRESS [digest|nomail]",
        ],
    );
}
