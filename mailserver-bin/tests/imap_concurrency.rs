//! IMAP when several things happen to one mailbox at once, or quickly one after another: what
//! clients running all day on several devices meet (issue 26).
#![allow(clippy::unwrap_used)]

mod support;

use support::{Server, python, python_within};

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

/// Ten messages to keep and eight to drop; then three sessions at once mark the eight
/// `\Deleted` and EXPUNGE them, eight rounds over.
const SAME_EXPUNGE: &str = r#"
import imaplib, sys, threading
port = int(sys.argv[1])
M = imaplib.IMAP4("127.0.0.1", port)
M.login("alice@example.com", "secret")
keep = b"Subject: keep\r\n\r\n" + b"k" * 10000 + b"\r\n"
for _ in range(10):
    M.append("INBOX", None, None, keep)
for rnd in range(8):
    for _ in range(8):
        M.append("INBOX", None, None, b"Subject: drop\r\n\r\n" + b"d" * 5000 + b"\r\n")
    barrier = threading.Barrier(3)
    def client():
        C = imaplib.IMAP4("127.0.0.1", port)
        C.login("alice@example.com", "secret")
        C.select("INBOX")
        typ, data = C.search(None, "SUBJECT", "drop")
        if data[0]:
            C.store(data[0].decode().replace(" ", ","), "+FLAGS", "(\\Deleted)")
        # All three have the messages \Deleted in view: now all expunge at once.
        barrier.wait()
        C.expunge()
        C.logout()
    threads = [threading.Thread(target=client) for _ in range(3)]
    for t in threads: t.start()
    for t in threads: t.join()
typ, data = M.getquotaroot("INBOX")
print(data[1][0].decode())
"#;

#[test]
fn sessions_expunging_the_same_messages_take_them_off_the_quota_once() {
    let server = Server::start("same-expunge", "");
    server.admin_ok(&["user", "quota", "alice@example.com", "1G"]);
    let out = python(SAME_EXPUNGE, &[&server.imap_port.to_string()]);
    // What is on disk: the ten kept messages.
    let maildir = server.maildir("alice@example.com");
    let mut on_disk = (0u64, 0u64);
    for sub in ["cur", "new"] {
        for entry in std::fs::read_dir(maildir.join(sub)).unwrap() {
            on_disk.0 += entry.unwrap().metadata().unwrap().len();
            on_disk.1 += 1;
        }
    }
    assert_eq!(on_disk.1, 10, "{out}");
    // maildirsize (Dovecot's count) agrees with the files.
    let text = std::fs::read_to_string(maildir.join("maildirsize")).unwrap();
    let counted = text.lines().skip(1).fold((0i64, 0i64), |acc, l| {
        let mut parts = l.split_whitespace().map(|n| n.parse::<i64>().unwrap());
        (acc.0 + parts.next().unwrap(), acc.1 + parts.next().unwrap())
    });
    assert_eq!(counted, (on_disk.0 as i64, 10), "{text}");
    // And IMAP says so (RFC 9208: STORAGE in KiB).
    let kib = on_disk.0.div_ceil(1024);
    assert!(
        out.contains(&format!("STORAGE {kib} "))
            || out.contains(&format!("STORAGE {} ", on_disk.0 / 1024)),
        "{out}, expected {kib} KiB"
    );
}

/// Two sessions; A sets a keyword the folder never had; both must hear `* FLAGS` naming it
/// before any FETCH shows it (RFC 3501 §7.2.6).
const NEW_KEYWORD: &str = r#"
import socket, sys, time
port = int(sys.argv[1])
def session():
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    f = s.makefile("rb")
    f.readline()
    return s, f
def command(conn, tag, line):
    s, f = conn
    s.sendall(("%s %s\r\n" % (tag, line)).encode())
    out = []
    while True:
        l = f.readline().decode()
        out.append(l.strip())
        if l.startswith(tag + " "):
            return out
A, B = session(), session()
for c in (A, B):
    command(c, "a", "LOGIN alice@example.com secret")
command(A, "b", "APPEND INBOX {18+}\r\nSubject: k\r\n\r\nbody")
for c in (A, B):
    command(c, "c", "SELECT INBOX")
print("A", command(A, "d", "STORE 1 +FLAGS ($Project)"))
time.sleep(0.2)
print("B", command(B, "e", "NOOP"))
"#;

#[test]
fn a_new_keyword_is_announced_with_flags_before_fetch_shows_it() {
    let server = Server::start("new-keyword", "");
    let out = python(NEW_KEYWORD, &[&server.imap_port.to_string()]);
    for line in out.lines() {
        let flags = line
            .find("* FLAGS (")
            .unwrap_or_else(|| panic!("no FLAGS: {out}"));
        let fetch = line
            .find(" FETCH (")
            .unwrap_or_else(|| panic!("no FETCH: {out}"));
        assert!(flags < fetch, "{out}");
        assert!(line[flags..fetch].contains("$Project"), "{out}");
    }
}

const ESEARCH_MODSEQ: &str = r#"
import imaplib, sys
M = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
M.login("alice@example.com", "secret")
for i in range(3):
    M.append("INBOX", None, None, b"Subject: m%d\r\n\r\nbody\r\n" % i)
M.select("INBOX")
M.store("2", "+FLAGS", "(\\Flagged)")
def esearch(opts):
    typ, data = M._simple_command("UID", "SEARCH", "RETURN", opts, "MODSEQ", "1")
    return M.untagged_responses.pop("ESEARCH")[0].decode()
print(esearch("(MIN MAX)"))
print(esearch("(MIN MAX COUNT)"))
typ, data = M.fetch("1:3", "(UID MODSEQ)")
print(" ".join(d.decode() for d in data))
"#;

#[test]
fn esearch_min_max_give_the_modseq_of_the_messages_they_name() {
    // RFC 4731 §3.2 / RFC 7162 §3.1.5: with only MIN and MAX, MODSEQ is the highest of those
    // messages; with COUNT (or ALL), of every match.
    let server = Server::start("esearch-modseq", "");
    let out = python(ESEARCH_MODSEQ, &[&server.imap_port.to_string()]);
    let lines: Vec<&str> = out.lines().collect();
    let modseq = |uid: u32| -> u64 {
        let pattern = format!("UID {uid} MODSEQ (");
        let at = lines[2].find(&pattern).unwrap() + pattern.len();
        lines[2][at..].split(')').next().unwrap().parse().unwrap()
    };
    let (first, second, third) = (modseq(1), modseq(2), modseq(3));
    assert!(second > first.max(third), "{out}");
    assert!(
        lines[0].ends_with(&format!("MIN 1 MAX 3 MODSEQ {}", first.max(third))),
        "{out}"
    );
    assert!(lines[1].ends_with(&format!("MODSEQ {second}")), "{out}");
}

const RECENT_ONCE: &str = r#"
import imaplib, smtplib, sys, time
imap_port, smtp_port = int(sys.argv[1]), int(sys.argv[2])
sessions = []
for _ in range(3):
    M = imaplib.IMAP4("127.0.0.1", imap_port)
    M.login("alice@example.com", "secret")
    M.select("INBOX")
    sessions.append(M)
s = smtplib.SMTP("127.0.0.1", smtp_port)
for i in range(2):
    s.sendmail("x@example.org", ["alice@example.com"], b"Subject: new\r\n\r\nbody\r\n")
s.quit()
time.sleep(0.3)
recent = []
for M in sessions:
    M.untagged_responses.clear()
    M.noop()
    recent.append(int(M.untagged_responses.get("RECENT", [b"0"])[-1]))
    typ, data = M.search(None, "RECENT")
    recent.append(len(data[0].split()))
print(recent)
"#;

#[test]
fn new_mail_is_recent_to_one_session_only() {
    // RFC 3501 §2.3.2: \Recent goes to exactly one session (mutt counts new mail with it).
    let server = Server::start("recent-once", "");
    let out = python(
        RECENT_ONCE,
        &[&server.imap_port.to_string(), &server.port.to_string()],
    );
    let counts: Vec<u32> = out
        .trim()
        .trim_matches(['[', ']'])
        .split(", ")
        .map(|n| n.parse().unwrap())
        .collect();
    // Each session: its RECENT count, then how many SEARCH RECENT finds.
    let claimed: Vec<u32> = counts.chunks(2).map(|c| c[1]).collect();
    assert_eq!(claimed.iter().sum::<u32>(), 2, "{out}");
    for pair in counts.chunks(2) {
        assert_eq!(pair[0], pair[1], "RECENT and SEARCH RECENT agree: {out}");
    }
}

const LSUB_PARENT: &str = r#"
import imaplib, sys
M = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
M.login("alice@example.com", "secret")
M.create("Work.Projects")
M.unsubscribe("Work")
M.subscribe("Work.Projects")
print("%", [l.decode() for l in M.lsub('""', "%")[1] if b"Work" in l])
print("*", [l.decode() for l in M.lsub('""', "*")[1] if b"Work" in l])
"#;

#[test]
fn lsub_with_percent_names_the_unsubscribed_parent_as_noselect() {
    // RFC 3501 §6.3.9.
    let server = Server::start("lsub-parent", "");
    let out = python(LSUB_PARENT, &[&server.imap_port.to_string()]);
    let mut lines = out.lines();
    assert_eq!(
        lines.next().unwrap(),
        r#"% ['(\\Noselect) "." Work']"#,
        "{out}"
    );
    assert_eq!(
        lines.next().unwrap(),
        r#"* ['() "." Work.Projects']"#,
        "{out}"
    );
}

/// Sessions on one mailbox doing what clients do, at random, for a while: STORE of flags and
/// keywords, FETCH, EXPUNGE, APPEND, COPY and MOVE to another folder, SELECT/CLOSE, and CREATE/
/// RENAME/DELETE of folders of their own. Checked as it goes: no NO or BAD but those the
/// situation explains (a message another session expunged), MODSEQs that never go back for a
/// message in one session (RFC 7162 §3.1), and at the end every session agreeing on the flags
/// and MODSEQs, and the quota equal to the files.
const STRESS: &str = r#"
import imaplib, random, re, sys, threading, time
port, seconds, clients = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
problems, backwards, lock = [], [], threading.Lock()
FLAGS = ["\\Seen", "\\Flagged", "\\Answered", "\\Draft", "$Label1", "$Work"]
def problem(*what):
    with lock:
        problems.append(" ".join(str(w) for w in what))
def login():
    M = imaplib.IMAP4("127.0.0.1", port)
    M.login("alice@example.com", "secret")
    return M
setup = login()
setup.create("Archive")
for i in range(30):
    setup.append("INBOX", None, None, b"Subject: seed %d\r\n\r\n%s\r\n" % (i, b"x" * random.randint(10, 3000)))
setup.logout()
def ok(name, typ, data, allowed=()):
    if typ != "OK":
        text = b" ".join(d for d in data if isinstance(d, bytes)).decode(errors="replace")
        if not any(a in text for a in allowed):
            problem(name, typ, text)
    return typ == "OK"
def client(n):
    rnd = random.Random(n)
    M = login()
    M.enable("CONDSTORE")
    M.select("INBOX")
    seen = {}
    end = time.time() + seconds
    own = "Mine%d" % n
    while time.time() < end:
        op = rnd.random()
        try:
            if op < 0.35:
                flag = rnd.choice(FLAGS)
                sign = rnd.choice("+-")
                typ, data = M.uid("STORE", "1:*", sign + "FLAGS.SILENT", "(%s)" % flag)
                ok("STORE", typ, data)
            elif op < 0.55:
                typ, data = M.uid("FETCH", "1:*", "(FLAGS MODSEQ)")
                if ok("FETCH", typ, data, ("EXPUNGEISSUED",)):
                    for line in data:
                        if not isinstance(line, bytes):
                            continue
                        m = re.search(rb"UID (\d+).*MODSEQ \((\d+)\)", line) or re.search(rb"MODSEQ \((\d+)\).*UID (\d+)", line)
                        if not m:
                            continue
                        a, b = int(m.group(1)), int(m.group(2))
                        uid, modseq = (a, b) if line.find(b"UID") < line.find(b"MODSEQ") else (b, a)
                        if modseq < seen.get(uid, 0):
                            with lock:
                                backwards.append((uid, seen[uid], modseq))
                        seen[uid] = modseq
            elif op < 0.65:
                typ, data = M.append("INBOX", None, None, b"Subject: new %d\r\n\r\nbody\r\n" % n)
                ok("APPEND", typ, data)
            elif op < 0.72:
                typ, data = M.uid("SEARCH", "ALL")
                uids = data[0].split()
                if uids:
                    u = rnd.choice(uids).decode()
                    ok("STORE deleted", *M.uid("STORE", u, "+FLAGS.SILENT", "(\\Deleted)"))
                    ok("EXPUNGE", *M.expunge())
            elif op < 0.80:
                typ, data = M.uid("SEARCH", "ALL")
                uids = data[0].split()
                if uids:
                    u = rnd.choice(uids).decode()
                    cmd = rnd.choice(["COPY", "MOVE"])
                    typ, data = M.uid(cmd, u, "Archive")
                    ok(cmd, typ, data, ("EXPUNGEISSUED",))
            elif op < 0.88:
                ok("NOOP", *M.noop())
            elif op < 0.94:
                M.close()
                typ, data = M.select("INBOX")
                ok("SELECT", typ, data)
            else:
                ok("CREATE", *M.create(own))
                ok("RENAME", *M.rename(own, own + "x"))
                ok("DELETE", *M.delete(own + "x"))
        except imaplib.IMAP4.error as e:
            problem("error", e)
    M.logout()
threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
for t in threads: t.start()
for t in threads: t.join()
time.sleep(0.3)
views = []
for _ in range(2):
    M = login()
    M.enable("CONDSTORE")
    typ, data = M.fetch("1:*", "(UID FLAGS MODSEQ)") if M.select("INBOX")[1][0] != b"0" else ("OK", [])
    views.append(sorted(d.decode() for d in data if isinstance(d, bytes)))
    M.logout()
if views[0] != views[1]:
    problem("sessions disagree")
print("problems", len(problems))
for p in problems[:20]:
    print(p)
print("modseq_backwards", len(backwards), backwards[:3])
"#;

/// Ten sessions for 60 s (issue 26; `STRESS_SECONDS` for longer or shorter runs).
#[test]
fn ten_sessions_at_random_on_one_mailbox_keep_it_whole() {
    let server = Server::start("stress", "");
    server.admin_ok(&["user", "quota", "alice@example.com", "1G"]);
    let seconds = std::env::var("STRESS_SECONDS").unwrap_or_else(|_| "60".into());
    let limit = seconds.parse::<u32>().unwrap_or(60) + 120;
    let out = python_within(
        limit,
        STRESS,
        &[&server.imap_port.to_string(), &seconds, "10"],
    );
    eprintln!("{out}");
    assert!(out.starts_with("problems 0"), "{out}");
    assert!(out.contains("modseq_backwards 0 "), "{out}");
    assert!(!server.log().contains("SERVERBUG"), "{}", server.log());
    // The quota (maildirsize, as Dovecot keeps it) equals the files of every folder.
    let root = server.maildir("alice@example.com");
    let mut files = (0i64, 0i64);
    for folder in [root.clone(), root.join(".Archive")] {
        for sub in ["cur", "new"] {
            for entry in std::fs::read_dir(folder.join(sub)).unwrap() {
                files.0 += entry.unwrap().metadata().unwrap().len() as i64;
                files.1 += 1;
            }
        }
    }
    let text = std::fs::read_to_string(root.join("maildirsize")).unwrap();
    let counted = text.lines().skip(1).fold((0i64, 0i64), |acc, l| {
        let mut parts = l.split_whitespace().map(|n| n.parse::<i64>().unwrap());
        (acc.0 + parts.next().unwrap(), acc.1 + parts.next().unwrap())
    });
    assert_eq!(counted, files, "maildirsize against the files");
}
