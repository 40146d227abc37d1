//! Content scanners on port 25 (issue 21), with Debian's own spamd (SpamAssassin) and clamd
//! (ClamAV, with a signature database the test writes: nothing is downloaded), as Amavis
//! uses them: GTUBE filed to Junk with X-Spam fields, the test signature refused at DATA, a
//! clean message delivered with its fields; a scanner down acts as its failure mode says.

mod support;

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::{Server, assert_contains, free_port, python, require};

const CLIENT: &str = include_str!("clients/filters.py");

/// A scanner daemon in a process group of its own (its workers too), killed when dropped.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.0.wait();
    }
}

/// Starts `command` in a process group of its own and waits for it to listen on `port`.
fn start(mut command: Command, port: u16, what: &str, log: &Path) -> Daemon {
    let mut child = command
        .stdout(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("start {what}: {e}"));
    wait_port(port, what, &mut child, log);
    Daemon(child)
}

/// An empty directory for a test's daemons.
fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("mailserver-it-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("the test directory");
    dir
}

fn wait_port(port: u16, what: &str, child: &mut Child, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(90);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        let exited = child.try_wait().ok().flatten();
        assert!(
            Instant::now() < deadline && exited.is_none(),
            "{what} did not start: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// spamd on a private port: local tests only (no network rules), no per-user settings.
fn spamd(dir: &Path) -> (Daemon, u16) {
    require("spamd");
    let port = free_port();
    let log = dir.join("spamd.log");
    let mut command = Command::new("spamd");
    command
        .args([
            "-L",
            "-x",
            "-u",
            "nobody",
            "--max-children=2",
            "-s",
            "stderr",
        ])
        .arg(format!("--listen=127.0.0.1:{port}"))
        .arg(format!("--pidfile={}", dir.join("spamd.pid").display()))
        .stderr(std::fs::File::create(&log).expect("spamd.log"));
    (start(command, port, "spamd", &log), port)
}

/// clamd on a private port with one signature of the test's own (an `.ndb` line).
fn clamd(dir: &Path) -> (Daemon, u16) {
    require("clamd");
    let port = free_port();
    let db = dir.join("clamav-db");
    std::fs::create_dir_all(&db).expect("the signature directory");
    let hex: String = b"MAILWRIGHT-TEST-VIRUS-7f3a9c"
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    std::fs::write(
        db.join("test.ndb"),
        format!("Mailwright.Test.Virus:0:*:{hex}\n"),
    )
    .expect("test.ndb");
    let conf = dir.join("clamd.conf");
    let log = dir.join("clamd.log");
    std::fs::write(
        &conf,
        format!(
            "Foreground yes\nLogFile {}\nDatabaseDirectory {}\nTCPSocket {port}\nTCPAddr 127.0.0.1\nPidFile {}\n",
            log.display(),
            db.display(),
            dir.join("clamd.pid").display()
        ),
    )
    .expect("clamd.conf");
    let mut command = Command::new("clamd");
    command.arg("-c").arg(&conf).stderr(Stdio::null());
    (start(command, port, "clamd", &log), port)
}

#[test]
fn spam_goes_to_junk_viruses_are_refused_and_a_scanner_down_acts_as_configured() {
    let dir = scratch("filters-daemons");
    let (spamd, spamd_port) = spamd(&dir);
    let (clamd, clamd_port) = clamd(&dir);
    // GTUBE scores 1000: a reject score above it lets it go to Junk.
    let server = Server::start(
        "filters",
        &format!(
            "[sender_auth]\nenabled = false\n[filters]\nspamd = \"127.0.0.1:{spamd_port}\"\nspam_reject_score = 2000.0\nclamd = \"127.0.0.1:{clamd_port}\"\nclamd_on_failure = \"tempfail\"\nspamd_on_failure = \"accept\"\n"
        ),
    );
    let send = |case: &str| {
        python(CLIENT, &[&server.port.to_string(), case])
            .trim()
            .to_owned()
    };
    // Sieve's spamtest and virustest see the scanners' verdicts of this delivery.
    let script = "require [\"spamtest\", \"virustest\", \"relational\", \"fileinto\", \"mailbox\", \
                  \"copy\", \"comparator-i;ascii-numeric\"];\n\
                  if allof (spamtest :value \"ge\" :comparator \"i;ascii-numeric\" \"1\",\n\
                  virustest :value \"eq\" :comparator \"i;ascii-numeric\" \"1\") {\n\
                  fileinto :copy :create \"Scanned\";\n}\n";
    let out = server.admin(
        &[
            "sieve",
            "put",
            "alice@example.com",
            "scanned",
            "-",
            "--activate",
        ],
        script,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Clean: delivered, with the scanners' fields after Received.
    assert_eq!(send("clean"), "250");
    let scanned = server.maildir("alice@example.com").join(".Scanned/new");
    assert_eq!(
        std::fs::read_dir(&scanned)
            .map(Iterator::count)
            .unwrap_or(0),
        1
    );
    let inbox = server.messages("alice@example.com");
    let clean = String::from_utf8_lossy(&inbox[0]).into_owned();
    assert_contains(
        &clean,
        &[
            "X-Virus-Scanned: ClamAV at mx.example.com\r\n",
            "X-Spam-Flag: NO\r\n",
            "X-Spam-Status: No, score=",
        ],
    );

    // GTUBE: to Junk, flagged.
    assert_eq!(send("gtube"), "250");
    assert_eq!(server.messages("alice@example.com").len(), 1);
    let junk_dir = server.maildir("alice@example.com").join(".Junk/new");
    let junk: Vec<String> = std::fs::read_dir(&junk_dir)
        .expect("a Junk folder")
        .map(|e| {
            String::from_utf8_lossy(&std::fs::read(e.expect("an entry").path()).expect("a file"))
                .into_owned()
        })
        .collect();
    assert_eq!(junk.len(), 1);
    assert_contains(
        &junk[0],
        &[
            "X-Spam-Flag: YES\r\n",
            "X-Spam-Level: **************************************************\r\n",
            "X-Spam-Status: Yes, score=100",
            "GTUBE",
        ],
    );

    // Alice's own threshold, above GTUBE's score: hers stays in the inbox, still flagged.
    let set = server.admin_ok(&["user", "spam-score", "alice@example.com", "1001"]);
    assert!(set.contains("from a spam score of 1001.0"), "{set}");
    assert_eq!(send("gtube"), "250");
    let inbox = server.messages("alice@example.com");
    assert_eq!(inbox.len(), 2);
    assert_eq!(std::fs::read_dir(&junk_dir).unwrap().count(), 1);
    assert!(
        inbox
            .iter()
            .any(|m| String::from_utf8_lossy(m).contains("X-Spam-Flag: YES\r\n"))
    );
    let refused = server.admin(&["user", "spam-score", "alice@example.com", "NaN"], "");
    assert!(!refused.status.success());
    server.admin_ok(&["user", "spam-score", "alice@example.com", "default"]);

    // The test signature: refused at DATA, nothing stored.
    assert_eq!(
        send("virus"),
        "554 5.7.1 Message refused: virus found (Mailwright.Test.Virus.UNOFFICIAL)"
    );
    assert_eq!(server.messages("alice@example.com").len(), 2);

    // spamd down: accepted unscanned (its failure mode), logged.
    drop(spamd);
    assert_eq!(send("clean"), "250");
    assert_eq!(server.messages("alice@example.com").len(), 3);
    // clamd down: 451, the sender tries again later.
    drop(clamd);
    assert_eq!(
        send("clean"),
        "451 4.3.0 Virus scanner unavailable, try again later"
    );
    assert_eq!(server.messages("alice@example.com").len(), 3);
    let log = server.log();
    assert_contains(
        &log,
        &[
            "content scan",
            "results=virus=clean spam=",
            "action=\"junk\"",
            "spam scan failed ([filters] spamd)",
            "virus scan failed ([filters] clamd)",
            "message refused by a check",
        ],
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// rspamd's proxy in milter mode, on a private port with its own logs and data; its DNS
/// goes to a port where nothing listens, so no rule asks the internet.
fn rspamd(dir: &Path) -> (Daemon, u16) {
    require("rspamd");
    let port = free_port();
    let log = dir.join("rspamd.log");
    let conf = dir.join("rspamd.conf");
    std::fs::write(
        &conf,
        format!(
            ".include \"$CONFDIR/common.conf\"\noptions {{\n pidfile = \"{dir}/rspamd.pid\";\n .include \"$CONFDIR/options.inc\"\n dns {{ nameserver = [\"127.0.0.1:1\"]; timeout = 0.2s; retransmits = 1; }}\n}}\nlogging {{ type = \"file\"; filename = \"{log}\"; level = \"info\"; }}\nworker \"rspamd_proxy\" {{\n bind_socket = \"127.0.0.1:{port}\";\n milter = yes;\n timeout = 120s;\n upstream \"local\" {{ default = yes; self_scan = yes; }}\n count = 1;\n}}\n",
            dir = dir.display(),
            log = log.display(),
        ),
    )
    .expect("rspamd.conf");
    // The fields it adds through the milter, in its data directory's dynamic settings.
    std::fs::create_dir_all(dir.join("dynamic")).expect("dynamic/");
    std::fs::write(
        dir.join("dynamic/milter_headers.conf"),
        // The test client is on loopback, which rspamd counts as local and would skip.
        "use = [\"x-spamd-result\", \"x-spam-status\"];\nskip_local = false;\n",
    )
    .expect("milter_headers.conf");
    let var = |name: &str, path: &Path| format!("--var={name}={}", path.display());
    let mut command = Command::new("rspamd");
    command
        .args(["-f", "-i", "-c"])
        .arg(&conf)
        .args([var("DBDIR", dir), var("RUNDIR", dir), var("LOGDIR", dir)])
        .stderr(Stdio::null());
    (start(command, port, "rspamd", &log), port)
}

/// rspamd as a milter, as iRedMail-like hosts run it behind Postfix: its fields added, its
/// refusal passed on, its absence a 451 (Postfix's default `milter_default_action`).
#[test]
fn a_milter_judges_as_it_does_behind_postfix() {
    let dir = scratch("milter-daemons");
    let (rspamd, port) = rspamd(&dir);
    let server = Server::start(
        "milter",
        &format!("[sender_auth]\nenabled = false\n[filters]\nmilters = [\"127.0.0.1:{port}\"]\n"),
    );
    let send = |case: &str| {
        python(CLIENT, &[&server.port.to_string(), case])
            .trim()
            .to_owned()
    };
    // Clean: delivered with the fields rspamd added at the end of the header.
    assert_eq!(send("clean"), "250");
    let inbox = server.messages("alice@example.com");
    let clean = String::from_utf8_lossy(&inbox[0]).into_owned();
    let (header, body) = clean.split_once("\r\n\r\n").expect("a header");
    // rspamd adds its two fields in no fixed order: both come after the sender's last field.
    let (_, added) = header.split_once(" GMT\r\n").expect("the Date field");
    assert!(added.starts_with("X-Spam"), "{header}");
    assert_contains(
        added,
        &[
            "X-Spamd-Result: default: False [",
            "\r\n\tMIME_GOOD(-0.10)[text/plain];",
            "X-Spam-Status: No, score=",
        ],
    );
    assert_eq!(body, "Lunch on Friday?\r\n");
    // GTUBE: rspamd's own refusal, as Postfix would pass it on.
    assert_eq!(send("gtube"), "554 5.7.1 Gtube pattern");
    assert_eq!(server.messages("alice@example.com").len(), 1);
    // rspamd down: milter_on_failure's default, tempfail.
    drop(rspamd);
    assert_eq!(
        send("clean"),
        "451 4.3.0 Milter unavailable, try again later"
    );
    assert_contains(
        &server.log(),
        &[
            "results=milter=accept action=\"deliver\"",
            "results=milter=reject action=\"reject\"",
            "milter failed ([filters] milters)",
        ],
    );
    let _ = std::fs::remove_dir_all(&dir);
}
