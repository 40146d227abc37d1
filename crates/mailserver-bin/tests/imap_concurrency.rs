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
        let v = status.split("UIDVALIDITY ").nth(1).unwrap().trim_end_matches(')');
        validities.push(v.to_owned());
    }
    validities.sort();
    validities.dedup();
    assert_eq!(validities.len(), 3, "{out}");
    for line in out.lines().filter(|l| !l.starts_with("status")) {
        assert!(line.contains(" OK"), "{out}\n{}", server.log());
    }
}
