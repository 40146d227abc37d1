//! IMAP through the real binary, driven by clients we did not write: Python's imaplib (over
//! STARTTLS and implicit TLS), curl, mbsync and mutt.
#![allow(clippy::unwrap_used)]

mod support;

use std::process::Command;

use support::{Server, python, require};

const DELIVER: &str = r#"
import smtplib, sys
port = int(sys.argv[1])
s = smtplib.SMTP("127.0.0.1", port)
s.sendmail("bob@example.org", ["alice@example.com"],
    b"From: Bob Example <bob@example.org>\r\nTo: alice@example.com\r\nSubject: first\r\nDate: Tue, 1 Jul 2003 10:52:37 +0200\r\nMessage-ID: <one@example.org>\r\n\r\nhello world\r\n")
s.sendmail("carol@example.org", ["alice@example.com"],
    b"From: \"Carol, C.\" <carol@example.org>\r\nTo: alice@example.com, Team: x@example.net, y@example.net;\r\n"
    b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
    b"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nthe body text\r\n"
    b"--b1\r\nContent-Type: application/octet-stream; name=\"a.bin\"\r\nContent-Disposition: attachment; filename=\"a.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\nAAECAw==\r\n"
    b"--b1--\r\n")
s.sendmail("dave@example.org", ["alice@example.com"], b"Subject: third\r\n\r\nneedle in the body\r\n")
s.quit()
"#;

const SESSION: &str = r#"
import imaplib, json, ssl, sys
port, mode = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
if mode == "imaps":
    M = imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=ctx)
else:
    M = imaplib.IMAP4("127.0.0.1", port)
    M.starttls(ssl_context=ctx)
out = {}
def d(x):
    return [v.decode() if isinstance(v, bytes) else [p.decode(errors="replace") for p in v] if isinstance(v, tuple) else v for v in x]
out["caps"] = sorted(M.capabilities)
out["login"] = M.login("alice@example.com", "secret")[0]
out["list"] = d(M.list('""', "*")[1])
typ, data = M.select("INBOX")
out["select"] = [typ, d(data)]
out["uidvalidity"] = d(M.response("UIDVALIDITY")[1])
out["envelope"] = d(M.fetch("2", "(ENVELOPE)")[1])
out["envelope_cached"] = d(M.fetch("2", "(ENVELOPE)")[1])
out["fields"] = [d(M.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (FROM subject)])")[1]) for _ in range(2)]
out["bodystructure"] = d(M.fetch("2", "(BODYSTRUCTURE)")[1])
out["bodystructure_cached"] = d(M.fetch("2", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODYSTRUCTURE)")[1])
out["body_cached"] = d(M.fetch("2", "(BODY)")[1])
out["sections"] = d(M.fetch("2", "(BODY.PEEK[1] BODY.PEEK[2.MIME] BODY.PEEK[HEADER.FIELDS (Subject)] BODY.PEEK[]<0.4>)")[1])
out["binary"] = d(M.fetch("2", "(BINARY.PEEK[2] BINARY.SIZE[2] BINARY.PEEK[1]<4.4>)")[1])
out["flags_after_peek"] = d(M.fetch("2", "(FLAGS)")[1])
out["full"] = d(M.fetch("1", "(UID RFC822.SIZE BODY[])")[1])
out["flags_after_read"] = d(M.fetch("1", "(FLAGS)")[1])
out["search_from"] = d(M.search(None, "FROM", "carol")[1])
out["search_subject"] = d(M.search("UTF-8", "SUBJECT", "first")[1])
out["search_body"] = d(M.uid("SEARCH", "BODY", "needle")[1])
out["search_unseen"] = d(M.search(None, "UNSEEN")[1])
out["search_sent"] = d(M.search(None, "SENTBEFORE", "1-Jan-2004")[1])
out["sort_subject"] = d(M.sort("(REVERSE SUBJECT)", "UTF-8", "ALL")[1])
out["sort_from"] = d(M.uid("SORT", "(FROM)", "UTF-8", "ALL")[1])
out["sort_date"] = d(M.sort("(DATE)", "US-ASCII", "ALL")[1])
M.uid("SEARCH", "RETURN (MIN MAX COUNT ALL)", "ALL")
out["esearch"] = d(M.response("ESEARCH")[1])
M.search(None, "RETURN (COUNT MIN)", "FROM", "nobody")
out["esearch_none"] = d(M.response("ESEARCH")[1])
out["store"] = d(M.store("3", "+FLAGS", "(\\Deleted $Important)")[1])
out["copy"] = d(M.copy("1:2", "Archive")[1])
out["move"] = [M.uid("MOVE", "2", "Trash")[0], d(M.untagged_responses.get("EXPUNGE", []))]
out["copy_missing"] = M.copy("1", "Nope")[0]
out["expunge"] = d(M.expunge()[1])
out["after_expunge"] = d(M.fetch("1:*", "(UID FLAGS)")[1])
out["append"] = d(M.append("Sent", "(\\Seen)", '"01-Jan-2020 10:00:00 +0100"', b"Subject: sent\r\n\r\nbody\r\n")[1])
out["status"] = d(M.status("Sent", "(MESSAGES UIDNEXT UNSEEN SIZE)")[1])
out["create"] = M.create("Projects.2024")[0]
out["rename"] = M.rename("Projects.2024", "Projects.2025")[0]
out["subscribe"] = M.subscribe("Projects.2025")[0]
out["lsub"] = d(M.lsub('""', "Projects*")[1])
out["delete"] = M.delete("Projects.2025")[0]
out["list_after"] = d(M.list('""', "Proj*")[1])
M.select("Sent", readonly=True)
out["sent"] = d(M.fetch("1", "(FLAGS INTERNALDATE BODY[TEXT])")[1])
out["unselect"] = M.unselect()[0]
out["namespace"] = d(M.namespace()[1])
imaplib.Commands["ID"] = ("NONAUTH", "AUTH", "SELECTED")
M._simple_command("ID", '("name" "imaplib")')
out["id"] = d(M.response("ID")[1])
out["enable"] = M.enable("CONDSTORE")[0]
out["logout"] = M.logout()[0]
print(json.dumps(out))
"#;

fn session(server: &Server, mode: &str) -> serde_json::Value {
    let port = if mode == "imaps" {
        server.imaps_port
    } else {
        server.imap_port
    };
    let out = python(SESSION, &[&port.to_string(), mode]);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn text(v: &serde_json::Value) -> String {
    v.to_string()
}

#[test]
fn imaplib_over_starttls_and_imaps() {
    for mode in ["starttls", "imaps"] {
        let server = Server::start(&format!("imap-{mode}"), "");
        python(DELIVER, &[&server.port.to_string()]);
        let out = session(&server, mode);
        check_capabilities_and_fetch(mode, &out);
        check_search_and_changes(&out);
        // The Maildir is Dovecot's: the copy sits in .Archive, the moved one in .Trash.
        let md = server.maildir("alice@example.com");
        assert_eq!(
            std::fs::read_dir(md.join(".Archive/cur")).unwrap().count(),
            2
        );
        assert_eq!(std::fs::read_dir(md.join(".Trash/cur")).unwrap().count(), 1);
        assert!(
            std::fs::read_to_string(md.join(".Trash/dovecot-uidlist"))
                .unwrap()
                .starts_with("3 V")
        );
    }
}

/// What the imaplib session of `imaplib_over_starttls_and_imaps` saw: capabilities, LIST,
/// FETCH items (from the file and from the caches).
fn check_capabilities_and_fetch(mode: &str, out: &serde_json::Value) {
    let caps: Vec<String> = serde_json::from_value(out["caps"].clone()).unwrap();
    for c in [
        "IMAP4REV1",
        "IDLE",
        "NAMESPACE",
        "UNSELECT",
        "CHILDREN",
        "ID",
        "ENABLE",
        "UIDPLUS",
        "MOVE",
        "SPECIAL-USE",
        "STATUS=SIZE",
        "ESEARCH",
        "CONDSTORE",
        "QRESYNC",
        "UTF8=ACCEPT",
        "IMAP4REV2",
        "QUOTA",
        "QUOTA=RES-STORAGE",
        "QUOTA=RES-MESSAGE",
        "SORT",
        "THREAD=ORDEREDSUBJECT",
        "THREAD=REFERENCES",
        "LIST-EXTENDED",
        "LIST-STATUS",
        "CREATE-SPECIAL-USE",
        "LITERAL+",
        "SASL-IR",
        "AUTH=PLAIN",
        "AUTH=LOGIN",
    ] {
        assert!(
            caps.contains(&c.to_owned()),
            "{mode}: {c} missing from {caps:?}"
        );
    }
    assert!(
        !caps.contains(&"STARTTLS".to_owned()),
        "no STARTTLS once in TLS: {caps:?}"
    );
    assert_eq!(out["login"], "OK");
    let list = text(&out["list"]);
    for f in [
        "\\\\Sent) \\\".\\\" Sent",
        "\\\\Drafts) \\\".\\\" Drafts",
        "\\\\Trash) \\\".\\\" Trash",
        "\\\\Junk) \\\".\\\" Junk",
        "\\\\Archive) \\\".\\\" Archive",
        "INBOX",
    ] {
        assert!(list.contains(f), "{mode}: {f} not in {list}");
    }
    assert_eq!(out["select"][0], "OK");
    // RFC 3516: the base64 attachment decoded, sent as a literal8 since it holds a NUL.
    let binary = text(&out["binary"]);
    assert!(
        binary.contains(r#"BINARY[2] ~{4}","\u0000\u0001\u0002\u0003""#),
        "{binary}"
    );
    assert!(binary.contains("BINARY.SIZE[2] 4"), "{binary}");
    assert!(binary.contains(r#"BINARY[1]<4> {4}","body""#), "{binary}");
    assert_eq!(out["select"][1][0], "3");
    // The second answers come from the header cache the first ones filled.
    assert_eq!(out["envelope"], out["envelope_cached"]);
    assert_eq!(out["fields"][0], out["fields"][1]);
    assert!(
        text(&out["fields"][0]).contains(r#"From: \"Carol, C.\" <carol@example.org>\r\n"#),
        "{}",
        out["fields"][0]
    );
    let env = text(&out["envelope"]);
    assert!(env.contains(r#"=?utf-8?q?Gr=C3=BC=C3=9Fe?="#), "{env}");
    assert!(
        env.contains(r#"((\"Carol, C.\" NIL \"carol\" \"example.org\"))"#),
        "{env}"
    );
    assert!(env.contains(r#"(NIL NIL \"Team\" NIL)(NIL NIL \"x\" \"example.net\")(NIL NIL \"y\" \"example.net\")(NIL NIL NIL NIL)"#), "{env}");
    let bs = text(&out["bodystructure"]);
    // The second answer comes from the cache (and the header fields beside it).
    let again = text(&out["bodystructure_cached"]);
    assert!(
        again.contains(&bs[bs.find("BODYSTRUCTURE").unwrap()..bs.len() - 2]),
        "{again}"
    );
    assert!(again.contains("Subject: "), "{again}");
    assert!(
        text(&out["body_cached"]).contains("BODY (("),
        "{}",
        text(&out["body_cached"])
    );
    assert!(
        bs.contains(
            r#"(\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 13 1 NIL NIL NIL NIL)"#
        ),
        "{bs}"
    );
    assert!(bs.contains(r#"(\"application\" \"octet-stream\" (\"name\" \"a.bin\") NIL NIL \"base64\" 8 NIL (\"attachment\" (\"filename\" \"a.bin\")) NIL NIL)"#), "{bs}");
    assert!(
        bs.contains(r#"\"mixed\" (\"boundary\" \"b1\") NIL NIL NIL"#),
        "{bs}"
    );
    let sections = text(&out["sections"]);
    assert!(sections.contains("the body text"), "{sections}");
    assert!(
        sections.contains("Content-Disposition: attachment"),
        "{sections}"
    );
    assert!(
        sections.contains(r#"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n\r\n"#),
        "{sections}"
    );
    assert!(sections.contains(r#"BODY[]<0> {4}"#), "{sections}");
    assert!(
        !text(&out["flags_after_peek"]).contains("Seen"),
        "PEEK must not set \\Seen"
    );
    let full = text(&out["full"]);
    assert!(full.contains("hello world"), "{full}");
    assert!(
        text(&out["flags_after_read"]).contains("\\\\Seen"),
        "BODY[] sets \\Seen"
    );
}

/// The rest of that session: SEARCH, SORT, ESEARCH, STORE, COPY/MOVE, EXPUNGE, APPEND and
/// the folder commands.
fn check_search_and_changes(out: &serde_json::Value) {
    assert_eq!(out["search_from"][0], "2");
    assert_eq!(out["search_subject"][0], "1");
    assert_eq!(out["search_body"][0], "3");
    assert_eq!(out["search_unseen"][0], "2 3");
    assert_eq!(out["search_sent"][0], "1");
    // Subjects first < grüße < third; From: none < bob < carol; only message 1 has a Date.
    assert_eq!(out["sort_subject"][0], "3 2 1");
    assert_eq!(out["sort_from"][0], "3 1 2");
    assert_eq!(out["sort_date"][0], "1 2 3");
    let esearch = text(&out["esearch"]);
    assert!(
        esearch.contains(r#"\") UID MIN 1 MAX 3 COUNT 3 ALL 1:3"#),
        "{esearch}"
    );
    let none = text(&out["esearch_none"]);
    assert!(none.ends_with(r#"\") COUNT 0"]"#), "{none}");
    assert!(
        text(&out["store"]).contains("$Important"),
        "{}",
        out["store"]
    );
    assert!(text(&out["copy"]).contains("COPYUID"), "{}", out["copy"]);
    assert_eq!(out["move"][0], "OK");
    assert_eq!(out["copy_missing"], "NO");
    assert_eq!(
        out["expunge"][0], "2",
        "message 3 became 2 after the MOVE: {}",
        out["expunge"]
    );
    let after = text(&out["after_expunge"]);
    assert!(
        after.contains("UID 1 ") && !after.contains("UID 2 ") && !after.contains("UID 3 "),
        "{after}"
    );
    assert!(
        text(&out["append"]).contains("[APPENDUID "),
        "{}",
        out["append"]
    );
    assert!(
        text(&out["status"]).contains("MESSAGES 1 UIDNEXT 2 UNSEEN 0 SIZE 23"),
        "{}",
        out["status"]
    );
    for k in ["create", "rename", "subscribe", "delete", "logout"] {
        assert_eq!(out[k], if k == "logout" { "BYE" } else { "OK" }, "{k}");
    }
    assert!(
        text(&out["lsub"]).contains("Projects.2025"),
        "{}",
        out["lsub"]
    );
    let after = text(&out["list_after"]);
    assert_eq!(after, "[null]", "no folder left under Projects");
    assert_eq!(out["unselect"], "OK");
    assert_eq!(text(&out["namespace"]), r#"["((\"\" \".\")) NIL NIL"]"#);
    assert!(text(&out["id"]).contains("name"), "{}", out["id"]);
    assert_eq!(
        out["enable"], "OK",
        "ENABLE of something we lack enables nothing"
    );
    let sent = text(&out["sent"]);
    assert!(
        sent.contains("01-Jan-2020 09:00:00 +0000") && sent.contains("\\\\Seen"),
        "{sent}"
    );
}

const IDLE: &str = r#"
import imaplib, smtplib, sys, time, socket
imap_port, smtp_port = int(sys.argv[1]), int(sys.argv[2])
M = imaplib.IMAP4("127.0.0.1", imap_port)
M.login("alice@example.com", "secret")
M.select("INBOX")
tag = M._new_tag().decode()
M.send(f"{tag} IDLE\r\n".encode())
assert M.readline().startswith(b"+"), "no continuation"
s = smtplib.SMTP("127.0.0.1", smtp_port)
sent = time.monotonic()
s.sendmail("x@example.org", ["alice@example.com"], b"Subject: push\r\n\r\nnew mail\r\n")
acked = time.monotonic()
s.quit()
M.sock.settimeout(5)
line = M.readline()
seen = time.monotonic()
while not line.startswith(b"* 1 EXISTS"):
    line = M.readline()
# Another session flags it: the idling one hears of it too.
N = imaplib.IMAP4("127.0.0.1", imap_port)
N.login("alice@example.com", "secret")
N.select("INBOX")
stored = time.monotonic()
N.store("1", "+FLAGS", "(\\Flagged)")
flag_line = M.readline()
while b"FETCH" not in flag_line:
    flag_line = M.readline()
flagged = time.monotonic()
M.send(b"DONE\r\n")
rest = b""
while not rest.startswith(tag.encode()):
    rest = M.readline()
print(line.decode().strip(), "|", rest.decode().strip(), "|", round(seen - acked, 3), "|", flag_line.decode().strip(), "|", round(flagged - stored, 3))
"#;

#[test]
fn idle_sees_smtp_delivery_within_a_second() {
    let server = Server::start("imap-idle", "");
    let out = python(
        IDLE,
        &[&server.imap_port.to_string(), &server.port.to_string()],
    );
    let parts: Vec<&str> = out.trim().split(" | ").collect();
    assert_eq!(parts[0], "* 1 EXISTS", "{out}");
    assert!(parts[1].ends_with("OK IDLE terminated"), "{out}");
    let delay: f64 = parts[2].parse().unwrap();
    assert!(delay < 1.0, "IDLE saw the delivery after {delay} s");
    // inotify wakes the session at once; polling would take up to 0.4 s.
    assert!(delay < 0.2, "IDLE took {delay} s: is the folder watched?");
    assert!(
        parts[3].contains("FETCH") && parts[3].contains("\\Flagged"),
        "{out}"
    );
    let delay: f64 = parts[4].parse().unwrap();
    assert!(
        delay < 0.2,
        "IDLE saw another session's flag after {delay} s"
    );
}

/// Two messages appear in new/ within one tick of the directory's clock (the second one's
/// arrival leaves new/'s time as the first left it): an IDLE session woken by the first must
/// still report the second within a second, not at its next 30-second look.
const IDLE_SAME_TICK: &str = r#"
import imaplib, os, sys, time
imap_port, new_dir = int(sys.argv[1]), sys.argv[2]
M = imaplib.IMAP4("127.0.0.1", imap_port)
M.login("alice@example.com", "secret")
M.select("INBOX")
tag = M._new_tag().decode()
M.send(f"{tag} IDLE\r\n".encode())
assert M.readline().startswith(b"+"), "no continuation"
def drop(k):
    tmp = os.path.join(new_dir, f"..tmp{k}")
    with open(tmp, "wb") as f:
        f.write(b"Subject: same tick %d\r\n\r\nbody\r\n" % k)
    os.rename(tmp, os.path.join(new_dir, f"{int(time.time())}.M{k}P1.host"))
drop(1)
tick = os.stat(new_dir).st_mtime_ns
M.sock.settimeout(5)
line = M.readline()
while not line.startswith(b"* 1 EXISTS"):
    line = M.readline()
drop(2)
os.utime(new_dir, ns=(tick, tick))
start = time.monotonic()
while not line.startswith(b"* 2 EXISTS"):
    line = M.readline()
print(f"{time.monotonic() - start:.3f}")
"#;

#[test]
fn idle_sees_a_second_delivery_in_the_same_clock_tick() {
    let server = Server::start("imap-idle-tick", "");
    // The mailbox exists once something was delivered; start it empty.
    let new = server.maildir("alice@example.com").join("new");
    std::fs::create_dir_all(&new).unwrap();
    std::fs::create_dir_all(new.with_file_name("cur")).unwrap();
    std::fs::create_dir_all(new.with_file_name("tmp")).unwrap();
    let out = python(
        IDLE_SAME_TICK,
        &[&server.imap_port.to_string(), new.to_str().unwrap()],
    );
    let delay: f64 = out.trim().parse().unwrap();
    assert!(delay < 1.0, "IDLE saw the second message after {delay} s");
}

fn curl(args: &[&str]) -> String {
    let out = Command::new("curl")
        .args(["-s", "--fail", "--max-time", "20"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn curl_imap_and_imaps() {
    require("curl");
    let server = Server::start("imap-curl", "");
    python(DELIVER, &[&server.port.to_string()]);
    let user = ["-u", "alice@example.com:secret"];
    let list = curl(
        &[
            &user[..],
            &[&format!("imap://127.0.0.1:{}/", server.imap_port)],
        ]
        .concat(),
    );
    assert!(list.contains("\\Sent") && list.contains("INBOX"), "{list}");
    let body = curl(
        &[
            &user[..],
            &[
                "--ssl-reqd",
                "-k",
                &format!("imap://127.0.0.1:{}/INBOX;UID=1", server.imap_port),
            ],
        ]
        .concat(),
    );
    assert!(
        body.contains("hello world") && body.contains("Subject: first"),
        "{body}"
    );
    let body = curl(
        &[
            &user[..],
            &[
                "-k",
                &format!("imaps://127.0.0.1:{}/INBOX;UID=3", server.imaps_port),
            ],
        ]
        .concat(),
    );
    assert!(body.contains("needle in the body"), "{body}");
    let search = curl(
        &[
            &user[..],
            &[
                "-k",
                "-X",
                "SEARCH FROM carol",
                &format!("imaps://127.0.0.1:{}/INBOX", server.imaps_port),
            ],
        ]
        .concat(),
    );
    assert!(search.contains("* SEARCH 2"), "{search}");
}

fn mbsync(server: &Server, local: &std::path::Path, config_name: &str) -> String {
    let config = server.dir.join(config_name);
    std::fs::write(
        &config,
        format!(
            "IMAPAccount test\nHost 127.0.0.1\nPort {port}\nUser alice@example.com\nPass secret\n\
             SSLType IMAPS\nCertificateFile {cert}\nAuthMechs PLAIN\n\n\
             IMAPStore remote\nAccount test\n\n\
             MaildirStore local\nPath {local}/\nInbox {local}/INBOX\nSubFolders Verbatim\n\n\
             Channel all\nFar :remote:\nNear :local:\nPatterns *\nCreate Both\nExpunge Both\n\
             SyncState *\nSync All\n",
            port = server.imaps_port,
            cert = server.dir.join("data/tls/cert.pem").display(),
            local = local.display(),
        ),
    )
    .unwrap();
    let out = Command::new("timeout")
        .args(["120", "mbsync", "-c", config.to_str().unwrap(), "-V", "all"])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "mbsync failed:\n{text}\nserver log:\n{}",
        server.log()
    );
    text
}

/// Every message file under a Maildir tree, by path relative to it.
fn tree(root: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if matches!(
                path.parent()
                    .and_then(|p| p.file_name())
                    .and_then(|n| n.to_str()),
                Some("cur" | "new")
            ) {
                out.push(path.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

fn count_files(dir: &std::path::Path) -> usize {
    ["cur", "new"]
        .iter()
        .map(|d| {
            std::fs::read_dir(dir.join(d))
                .map(|r| r.count())
                .unwrap_or(0)
        })
        .sum()
}

#[test]
fn mbsync_two_way_then_incremental() {
    require("mbsync");
    let server = Server::start("imap-mbsync", "");
    python(DELIVER, &[&server.port.to_string()]);
    let local = server.dir.join("local");
    std::fs::create_dir_all(&local).unwrap();

    // Full sync: the server's INBOX and its default folders arrive locally.
    mbsync(&server, &local, "mbsyncrc");
    assert_eq!(count_files(&local.join("INBOX")), 3);
    for folder in ["Sent", "Drafts", "Trash", "Junk", "Archive"] {
        assert!(
            local.join(folder).join("cur").is_dir(),
            "{folder} not created locally"
        );
    }

    // Local changes: a new folder with a message, a draft, a message flagged and one deleted.
    let write = |dir: &std::path::Path, name: &str, body: &str| {
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        std::fs::write(dir.join("cur").join(name), body).unwrap();
    };
    write(
        &local.join("Projects"),
        "1700000000.1_1.local:2,S",
        "Subject: plan\r\n\r\nlocal folder message\r\n",
    );
    write(
        &local.join("Drafts"),
        "1700000000.2_1.local:2,D",
        "Subject: draft\r\n\r\nunfinished\r\n",
    );
    let inbox = local.join("INBOX");
    let mut names: Vec<_> = ["cur", "new"]
        .iter()
        .flat_map(|d| std::fs::read_dir(inbox.join(d)).unwrap())
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    let flag = |p: &std::path::Path, flags: &str| {
        let name = p.file_name().unwrap().to_str().unwrap();
        let base = name.split(":2,").next().unwrap();
        let to = inbox.join("cur").join(format!("{base}:2,{flags}"));
        std::fs::rename(p, &to).unwrap();
        to
    };
    let _ = flag(&names[0], "FS");
    let _ = flag(&names[1], "ST");

    // Server-side change meanwhile: one more message over SMTP.
    python(
        r#"
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]))
s.sendmail("x@example.org", ["alice@example.com"], b"Subject: fourth\r\n\r\nlate\r\n")
s.quit()
"#,
        &[&server.port.to_string()],
    );

    let out = mbsync(&server, &local, "mbsyncrc");
    let md = server.maildir("alice@example.com");
    // The trashed message was expunged on the server, the new one arrived here.
    assert_eq!(count_files(&md), 3, "{out}");
    assert_eq!(count_files(&local.join("INBOX")), 3, "{out}");
    let server_names: Vec<String> = std::fs::read_dir(md.join("cur"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        server_names.iter().any(|n| n.ends_with(":2,FS")),
        "flag not pushed: {server_names:?}"
    );
    assert_eq!(count_files(&md.join(".Projects")), 1, "{out}");
    assert!(md.join(".Projects/maildirfolder").exists());
    let drafts: Vec<String> = std::fs::read_dir(md.join(".Drafts/cur"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        drafts.len() == 1 && drafts[0].ends_with(":2,D"),
        "{drafts:?}"
    );

    // A third run with nothing changed renames, adds or removes nothing on either side.
    let before = (tree(&md), tree(&local));
    let out = mbsync(&server, &local, "mbsyncrc");
    assert_eq!((tree(&md), tree(&local)), before, "{out}");
}

#[test]
fn mutt_sends_in_batch_mode_and_files_the_copy_over_imap() {
    require("mutt");
    let server = Server::start("imap-mutt", "");
    let home = server.dir.join("mutt-home");
    std::fs::create_dir_all(&home).unwrap();
    let rc = home.join("muttrc");
    std::fs::write(
        &rc,
        format!(
            "set from=\"Alice <alice@example.com>\"\n\
             set smtp_url=\"smtp://127.0.0.1:{smtp}/\"\n\
             set folder=\"imap://alice%40example.com@127.0.0.1:{imap}/\"\n\
             set imap_pass=\"secret\"\n\
             set ssl_starttls=no\nset ssl_force_tls=no\n\
             set record=\"=Sent\"\nset copy=yes\n\
             set header_cache=\"\"\nset message_cachedir=\"\"\n",
            smtp = server.port,
            imap = server.imap_port,
        ),
    )
    .unwrap();
    let mut child = Command::new("timeout")
        .args(["120", "mutt", "-n", "-F", rc.to_str().unwrap()])
        .args(["-s", "from mutt", "--", "bob@example.com"])
        .env("HOME", &home)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"sent by mutt in batch mode\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "mutt failed: {}{}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        server.log()
    );
    let inbox = server.messages("bob@example.com");
    assert_eq!(inbox.len(), 1);
    assert!(String::from_utf8_lossy(&inbox[0]).contains("sent by mutt in batch mode"));
    // The Fcc went to alice's Sent folder by IMAP APPEND, marked as read.
    let sent = server.maildir("alice@example.com").join(".Sent/cur");
    let files: Vec<_> = std::fs::read_dir(&sent)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{}", server.log());
    assert!(files[0].to_str().unwrap().ends_with(":2,S"), "{files:?}");
    let copy = std::fs::read_to_string(&files[0]).unwrap();
    assert!(copy.contains("Subject: from mutt") && copy.contains("sent by mutt in batch mode"));
}

const THREAD: &str = r#"
import imaplib, smtplib, sys, json
imap_port, smtp_port = int(sys.argv[1]), int(sys.argv[2])
s = smtplib.SMTP("127.0.0.1", smtp_port)
for subject, date in [("plan", "2020"), ("Re: plan", "2021"), ("other", "2019"), ("Fwd: [team] plan (fwd)", "2022")]:
    s.sendmail("x@example.org", ["alice@example.com"],
        f"Subject: {subject}\r\nDate: Wed, 1 Jan {date} 10:00:00 +0000\r\n\r\nbody\r\n".encode())
s.quit()
M = imaplib.IMAP4("127.0.0.1", imap_port)
M.login("alice@example.com", "secret")
M.select("INBOX")
out = {"ordered": M.thread("ORDEREDSUBJECT", "UTF-8", "ALL")[1][0].decode()}
out["uid"] = M.uid("THREAD", "ORDEREDSUBJECT", "UTF-8", "SUBJECT", "plan")[1][0].decode()
try:
    M.thread("X-UNKNOWN", "UTF-8", "ALL")
    out["unknown"] = "OK"
except imaplib.IMAP4.error as e:
    out["unknown"] = str(e)
print(json.dumps(out))
"#;

#[test]
fn thread_orderedsubject_groups_by_base_subject() {
    let server = Server::start("imap-thread", "");
    let out = python(
        THREAD,
        &[&server.imap_port.to_string(), &server.port.to_string()],
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    // "other" (2019) starts first; "plan" (2020) has its reply and its forward as children.
    assert_eq!(v["ordered"], "(3)(1 (2)(4))", "{out}");
    assert_eq!(v["uid"], "(1 (2)(4))", "{out}");
    assert!(
        v["unknown"]
            .as_str()
            .unwrap()
            .contains("Unsupported threading algorithm"),
        "{out}"
    );
}

const LIST_EXTENDED: &str = r#"
import imaplib, sys, json
M = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
M.login("alice@example.com", "secret")
def raw(command, *args):
    try:
        typ, dat = M._simple_command(command, *args)
    except imaplib.IMAP4.error as e:
        return ["BAD", str(e)]
    lists = [x.decode() for x in M.untagged_responses.pop("LIST", []) if x]
    statuses = [x.decode() for x in M.untagged_responses.pop("STATUS", []) if x]
    return [typ, dat[-1].decode(), lists, statuses]
out = {}
for name in ["Work", "Work.Project", "Work.Old"]:
    M.create(name)
M.subscribe("Work.Project")
M.create("Gone"); M.subscribe("Gone"); M.delete("Gone")
M.append("Work.Project", None, None, b"Subject: p\r\n\r\nbody\r\n")
out["recursive"] = raw("LIST", '(SUBSCRIBED RECURSIVEMATCH) "" "%"')
out["subscribed"] = raw("LIST", '(SUBSCRIBED) "" "*"')
out["subscribed_return"] = raw("LIST", '"" "Work*" RETURN (SUBSCRIBED CHILDREN)')
out["status"] = raw("LIST", '"" "Work*" RETURN (STATUS (MESSAGES UIDNEXT))')
out["patterns"] = raw("LIST", '"" ("INBOX" "Work")')
out["create_use"] = raw("CREATE", "Outgoing (USE (\\Sent))")
out["create_all"] = raw("CREATE", "Everything (USE (\\All))")
out["special"] = raw("LIST", '(SPECIAL-USE) "" "*"')
out["rename_keeps_use"] = [M.rename("Outgoing", "Outbox")[0], raw("LIST", '"" "Out*"')]
out["recursive_alone"] = raw("LIST", '(RECURSIVEMATCH) "" "%"')
out["hostile"] = raw("LIST", '"" "' + "*a" * 40 + '"')
print(json.dumps(out))
"#;

#[test]
fn list_extended_list_status_and_create_special_use() {
    let server = Server::start("imap-list-extended", "");
    let out = python(LIST_EXTENDED, &[&server.imap_port.to_string()]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let lines = |key: &str, i: usize| -> Vec<String> {
        v[key][i]
            .as_array()
            .unwrap_or_else(|| panic!("{key}: {out}"))
            .iter()
            .map(|l| l.as_str().unwrap().to_owned())
            .collect()
    };
    // RFC 5258 §5: Work is not subscribed but has a subscribed child the pattern skips.
    let recursive = lines("recursive", 2);
    assert!(
        recursive.contains(&r#"(\HasChildren) "." Work (CHILDINFO ("SUBSCRIBED"))"#.to_owned()),
        "{recursive:?}"
    );
    assert!(recursive.contains(&r#"(\HasNoChildren \Subscribed) "." INBOX"#.to_owned()));
    let subscribed = lines("subscribed", 2);
    assert!(subscribed.contains(&r#"(\HasNoChildren \Subscribed) "." Work.Project"#.to_owned()));
    assert!(
        subscribed.contains(&r#"(\NonExistent \HasNoChildren \Subscribed) "." Gone"#.to_owned())
    );
    assert!(
        !subscribed.iter().any(|l| l.contains("Work.Old")),
        "{subscribed:?}"
    );
    assert_eq!(
        lines("subscribed_return", 2),
        [
            r#"(\HasChildren) "." Work"#,
            r#"(\HasNoChildren) "." Work.Old"#,
            r#"(\HasNoChildren \Subscribed) "." Work.Project"#,
        ]
    );
    // RFC 5819: a STATUS after each listed mailbox.
    assert_eq!(
        lines("status", 3),
        [
            r#"Work (MESSAGES 0 UIDNEXT 1)"#,
            r#"Work.Old (MESSAGES 0 UIDNEXT 1)"#,
            r#"Work.Project (MESSAGES 1 UIDNEXT 2)"#,
        ]
    );
    assert_eq!(
        lines("patterns", 2),
        [
            r#"(\HasNoChildren) "." INBOX"#,
            r#"(\HasChildren) "." Work"#
        ]
    );
    assert_eq!(v["create_use"][0], "OK", "{out}");
    assert_eq!(v["create_all"][0], "NO", "{out}");
    assert!(
        v["create_all"][1].as_str().unwrap().contains("[USEATTR]"),
        "{out}"
    );
    let special = lines("special", 2);
    for f in ["Outgoing", "Sent", "Drafts", "Junk", "Trash", "Archive"] {
        assert!(
            special.iter().any(|l| l.ends_with(&format!(" {f}"))),
            "{f}: {special:?}"
        );
    }
    assert!(special.contains(&r#"(\HasNoChildren \Sent) "." Outgoing"#.to_owned()));
    assert!(
        !special
            .iter()
            .any(|l| l.contains("INBOX") || l.contains("Work")),
        "{special:?}"
    );
    assert_eq!(v["rename_keeps_use"][0], "OK");
    assert_eq!(
        v["rename_keeps_use"][1][2],
        serde_json::json!([r#"(\HasNoChildren \Sent) "." Outbox"#])
    );
    assert_eq!(v["recursive_alone"][0], "BAD", "{out}");
    assert_eq!(v["hostile"][0], "OK", "{out}");
}

/// RFC 7162 through imaplib: MODSEQs on FETCH and STORE, conditional STORE, CHANGEDSINCE,
/// SEARCH MODSEQ, VANISHED instead of EXPUNGE, a QRESYNC SELECT from a second client, and a
/// flag change made on disk by other software.
const CONDSTORE: &str = r#"
import imaplib, json, os, re, smtplib, sys, time
imap_port, smtp_port, maildir = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
s = smtplib.SMTP("127.0.0.1", smtp_port)
for i in range(3):
    s.sendmail("x@example.org", ["alice@example.com"], f"Subject: m{i}\r\n\r\nbody\r\n".encode())
s.quit()
def client():
    M = imaplib.IMAP4("127.0.0.1", imap_port)
    M.login("alice@example.com", "secret")
    imaplib.Commands["ENABLE"] = ("AUTH", "SELECTED")
    return M
def raw(M, command, *args):
    imaplib.Commands.setdefault(command, ("AUTH", "SELECTED"))
    M.untagged_responses.clear()
    try:
        typ, dat = M._simple_command(command, *args)
    except imaplib.IMAP4.error as e:
        return {"status": "BAD", "text": str(e)}
    if command in ("SELECT", "EXAMINE") and typ == "OK":
        M.state = "SELECTED"
    untagged = {k: [x.decode() if isinstance(x, bytes) else str(x) for x in v]
                for k, v in M.untagged_responses.items()}
    return {"status": typ, "text": dat[-1].decode() if dat and dat[-1] else "", "untagged": untagged}
out = {}
A = client()
out["enable"] = raw(A, "ENABLE", "QRESYNC")
out["select"] = raw(A, "SELECT", "INBOX")
h0 = int(out["select"]["untagged"]["HIGHESTMODSEQ"][0])
v = int(out["select"]["untagged"]["UIDVALIDITY"][0])
out["h0"] = h0
out["fetch_modseq"] = raw(A, "UID FETCH", "1:*", "(MODSEQ)")
out["store"] = raw(A, "STORE", "1", "+FLAGS", "(\\Flagged)")
out["store_silent"] = raw(A, "STORE", "3", "+FLAGS.SILENT", "(\\Seen)")
out["conditional_ok"] = raw(A, "UID STORE", "2", f"(UNCHANGEDSINCE {h0})", "+FLAGS", "(\\Seen)")
out["conditional_fails"] = raw(A, "UID STORE", "1", f"(UNCHANGEDSINCE {h0})", "+FLAGS", "(\\Answered)")
out["changedsince"] = raw(A, "UID FETCH", "1:*", "(FLAGS)", f"(CHANGEDSINCE {h0})")
out["search_modseq"] = raw(A, "SEARCH", "MODSEQ", str(h0 + 1))
out["status"] = raw(A, "STATUS", "INBOX", "(HIGHESTMODSEQ MESSAGES)")
out["expunge"] = raw(A, "STORE", "3", "+FLAGS.SILENT", "(\\Deleted)")
out["expunge"] = raw(A, "EXPUNGE")
out["vanished_fetch"] = raw(A, "UID FETCH", "1:*", "(FLAGS)", f"(CHANGEDSINCE {h0} VANISHED)")
# Another program renames a message's file to add \Draft.
cur = os.path.join(maildir, "cur")
name = sorted(n for n in os.listdir(cur))[0]
base, flags = name.split(":2,")
os.rename(os.path.join(cur, name), os.path.join(cur, base + ":2," + "".join(sorted(flags + "D"))))
time.sleep(0.1)
out["noop"] = raw(A, "NOOP")
B = client()
out["b_enable"] = raw(B, "ENABLE", "QRESYNC")
out["b_select"] = raw(B, "SELECT", "INBOX", f"(QRESYNC ({v} {h0}))")
out["b_reselect"] = raw(B, "EXAMINE", "INBOX")
out["b_unknown_modseq"] = raw(B, "SELECT", "INBOX", f"(QRESYNC ({v} 1 1:10))")
C = client()
out["c_qresync_unenabled"] = raw(C, "SELECT", "INBOX", f"(QRESYNC ({v} {h0}))")
out["c_condstore_select"] = raw(C, "SELECT", "INBOX", "(CONDSTORE)")
print(json.dumps(out))
"#;

#[test]
fn condstore_and_qresync_with_imaplib() {
    let server = Server::start("imap-condstore", "");
    let maildir = server.maildir("alice@example.com");
    let out = python(
        CONDSTORE,
        &[
            &server.imap_port.to_string(),
            &server.port.to_string(),
            maildir.to_str().unwrap(),
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let untagged = |step: &str, kind: &str| -> Vec<String> {
        v[step]["untagged"][kind]
            .as_array()
            .map(|a| a.iter().map(|x| x.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default()
    };
    let h0 = v["h0"].as_u64().unwrap();
    assert_eq!(untagged("enable", "ENABLED"), ["QRESYNC"], "{out}");
    assert!(
        untagged("fetch_modseq", "FETCH")
            .iter()
            .all(|f| f.contains(&format!("MODSEQ ({h0})"))),
        "{out}"
    );
    let modseq_of = |line: &str| -> u64 {
        let at = line.find("MODSEQ (").unwrap() + 8;
        line[at..].split(')').next().unwrap().parse().unwrap()
    };
    // Every change gets a MODSEQ above the last.
    let stored = untagged("store", "FETCH");
    assert!(stored[0].contains("\\Flagged"), "{out}");
    let h1 = modseq_of(&stored[0]);
    assert!(h1 > h0);
    let silent = untagged("store_silent", "FETCH");
    assert!(silent[0].starts_with("3 (UID 3 MODSEQ ("), "{out}");
    assert!(!silent[0].contains("FLAGS"), "{out}");
    assert_eq!(v["conditional_ok"]["status"], "OK");
    assert!(modseq_of(&untagged("conditional_ok", "FETCH")[0]) > h1);
    assert_eq!(v["conditional_fails"]["status"], "OK");
    assert!(
        v["conditional_fails"]["text"]
            .as_str()
            .unwrap()
            .contains("[MODIFIED 1]"),
        "{out}"
    );
    assert!(untagged("conditional_fails", "FETCH").is_empty(), "{out}");
    let changed = untagged("changedsince", "FETCH");
    assert_eq!(changed.len(), 3, "all three changed since {h0}: {out}");
    let search = untagged("search_modseq", "SEARCH");
    assert!(search[0].starts_with("1 2 3 (MODSEQ "), "{search:?}");
    assert!(
        untagged("status", "STATUS")[0].contains("HIGHESTMODSEQ"),
        "{out}"
    );
    // QRESYNC: expunges are VANISHED, never EXPUNGE.
    assert_eq!(untagged("expunge", "VANISHED"), ["3"], "{out}");
    assert!(untagged("expunge", "EXPUNGE").is_empty(), "{out}");
    assert_eq!(
        untagged("vanished_fetch", "VANISHED"),
        ["(EARLIER) 3"],
        "{out}"
    );
    // A rename by other software is a change too, with a MODSEQ.
    let noop = untagged("noop", "FETCH");
    assert!(
        noop.len() == 1 && noop[0].contains("\\Draft") && noop[0].contains("MODSEQ"),
        "{out}"
    );
    // A second client resynchronises from what it knew.
    assert_eq!(untagged("b_select", "VANISHED"), ["(EARLIER) 3"], "{out}");
    assert_eq!(untagged("b_select", "FETCH").len(), 2, "{out}");
    assert_eq!(untagged("b_reselect", "CLOSED").len(), 1, "{out}");
    // A MODSEQ from before this log began: every missing UID it knew (below UIDNEXT) is
    // reported, and every message as changed.
    assert_eq!(
        untagged("b_unknown_modseq", "VANISHED"),
        ["(EARLIER) 3"],
        "{out}"
    );
    assert_eq!(untagged("b_unknown_modseq", "FETCH").len(), 2, "{out}");
    assert_eq!(v["c_qresync_unenabled"]["status"], "BAD", "{out}");
    assert_eq!(v["c_condstore_select"]["status"], "OK", "{out}");
    assert_eq!(
        untagged("c_condstore_select", "HIGHESTMODSEQ").len(),
        1,
        "{out}"
    );
}

/// Two sessions on one mailbox: an expunge by one reaches the other only when RFC 9051 §7.5.1
/// allows (not during FETCH by sequence number), and flag changes arrive with new sequence
/// numbers after it.
const TWO_SESSIONS: &str = r#"
import imaplib, json, smtplib, sys, time
imap_port, smtp_port = int(sys.argv[1]), int(sys.argv[2])
s = smtplib.SMTP("127.0.0.1", smtp_port)
for i in range(3):
    s.sendmail("x@example.org", ["alice@example.com"], f"Subject: m{i}\r\n\r\nbody {i}\r\n".encode())
s.quit()
A = imaplib.IMAP4("127.0.0.1", imap_port); A.login("alice@example.com", "secret"); A.select("INBOX")
B = imaplib.IMAP4("127.0.0.1", imap_port); B.login("alice@example.com", "secret"); B.select("INBOX")
B.store("2", "+FLAGS", "(\\Deleted)"); B.expunge()
time.sleep(0.1)
def raw(M, *args):
    M.untagged_responses.clear()
    typ, dat = M._simple_command(*args)
    return [typ, dat[-1].decode(), {k: [x.decode() if isinstance(x, bytes) else str(x) for x in v] for k, v in M.untagged_responses.items()}]
out = {"flags": raw(A, "FETCH", "1:3", "(FLAGS)"), "fetch": raw(A, "FETCH", "1:3", "(BODY.PEEK[TEXT])")}
B.store("2", "+FLAGS", "(\\Flagged)")
time.sleep(0.1)
out["noop"] = raw(A, "NOOP")
out["search"] = raw(A, "SEARCH", "ALL")
print(json.dumps(out))
"#;

#[test]
fn another_sessions_expunge_waits_for_a_command_that_may_tell_it() {
    let server = Server::start("imap-two-sessions", "");
    let out = python(
        TWO_SESSIONS,
        &[&server.imap_port.to_string(), &server.port.to_string()],
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    // Message 2 is still numbered: its flags are known, its content is gone. The FETCH
    // answers OK with the other two (as Dovecot; RFC 2180 §4.1.2), saying what happened.
    assert_eq!(v["flags"][0], "OK", "{out}");
    assert_eq!(v["flags"][2]["FETCH"].as_array().unwrap().len(), 3, "{out}");
    assert_eq!(v["fetch"][0], "OK", "{out}");
    let fetched = v["fetch"][2]["FETCH"].to_string();
    assert!(
        fetched.contains("body 0") && fetched.contains("body 2") && !fetched.contains("body 1"),
        "{out}"
    );
    assert!(
        v["fetch"][1].as_str().unwrap().contains("EXPUNGEISSUED"),
        "{out}"
    );
    assert!(v["fetch"][2].get("EXPUNGE").is_none(), "{out}");
    assert_eq!(v["noop"][2]["EXPUNGE"], serde_json::json!(["2"]), "{out}");
    assert_eq!(
        v["noop"][2]["FETCH"],
        serde_json::json!(["2 (UID 3 FLAGS (\\Flagged \\Recent))"]),
        "{out}"
    );
    assert_eq!(
        v["search"][2]["SEARCH"],
        serde_json::json!(["1 2"]),
        "{out}"
    );
}

/// RFC 6855 through imaplib, which switches to UTF-8 itself after ENABLE UTF8=ACCEPT.
const UTF8_ACCEPT: &str = r#"
import imaplib, json, sys
port = int(sys.argv[1])
M = imaplib.IMAP4("127.0.0.1", port)
M.login("alice@example.com", "secret")
M.create("Entw&APw-rfe")
out = {"before": [x.decode() for x in M.list('""', "Entw*")[1]]}
out["enable"] = M.enable("UTF8=ACCEPT")[0]
out["after"] = [x.decode() for x in M.list('""', "Entw*")[1]]
out["create"] = M.create("Привет")[0]
out["select"] = M.select('"Привет"')[0]
message = "Subject: Grüße aus Köln\r\nFrom: Jörg <jörg@bücher.example>\r\n\r\nHallo\r\n".encode()
tag = M._new_tag()
M.send(tag + (" APPEND \"Привет\" UTF8 (~{%d+}\r\n" % len(message)).encode() + message + b")\r\n")
out["append"] = M._command_complete("APPEND", tag)[0]
typ, data = M.fetch("1", "(BODY.PEEK[])")
out["fetched"] = data[0][1].decode()
out["status"] = [x.decode() for x in M.status('"Привет"', "(MESSAGES)")[1]]
M.logout()
N = imaplib.IMAP4("127.0.0.1", port)
N.login("alice@example.com", "secret")
out["other_session"] = [x.decode() for x in N.list('""', "*")[1] if b"&BB" in x or "Привет".encode() in x]
print(json.dumps(out, ensure_ascii=False))
"#;

#[test]
fn utf8_accept_with_imaplib() {
    let server = Server::start("imap-utf8", "");
    let out = python(UTF8_ACCEPT, &[&server.imap_port.to_string()]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(
        v["before"][0], r#"(\HasNoChildren) "." Entw&APw-rfe"#,
        "{out}"
    );
    assert_eq!(v["enable"], "OK", "{out}");
    assert_eq!(v["after"][0], r#"(\HasNoChildren) "." "Entwürfe""#, "{out}");
    assert_eq!(v["create"], "OK", "{out}");
    assert_eq!(v["select"], "OK", "{out}");
    assert_eq!(v["append"], "OK", "{out}");
    assert!(
        v["fetched"]
            .as_str()
            .unwrap()
            .starts_with("Subject: Grüße aus Köln\r\nFrom: Jörg <jörg@bücher.example>"),
        "{out}"
    );
    assert_eq!(v["status"][0], r#""Привет" (MESSAGES 1)"#, "{out}");
    // On disk, and to a client that did not enable it, the name is modified UTF-7.
    assert_eq!(
        v["other_session"][0], r#"(\HasNoChildren) "." &BB8EQAQ4BDIENQRC-"#,
        "{out}"
    );
    assert!(
        server
            .maildir("alice@example.com")
            .join(".&BB8EQAQ4BDIENQRC-/cur")
            .is_dir()
    );
}

/// RFC 5182 SEARCHRES (part of IMAP4rev2): `SEARCH RETURN (SAVE)` and `$`.
const SEARCHRES: &str = r#"
import imaplib, json, smtplib, sys
imap_port, smtp_port = int(sys.argv[1]), int(sys.argv[2])
s = smtplib.SMTP("127.0.0.1", smtp_port)
for who in ["ann", "bob", "ann", "cy"]:
    s.sendmail(f"{who}@example.org", ["alice@example.com"], f"From: {who}@example.org\r\nSubject: hi\r\n\r\nx\r\n".encode())
s.quit()
M = imaplib.IMAP4("127.0.0.1", imap_port)
M.login("alice@example.com", "secret")
M.select("INBOX")
def raw(*args):
    imaplib.Commands.setdefault(args[0], ("AUTH", "SELECTED"))
    M.untagged_responses.clear()
    try:
        typ, dat = M._simple_command(*args)
    except imaplib.IMAP4.error as e:
        return ["BAD", str(e), {}]
    return [typ, dat[-1].decode(), {k: [x.decode() for x in v if isinstance(x, bytes)] for k, v in M.untagged_responses.items()}]
out = {}
out["save"] = raw("SEARCH", "RETURN", "(SAVE)", "FROM", "ann")
out["fetch_saved"] = raw("FETCH", "$", "(UID)")
out["search_in_saved"] = raw("UID SEARCH", "UID", "$", "NOT", "UID", "1")
out["save_max"] = raw("UID SEARCH", "RETURN", "(SAVE MAX COUNT)", "ALL")
out["fetch_all_saved"] = raw("UID FETCH", "$", "(FLAGS)")
out["save_min_only"] = raw("SEARCH", "RETURN", "(MIN SAVE)", "ALL")
out["fetch_min"] = raw("FETCH", "$", "(UID)")
out["failed"] = raw("SEARCH", "RETURN", "(SAVE)", "CHARSET", "X-NONE", "ALL")
out["fetch_empty"] = raw("FETCH", "$", "(UID)")
print(json.dumps(out))
"#;

#[test]
fn searchres_saves_a_result_for_dollar() {
    let server = Server::start("imap-searchres", "");
    let out = python(
        SEARCHRES,
        &[&server.imap_port.to_string(), &server.port.to_string()],
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let untagged = |step: &str, kind: &str| v[step][2][kind].clone();
    assert_eq!(v["save"][0], "OK", "{out}");
    assert!(
        v["save"][2].as_object().unwrap().is_empty(),
        "SAVE alone answers nothing: {out}"
    );
    assert_eq!(
        untagged("fetch_saved", "FETCH"),
        serde_json::json!(["1 (UID 1)", "3 (UID 3)"]),
        "{out}"
    );
    assert_eq!(
        untagged("search_in_saved", "SEARCH"),
        serde_json::json!(["3"]),
        "{out}"
    );
    // SAVE with COUNT keeps every match, not just the MAX it also answers.
    assert_eq!(
        untagged("save_max", "ESEARCH").as_array().unwrap().len(),
        1,
        "{out}"
    );
    assert_eq!(
        untagged("fetch_all_saved", "FETCH")
            .as_array()
            .unwrap()
            .len(),
        4,
        "{out}"
    );
    assert_eq!(
        untagged("fetch_min", "FETCH"),
        serde_json::json!(["1 (UID 1)"]),
        "{out}"
    );
    assert_eq!(v["failed"][0], "NO", "{out}");
    assert_eq!(v["fetch_empty"][0], "OK", "{out}");
    assert!(untagged("fetch_empty", "FETCH").is_null(), "{out}");
}

/// RFC 9051: after ENABLE IMAP4rev2, no RECENT or \Recent, SEARCH answers with ESEARCH, and
/// mailbox names are UTF-8.
const REV2: &str = r#"
import imaplib, json, smtplib, sys
imap_port, smtp_port = int(sys.argv[1]), int(sys.argv[2])
s = smtplib.SMTP("127.0.0.1", smtp_port)
for i in range(2):
    s.sendmail("x@example.org", ["alice@example.com"], b"Subject: hi\r\n\r\nx\r\n")
s.quit()
M = imaplib.IMAP4("127.0.0.1", imap_port)
M.login("alice@example.com", "secret")
M.create("Entw&APw-rfe")
out = {"caps": sorted(M.capabilities)}
def raw(*args):
    imaplib.Commands.setdefault(args[0], ("AUTH", "SELECTED"))
    M.untagged_responses.clear()
    typ, dat = M._simple_command(*args)
    if args[0] == "SELECT" and typ == "OK":
        M.state = "SELECTED"
    return [typ, dat[-1].decode(), {k: [x.decode() for x in v if isinstance(x, bytes)] for k, v in M.untagged_responses.items()}]
out["enable"] = raw("ENABLE", "IMAP4rev2")
out["select"] = raw("SELECT", "INBOX")
out["search"] = raw("SEARCH", "ALL")
out["uid_search_none"] = raw("UID SEARCH", "SUBJECT", "nothing")
out["fetch"] = raw("FETCH", "1:*", "(FLAGS)")
out["list"] = raw("LIST", '""', '"Entw*"')
print(json.dumps(out, ensure_ascii=False))
"#;

#[test]
fn imap4rev2_once_enabled() {
    let server = Server::start("imap-rev2", "");
    let out = python(
        REV2,
        &[&server.imap_port.to_string(), &server.port.to_string()],
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    // imaplib upper-cases the capabilities it lists; ENABLED names them as the server does.
    assert!(out.contains("\"IMAP4REV2\""), "{out}");
    assert_eq!(
        v["enable"][2]["ENABLED"],
        serde_json::json!(["IMAP4rev2"]),
        "{out}"
    );
    assert!(v["select"][2].get("RECENT").is_none(), "{out}");
    assert!(v["select"][2].get("UNSEEN").is_none(), "{out}");
    assert_eq!(v["select"][2]["EXISTS"], serde_json::json!(["2"]), "{out}");
    assert!(v["search"][2].get("SEARCH").is_none(), "{out}");
    assert!(
        v["search"][2]["ESEARCH"][0]
            .as_str()
            .unwrap()
            .ends_with(") ALL 1:2"),
        "{out}"
    );
    assert!(
        v["uid_search_none"][2]["ESEARCH"][0]
            .as_str()
            .unwrap()
            .ends_with(") UID"),
        "{out}"
    );
    assert_eq!(
        v["fetch"][2]["FETCH"],
        serde_json::json!(["1 (FLAGS ())", "2 (FLAGS ())"]),
        "{out}"
    );
    assert_eq!(
        v["list"][2]["LIST"],
        serde_json::json!([r#"(\HasNoChildren) "." "Entwürfe""#]),
        "{out}"
    );
}

/// SEARCH BODY and TEXT find words in base64 and quoted-printable text parts, in UTF-8 or
/// Latin-1.
const DECODED_SEARCH: &str = r#"
import imaplib, json, smtplib, sys
imap_port, smtp_port = int(sys.argv[1]), int(sys.argv[2])
s = smtplib.SMTP("127.0.0.1", smtp_port)
s.sendmail("x@example.org", ["alice@example.com"],
    b"Subject: b64\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\nR3LDvMOfZSBhdXMgS8O2bG4=\r\n")
s.sendmail("x@example.org", ["alice@example.com"],
    b"Subject: qp\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nTreffen in K=F6ln am Montag\r\n")
s.sendmail("x@example.org", ["alice@example.com"],
    b"Subject: plain\r\n\r\nnothing here\r\n")
s.quit()
M = imaplib.IMAP4("127.0.0.1", imap_port)
M.login("alice@example.com", "secret")
M.select("INBOX")
out = {}
M.literal = "Köln".encode()
out["koeln"] = M.search("UTF-8", "BODY")[1][0].decode()
out["montag"] = M.search(None, "BODY", "montag")[1][0].decode()
out["text"] = M.search(None, "TEXT", "treffen")[1][0].decode()
out["encoded"] = M.search(None, "BODY", "R3LDvMOf")[1][0].decode()
print(json.dumps(out))
"#;

#[test]
fn search_body_decodes_text_parts() {
    let server = Server::start("imap-decoded-search", "");
    let out = python(
        DECODED_SEARCH,
        &[&server.imap_port.to_string(), &server.port.to_string()],
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(v["koeln"], "1 2", "{out}");
    assert_eq!(v["montag"], "2", "{out}");
    assert_eq!(v["text"], "2", "{out}");
    // The stored octets are searched first, as they always were, so they still match.
    assert_eq!(v["encoded"], "1", "{out}");
}

#[test]
fn a_repeated_sort_is_remembered_until_the_folder_changes() {
    let server = Server::start("imap-sort-memo", "");
    let script = r#"
import imaplib, smtplib, sys
imap, smtp = int(sys.argv[1]), int(sys.argv[2])
def deliver(subject):
    s = smtplib.SMTP("127.0.0.1", smtp)
    s.sendmail("x@example.org", ["alice@example.com"], ("Subject: %s\r\n\r\nbody\r\n" % subject).encode())
    s.quit()
for subject in ["beta", "alpha", "gamma"]:
    deliver(subject)
def session():
    M = imaplib.IMAP4("127.0.0.1", imap)
    M.login("alice@example.com", "secret")
    M.select("INBOX")
    return M
a, b = session(), session()
print(a.uid("SORT", "(SUBJECT)", "UTF-8", "ALL")[1][0].decode())
print(b.uid("SORT", "(SUBJECT)", "UTF-8", "ALL")[1][0].decode())
deliver("aardvark")
b.noop()
print(b.uid("SORT", "(SUBJECT)", "UTF-8", "ALL")[1][0].decode())
print(b.uid("SORT", "(REVERSE SUBJECT)", "UTF-8", "ALL")[1][0].decode())
a.store("1", "+FLAGS", "\\Seen")
print(a.uid("SORT", "(SUBJECT)", "UTF-8", "ALL")[1][0].decode())
"#;
    let out = python(
        script,
        &[&server.imap_port.to_string(), &server.port.to_string()],
    );
    // a keeps its view (no NOOP) until the STORE's untagged EXISTS brings the new message in.
    assert_eq!(out, "2 1 3\n2 1 3\n4 2 1 3\n3 1 2 4\n4 2 1 3\n");
}

#[test]
fn a_large_message_downloads_in_chunks_as_thunderbird_does() {
    let server = Server::start("imap-chunks", "");
    // One message as SMTP stores it (CRLF, read at the offset), one with bare LF line ends as
    // Dovecot or procmail leave them (read from a checkpoint of its line ends); each is also
    // fetched whole, streamed.
    let cur = server.maildir("alice@example.com").join("cur");
    std::fs::create_dir_all(&cur).unwrap();
    let body: String = (0..40000)
        .map(|i| format!("line {i} of a long attachment\n"))
        .collect();
    std::fs::write(
        cur.join("1700000000.M1P1.host:2,"),
        format!("Subject: lf\n\n{body}"),
    )
    .unwrap();
    let script = r#"
import imaplib, smtplib, sys
imap, smtp = int(sys.argv[1]), int(sys.argv[2])
body = "".join("line %d of a long attachment\r\n" % i for i in range(40000))
s = smtplib.SMTP("127.0.0.1", smtp)
s.sendmail("x@example.org", ["alice@example.com"], ("Subject: crlf\r\n\r\n" + body).encode())
s.quit()
M = imaplib.IMAP4("127.0.0.1", imap)
M.login("alice@example.com", "secret")
M.select("INBOX")
for seq in ("1", "2"):
    whole = M.fetch(seq, "(BODY.PEEK[])")[1][0][1]
    size = int(M.fetch(seq, "(RFC822.SIZE)")[1][0].split()[-1].rstrip(b")"))
    chunks, offset = [], 0
    while True:
        typ, data = M.fetch(seq, "(UID RFC822.SIZE BODY.PEEK[]<%d.65536>)" % offset)
        assert typ == "OK", data
        assert (b"BODY[]<%d>" % offset) in data[0][0], data[0][0]
        chunks.append(data[0][1])
        offset += 65536
        if len(data[0][1]) < 65536:
            break
    got = b"".join(chunks)
    text = M.fetch(seq, "(BODY.PEEK[TEXT])")[1][0][1]
    head = whole[:len(whole) - len(text)]
    print(seq, size > 1 << 20, len(got) == size == len(whole), got == whole,
          whole.endswith(text) and head.endswith(b"\r\n\r\n") and b"\n\n" not in head)
print(M.fetch("2", "(FLAGS)")[1][0].decode())
print(M.fetch("2", "(BODY[]<100.10> BODY[]<0.7>)")[1][0])
print(M.fetch("2", "(FLAGS)")[1][0].decode())
# Not PEEK: streamed, and \Seen set on the way (the file is renamed while it is sent).
first = M.fetch("1", "(BODY.PEEK[])")[1][0][1]
again = M.fetch("1", "(BODY[])")
print(again[0] == "OK" and again[1][0][1] == first, M.fetch("1", "(FLAGS)")[1][0].decode())
"#;
    let out = python(
        script,
        &[&server.imap_port.to_string(), &server.port.to_string()],
    );
    let lines: Vec<&str> = out.lines().collect();
    // Over a MiB: BODY.PEEK[] and BODY.PEEK[TEXT] are streamed.
    assert_eq!(lines[0], "1 True True True True", "{out}");
    assert_eq!(lines[1], "2 True True True True", "{out}");
    // BODY.PEEK leaves \Seen alone; BODY[]<...> sets it.
    assert!(!lines[2].contains("\\Seen"), "{out}");
    assert!(lines[3].contains("BODY[]<100> {10}"), "{out}");
    assert!(lines[4].contains("\\Seen"), "{out}");
    assert!(
        lines[5].starts_with("True") && lines[5].contains("\\Seen"),
        "{out}"
    );
}
