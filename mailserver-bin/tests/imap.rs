//! IMAP through the real binary, driven by clients we did not write: Python's imaplib (over
//! STARTTLS and implicit TLS), curl, mbsync and mutt.
#![allow(clippy::unwrap_used)]

mod support;

use std::process::Command;

use support::{Server, python, require};

const DELIVER: &str = include_str!("clients/imap_deliver.py");

const SESSION: &str = include_str!("clients/imap_session.py");

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

const IDLE: &str = include_str!("clients/imap_idle.py");

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
const IDLE_SAME_TICK: &str = include_str!("clients/imap_idle_same_tick.py");

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

const THREAD: &str = include_str!("clients/imap_thread.py");

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

const LIST_EXTENDED: &str = include_str!("clients/imap_list_extended.py");

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
const CONDSTORE: &str = include_str!("clients/imap_condstore.py");

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
const TWO_SESSIONS: &str = include_str!("clients/imap_two_sessions.py");

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
const UTF8_ACCEPT: &str = include_str!("clients/imap_utf8_accept.py");

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
const SEARCHRES: &str = include_str!("clients/imap_searchres.py");

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
const REV2: &str = include_str!("clients/imap_rev2.py");

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
const DECODED_SEARCH: &str = include_str!("clients/imap_decoded_search.py");

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

/// Keyword slots (26 letters in Maildir file names): a STORE of 30 new keywords is refused
/// with `NO [LIMIT]` and writes nothing (before, some were written and `$Junk` was refused
/// afterwards); custom keywords leave slots for the standard ones; a slot no message uses
/// any more goes to a new keyword.
const KEYWORDS: &str = include_str!("clients/imap_keywords.py");

#[test]
fn keyword_slots_are_all_or_nothing_reserved_and_reclaimed() {
    let server = Server::start("imap-keywords", "");
    let out = python(
        KEYWORDS,
        &[&server.imap_port.to_string(), &server.port.to_string()],
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(v["thirty_at_once"][0], "NO", "{out}");
    assert!(
        v["thirty_at_once"][1].to_string().contains("LIMIT"),
        "{out}"
    );
    assert!(
        !v["after_refusal"].as_str().unwrap().contains("custom"),
        "{out}"
    );
    assert_eq!(v["junk"][0], "OK", "{out}");
    // 26 slots, $Junk has one, and 6 stay for standard keywords not named yet.
    assert_eq!(v["custom_given"], 19, "{out}");
    assert_eq!(v["standard_after_custom"][0], "OK", "{out}");
    assert_eq!(v["clear"][0], "OK", "{out}");
    assert_eq!(v["new_after_clear"][0], "OK", "{out}");
    let last = v["final_3"].as_str().unwrap();
    assert!(
        last.contains("fresh1") && last.contains("$Forwarded"),
        "{out}"
    );
    assert!(
        server.log().contains("keywords refused"),
        "the refusal is logged"
    );
}

/// A listener on `[::]` sees a local IPv4 client as `::ffff:127.0.0.1`: it is loopback all
/// the same (login offered before STARTTLS, as to a webmail on the same host), and it is
/// logged as the IPv4 address it is.
#[test]
fn an_ipv4_mapped_loopback_client_is_loopback() {
    let server = Server::start_on("imap-mapped", "", "::");
    let mut imap = std::net::TcpStream::connect(("127.0.0.1", server.imap_port)).unwrap();
    imap.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let mut reader = std::io::BufReader::new(imap.try_clone().unwrap());
    use std::io::{BufRead, Write};
    // Everything up to and including the line tagged `tag` (or the greeting's first line).
    let mut until = |tag: &str| {
        let mut text = String::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            text.push_str(&line);
            if line.is_empty() || line.starts_with(tag) {
                return text;
            }
        }
    };
    until("* OK");
    imap.write_all(b"a CAPABILITY\r\n").unwrap();
    let capability = until("a ");
    assert!(
        capability.contains("AUTH=PLAIN") && !capability.contains("LOGINDISABLED"),
        "{capability}"
    );
    imap.write_all(b"b LOGIN alice@example.com secret\r\n")
        .unwrap();
    let login = until("b ");
    assert!(login.contains("b OK"), "{login}");
    let log = server.log();
    assert!(log.contains("peer=127.0.0.1:"), "{log}");
    assert!(!log.contains("::ffff:"), "{log}");
}

/// LOGIN with a bare 8-bit user name (an atom may not hold one) answers `BAD` with a plain
/// reason; the same name quoted is read as UTF-8 and checked like any other.
#[test]
fn an_8bit_login_atom_gets_a_plain_bad() {
    let server = Server::start("imap-8bit", "");
    let out = python(
        "import socket, sys\n\
         s = socket.create_connection(('127.0.0.1', int(sys.argv[1])))\n\
         f = s.makefile('rb')\n\
         f.readline()\n\
         for cmd in [b'a LOGIN j\\xc3\\xbcrgen@example.com secret\\r\\n', b'b LOGIN \"j\\xc3\\xbcrgen@example.com\" secret\\r\\n']:\n\
         \x20   s.sendall(cmd)\n\
         \x20   print(f.readline().decode().strip())\n",
        &[&server.imap_port.to_string()],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "a BAD 8-bit text must be a quoted string or a literal"
    );
    assert_eq!(
        lines[1],
        "b NO [AUTHENTICATIONFAILED] Authentication failed"
    );
}

/// The certificate the server makes when none is configured, as openssl sees it: named
/// after the host (CN and SANs for the `mail.`, `imap.`, `smtp.` names of its domain), valid
/// for at most 825 days, made again at a start near its end, and the admin told at WARN how
/// to install a real one.
#[test]
fn the_self_signed_certificate_names_the_host_and_is_renewed() {
    require("openssl");
    let mut server = Server::start("imap-cert", "");
    let fetch = |server: &Server| -> String {
        let mut child = Command::new("openssl")
            .args(["s_client", "-connect"])
            .arg(format!("127.0.0.1:{}", server.imaps_port))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        drop(child.stdin.take());
        let pem = String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap();
        let mut x509 = Command::new("openssl")
            .args([
                "x509",
                "-noout",
                "-subject",
                "-enddate",
                "-startdate",
                "-ext",
                "subjectAltName",
                "-fingerprint",
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        x509.stdin
            .take()
            .unwrap()
            .write_all(pem.as_bytes())
            .unwrap();
        String::from_utf8(x509.wait_with_output().unwrap().stdout).unwrap()
    };
    let first = fetch(&server);
    assert!(first.contains("subject=CN = mx.example.com"), "{first}");
    for name in [
        "DNS:mx.example.com",
        "DNS:mail.example.com",
        "DNS:imap.example.com",
        "DNS:smtp.example.com",
    ] {
        assert!(first.contains(name), "{name} in {first}");
    }
    let date = |key: &str| -> i64 {
        let line = first.lines().find_map(|l| l.strip_prefix(key)).unwrap();
        let out = Command::new("date")
            .args(["-d", line, "+%s"])
            .output()
            .unwrap();
        String::from_utf8(out.stdout)
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    let days = (date("notAfter=") - date("notBefore=")) / 86_400;
    assert!((800..=826).contains(&days), "{days} days: {first}");
    assert!(
        server
            .log()
            .contains("serving a self-signed certificate for mx.example.com")
    );
    // Near its end (written 800 days ago): made again at the next start.
    server.signal("TERM");
    server.wait_exit(std::time::Duration::from_secs(10));
    let cert = server.dir.join("data/tls/cert.pem");
    let touched = Command::new("touch")
        .args(["-d", "800 days ago"])
        .arg(&cert)
        .status();
    assert!(touched.unwrap().success());
    server.spawn();
    let renewed = fetch(&server);
    let fingerprint = |text: &str| {
        text.lines()
            .find(|l| l.contains("Fingerprint"))
            .unwrap()
            .to_owned()
    };
    assert_ne!(fingerprint(&first), fingerprint(&renewed));
}
