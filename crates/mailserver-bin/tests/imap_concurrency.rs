//! IMAP when several things happen to one mailbox at once, or quickly one after another: what
//! clients running all day on several devices meet (issue 26).
#![allow(clippy::unwrap_used)]

mod support;

use support::{Server, python};

/// Creates, fills and deletes the same folder three times within a second.
const RECREATE: &str = r#"
import imaplib, sys
M = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
M.login("alice@example.com", "secret")
for i in range(3):
    print("create", M.create("Work")[0])
    typ, data = M.append("Work", None, None, b"Subject: round %d\r\n\r\nbody\r\n" % i)
    print("append", typ, data[0].decode())
    typ, data = M.status("Work", "(MESSAGES UIDVALIDITY)")
    print("status", typ, data[0].decode())
    print("delete", M.delete("Work")[0])
"#;

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
const FOUR_FLAGS: &str = r#"
import imaplib, sys, threading
port = int(sys.argv[1])
M = imaplib.IMAP4("127.0.0.1", port)
M.login("alice@example.com", "secret")
for i in range(40):
    M.append("INBOX", None, None, b"Subject: m%d\r\n\r\nbody\r\n" % i)
flags = ["\\Seen", "\\Flagged", "\\Answered", "$Label1"]
errors = []
def client(flag):
    C = imaplib.IMAP4("127.0.0.1", port)
    C.login("alice@example.com", "secret")
    C.select("INBOX")
    for _ in range(5):
        for op in ("+FLAGS.SILENT", "-FLAGS.SILENT", "+FLAGS.SILENT"):
            typ, data = C.store("1:40", op, "(%s)" % flag)
            if typ != "OK":
                errors.append((flag, op, data))
    C.logout()
threads = [threading.Thread(target=client, args=(f,)) for f in flags]
for t in threads: t.start()
for t in threads: t.join()
M.select("INBOX")
typ, data = M.fetch("1:40", "(FLAGS)")
missing = 0
for line in data:
    text = line.decode()
    missing += sum(1 for f in flags if f not in text)
print("errors", len(errors), errors[:3])
print("missing", missing)
"#;

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
