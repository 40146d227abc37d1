//! What one client, or many, may cost the server: a client trickling a byte every three
//! seconds is closed within the command deadline on every protocol, before and after login;
//! hundreds of idle connections from one address leave room for everybody else; with few file
//! descriptors the extra clients are told so and the server stays up.

#![allow(clippy::unwrap_used)]

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use support::{Server, python};

const DEADLINE: u64 = 4;

/// Connects, reads the greeting, runs `preamble` (each line sent, then its answer read until
/// it contains the expected text), then sends `trickle` one byte every three seconds. Returns
/// how long after the first trickled byte the server closed, and what it said last.
fn trickle(port: u16, preamble: &[(&str, &str)], trickle: &str) -> (Duration, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut seen = String::new();
    let read_until = |stream: &mut TcpStream, want: &str, seen: &mut String| {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut buf = [0; 4096];
        while !seen.contains(want) {
            assert!(Instant::now() < deadline, "no {want:?} in {seen:?}");
            if let Ok(n) = stream.read(&mut buf) {
                assert!(n > 0, "closed early: {seen:?}");
                seen.push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        }
        seen.clear();
    };
    read_until(&mut stream, "\r\n", &mut seen);
    for (line, want) in preamble {
        stream.write_all(format!("{line}\r\n").as_bytes()).unwrap();
        read_until(&mut stream, want, &mut seen);
    }
    let start = Instant::now();
    let mut buf = [0; 4096];
    for byte in trickle.bytes().cycle() {
        assert!(
            start.elapsed() < Duration::from_secs(DEADLINE + 20),
            "still open after {:?}",
            start.elapsed()
        );
        if stream.write_all(&[byte]).is_err() {
            break;
        }
        let until = Instant::now() + Duration::from_secs(3);
        let mut closed = false;
        while Instant::now() < until {
            match stream.read(&mut buf) {
                Ok(0) => {
                    closed = true;
                    break;
                }
                Ok(n) => seen.push_str(&String::from_utf8_lossy(&buf[..n])),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                    closed = true;
                    break;
                }
                Err(_) => {}
            }
        }
        if closed {
            break;
        }
    }
    (start.elapsed(), seen)
}

/// A trickle case: its name, the port, what is said first (line, answer expected), the line
/// trickled, and what the server says on closing.
type Case<'a> = (&'a str, u16, Vec<(&'a str, &'a str)>, &'a str, &'a str);

#[test]
fn a_trickling_client_is_closed_within_the_deadline_on_every_protocol() {
    let server = Server::start(
        "trickle",
        &format!("[limits]\ncommand_deadline = {DEADLINE}\n"),
    );
    let plain = base64_plain("alice@example.com", "secret");
    let auth = format!("AUTH PLAIN {plain}");
    let cases: Vec<Case> = vec![
        ("smtp", server.port, vec![], "EHLO slow.example", "421 "),
        (
            "submission after AUTH",
            server.submission_port,
            vec![("EHLO c.example", "250 "), (&auth, "235 ")],
            "MAIL FROM:<alice@example.com>",
            "421 ",
        ),
        ("imap", server.imap_port, vec![], "a LOGIN x y", "* BYE"),
        (
            "imap after LOGIN",
            server.imap_port,
            vec![("a LOGIN alice@example.com secret", "a OK")],
            "b SELECT INBOX",
            "* BYE",
        ),
        ("pop3", server.pop3_port, vec![], "USER alice", "-ERR"),
        (
            "pop3 after PASS",
            server.pop3_port,
            vec![("USER alice@example.com", "+OK"), ("PASS secret", "+OK")],
            "STAT",
            "-ERR",
        ),
    ];
    std::thread::scope(|scope| {
        let runs: Vec<_> = cases
            .iter()
            .map(|(name, port, preamble, line, farewell)| {
                scope.spawn(move || {
                    let (took, said) = trickle(*port, preamble, line);
                    assert!(
                        took <= Duration::from_secs(DEADLINE + 3),
                        "{name}: closed after {took:?}"
                    );
                    assert!(said.contains(farewell), "{name}: said {said:?}");
                })
            })
            .collect();
        for run in runs {
            run.join().unwrap();
        }
    });
    assert!(
        server.log().contains("too slow"),
        "each closing is logged: {}",
        server.log()
    );
}

fn base64_plain(user: &str, password: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let raw = format!("\0{user}\0{password}").into_bytes();
    let mut out = String::new();
    for chunk in raw.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A connection to `port` and the first thing the server said.
fn greeted(port: u16) -> (TcpStream, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = [0; 512];
    let n = s.read(&mut buf).unwrap();
    let greeting = String::from_utf8_lossy(&buf[..n]).into_owned();
    (s, greeting)
}

/// Logs in over IMAP from `source` (a loopback address of its own) and says how it went.
const LOGIN_FROM: &str = include_str!("clients/limits_login_from.py");

#[test]
fn idle_clients_from_one_address_leave_room_for_others() {
    let server = Server::start(
        "per-address",
        "[limits]\nmax_connections_per_address = 50\nmax_connections = 600\n",
    );
    let mut idle = Vec::new();
    let mut refused = 0;
    for _ in 0..500 {
        let (s, greeting) = greeted(server.imap_port);
        if greeting.starts_with("* BYE Too many connections from your address") {
            refused += 1;
        } else {
            assert!(greeting.starts_with("* OK"), "{greeting}");
        }
        idle.push(s);
    }
    assert_eq!(refused, 450, "50 let in from one address");
    let answer = python(LOGIN_FROM, &["127.0.0.2", &server.imap_port.to_string()]);
    assert!(answer.contains("| a OK"), "{answer}");
    // The same holds for POP3 and SMTP, which say so in their own terms.
    let mut pop3 = Vec::new();
    for _ in 0..50 {
        let (s, greeting) = greeted(server.pop3_port);
        assert!(greeting.starts_with("+OK"), "{greeting}");
        pop3.push(s);
    }
    let mut extra = TcpStream::connect(("127.0.0.1", server.pop3_port)).unwrap();
    let mut said = String::new();
    extra.read_to_string(&mut said).unwrap();
    assert_eq!(
        said,
        "-ERR [SYS/TEMP] Too many connections from your address, try again later\r\n"
    );
    let log = server.log();
    assert!(
        log.matches("connection refused").count() >= 451,
        "each refusal is logged"
    );
    drop(idle);
}

#[test]
fn with_256_file_descriptors_extra_clients_are_refused_and_the_server_stays_up() {
    let mut server = Server::start(
        "nofile",
        "[limits]\nmax_connections_per_address = 1000\nmax_connections = 1000\n",
    );
    server.child.take().map(|mut c| {
        c.kill().unwrap();
        c.wait().unwrap()
    });
    server.nofile = Some(256);
    server.spawn();
    let mut conns = Vec::new();
    let (mut welcomed, mut refused) = (0, 0);
    for _ in 0..400 {
        let (s, greeting) = greeted(server.imap_port);
        if greeting.starts_with("* BYE Too many connections, try again later") {
            refused += 1;
        } else {
            assert!(greeting.starts_with("* OK"), "{greeting}");
            welcomed += 1;
        }
        conns.push(s);
    }
    eprintln!("open-file limit 256: {welcomed} let in, {refused} refused");
    assert!(
        welcomed >= 150 && refused >= 100,
        "{welcomed} let in, {refused} refused"
    );
    drop(conns);
    std::thread::sleep(Duration::from_millis(500));
    let answer = python(LOGIN_FROM, &["127.0.0.1", &server.imap_port.to_string()]);
    assert!(answer.contains("| a OK"), "{answer}");
    assert!(
        server.child.as_mut().unwrap().try_wait().unwrap().is_none(),
        "the server is up"
    );
    assert!(!server.log().contains("accept failed"), "{}", server.log());
}

/// Unmounts the test's small file system however the test ends.
struct Mount(std::path::PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

const APPEND: &str = include_str!("clients/limits_append.py");

const READ_EMPTY: &str = include_str!("clients/limits_read_empty.py");

#[test]
fn a_nearly_full_disk_refuses_mail_before_it_arrives_and_recovers_alone() {
    let mut server = Server::start(
        "disk-full",
        "[limits]\nmin_free_space = 4194304\nmin_free_percent = 50\n",
    );
    // The mail store on a 16 MiB file system of its own.
    let mail = server.dir.join("data/mail");
    let mut child = server.child.take().unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=16m", "tmpfs"])
        .arg(&mail)
        .status()
        .unwrap();
    assert!(mounted.success(), "mount a tmpfs (the tests run as root)");
    let _mount = Mount(mail.clone());
    server.spawn();
    // Fill it to 2 MiB short of full, below the 4 MiB reserve.
    let filler = mail.join("filler");
    std::fs::write(&filler, vec![0u8; 14 << 20]).unwrap();
    let mut c = server.connect();
    assert!(c.command("EHLO c.example").starts_with("250"));
    let r = c.command("MAIL FROM:<a@example.org> SIZE=1000");
    assert!(r.starts_with("452 4.3.1"), "{r}");
    assert!(c.command("MAIL FROM:<a@example.org>").starts_with("250"));
    let r = c.command("RCPT TO:<alice@example.com>");
    assert!(r.starts_with("452 4.3.1"), "{r}");
    let out = python(APPEND, &[&server.imap_port.to_string()]);
    assert!(
        out.starts_with("NO [OVERQUOTA] Not enough disk space"),
        "{out}"
    );
    assert!(
        server.log().contains("nearly full"),
        "each refusal is logged"
    );
    // Full to the last block: users whose mail store was never made can still log in and read
    // (an empty INBOX), over IMAP and POP3.
    let mut more = std::fs::File::create(mail.join("filler2")).unwrap();
    while more.write_all(&[0u8; 65536]).is_ok() {}
    drop(more);
    let ports = [server.imap_port.to_string(), server.pop3_port.to_string()];
    let out = python(READ_EMPTY, &[&ports[0], &ports[1]]);
    assert_eq!(out.trim(), "OK 0 | +OK 0 0", "{}", server.log());
    std::fs::remove_file(mail.join("filler2")).unwrap();
    // Space comes back: delivery and reading work, with nothing to clean by hand.
    std::fs::remove_file(&filler).unwrap();
    assert!(c.command("RSET").starts_with("250"));
    assert!(c.command("MAIL FROM:<a@example.org>").starts_with("250"));
    assert!(c.command("RCPT TO:<alice@example.com>").starts_with("250"));
    assert!(c.command("DATA").starts_with("354"));
    c.send(b"Subject: after\r\n\r\nbody\r\n");
    assert!(c.command(".").starts_with("250"));
    let out = python(APPEND, &[&server.imap_port.to_string()]);
    assert!(out.starts_with("OK [APPENDUID"), "{out}");
    assert!(
        out.contains("Subject: after") && out.contains("Subject: appended"),
        "{out}"
    );
    assert!(server.tmp_is_empty("alice@example.com"));
}

const LOGIN_TIMES: &str = include_str!("clients/limits_login_times.py");

#[test]
fn a_wrong_password_costs_the_same_for_unknown_users() {
    let server = Server::start("login-timing", "");
    let out = python(LOGIN_TIMES, &[&server.imap_port.to_string()]);
    let times: Vec<f64> = out.split_whitespace().map(|t| t.parse().unwrap()).collect();
    let (known, unknown) = (times[0], times[1]);
    eprintln!("wrong password, best of 5: known user {known:.4} s, unknown user {unknown:.4} s");
    assert!(
        unknown * 3.0 >= known && known * 3.0 >= unknown,
        "known {known} s, unknown {unknown} s"
    );
}

/// A message with a million MIME parts (10 MB), part 1.2.3 holding a word to find.
fn million_part_message() -> Vec<u8> {
    let mut m = b"From: a@example.org\r\nSubject: parts\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\n\
Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\none\r\n--b\r\n\
Content-Type: multipart/alternative; boundary=c\r\n\r\n--c\r\n\r\nx\r\n--c\r\n\r\ny\r\n--c\r\n\
Content-Type: text/plain\r\n\r\nthe needle is here\r\n--c--\r\n--b--\r\n"
        .to_vec();
    for _ in 0..1_000_000 {
        m.extend_from_slice(b"--a\r\n\r\nx\r\n");
    }
    m.extend_from_slice(b"--a--\r\n");
    m
}

const MANY_PARTS: &str = include_str!("clients/limits_many_parts.py");

#[test]
fn a_million_part_message_costs_what_ten_thousand_do() {
    let server = Server::start("mime-parts", "");
    let message = million_part_message();
    let new = server.maildir("alice@example.com").join("new");
    std::fs::create_dir_all(&new).unwrap();
    for sub in ["cur", "tmp"] {
        std::fs::create_dir_all(server.maildir("alice@example.com").join(sub)).unwrap();
    }
    std::fs::write(new.join("1700000000.M1P1.test"), &message).unwrap();
    let pid = server.child.as_ref().unwrap().id().to_string();
    let out = python(MANY_PARTS, &[&server.imap_port.to_string(), &pid]);
    eprintln!("{out}");
    let line = |key: &str| {
        out.lines()
            .find(|l| l.starts_with(key))
            .unwrap_or_else(|| panic!("no {key} in {out}"))
            .to_owned()
    };
    let structure = line("structure");
    let structure: Vec<&str> = structure.split(' ').collect();
    assert_eq!(structure[1], "OK");
    // 10,000 parts looked into, the rest one opaque part: not a million.
    let leaves: usize = structure[3].parse().unwrap();
    assert!((9_000..=10_000).contains(&leaves), "{leaves} text parts");
    assert_eq!(line("section"), "section OK the needle is here");
    assert_eq!(line("search"), "search OK 1");
    assert_eq!(line("again"), "again OK");
    assert_eq!(line("other"), "other OK");
    let growth: u64 = line("growth_mib")
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert!(growth < 200, "RSS grew {growth} MiB");
}

const LOGINS: &str = include_str!("clients/limits_logins.py");

#[test]
fn a_user_has_at_most_ten_sessions_from_one_address() {
    let server = Server::start("per-user", "");
    let port = server.imap_port.to_string();
    let out = python(LOGINS, &[&port, "11", "127.0.0.1"]);
    let answers: Vec<&str> = out.lines().collect();
    assert!(answers[..10].iter().all(|a| a.starts_with("a OK")), "{out}");
    assert_eq!(
        answers[10],
        "a NO [LIMIT] Too many connections of this user from your address"
    );
    // Once those sessions are gone, logins work again; another address has its own ten.
    std::thread::sleep(Duration::from_millis(300));
    for source in ["127.0.0.1", "127.0.0.2"] {
        let out = python(LOGINS, &[&port, "10", source]);
        assert!(out.lines().all(|a| a.starts_with("a OK")), "{out}");
    }
}

/// A client on port 25 that sends only NOOP, RSET, VRFY, EXPN or HELP is closed after
/// `[limits] max_junk_commands` of them (Postfix's smtpd_junk_command_limit): it would
/// otherwise hold a connection slot forever, each answer resetting its timeout.
#[test]
fn junk_commands_without_mail_close_the_connection() {
    let server = Server::start("junk-commands", "[limits]\nmax_junk_commands = 5\n");
    let mut c = server.connect();
    assert!(c.command("EHLO junk.example").starts_with("250"));
    for command in ["NOOP", "RSET", "NOOP", "HELP", "NOOP"] {
        let reply = c.command(command);
        assert!(
            reply.starts_with("250") || reply.starts_with("214"),
            "{command}: {reply}"
        );
    }
    let last = c.command("NOOP");
    assert!(last.starts_with("421 4.7.0"), "{last}");
    assert_eq!(c.read_to_end(), "", "the server closes after its 421");
    let log = server.log();
    assert!(
        log.contains("smtp closing: limit reached") && log.contains("JunkCommands"),
        "{log}"
    );
}

/// The log as an admin reads it: a line per event with the session id (and the user once
/// known) on each; a TLS client that hangs up without close_notify, or sends an IP address
/// as SNI (as a webmail on the same host does), is normal and logs no warning; no value
/// is printed as `Some(..)`.
#[test]
fn log_lines_carry_the_session_and_normal_hang_ups_are_quiet() {
    let server = Server::start("log-lines", "");
    let out = python(
        "import imaplib, poplib, smtplib, socket, ssl, sys\n\
         smtp, imap, imaps = (int(a) for a in sys.argv[1:4])\n\
         s = smtplib.SMTP('127.0.0.1', smtp)\n\
         s.sendmail('a@example.org', ['alice@example.com'], b'Subject: x\\r\\n\\r\\nhi\\r\\n')\n\
         s.quit()\n\
         m = imaplib.IMAP4('127.0.0.1', imap)\n\
         m.login('alice@example.com', 'secret')\n\
         m.select('INBOX')\n\
         m.logout()\n\
         ctx = ssl.create_default_context()\n\
         ctx.check_hostname = False\n\
         ctx.verify_mode = ssl.CERT_NONE\n\
         raw = socket.create_connection(('127.0.0.1', imaps))\n\
         t = ctx.wrap_socket(raw, server_hostname='localhost')\n\
         t.recv(100)\n\
         raw.close()\n\
         print('done')\n",
        &[
            &server.port.to_string(),
            &server.imap_port.to_string(),
            &server.imaps_port.to_string(),
        ],
    );
    assert_eq!(out.trim(), "done");
    // An IP address as SNI (Roundcube on the same host connects to ssl://127.0.0.1).
    let mut sni = std::process::Command::new("openssl")
        .args(["s_client", "-servername", "127.0.0.1", "-connect"])
        .arg(format!("127.0.0.1:{}", server.imaps_port))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    drop(sni.stdin.take());
    sni.wait().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let log = server.log();
    let sessions: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("connect") || l.contains("login") || l.contains("message"))
        .filter(|l| !l.contains("listening") && !l.contains("budget"))
        .collect();
    assert!(sessions.len() >= 7, "{log}");
    for line in &sessions {
        assert!(
            line.contains("session{protocol=") && line.contains(" id="),
            "no session id: {line}"
        );
    }
    assert!(
        log.lines()
            .any(|l| l.contains("imap disconnect") && l.contains("user=alice@example.com")),
        "{log}"
    );
    assert!(
        log.contains("disconnect ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5"),
        "a Postfix-like summary: {log}"
    );
    // As Dovecot's `in=` and `out=`: the octets of the protocol each way.
    let imap_end = log
        .lines()
        .find(|l| l.contains("imap disconnect") && l.contains("user=alice@example.com"))
        .unwrap();
    assert!(
        imap_end.contains("bytes_in=") && !imap_end.contains("bytes_out=0"),
        "{imap_end}"
    );
    for noise in ["docs.rs", "Some(", "close_notify"] {
        assert!(!log.contains(noise), "{noise} in\n{log}");
    }
    let warnings: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(" WARN "))
        .filter(|l| !l.contains("self-signed"))
        // The test servers run as root on purpose.
        .filter(|l| !l.contains("run_as_root = true"))
        .collect();
    assert!(warnings.is_empty(), "{warnings:?}");
}
