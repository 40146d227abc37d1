//! Accounts on a two-node MariaDB Galera cluster behind HAProxy: logins, deliveries and the
//! CLI's changes go on while either node is stopped, and a node that comes back has the
//! changes made without it.

#![allow(clippy::unwrap_used)]

mod support;

use support::galera::Galera;
use support::{Server, python};

const USER: &str = "mailserver";
const PASSWORD: &str = "galera-test-pw";

/// Logs `user` in over IMAP, then delivers a message to them through SMTP; says how it went.
/// A temporary failure is tried again, as clients and senders do: right after a database node
/// stops, HAProxy may send a connection to it until its next check (300 ms) marks it down.
fn serve(server: &Server, user: &str) -> String {
    python(
        SERVE,
        &[
            &server.imap_port.to_string(),
            &server.port.to_string(),
            user,
        ],
    )
}

const SERVE: &str = r#"
import imaplib, smtplib, sys, time
imap, smtp, user = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]

def temporary(e):
    if isinstance(e, imaplib.IMAP4.error):
        return "UNAVAILABLE" in str(e)
    if isinstance(e, smtplib.SMTPRecipientsRefused):
        return all(400 <= code < 500 for code, _ in e.recipients.values())
    return 400 <= e.smtp_code < 500

for attempt in range(20):
    try:
        c = imaplib.IMAP4("127.0.0.1", imap, timeout=30)
        c.login(user, "secret")
        c.logout()
        s = smtplib.SMTP("127.0.0.1", smtp, timeout=30)
        s.sendmail("someone@example.org", [user], b"Subject: hi\r\n\r\nHello.\r\n")
        s.quit()
        break
    except (imaplib.IMAP4.error, smtplib.SMTPResponseException,
            smtplib.SMTPRecipientsRefused) as e:
        if not temporary(e):
            raise
        print("temporary failure, again:", e)
        time.sleep(0.3)
else:
    sys.exit("never served")
print(user, "served")
"#;

/// Adds `user` with the CLI (written through HAProxy to whichever node is up).
fn add_user(server: &Server, user: &str) {
    let out = server.admin_with_stdin(&["user", "add", user, "--password-stdin"], "secret\n");
    assert!(out.contains(&format!("added user {user}")), "{out}");
}

#[test]
fn accounts_are_served_while_a_database_node_is_down() {
    let dir = std::env::temp_dir().join(format!("galera-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut galera = Galera::start(&dir);
    galera.nodes[0]
        .sql(&format!(
            "CREATE DATABASE postfix CHARACTER SET latin1 COLLATE latin1_general_ci; \
             CREATE USER '{USER}'@'127.0.0.1' IDENTIFIED BY '{PASSWORD}'; \
             GRANT ALL ON postfix.* TO '{USER}'@'127.0.0.1'"
        ))
        .unwrap();
    let url = format!(
        "mysql://{USER}:{PASSWORD}@127.0.0.1:{}/postfix",
        galera.port
    );
    let server = Server::start_bare("galera", &format!("[accounts]\nurl = \"{url}\"\n"));
    server.admin_ok(&["domain", "add", "example.com"]);
    add_user(&server, "alice@example.com");
    assert!(serve(&server, "alice@example.com").contains("served"));

    // Node 2 stops: node 1 goes on alone.
    galera.stop_node(1);
    galera.wait_size(1);
    add_user(&server, "bob@example.com");
    assert!(serve(&server, "bob@example.com").contains("served"));
    // It comes back with what was written meanwhile.
    galera.start_node(1, false);
    galera.wait_size(2);
    let bob = "SELECT username FROM postfix.mailbox WHERE username = 'bob@example.com'";
    assert_eq!(galera.nodes[1].sql(bob).unwrap().trim(), "bob@example.com");

    // Node 1, the one HAProxy sent everything to, stops: node 2 takes over.
    galera.stop_node(0);
    galera.wait_size(1);
    assert!(serve(&server, "alice@example.com").contains("served"));
    add_user(&server, "carol@example.com");
    assert!(serve(&server, "carol@example.com").contains("served"));
    galera.start_node(0, false);
    galera.wait_size(2);
    let carol = "SELECT username FROM postfix.mailbox WHERE username = 'carol@example.com'";
    assert_eq!(
        galera.nodes[0].sql(carol).unwrap().trim(),
        "carol@example.com"
    );

    // Every delivery arrived.
    for (user, count) in [("alice", 2), ("bob", 1), ("carol", 1)] {
        let address = format!("{user}@example.com");
        support::lists::wait_for(&format!("{address}'s mail"), || {
            server.messages(&address).len() == count
        });
    }
    drop(server);
    drop(galera);
}
