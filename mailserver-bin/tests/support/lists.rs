//! The mailing-list tests' common ground: a list `team@example.com` made and filled with
//! the CLI, posts over SMTP, and what comes back.

use std::time::{Duration, Instant};

use super::sink::Sink;
use super::{Server, assert_contains};

/// Sends `message` from `from` to `to` over port 25; each step's reply.
pub fn post(
    server: &Server,
    from: &str,
    to: &str,
    mail_params: &str,
    message: &str,
) -> Vec<String> {
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

pub fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// team@example.com ("Team", prefix "[team]"): alice, bob and friend@remote.example as
/// members, dave as an owner who takes no posts; the relay is `sink`.
pub fn team(name: &str, sink: &Sink) -> Server {
    team_with(name, sink, "")
}

/// `team`, with more configuration.
pub fn team_with(name: &str, sink: &Sink, extra: &str) -> Server {
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

/// The `Reply-To:` address of `message`.
pub fn reply_to(message: &[u8]) -> String {
    let text = String::from_utf8_lossy(message);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("Reply-To: "))
        .unwrap_or_else(|| panic!("no Reply-To in {text}"));
    line.trim().trim_matches(['<', '>']).to_owned()
}

/// The `n`th message (from 1) in `user`'s new/, once there are `n`.
pub fn nth(server: &Server, user: &str, n: usize) -> String {
    wait_for(&format!("{user}'s message {n}"), || {
        server.messages(user).len() == n
    });
    String::from_utf8_lossy(&server.messages(user)[n - 1]).into_owned()
}
