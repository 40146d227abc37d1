//! Users in OpenLDAP (Debian's slapd, started here with a throwaway configuration): found by a
//! filter as a service account, authenticated by binding as the entry found, their mail store
//! and quota read from attributes; the database's domains and users keep working beside them.
#![allow(clippy::unwrap_used)]

mod support;

use std::process::Command;

use support::{Server, free_port, private_ca, python, require};

/// A private slapd with `dc=example,dc=com`, a service account and two users; stopped on drop.
struct Slapd {
    dir: std::path::PathBuf,
    port: u16,
    /// `ldaps://` port, when the server has a certificate.
    tls_port: Option<u16>,
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Slapd {
    fn start(name: &str) -> Slapd {
        Self::start_with(name, false)
    }

    /// With a private CA (`ca.pem` in its directory) and a certificate for 127.0.0.1, listening
    /// for StartTLS on `port` and for `ldaps://` on `tls_port`.
    fn start_tls(name: &str) -> Slapd {
        Self::start_with(name, true)
    }

    fn start_with(name: &str, tls: bool) -> Slapd {
        require("slapd");
        require("slapadd");
        let dir =
            std::env::temp_dir().join(format!("mailserver-ldap-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("db")).unwrap();
        let conf = format!(
            "include /etc/ldap/schema/core.schema\ninclude /etc/ldap/schema/cosine.schema\n\
             include /etc/ldap/schema/inetorgperson.schema\ninclude /etc/ldap/schema/nis.schema\n\
             include /etc/ldap/schema/misc.schema\n\
             modulepath /usr/lib/ldap\nmoduleload back_mdb\npidfile {d}/slapd.pid\n\
             database mdb\nsuffix \"dc=example,dc=com\"\nrootdn \"cn=admin,dc=example,dc=com\"\n\
             rootpw admin-pw\ndirectory {d}/db\n\
             access to attrs=userPassword by anonymous auth by * none\n\
             access to * by dn.exact=\"cn=mail,dc=example,dc=com\" read by self read by * none\n",
            d = dir.display()
        );
        let conf = if tls {
            private_ca(&dir);
            // Before the database section: TLS settings are global.
            conf.replacen(
                "database mdb",
                &format!(
                    "TLSCACertificateFile {d}/ca.pem\nTLSCertificateFile {d}/server.pem\nTLSCertificateKeyFile {d}/server.key\ndatabase mdb",
                    d = dir.display()
                ),
                1,
            )
        } else {
            conf
        };
        std::fs::write(dir.join("slapd.conf"), conf).unwrap();
        let hash = |pw: &str| {
            let out = Command::new("slappasswd")
                .args(["-s", pw])
                .output()
                .unwrap();
            String::from_utf8(out.stdout).unwrap().trim().to_owned()
        };
        // homeDirectory holds the mail store path, employeeNumber the quota in octets and
        // roomNumber the message limit,
        // standing in for the site-specific attributes real directories use.
        let ldif = format!(
            "dn: dc=example,dc=com\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example\n\n\
             dn: ou=people,dc=example,dc=com\nobjectClass: organizationalUnit\nou: people\n\n\
             dn: cn=mail,dc=example,dc=com\nobjectClass: person\ncn: mail\nsn: service\nuserPassword: {service}\n\n\
             dn: uid=lara,ou=people,dc=example,dc=com\nobjectClass: inetOrgPerson\nobjectClass: posixAccount\n\
             uid: lara\ncn: Lara\nsn: Croft\nmail: lara@example.com\nuidNumber: 1001\ngidNumber: 1001\n\
             homeDirectory: ldap/lara/\nemployeeNumber: 4096\nroomNumber: 5\nuserPassword: {lara}\n\n\
             dn: uid=max,ou=people,dc=example,dc=com\nobjectClass: inetOrgPerson\n\
             uid: max\ncn: Max\nsn: Power\nmail: max@example.com\nmail: power@example.com\n\
             userPassword: {max}\n\n\
             dn: cn=sales,ou=people,dc=example,dc=com\nobjectClass: groupOfNames\nobjectClass: extensibleObject\n\
             cn: sales\nmail: sales@example.com\nmember: uid=lara,ou=people,dc=example,dc=com\n\
             member: uid=max,ou=people,dc=example,dc=com\nmember: cn=gone,ou=people,dc=example,dc=com\n\n\
             dn: cn=info,ou=people,dc=example,dc=com\nobjectClass: organizationalRole\nobjectClass: inetLocalMailRecipient\n\
             cn: info\nmailLocalAddress: info@example.com\nmailRoutingAddress: max@example.com\n\n\
             dn: cn=crowd,ou=people,dc=example,dc=com\nobjectClass: groupOfNames\nobjectClass: extensibleObject\n\
             cn: crowd\nmail: crowd@example.com\nmember: uid=lara,ou=people,dc=example,dc=com\n{gone}\
             member: uid=max,ou=people,dc=example,dc=com\n",
            gone = (0..120)
                .map(|i| format!("member: cn=gone{i},ou=people,dc=example,dc=com\n"))
                .collect::<String>(),
            service = hash("service-pw"),
            lara = hash("lara-pw"),
            max = hash("max-pw"),
        );
        std::fs::write(dir.join("data.ldif"), ldif).unwrap();
        let conf = dir.join("slapd.conf");
        let added = Command::new("slapadd")
            .args(["-f", conf.to_str().unwrap(), "-l"])
            .arg(dir.join("data.ldif"))
            .output()
            .unwrap();
        assert!(added.status.success(), "slapadd: {added:?}");
        let port = free_port();
        let tls_port = tls.then(free_port);
        let mut slapd = Slapd {
            dir,
            port,
            tls_port,
        };
        slapd.run();
        slapd
    }

    fn run(&mut self) {
        let conf = self.dir.join("slapd.conf");
        let mut urls = format!("ldap://127.0.0.1:{}/", self.port);
        if let Some(p) = self.tls_port {
            urls.push_str(&format!(" ldaps://127.0.0.1:{p}/"));
        }
        let started = Command::new("slapd")
            .args(["-f", conf.to_str().unwrap(), "-h", &urls])
            .status()
            .unwrap();
        assert!(started.success(), "slapd did not start");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "slapd is not listening"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    fn stop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(self.dir.join("slapd.pid")) {
            let _ = Command::new("kill").arg(pid.trim()).status();
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
                && std::time::Instant::now() < deadline
            {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        }
    }
}

const LOGINS: &str = include_str!("clients/ldap_logins.py");

#[test]
fn ldap_users_log_in_by_bind_and_receive_mail() {
    let mut slapd = Slapd::start("users");
    let server = Server::start(
        "ldap",
        &format!(
            "[ldap]\nurl = \"ldap://127.0.0.1:{}\"\nbind_dn = \"cn=mail,dc=example,dc=com\"\n\
             bind_password = \"service-pw\"\nbase = \"ou=people,dc=example,dc=com\"\n\
             user_filter = \"(&(objectClass=inetOrgPerson)(mail=%u))\"\n\
             maildir_attribute = \"homeDirectory\"\nquota_attribute = \"employeeNumber\"\n\
             message_quota_attribute = \"roomNumber\"\n\
             alias_filter = \"(|(&(objectClass=groupOfNames)(mail=%u))(mailLocalAddress=%u))\"\n\
             alias_target_attribute = \"mailRoutingAddress\"\n",
            slapd.port
        ),
    );
    let rcpt = |to: &str| -> String {
        let mut c = server.connect();
        c.command("EHLO raw.example.org");
        c.command("MAIL FROM:<a@example.net>");
        let reply = c.command(&format!("RCPT TO:<{to}>"));
        if reply.starts_with("250") {
            assert!(c.command("DATA").starts_with("354"));
            assert!(
                c.command("Subject: hi\r\n\r\nfor you\r\n.")
                    .starts_with("250")
            );
        }
        reply
    };
    assert!(rcpt("lara@example.com").starts_with("250"));
    assert!(rcpt("max@example.com").starts_with("250"));
    assert!(rcpt("alice@example.com").starts_with("250"));
    assert!(rcpt("nobody@example.com").starts_with("550 5.1.1"));
    // A filter metacharacter in the address is escaped, not obeyed.
    assert!(rcpt("*@example.com").starts_with("550"));
    // The mail store path comes from the entry, relative to the mail root.
    let lara_dir = server.dir.join("data/mail/ldap/lara/new");
    assert_eq!(std::fs::read_dir(&lara_dir).unwrap().count(), 1);
    assert_eq!(
        std::fs::read_dir(server.maildir("max@example.com").join("new"))
            .unwrap()
            .count(),
        1
    );
    // Another of max's addresses matches the filter: it is delivered into his own mailbox.
    assert!(rcpt("power@example.com").starts_with("250"));
    assert_eq!(
        std::fs::read_dir(server.maildir("max@example.com").join("new"))
            .unwrap()
            .count(),
        2
    );
    assert!(!server.maildir("power@example.com").exists());

    let out = python(
        LOGINS,
        &[&server.imap_port.to_string(), &server.pop3_port.to_string()],
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(v["lara@example.com lara-pw"][0], "OK", "{out}");
    assert_eq!(v["lara@example.com lara-pw"][1], "1", "{out}");
    // employeeNumber 4096 octets: 4 KiB of storage.
    assert!(
        v["lara@example.com lara-pw"][2][0]
            .as_str()
            .unwrap()
            .contains("STORAGE 1 4"),
        "{out}"
    );
    // roomNumber 5: five messages.
    assert!(
        v["lara@example.com lara-pw"][2][0]
            .as_str()
            .unwrap()
            .contains("MESSAGE 1 5"),
        "{out}"
    );
    assert_eq!(v["lara@example.com wrong"][0], "NO", "{out}");
    assert_eq!(
        v["lara@example.com "][0], "NO",
        "an empty password is no anonymous bind: {out}"
    );
    assert_eq!(v["max@example.com max-pw"][0], "OK", "{out}");
    assert_eq!(v["alice@example.com secret"][0], "OK", "{out}");
    assert_eq!(v["nobody@example.com x"][0], "NO", "{out}");
    assert!(v["pop3"].as_str().unwrap().starts_with("+OK"), "{out}");
    assert_eq!(v["pop3_stat"][0], 1, "{out}");

    // Aliases in the directory: a group's members (one of them gone) and a forward.
    // (The logins above moved what was in new/ to cur/.)
    let count = |dir: &std::path::Path| std::fs::read_dir(dir).unwrap().count();
    let max_dir = server.maildir("max@example.com").join("new");
    let before = (count(&lara_dir), count(&max_dir));
    assert!(rcpt("sales@example.com").starts_with("250"));
    assert_eq!(
        (count(&lara_dir), count(&max_dir)),
        (before.0 + 1, before.1 + 1)
    );
    assert!(rcpt("info@example.com").starts_with("250"));
    assert_eq!(
        (count(&lara_dir), count(&max_dir)),
        (before.0 + 1, before.1 + 2)
    );
    assert!(!server.maildir("sales@example.com").exists());
    // A group is followed for at most 100 members: max, the 122nd, is past that.
    assert!(rcpt("crowd@example.com").starts_with("250"));
    assert_eq!(
        (count(&lara_dir), count(&max_dir)),
        (before.0 + 2, before.1 + 2)
    );
    assert!(server.log().contains("more members than are followed"));
    // A member may send as the group; not as another's forward.
    let send_as = r#"
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]))
s.login("lara@example.com", "lara-pw")
for sender in ("sales@example.com", "info@example.com"):
    print(s.mail(sender)[0])
    s.rset()
s.quit()
"#;
    let out = python(send_as, &[&server.submission_port.to_string()]);
    assert_eq!(out, "250\n553\n");

    // The directory down: temporary failures, never "unknown user".
    slapd.stop();
    let mut c = server.connect();
    c.command("EHLO raw.example.org");
    c.command("MAIL FROM:<a@example.net>");
    let reply = c.command("RCPT TO:<lara@example.com>");
    assert!(reply.starts_with("451 4.3.0"), "{reply}");
    drop(c);
    slapd.run();
    assert!(rcpt("lara@example.com").starts_with("250"));
    // The kept connections died with the old slapd: logins open new ones.
    let out = python(
        LOGINS,
        &[&server.imap_port.to_string(), &server.pop3_port.to_string()],
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(v["lara@example.com lara-pw"][0], "OK", "{out}");
    assert_eq!(v["lara@example.com wrong"][0], "NO", "{out}");
    assert_eq!(v["max@example.com max-pw"][0], "OK", "{out}");
}

/// LDAP over TLS, as a directory on an internal PKI needs: `ldaps://` and StartTLS checked
/// against `ca_file`; without it, the unknown CA is refused and mail is deferred, not lost.
#[test]
fn ldap_over_tls_with_a_private_ca() {
    let slapd = Slapd::start_tls("tls");
    let ca = slapd.dir.join("ca.pem");
    let base = "bind_dn = \"cn=mail,dc=example,dc=com\"\nbind_password = \"service-pw\"\n\
                base = \"ou=people,dc=example,dc=com\"\n";
    let login = r#"
import imaplib, sys
M = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
try:
    print(M.login("lara@example.com", "lara-pw")[0])
except imaplib.IMAP4.error as e:
    print("NO", e)
"#;
    for (name, url, extra) in [
        (
            "ldaps",
            format!("ldaps://127.0.0.1:{}", slapd.tls_port.unwrap()),
            String::new(),
        ),
        (
            "starttls",
            format!("ldap://127.0.0.1:{}", slapd.port),
            "starttls = true\n".to_owned(),
        ),
    ] {
        let server = Server::start(
            &format!("ldap-{name}"),
            &format!(
                "[ldap]\nurl = \"{url}\"\n{base}{extra}ca_file = \"{}\"\n",
                ca.display()
            ),
        );
        let out = python(login, &[&server.imap_port.to_string()]);
        assert_eq!(out.trim(), "OK", "{name}: {out}");
    }
    let untrusted = Server::start(
        "ldap-untrusted",
        &format!(
            "[ldap]\nurl = \"ldaps://127.0.0.1:{}\"\n{base}",
            slapd.tls_port.unwrap()
        ),
    );
    let mut c = untrusted.connect();
    c.command("EHLO raw.example.org");
    c.command("MAIL FROM:<a@example.net>");
    let reply = c.command("RCPT TO:<lara@example.com>");
    assert!(reply.starts_with("451 4.3.0"), "{reply}");
}
