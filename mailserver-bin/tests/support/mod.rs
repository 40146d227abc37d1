//! Starts the real `mailserver` binary on free loopback ports with a temporary data directory,
//! and offers helpers to inspect what landed in the Maildirs.
#![allow(dead_code, clippy::unwrap_used)]

pub mod dns;
pub mod galera;
pub mod lists;
pub mod roundcube;
pub mod sink;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_mailserver");

pub struct Server {
    pub dir: PathBuf,
    pub config: PathBuf,
    pub port: u16,
    pub pop3_port: u16,
    pub pop3s_port: u16,
    pub imap_port: u16,
    pub imaps_port: u16,
    pub submission_port: u16,
    pub submissions_port: u16,
    /// `/metrics`, `/health`, `/ready`.
    pub http_port: u16,
    pub managesieve_port: u16,
    pub pop3_host: String,
    pub child: Option<Child>,
    /// The open-file limit (soft and hard) the server is started with, if not the test's.
    pub nofile: Option<u32>,
    /// Environment variables the server is started with, besides the test's.
    pub env: Vec<(String, String)>,
}

/// A port for a test server. Taken below the kernel's ephemeral range (32768 and up), where
/// no outgoing connection can take it between this check and the server's bind, and from a
/// counter, so parallel tests in one binary never pick the same one.
pub fn free_port() -> u16 {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    loop {
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let port = 20_000 + ((std::process::id().wrapping_mul(97) + n) % 12_000) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok()
            && TcpListener::bind(("0.0.0.0", port)).is_ok()
        {
            return port;
        }
    }
}

/// Fails loudly when a peer program the tests need is missing.
pub fn require(program: &str) {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program}"))
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        found,
        "{program} is not installed; run ./scripts/test, which installs the test peers"
    );
}

impl Server {
    /// A server with domain example.com and users alice, bob, carol, dave, erin.
    pub fn start(name: &str, extra_config: &str) -> Server {
        Self::start_on(name, extra_config, "127.0.0.1")
    }

    /// Like `start`, with the POP3 and IMAP listeners on `pop3_host` (e.g. a non-loopback
    /// address, or `::`, which also takes IPv4 clients as `::ffff:a.b.c.d`).
    pub fn start_on(name: &str, extra_config: &str, pop3_host: &str) -> Server {
        Self::start_with(name, extra_config, pop3_host, true)
    }

    /// A server whose accounts the caller provides (e.g. an external database).
    pub fn start_bare(name: &str, extra_config: &str) -> Server {
        Self::start_with(name, extra_config, "127.0.0.1", false)
    }

    fn start_with(name: &str, extra_config: &str, pop3_host: &str, provision: bool) -> Server {
        let mut server = Self::prepare_on(name, extra_config, pop3_host);
        if !provision {
            server.spawn();
            return server;
        }
        server.admin_ok(&["domain", "add", "example.com"]);
        server.admin_ok(&["domain", "add", "example.net"]);
        for user in ["alice", "bob", "carol", "dave", "erin"] {
            server.admin_with_stdin(
                &[
                    "user",
                    "add",
                    &format!("{user}@example.com"),
                    "--password-stdin",
                ],
                "secret\n",
            );
        }
        server.spawn();
        server
    }

    /// A server's directory and configuration, on free ports; nothing started, no accounts.
    pub fn prepare(name: &str, extra_config: &str) -> Server {
        Self::prepare_on(name, extra_config, "127.0.0.1")
    }

    fn prepare_on(name: &str, extra_config: &str, pop3_host: &str) -> Server {
        let dir = std::env::temp_dir().join(format!("mailserver-it-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let port = free_port();
        let (pop3_port, pop3s_port) = (free_port(), free_port());
        let (imap_port, imaps_port) = (free_port(), free_port());
        let (submission_port, submissions_port) = (free_port(), free_port());
        let http_port = free_port();
        let managesieve_port = free_port();
        let config = dir.join("mailserver.toml");
        // An IPv6 address is written in brackets before its port.
        let listen_host = if pop3_host.contains(':') {
            format!("[{pop3_host}]")
        } else {
            pop3_host.to_owned()
        };
        std::fs::write(
            &config,
            format!(
                "hostname = \"mx.example.com\"\ndata_dir = \"{}\"\nrun_as_root = true\n{extra_config}\n[listen]\nsmtp = [\"127.0.0.1:{port}\"]\npop3 = [\"{listen_host}:{pop3_port}\"]\npop3s = [\"{listen_host}:{pop3s_port}\"]\nimap = [\"{listen_host}:{imap_port}\"]\nimaps = [\"{listen_host}:{imaps_port}\"]\nsubmission = [\"127.0.0.1:{submission_port}\"]\nsubmissions = [\"127.0.0.1:{submissions_port}\"]\nhttp = [\"127.0.0.1:{http_port}\"]\nmanagesieve = [\"127.0.0.1:{managesieve_port}\"]\n",
                dir.join("data").display()
            ),
        )
        .unwrap();
        Server {
            dir,
            config,
            port,
            pop3_port,
            pop3s_port,
            imap_port,
            imaps_port,
            submission_port,
            submissions_port,
            http_port,
            managesieve_port,
            pop3_host: pop3_host.to_owned(),
            child: None,
            nofile: None,
            env: Vec::new(),
        }
    }

    pub fn spawn(&mut self) {
        let log = std::fs::File::create(self.dir.join("server.log")).unwrap();
        let mut command = match self.nofile {
            Some(n) => {
                let mut c = Command::new("prlimit");
                c.arg(format!("--nofile={n}:{n}")).arg("--").arg(BIN);
                c
            }
            None => Command::new(BIN),
        };
        let child = command
            .args(["-c", self.config.to_str().unwrap(), "serve"])
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start mailserver");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        let pop3_host = self.pop3_host.clone();
        for (host, port) in [
            ("127.0.0.1", self.port),
            (pop3_host.as_str(), self.pop3_port),
            (pop3_host.as_str(), self.pop3s_port),
            (pop3_host.as_str(), self.imap_port),
            (pop3_host.as_str(), self.imaps_port),
            ("127.0.0.1", self.submission_port),
            ("127.0.0.1", self.submissions_port),
            ("127.0.0.1", self.http_port),
            ("127.0.0.1", self.managesieve_port),
        ] {
            while TcpStream::connect((host, port)).is_err() {
                self.assert_starting(deadline, "did not start");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        // The ports are bound before the start-up work (recovery, recounts): ready is later.
        while !self.log().contains("mailserver ready") {
            self.assert_starting(deadline, "did not become ready");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Fails, with the log, when the server exited or `deadline` passed.
    fn assert_starting(&mut self, deadline: Instant, what: &str) {
        let exited = self
            .child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten());
        assert!(
            Instant::now() < deadline && exited.is_none(),
            "server {what}; log:\n{}",
            self.log()
        );
    }

    pub fn admin(&self, args: &[&str], stdin: &str) -> std::process::Output {
        let mut child = Command::new(BIN)
            .args(["-c", self.config.to_str().unwrap()])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    pub fn admin_ok(&self, args: &[&str]) -> String {
        self.admin_with_stdin(args, "")
    }

    pub fn admin_with_stdin(&self, args: &[&str], stdin: &str) -> String {
        let out = self.admin(args, stdin);
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// `GET path` on the HTTP listener: the status code and the body.
    pub fn http_get(&self, path: &str) -> (u16, String) {
        self.http("GET", path, None)
    }

    /// A request to the HTTP listener, with a form as its body (`application/x-www-form-
    /// urlencoded`) when one is given; the status and the body of the answer.
    pub fn http(&self, method: &str, path: &str, form: Option<&str>) -> (u16, String) {
        let mut stream = TcpStream::connect(("127.0.0.1", self.http_port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        write!(stream, "{method} {path} HTTP/1.0\r\nHost: localhost\r\n").unwrap();
        match form {
            Some(form) => write!(
                stream,
                "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
                form.len()
            )
            .unwrap(),
            None => write!(stream, "\r\n").unwrap(),
        }
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        (status, body.to_owned())
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    pub fn maildir(&self, user: &str) -> PathBuf {
        let (local, domain) = user.split_once('@').unwrap();
        self.dir.join("data/mail").join(domain).join(local)
    }

    /// The messages in a user's `new/`, in delivery order: by the seconds and microseconds in
    /// their names (`<secs>.M<usec>P...`), compared as numbers, as the server numbers them.
    pub fn messages(&self, user: &str) -> Vec<Vec<u8>> {
        let dir = self.maildir(user).join("new");
        let mut names: Vec<PathBuf> = match std::fs::read_dir(&dir) {
            Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
            Err(_) => return Vec::new(),
        };
        let when = |p: &PathBuf| -> (u64, u64, String) {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let (secs, rest) = name.split_once('.').unwrap_or((&name, ""));
            let usec: String = rest
                .strip_prefix('M')
                .unwrap_or("")
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            (
                secs.parse().unwrap_or(0),
                usec.parse().unwrap_or(0),
                name.clone(),
            )
        };
        names.sort_by_key(when);
        names.iter().map(|p| std::fs::read(p).unwrap()).collect()
    }

    pub fn tmp_is_empty(&self, user: &str) -> bool {
        std::fs::read_dir(self.maildir(user).join("tmp"))
            .map(|mut d| d.next().is_none())
            .unwrap_or(true)
    }

    pub fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().unwrap().id().to_string();
        assert!(
            Command::new("kill")
                .args([&format!("-{signal}"), &pid])
                .status()
                .unwrap()
                .success()
        );
    }

    pub fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let child = self.child.as_mut().unwrap();
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                self.child = None;
                return status;
            }
            assert!(Instant::now() < deadline, "server did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A raw SMTP connection, after reading the greeting.
    pub fn connect(&self) -> Raw {
        let stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut raw = Raw {
            reader: BufReader::new(stream.try_clone().unwrap()),
            stream,
        };
        let greeting = raw.reply();
        assert!(greeting.starts_with("220 mx.example.com"), "{greeting}");
        raw
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        } else {
            eprintln!("server log ({}):\n{}", self.dir.display(), self.log());
        }
    }
}

/// Strips what the server puts in front of a message it stores: `Return-Path:` and
/// `Delivered-To:` (local delivery), then the `Received:` field (and its folded lines).
pub fn strip_trace(message: &[u8]) -> &[u8] {
    let message = strip_delivery_fields(message);
    assert!(
        message.starts_with(b"Received: "),
        "no Received header: {:?}",
        String::from_utf8_lossy(&message[..message.len().min(80)])
    );
    let mut pos = 0;
    loop {
        let end = pos + message[pos..].iter().position(|&b| b == b'\n').unwrap() + 1;
        pos = end;
        if message.get(pos) != Some(&b'\t') && message.get(pos) != Some(&b' ') {
            return &message[pos..];
        }
    }
}

/// Strips the `Return-Path:` and `Delivered-To:` that local delivery puts in front of a copy
/// (a message stored once for several recipients has no `Delivered-To:`, as with Dovecot's
/// LMTP).
pub fn strip_delivery_fields(mut message: &[u8]) -> &[u8] {
    for field in [&b"Return-Path: "[..], b"Delivered-To: "] {
        if field.starts_with(b"Delivered-To") && !message.starts_with(field) {
            break;
        }
        assert!(
            message.starts_with(field),
            "no {}: {:?}",
            String::from_utf8_lossy(field),
            String::from_utf8_lossy(&message[..message.len().min(80)])
        );
        let end = message.iter().position(|&b| b == b'\n').unwrap() + 1;
        message = &message[end..];
    }
    message
}

/// A raw TCP SMTP client, for what no ready-made client does (pipelining by hand, BDAT).
pub struct Raw {
    pub stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Raw {
    pub fn send(&mut self, data: &[u8]) {
        self.stream.write_all(data).unwrap();
    }

    /// One whole reply (all its lines), joined with `\n`.
    pub fn reply(&mut self) -> String {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            let n = self.reader.read_line(&mut line).unwrap();
            assert!(n > 0, "connection closed; replies so far: {lines:?}");
            let line = line.trim_end().to_owned();
            let last = line.as_bytes().get(3) != Some(&b'-');
            lines.push(line);
            if last {
                return lines.join("\n");
            }
        }
    }

    pub fn command(&mut self, line: &str) -> String {
        self.send(format!("{line}\r\n").as_bytes());
        self.reply()
    }

    pub fn read_to_end(&mut self) -> String {
        let mut s = String::new();
        let _ = self.reader.read_to_string(&mut s);
        s
    }
}

/// Runs a Python 3 script (a real client: smtplib) with arguments; panics on failure, and
/// kills it after two minutes so that a server that stops answering fails the test instead of
/// hanging it.
pub fn python(script: &str, args: &[&str]) -> String {
    python_within(120, script, args)
}

/// [`python`], killed after `seconds`.
pub fn python_within(seconds: u32, script: &str, args: &[&str]) -> String {
    run_python("python3", seconds, script, args)
}

/// [`python`] under Debian's own Python (`/usr/bin/python3`), which has the modules the
/// test script installs from Debian (dkimpy).
pub fn system_python(script: &str, args: &[&str]) -> String {
    run_python("/usr/bin/python3", 120, script, args)
}

fn run_python(interpreter: &str, seconds: u32, script: &str, args: &[&str]) -> String {
    let out = Command::new("timeout")
        .args([seconds.to_string().as_str(), interpreter, "-c"])
        .arg(script)
        .args(args)
        .output()
        .expect("timeout python3");
    assert!(
        out.status.success(),
        "python failed:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

pub fn write_file(path: &Path, data: &[u8]) {
    std::fs::write(path, data).unwrap();
}

/// A private CA in `dir` (`ca.pem`) and a certificate it signed for 127.0.0.1 (`server.pem`,
/// `server.key`), as an internal PKI would issue.
pub fn private_ca(dir: &Path) {
    require("openssl");
    let sh = |script: &str| {
        let ok = Command::new("sh")
            .arg("-c")
            .arg(script)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(ok.status.success(), "{script}: {ok:?}");
    };
    sh(
        "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=test-ca",
    );
    sh(
        "openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=127.0.0.1",
    );
    sh(
        "printf 'subjectAltName=IP:127.0.0.1\\n' > san.cnf && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile san.cnf",
    );
}

/// Fails, showing `text`, unless it contains every one of `parts`.
pub fn assert_contains(text: &str, parts: &[&str]) {
    for part in parts {
        assert!(text.contains(part), "{part:?} is missing from:\n{text}");
    }
}

/// What dkimpy says of each DKIM signature of `message` (CRLF line ends), one line
/// `INDEX True|False` each, with the keys from the zone `mailserver dns` printed into `zone`.
pub fn dkim_verdicts(zone: &Path, message: &str) -> String {
    const DKIMPY: &str = include_str!("../clients/submission_dkimpy.py");
    let mut child = Command::new("/usr/bin/python3")
        .args(["-c", DKIMPY, zone.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("/usr/bin/python3 with dkimpy");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(message.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
