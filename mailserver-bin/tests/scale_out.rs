//! Scale-out on a shared store (`[storage] shared`): two nodes serve one data directory, each
//! with its own queue and owner lock. Deliveries through both while IMAP sessions on both
//! flag and expunge leave unique UIDs, the same view on both nodes, nothing lost and the quota
//! exact; IDLE on one node hears a delivery through the other within the poll interval.

#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use support::{Server, python};

const POLL_MS: u64 = 500;

/// Logs in to node A's console, uses the session on node B, logs out on B, and finds it
/// gone on A.
const CONSOLE: &str = r#"
import http.cookiejar, sys, urllib.error, urllib.parse, urllib.request
a, b = (f"http://127.0.0.1:{p}" for p in sys.argv[1:3])
jar = http.cookiejar.CookieJar()
opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
def insecure():
    # The cookies are Secure: urllib sends them over http only when told they are not.
    for cookie in jar:
        cookie.secure = False
page = opener.open(a + "/console/login").read().decode()
csrf = page.split('name="csrf" value="')[1].split('"')[0]
insecure()
form = urllib.parse.urlencode({"csrf": csrf, "username": "boss@example.com",
                               "password": "Boss-pass-42"}).encode()
opener.open(a + "/console/login", form)
insecure()
page = opener.open(b + "/console/").read().decode()
assert 'id="domains-heading"' in page, page
csrf = page.split('name="csrf" value="')[1].split('"')[0]
session = [c.value for c in jar if c.name == "mw_session"][0]
opener.open(b + "/console/logout", urllib.parse.urlencode({"csrf": csrf}).encode())
# The old cookie, sent again to node A, names no session any more.
again = urllib.request.Request(a + "/console/", headers={"Cookie": f"mw_session={session}"})
page = urllib.request.urlopen(again).read().decode()
assert 'id="username"' in page, "logged out: " + page
print("one session, two nodes")
"#;

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

    // A console session begun on node A is good on node B, and ends on both at logout.
    let out = a.admin_with_stdin(
        &[
            "admin",
            "add",
            "boss@example.com",
            "--global",
            "--password-stdin",
        ],
        "Boss-pass-42\n",
    );
    assert!(out.contains("added admin"), "{out}");
    let console = python(
        CONSOLE,
        &[&a.http_port.to_string(), &b.http_port.to_string()],
    );
    assert!(console.contains("one session, two nodes"), "{console}");

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
