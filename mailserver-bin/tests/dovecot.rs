//! Dovecot (a peer we did not write) serves the Maildir our SMTP service delivered into, as it
//! is: every message is listed with the size in our file name and reads back byte for byte.
#![allow(clippy::unwrap_used)]

mod support;

use std::process::Command;

use support::{Server, free_port, python, require};

struct Dovecot {
    config: std::path::PathBuf,
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = Command::new("dovecot")
            .args(["-c", self.config.to_str().unwrap(), "stop"])
            .status();
    }
}

fn curl(url: &str, extra: &[&str]) -> Vec<u8> {
    let out = Command::new("curl")
        .args(["-s", "--fail", "-u", "alice@example.com:secret", url])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "curl {url} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn dovecot_reads_what_we_delivered() {
    require("dovecot");
    require("curl");
    let server = Server::start("dovecot", "");
    let script = r#"
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]))
s.sendmail("a@example.org", ["alice@example.com", "bob@example.com"], b"Subject: one\r\n\r\nfirst\r\n")
s.sendmail("a@example.org", ["alice@example.com"], "Subject: two\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n..dot and \u00e4\u00f6\u00fc\r\n".encode())
s.sendmail("a@example.org", ["alice@example.com"], b"Subject: three\r\n\r\n" + b"x" * 70 + b"\r\n" * 3000)
s.quit()
"#;
    python(script, &[&server.port.to_string()]);
    let maildir = server.maildir("alice@example.com");
    let mut names: Vec<String> = std::fs::read_dir(maildir.join("new"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names.len(), 3);
    // Dovecot moves messages to cur/ once a client has seen them; keep what we wrote.
    let stored: Vec<Vec<u8>> = names
        .iter()
        .map(|n| std::fs::read(maildir.join("new").join(n)).unwrap())
        .collect();

    let (_dovecot, imap, pop3) = start_dovecot(&server);

    // POP3 LIST sizes are the W= sizes in our file names.
    let list = String::from_utf8(curl(&format!("pop3://127.0.0.1:{pop3}/"), &[])).unwrap();
    let sizes: Vec<u64> = list
        .lines()
        .map(|l| l.split_whitespace().nth(1).unwrap().parse().unwrap())
        .collect();
    let mut named: Vec<u64> = names
        .iter()
        .map(|n| n.rsplit_once(",W=").unwrap().1.parse().unwrap())
        .collect();
    let mut listed = sizes.clone();
    named.sort_unstable();
    listed.sort_unstable();
    assert_eq!(listed, named, "POP3 LIST: {list}");

    // IMAP returns every file byte for byte (in the order Dovecot read the directory).
    let mut fetched: Vec<Vec<u8>> = (1..=names.len())
        .map(|uid| curl(&format!("imap://127.0.0.1:{imap}/INBOX;UID={uid}"), &[]))
        .collect();
    let mut on_disk = stored.clone();
    fetched.sort();
    on_disk.sort();
    assert!(
        fetched == on_disk,
        "Dovecot's IMAP returned other bytes than we stored"
    );
    let bob = curl(
        &format!("pop3://127.0.0.1:{pop3}/1"),
        &["-u", "bob@example.com:secret"],
    );
    assert!(String::from_utf8_lossy(&bob).contains("Subject: one"));

    // Migration: Dovecot assigned the UIDs (dovecot-uidlist) and its clients know its UIDLs;
    // our POP3 service reports the same ones for the same Maildir.
    let uidl = |port: u16| {
        String::from_utf8(curl(&format!("pop3://127.0.0.1:{port}/"), &["-X", "UIDL"])).unwrap()
    };
    let theirs = uidl(pop3);
    let ours = uidl(server.pop3_port);
    assert_eq!(theirs.lines().count(), 3, "{theirs}");
    assert_eq!(ours, theirs);
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout == b"0\n")
        .unwrap_or(false)
}

/// A private Dovecot on the server's mail root, with every password "secret". Dovecot will not
/// serve mail as root, so the tree goes to an unprivileged owner, as an installation's vmail
/// user would own it.
fn start_dovecot(server: &Server) -> (Dovecot, u16, u16) {
    start_dovecot_with(server, "")
}

/// A private Dovecot on `server`'s mail, with `extra` appended to its configuration.
fn start_dovecot_with(server: &Server, extra: &str) -> (Dovecot, u16, u16) {
    assert!(
        running_as_root(),
        "this test starts a private Dovecot, which must be started as root; run ./scripts/test as root (CI does)"
    );
    let mail_root = server.dir.join("data/mail");
    assert!(
        Command::new("chown")
            .args(["-R", "nobody:nogroup", mail_root.to_str().unwrap()])
            .status()
            .unwrap()
            .success()
    );
    let dir = server.dir.join("dovecot");
    std::fs::create_dir_all(dir.join("run")).unwrap();
    std::fs::create_dir_all(dir.join("state")).unwrap();
    let (imap, pop3) = (free_port(), free_port());
    let config = dir.join("dovecot.conf");
    std::fs::write(
        &config,
        format!(
            "base_dir = {d}/run\nstate_dir = {d}/state\nlog_path = {d}/dovecot.log\nprotocols = imap pop3\n\
             listen = 127.0.0.1\nssl = no\ndisable_plaintext_auth = no\nauth_mechanisms = plain\n\
             mail_location = maildir:{m}/%d/%n\n\
             passdb {{\n driver = static\n args = password=secret\n}}\n\
             userdb {{\n driver = static\n args = uid=nobody gid=nogroup home={m}/%d/%n\n}}\n\
             service imap-login {{\n inet_listener imap {{\n port = {imap}\n }}\n inet_listener imaps {{\n port = 0\n }}\n}}\n\
             service pop3-login {{\n inet_listener pop3 {{\n port = {pop3}\n }}\n inet_listener pop3s {{\n port = 0\n }}\n}}\n{extra}",
            d = dir.display(),
            m = mail_root.display(),
        ),
    )
    .unwrap();
    assert!(
        Command::new("dovecot")
            .args(["-c", config.to_str().unwrap()])
            .status()
            .unwrap()
            .success()
    );
    let dovecot = Dovecot { config };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", pop3)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "dovecot did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }

    (dovecot, imap, pop3)
}

/// Fills alice's mailbox through an IMAP server: folders (one with a non-ASCII name), messages
/// with flags and keywords, and expunged UIDs so the UID sequence has gaps.
const FILL: &str = include_str!("clients/dovecot_fill.py");

/// What a client caches per folder: UIDVALIDITY, UIDNEXT, and each UID's flags.
const SNAPSHOT: &str = include_str!("clients/dovecot_snapshot.py");

#[test]
fn a_dovecot_maildir_keeps_its_uids_and_flags_when_we_serve_it() {
    require("dovecot");
    let server = Server::start("dovecot-migration", "");
    let (dovecot, imap, _) = start_dovecot(&server);
    python(FILL, &[&imap.to_string()]);
    let theirs = python(SNAPSHOT, &[&imap.to_string()]);
    drop(dovecot);

    let ours = python(SNAPSHOT, &[&server.imap_port.to_string()]);
    let parsed: serde_json::Value = serde_json::from_str(&ours).unwrap();
    assert_eq!(
        parsed["INBOX"]["messages"].as_array().map(Vec::len),
        Some(4),
        "{ours}"
    );
    assert!(ours.contains("$Label1") && ours.contains("Work"), "{ours}");
    assert_eq!(ours, theirs, "a client would re-download or lose flags");
    // The folders are Dovecot's on-disk names.
    let md = server.maildir("alice@example.com");
    assert!(md.join(".&AMQ-rger/dovecot-uidlist").exists());
    assert!(md.join(".Projects.Q1/cur").is_dir());
}

/// Messages that exercise RFC 5256 REFERENCES: replies by References and by In-Reply-To, a
/// parent that is not in the mailbox, a duplicate and a missing Message-ID, a reference loop,
/// a truncated References field, folded references, and roots that share a base subject.
const THREADED: &str = include_str!("clients/dovecot_threaded.py");

const THREADS: &str = include_str!("clients/dovecot_threads.py");

#[test]
fn thread_references_answers_as_dovecot_does() {
    require("dovecot");
    let server = Server::start("dovecot-thread", "");
    python(THREADED, &[&server.port.to_string()]);
    // Ours first: selecting assigns the UIDs (in dovecot-uidlist), which Dovecot then keeps.
    let ours = python(THREADS, &[&server.imap_port.to_string()]);
    let (_dovecot, imap, _) = start_dovecot(&server);
    let theirs = python(THREADS, &[&imap.to_string()]);
    assert!(ours.contains(r#""REFERENCES": "(11 10)"#), "{ours}");
    assert_eq!(ours, theirs);
}

/// Selects alice's INBOX, appends argv[3] messages with subjects "argv[2] <i>" to it, and
/// selects it again.
const APPEND: &str = include_str!("clients/dovecot_append.py");

/// The INBOX's UIDNEXT and each UID's subject.
const UIDS: &str = include_str!("clients/dovecot_uids.py");

#[test]
fn dovecot_and_we_take_turns_numbering_new_mail() {
    require("dovecot");
    let server = Server::start("dovecot-turns", "");
    let ours = server.imap_port.to_string();
    python(APPEND, &[&ours, "ours", "3"]);
    let (dovecot, imap, _) = start_dovecot(&server);
    let theirs = imap.to_string();
    python(APPEND, &[&theirs, "theirs", "2"]);
    // Dovecot appends its records and leaves the header's next UID as it was.
    let md = server.maildir("alice@example.com");
    let uidlist = std::fs::read_to_string(md.join("dovecot-uidlist")).unwrap();
    let header_next: u32 = uidlist
        .split([' ', '\n'])
        .find_map(|w| w.strip_prefix('N')?.parse().ok())
        .unwrap();
    assert!(header_next <= 5, "{uidlist}");
    assert!(uidlist.lines().any(|l| l.starts_with("5 ")), "{uidlist}");
    python(APPEND, &[&ours, "ours again", "2"]);
    // Our new files are root's; Dovecot serves mail as an unprivileged user.
    assert!(
        Command::new("chown")
            .args(["-R", "nobody:nogroup", md.to_str().unwrap()])
            .status()
            .unwrap()
            .success()
    );
    let seen_by_us = python(UIDS, &[&ours]);
    let seen_by_dovecot = python(UIDS, &[&theirs]);
    drop(dovecot);
    assert_eq!(
        seen_by_us,
        "UIDNEXT 8)\n1 Subject: ours 0\n2 Subject: ours 1\n3 Subject: ours 2\n\
         4 Subject: theirs 0\n5 Subject: theirs 1\n\
         6 Subject: ours again 0\n7 Subject: ours again 1\n"
    );
    assert_eq!(seen_by_dovecot, seen_by_us);
}

/// Messages whose sort keys are awkward: groups, comments, RFC 2047 words with `_`, subject
/// blobs and leaders (RFC 5256 §2.1, §3).
const SORTABLE: &str = include_str!("clients/dovecot_sortable.py");

const SORTS: &str = include_str!("clients/dovecot_sorts.py");

#[test]
fn sort_by_address_and_subject_answers_as_dovecot_does() {
    require("dovecot");
    let server = Server::start("dovecot-sort", "");
    python(SORTABLE, &[&server.port.to_string()]);
    let ours = python(SORTS, &[&server.imap_port.to_string()]);
    let (_dovecot, imap, _) = start_dovecot(&server);
    let theirs = python(SORTS, &[&imap.to_string()]);
    assert_eq!(ours, theirs);
}

/// Messages in the charsets mail clients still send: a windows-1252, an ISO-8859-15, a
/// KOI8-R and a Shift_JIS body (8bit, quoted-printable and base64), an RFC 2047 KOI8-R
/// subject, and a UTF-8 control.
const CHARSETS: &str = include_str!("clients/dovecot_charsets.py");

/// SEARCH CHARSET UTF-8 for words of each message, in the body, the subject and the text.
const CHARSET_SEARCHES: &str = include_str!("clients/dovecot_charset_searches.py");

#[test]
fn search_finds_text_in_other_charsets_as_dovecot_does() {
    require("dovecot");
    let server = Server::start("dovecot-charsets", "");
    python(CHARSETS, &[&server.port.to_string()]);
    let ours = python(CHARSET_SEARCHES, &[&server.imap_port.to_string()]);
    for (term, uid) in [
        ("BODY Grüße", "1"),
        ("BODY 20 €", "2"),
        ("BODY Привет", "3"),
        ("BODY 日本語", "4"),
        ("SUBJECT Отчёт", "5"),
        ("BODY nothing", "6"),
    ] {
        assert!(
            ours.contains(&format!("\"{term}\": \"OK {uid}\"")),
            "{term} should find {uid}: {ours}"
        );
    }
    let (_dovecot, imap, _) = start_dovecot(&server);
    let theirs = python(CHARSET_SEARCHES, &[&imap.to_string()]);
    assert_eq!(ours, theirs);
}

/// `[imap] separator = "/"`, as iRedMail's Dovecot has it: folders we create are the ones
/// Dovecot configured the same way lists (and the reverse), on disk as Maildir++ names, and
/// a `.` inside a name is refused as Dovecot refuses it.
const SEPARATOR: &str = include_str!("clients/dovecot_separator.py");

#[test]
fn with_a_slash_separator_dovecot_and_we_see_the_same_folders() {
    require("dovecot");
    let server = Server::start("dovecot-separator", "[imap]\nseparator = \"/\"\n");
    let ours = server.imap_port.to_string();
    let created = python(
        SEPARATOR,
        &[
            &ours,
            "create:Projects/2026",
            "create:Projects/Archiv &AMQ-rger",
            "create:bad.name",
            "subscribe:Projects/2026",
            "append:Projects/2026",
        ],
    );
    assert!(
        created.contains(r#"["create", "Projects/2026", "OK"]"#),
        "{created}"
    );
    assert!(
        created.contains(r#"["create", "bad.name", "NO"]"#),
        "{created}"
    );
    assert!(
        created.contains(r#"["append", "Projects/2026", "OK"]"#),
        "{created}"
    );
    let md = server.maildir("alice@example.com");
    assert!(md.join(".Projects.2026/cur").exists() || md.join(".Projects.2026/new").exists());
    assert!(md.join(".Projects.Archiv &AMQ-rger").exists());

    let (dovecot, imap, _) = start_dovecot_with(
        &server,
        "namespace inbox {\n inbox = yes\n separator = /\n}\n",
    );
    let theirs = imap.to_string();
    let made = python(SEPARATOR, &[&theirs, "create:Clients/Acme"]);
    assert!(made.contains(r#""OK""#), "{made}");
    let dovecot_view = python(SEPARATOR, &[&theirs, "list"]);
    drop(dovecot);
    let our_view = python(SEPARATOR, &[&ours, "list"]);
    assert_eq!(
        our_view, dovecot_view,
        "ours:\n{our_view}\nDovecot's:\n{dovecot_view}"
    );
    for name in ["Clients/Acme", "Projects/2026", "Projects/Archiv &AMQ-rger"] {
        assert!(our_view.contains(name), "{name}: {our_view}");
    }
    assert!(our_view.contains(r#"["/"]"#), "{our_view}");
}
