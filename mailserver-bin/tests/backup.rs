//! Backups: a snapshot while the server runs, mail added, a second snapshot sharing the
//! unchanged message files with the first, both verified (and a changed file found), then
//! the second restored into an empty data directory of another server on other ports, whose
//! clients see the same UIDVALIDITY, UIDs, flags, keywords, POP3 UIDLs and password.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use support::{Server, assert_contains, python};

fn send(server: &Server, subject: &str) {
    let mut smtp = server.connect();
    for line in [
        "EHLO client.example",
        "MAIL FROM:<sender@example.org>",
        "RCPT TO:<alice@example.com>",
        "DATA",
    ] {
        smtp.command(line);
    }
    let reply = smtp.command(&format!("Subject: {subject}\r\n\r\n{subject}\r\n."));
    assert!(reply.starts_with("250"), "{reply}");
    smtp.command("QUIT");
}

/// What alice's clients see: every folder's UIDVALIDITY and UIDNEXT, each message's UID and
/// flags (but \Recent, which is per session), and the POP3 UIDLs.
const STATE: &str = r#"
import imaplib, poplib, re, sys
imap, pop = int(sys.argv[1]), int(sys.argv[2])
m = imaplib.IMAP4("127.0.0.1", imap)
m.login("alice@example.com", "secret")
out = []
for line in sorted(m.list()[1]):
    name = line.decode().rsplit(' "/" ', 1)[-1].rsplit(' "." ', 1)[-1].strip('"')
    typ, data = m.status(name, "(UIDVALIDITY UIDNEXT MESSAGES)")
    out.append(data[0].decode())
    m.select(name, readonly=True)
    typ, data = m.uid("FETCH", "1:*", "(FLAGS)")
    for d in data:
        if d:
            text = d.decode().replace("\\Recent", "").replace("( ", "(").replace(" )", ")")
            uid = re.search(r"UID (\d+)", text).group(1)
            flags = sorted(re.search(r"FLAGS \(([^)]*)\)", text).group(1).split())
            out.append(f"  {uid} {' '.join(flags)}")
m.logout()
p = poplib.POP3("127.0.0.1", pop)
p.user("alice@example.com"); p.pass_("secret")
out += [u.decode() for u in p.uidl()[1]]
p.quit()
print("\n".join(out))
"#;

const CHANGE_FLAGS: &str = r#"
import imaplib, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.login("alice@example.com", "secret")
m.select("INBOX")
m.uid("STORE", "1", "+FLAGS", "(\\Seen \\Flagged)")
m.uid("STORE", "2", "+FLAGS", "($Label1 \\Answered)")
m.create("Archive")
m.append("Archive", "(\\Seen $Work)", None, b"Subject: kept\r\n\r\narchived\r\n")
m.logout()
"#;

fn state(server: &Server) -> String {
    python(
        STATE,
        &[&server.imap_port.to_string(), &server.pop3_port.to_string()],
    )
}

/// The snapshots in `dest`, oldest first.
fn snapshots(dest: &Path) -> Vec<PathBuf> {
    let mut all: Vec<PathBuf> = std::fs::read_dir(dest)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    all.sort();
    all
}

/// alice's message files in a snapshot, by name: their inode numbers.
fn message_inodes(snapshot: &Path) -> HashMap<String, u64> {
    let inbox = snapshot.join("data/mail/example.com/alice");
    ["new", "cur"]
        .iter()
        .flat_map(|d| std::fs::read_dir(inbox.join(d)).unwrap())
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                e.metadata().unwrap().ino(),
            )
        })
        .collect()
}

#[test]
fn snapshots_share_unchanged_mail_and_restore_keeps_what_clients_see() {
    let server = Server::start("backup", "");
    for n in 1..=3 {
        send(&server, &format!("message {n}"));
    }
    python(CHANGE_FLAGS, &[&server.imap_port.to_string()]);
    let dest = server.dir.join("backups");
    let dest_arg = dest.to_str().unwrap();
    let first = server.admin_ok(&["backup", dest_arg]);
    assert_contains(&first, &["snapshot ", "0 linked to no earlier snapshot"]);

    send(&server, "message 4");
    let before = state(&server);
    assert_contains(&before, &["$Label1", "$Work", "\\Flagged", "Archive"]);
    let second = server.admin_ok(&["backup", dest_arg]);
    let [one, two] = &snapshots(&dest)[..] else {
        panic!("two snapshots expected: {second}");
    };
    // The three messages unchanged since the first snapshot are the same files.
    let (a, b) = (message_inodes(one), message_inodes(two));
    assert_eq!((a.len(), b.len()), (3, 4), "{a:?} {b:?}");
    let shared = b.iter().filter(|(n, ino)| a.get(*n) == Some(ino)).count();
    assert_eq!(shared, 3, "{second}");
    assert_contains(&second, &[&format!("linked to {}", one.display())]);

    for snap in [one, two] {
        let verified = server.admin_ok(&["backup", "--verify", snap.to_str().unwrap()]);
        assert_contains(&verified, &["every file matches the manifest"]);
    }
    // sha256sum reads the same manifest.
    let sums = std::process::Command::new("sha256sum")
        .args(["--quiet", "-c", "MANIFEST"])
        .current_dir(two)
        .output()
        .unwrap();
    assert!(sums.status.success(), "{sums:?}");
    // A file changed after the backup is found.
    let config_copy = one.join("mailserver.toml");
    let mut text = std::fs::read_to_string(&config_copy).unwrap();
    text.push_str("# changed\n");
    std::fs::write(&config_copy, text).unwrap();
    let bad = server.admin(&["backup", "--verify", one.to_str().unwrap()], "");
    assert!(!bad.status.success());
    assert_contains(
        &String::from_utf8_lossy(&bad.stdout),
        &["mailserver.toml: changed since the backup"],
    );

    // Restored into an empty data directory, on other ports.
    let mut restored = Server::prepare("restored", "");
    let out = restored.admin_ok(&["restore", two.to_str().unwrap()]);
    assert_contains(&out, &["restored "]);
    // Never over existing data.
    let again = restored.admin(&["restore", two.to_str().unwrap()], "");
    assert!(!again.status.success());
    assert_contains(
        &String::from_utf8_lossy(&again.stderr),
        &["is not empty: restore only into an empty data directory"],
    );
    restored.spawn();
    assert_eq!(state(&restored), before);
    // DKIM keys came back as they were.
    let key = "data/dkim/example.com";
    for entry in std::fs::read_dir(server.dir.join(key)).unwrap() {
        let name = entry.unwrap().file_name();
        assert_eq!(
            std::fs::read(server.dir.join(key).join(&name)).unwrap(),
            std::fs::read(restored.dir.join(key).join(&name)).unwrap()
        );
    }
}
