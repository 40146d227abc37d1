//! The Debian package and the Ansible role, as an admin uses them: the `.deb` made by
//! cargo-deb installed with apt, started as its systemd unit starts it, serving mail; then
//! the role (contrib/ansible) run twice on this machine, the second run changing nothing.
//!
//! These install into the system (`/usr/bin/mailserver`, `/etc/mailserver`,
//! `/var/lib/mailserver`, the `vmail` user) and purge the package at the end: one test, run
//! alone, as root.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use support::{assert_contains, free_port, require};

const CONFIG: &str = "/etc/mailserver/mailserver.toml";
const UNIT: &str = "/lib/systemd/system/mailserver.service";

/// Runs `program` with `args`; its standard output, or a panic with everything it said.
fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// The `.deb`, made by cargo-deb from the binary the tests were built with.
fn build_deb(out: &Path) -> PathBuf {
    std::fs::create_dir_all(out).unwrap();
    let made = Command::new("cargo")
        .current_dir(workspace())
        .args([
            "deb",
            "-p",
            "mailserver-bin",
            "--no-build",
            "--profile",
            "dev",
            "-o",
        ])
        .arg(out)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "cargo deb (installed by scripts/test): {}",
        String::from_utf8_lossy(&made.stderr)
    );
    std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "deb"))
        .unwrap()
}

/// The server as the unit starts it: its ExecStart, as `vmail` with only the capability to
/// bind low ports (the unit's User= and AmbientCapabilities=), without systemd.
struct Service(std::process::Child);

impl Service {
    fn start(smtp_port: u16, log: &Path) -> Service {
        let unit = std::fs::read_to_string(UNIT).unwrap();
        let exec = unit
            .lines()
            .find_map(|l| l.strip_prefix("ExecStart="))
            .unwrap();
        let log = std::fs::File::create(log).unwrap();
        let child = Command::new("setpriv")
            .args([
                "--reuid=vmail",
                "--regid=vmail",
                "--init-groups",
                "--inh-caps=+net_bind_service",
                "--ambient-caps=+net_bind_service",
                "--",
            ])
            .args(exec.split(' '))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", smtp_port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "the packaged server did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Service(child)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.0.id().to_string()).status();
        let _ = self.0.wait();
    }
}

/// Sends a message to `to` on `port` and waits for it in the Maildir under /var/lib.
fn deliver(port: u16, to: &str) {
    let script = "import smtplib, sys\n\
                  with smtplib.SMTP('127.0.0.1', int(sys.argv[1])) as s:\n    \
                  s.sendmail('sender@example.org', [sys.argv[2]], 'Subject: packaged\\r\\n\\r\\nhi\\r\\n')\n";
    support::python(script, &[&port.to_string(), to]);
    let (local, domain) = to.split_once('@').unwrap();
    let new = PathBuf::from(format!("/var/lib/mailserver/mail/{domain}/{local}/new"));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(mut d) = std::fs::read_dir(&new)
            && let Some(file) = d.next()
        {
            let meta = std::fs::metadata(file.unwrap().path()).unwrap();
            let vmail = run("id", &["-u", "vmail"]);
            assert_eq!(
                std::os::unix::fs::MetadataExt::uid(&meta).to_string(),
                vmail.trim()
            );
            return;
        }
        assert!(Instant::now() < deadline, "no message in {}", new.display());
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The packaged configuration with the listeners on free ports; returns the SMTP port.
fn listen_on_free_ports() -> (u16, String) {
    let smtp = free_port();
    let text = std::fs::read_to_string(CONFIG).unwrap();
    let mut out = String::new();
    for line in text.lines() {
        let port_line = [
            "smtp",
            "submission",
            "submissions",
            "imap",
            "imaps",
            "pop3",
            "pop3s",
            "managesieve",
            "http",
        ]
        .iter()
        .find(|n| line.starts_with(&format!("{n} = [")));
        match port_line {
            Some(&"smtp") => out.push_str(&format!("smtp = [\"127.0.0.1:{smtp}\"]")),
            Some(name) => out.push_str(&format!("{name} = [\"127.0.0.1:{}\"]", free_port())),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    std::fs::write(CONFIG, &out).unwrap();
    (smtp, out)
}

fn purge() {
    let _ = Command::new("apt-get")
        .args(["purge", "-y", "-qq", "mailserver"])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .output();
    let _ = std::fs::remove_dir_all("/var/lib/mailserver");
}

/// lintian finds no error in `deb`, and apt installs it: the user, the files and their
/// modes, a unit systemd accepts.
fn installs_cleanly(deb: &Path) {
    // Debian's own checks: no error, and no manual page missing (the warning left: a first
    // changelog entry that closes no bug, which only the Debian archive asks for).
    let lint = Command::new("lintian").arg(deb).output().unwrap();
    let said = String::from_utf8_lossy(&lint.stdout);
    assert!(
        !said
            .lines()
            .any(|l| l.starts_with("E:") || l.contains("no-manual-page")),
        "lintian: {said}"
    );

    // Installed with apt: the user, the files and their modes, the unit.
    run("apt-get", &["install", "-y", "-qq", deb.to_str().unwrap()]);
    run("id", &["vmail"]);
    assert!(
        run("dpkg", &["-L", "mailserver"]).contains("/usr/share/man/man8/mailserver.8"),
        "manual page"
    );
    let ls = run(
        "stat",
        &[
            "-c",
            "%a %U:%G",
            CONFIG,
            "/etc/mailserver",
            "/var/lib/mailserver",
        ],
    );
    assert_eq!(ls, "640 root:vmail\n750 root:vmail\n700 vmail:vmail\n");
    let verify = Command::new("systemd-analyze")
        .args(["verify", UNIT])
        .output()
        .unwrap();
    assert!(
        verify.status.success() && verify.stderr.is_empty(),
        "systemd-analyze verify: {verify:?}"
    );
}

#[test]
fn the_deb_serves_mail_and_the_ansible_role_is_idempotent() {
    require("apt-get");
    require("setpriv");
    require("ansible-playbook");
    require("systemd-analyze");
    require("lintian");
    let dir = std::env::temp_dir().join(format!("mailserver-it-{}-package", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    purge();
    let deb = build_deb(&dir.join("deb"));
    installs_cleanly(&deb);

    // Serving mail as the unit runs it.
    let (smtp, config) = listen_on_free_ports();
    run(
        "/usr/bin/mailserver",
        &["-c", CONFIG, "domain", "add", "example.com"],
    );
    let out = Command::new("sh")
        .args([
            "-c",
            "echo secret | /usr/bin/mailserver -c /etc/mailserver/mailserver.toml user add alice@example.com --password-stdin",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    {
        let _service = Service::start(smtp, &dir.join("service.log"));
        deliver(smtp, "alice@example.com");
    }
    let log = std::fs::read_to_string(dir.join("service.log")).unwrap();
    assert_contains(
        &log,
        &["mailserver ready", "result=\"delivered\"", "stopped"],
    );

    // An upgrade (here: the same package again) keeps the admin's configuration.
    run(
        "apt-get",
        &[
            "install",
            "-y",
            "-qq",
            "--reinstall",
            "-o",
            "Dpkg::Options::=--force-confold",
            deb.to_str().unwrap(),
        ],
    );
    assert_eq!(std::fs::read_to_string(CONFIG).unwrap(), config);

    // The Ansible role on a machine without the package: installs, configures, adds the
    // domain and users of group_vars (passwords from the vault); then nothing to change.
    purge();
    let ansible = workspace().join("contrib/ansible");
    std::fs::write(
        dir.join("hosts.ini"),
        "[mailservers]\nlocalhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n",
    )
    .unwrap();
    std::fs::write(dir.join("vault-pass"), "change-me\n").unwrap();
    let smtp = free_port();
    let listen: Vec<String> = ["smtp", "submission", "imap", "http"]
        .iter()
        .map(|n| {
            let port = if *n == "smtp" { smtp } else { free_port() };
            format!("\"{n}\": [\"127.0.0.1:{port}\"]")
        })
        .collect();
    std::fs::write(
        dir.join("test-vars.json"),
        format!(
            "{{\"mailserver_deb\": \"{}\", \"mailserver_listen\": {{{}}}}}",
            deb.display(),
            listen.join(", ")
        ),
    )
    .unwrap();
    let play = |label: &str| -> String {
        let out = Command::new("ansible-playbook")
            .current_dir(&ansible)
            .arg("-i")
            .arg(dir.join("hosts.ini"))
            .arg("--vault-password-file")
            .arg(dir.join("vault-pass"))
            .arg("-e")
            .arg(format!("@{}", dir.join("test-vars.json").display()))
            .arg("site.yml")
            .env("ANSIBLE_NOCOLOR", "1")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{label} run: {text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    };
    let first = play("first");
    assert!(!first.contains("changed=0 "), "{first}");
    let second = play("second");
    assert!(
        second.contains("changed=0 ") && second.contains("failed=0"),
        "{second}"
    );
    let users = run(
        "/usr/bin/mailserver",
        &["-c", CONFIG, "user", "list", "--json"],
    );
    assert_contains(
        &users,
        &[
            "alice@example.com",
            "bob@example.com",
            "\"quota\":2147483648",
        ],
    );
    {
        let _service = Service::start(smtp, &dir.join("service2.log"));
        deliver(smtp, "bob@example.com");
        let login = "import imaplib, sys\n\
                     m = imaplib.IMAP4('127.0.0.1', int(sys.argv[1]))\n\
                     m.login('alice@example.com', 'change-me-alice')\n\
                     m.logout()\n";
        let config = std::fs::read_to_string(CONFIG).unwrap();
        let imap = config
            .lines()
            .find_map(|l| l.strip_prefix("imap = [\"127.0.0.1:"))
            .and_then(|p| p.strip_suffix("\"]"))
            .unwrap()
            .to_owned();
        support::python(login, &[&imap]);
    }
    purge();
}
