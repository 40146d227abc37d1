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
fn serve(server: &Server, user: &str) -> String {
    python(
        "import imaplib, smtplib, sys\n\
         imap, smtp, user = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]\n\
         c = imaplib.IMAP4('127.0.0.1', imap, timeout=30)\n\
         c.login(user, 'secret'); c.logout()\n\
         s = smtplib.SMTP('127.0.0.1', smtp, timeout=30)\n\
         s.sendmail('someone@example.org', [user], b'Subject: hi\\r\\n\\r\\nHello.\\r\\n')\n\
         s.quit(); print(user, 'served')\n",
        &[
            &server.imap_port.to_string(),
            &server.port.to_string(),
            user,
        ],
    )
}

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
