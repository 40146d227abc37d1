//! Scale-out on a shared store (`[storage] shared`): two nodes serve one data directory, each
//! with its own queue and owner lock. Deliveries through both while IMAP sessions on both
//! flag and expunge leave unique UIDs, the same view on both nodes, nothing lost and the quota
//! exact; IDLE on one node hears a delivery through the other within the poll interval.

#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use support::{Server, python};

const POLL_MS: u64 = 500;

/// The node's `[storage]` settings.
fn shared(node: &str) -> String {
    format!("[storage]\nshared = true\nnode = \"{node}\"\npoll_ms = {POLL_MS}\n")
}

#[test]
fn two_nodes_serve_one_store() {
    let a = Server::start("scale-a", &shared("mx1"));
    // Node B: its own ports and configuration, node A's data directory.
    let mut b = Server::prepare("scale-b", &shared("mx2"));
    let data = a.dir.join("data");
    let config = std::fs::read_to_string(&b.config).unwrap();
    let config = config.replace(
        &format!("data_dir = \"{}\"", b.dir.join("data").display()),
        &format!("data_dir = \"{}\"", data.display()),
    );
    std::fs::write(&b.config, config).unwrap();
    b.spawn();
    // Each node owns its own part of the directory.
    for node in ["mx1", "mx2"] {
        assert!(data.join(format!("mailserver.pid.{node}")).exists());
        assert!(data.join("queue").join(node).is_dir());
    }

    let out = python(
        include_str!("clients/scale_out_two_nodes.py"),
        &[
            &a.port.to_string(),
            &a.imap_port.to_string(),
            &b.port.to_string(),
            &b.imap_port.to_string(),
            &POLL_MS.to_string(),
        ],
    );
    assert!(out.contains("two nodes agree"), "{out}");
    assert!(
        out.contains("idle heard the other node's delivery"),
        "{out}"
    );
    println!("{out}");

    // Both stop in order (their usage changes written), then the usage is counted from the
    // files: maildirsize and quota2 say the same.
    let mut a = a;
    for node in [&mut a, &mut b] {
        node.signal("TERM");
        assert!(node.wait_exit(Duration::from_secs(20)).success());
    }
    drop(b);
    let counted = a.admin_ok(&["quota", "recalc", "alice@example.com"]);
    let (count, said) = counted.split_once(" (").unwrap();
    assert!(count.ends_with("in 181 messages"), "{counted}");
    let count = count.trim_start_matches("alice@example.com: ");
    assert_eq!(
        said.trim().trim_end_matches(')'),
        format!("maildirsize said {count}, quota2 {count}"),
        "{counted}"
    );
}
