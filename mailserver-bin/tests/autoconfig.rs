//! What mail programs fetch to set themselves up, read as they read it, then used: Thunderbird's
//! autoconfig checked by the rules of its `readFromXML` (types, ports, socket types,
//! authentication, at least one incoming and one outgoing server), Outlook's autodiscover
//! answer and Apple's profile (its signature checked with `openssl cms -verify` against the
//! server's certificate, then parsed with `plistlib`); a client logs in to IMAP and submits mail
//! with the settings each gave. Also the MTA-STS policy and the records `mailserver dns`
//! lists for them.

mod support;

use support::lists::wait_for;
use support::{Server, python};

/// Fetches the documents over HTTP with the Host a client would send, checks them, and uses
/// them; prints what it checked.
const CLIENT: &str = r#"
import imaplib, plistlib, re, smtplib, ssl, subprocess, sys, tempfile, urllib.request, urllib.error
import xml.etree.ElementTree as ET
http, want = int(sys.argv[1]), dict(a.split("=") for a in sys.argv[2:])
address = "alice@example.com"

def fetch(path, host, body=None):
    req = urllib.request.Request(f"http://127.0.0.1:{http}{path}", data=body,
                                 headers={"Host": host})
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, "", e.read()

tls = ssl.create_default_context()
tls.check_hostname, tls.verify_mode = False, ssl.CERT_NONE

def use(kind, port, secure):
    """Logs in (IMAP, POP3) or submits (SMTP) as a client configured this way would."""
    if kind == "imap":
        c = imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=tls) if secure == "SSL" \
            else imaplib.IMAP4("127.0.0.1", port)
        if secure == "STARTTLS": c.starttls(ssl_context=tls)
        c.login(address, "secret"); c.select("INBOX"); c.logout()
    elif kind == "smtp":
        c = smtplib.SMTP_SSL("127.0.0.1", port, context=tls) if secure == "SSL" \
            else smtplib.SMTP("127.0.0.1", port)
        if secure == "STARTTLS": c.starttls(context=tls)
        c.login(address, "secret")
        c.sendmail(address, ["bob@example.com"], "Subject: set up\r\n\r\nhello\r\n"); c.quit()

# Thunderbird: readFromXML's rules.
SOCKET = {"plain", "SSL", "STARTTLS"}
AUTH = {"password-cleartext", "plain", "secure", "password-encrypted", "GSSAPI", "NTLM",
        "OAuth2", "TLS-client-cert", "none", "client-IP-address"}
HOST = re.compile(r"^[A-Za-z0-9.-]+$")
def thunderbird(xml):
    root = ET.fromstring(xml)
    assert root.tag == "clientConfig" and root.get("version") == "1.1", root.tag
    provider = root.find("emailProvider")
    assert provider.get("id") and provider.findtext("domain") == "example.com"
    assert provider.findtext("displayName")
    servers = {"incomingServer": [], "outgoingServer": []}
    for element, types in (("incomingServer", {"imap", "pop3"}), ("outgoingServer", {"smtp"})):
        for s in provider.findall(element):
            assert s.get("type") in types, s.get("type")
            assert HOST.match(s.findtext("hostname")), s.findtext("hostname")
            port = int(s.findtext("port")); assert 0 < port < 65536
            assert s.findtext("socketType") in SOCKET and s.findtext("socketType") != "plain"
            assert s.findtext("authentication") in AUTH
            assert s.findtext("username") == "%EMAILADDRESS%"
            servers[element].append((s.get("type"), port, s.findtext("socketType")))
    assert servers["incomingServer"] and servers["outgoingServer"], servers
    return servers

for path, host in (("/mail/config-v1.1.xml", "autoconfig.example.com"),
                   ("/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=alice%40example.com",
                    "example.com"),
                   ("/mail/config-v1.1.xml?emailaddress=alice%40Example.COM", "autoconfig.example.com")):
    status, ctype, body = fetch(path, host)
    assert status == 200 and "xml" in ctype, (path, status, body)
    servers = thunderbird(body)
    assert servers["incomingServer"] == [("imap", int(want["imaps"]), "SSL"),
        ("imap", int(want["imap"]), "STARTTLS"), ("pop3", int(want["pop3s"]), "SSL"),
        ("pop3", int(want["pop3"]), "STARTTLS")], servers
    assert servers["outgoingServer"] == [("smtp", int(want["submissions"]), "SSL"),
        ("smtp", int(want["submission"]), "STARTTLS")], servers
for kind, port, secure in servers["incomingServer"][:2] + servers["outgoingServer"]:
    use(kind, port, secure)
print("thunderbird ok")
for path, host in (("/mail/config-v1.1.xml", "autoconfig.other.org"),
                   ("/mail/config-v1.1.xml?emailaddress=x%40other.org", "autoconfig.example.com")):
    assert fetch(path, host)[0] == 404, path

# Outlook: POX autodiscover, 2006a.
request = ('<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft'
    '.com/exchange/autodiscover/outlook/requestschema/2006"><Request><EMailAddress>'
    f'{address}</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/'
    'autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>')
status, ctype, body = fetch("/autodiscover/autodiscover.xml", "autodiscover.example.com",
                            request.encode())
assert status == 200, (status, body)
ns = {"r": "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"}
account = ET.fromstring(body).find("r:Response/r:Account", ns)
assert account.findtext("r:AccountType", namespaces=ns) == "email"
assert account.findtext("r:Action", namespaces=ns) == "settings"
protocols = {p.findtext("r:Type", namespaces=ns): p for p in account.findall("r:Protocol", ns)}
assert set(protocols) == {"IMAP", "POP3", "SMTP"}, set(protocols)
for kind, p in protocols.items():
    assert p.findtext("r:LoginName", namespaces=ns) == address
    assert p.findtext("r:SSL", namespaces=ns) == "on"
    assert p.findtext("r:Encryption", namespaces=ns) == "SSL"
imap, smtp = protocols["IMAP"], protocols["SMTP"]
assert int(imap.findtext("r:Port", namespaces=ns)) == int(want["imaps"])
use("imap", int(imap.findtext("r:Port", namespaces=ns)), "SSL")
use("smtp", int(smtp.findtext("r:Port", namespaces=ns)), "SSL")
assert fetch("/autodiscover/autodiscover.xml", "autodiscover.example.com",
             request.replace("example.com", "other.org").encode())[0] == 404
assert fetch("/autodiscover/autodiscover.xml", "autodiscover.example.com", b"<x/>")[0] == 400
print("outlook ok")

# Apple: a configuration profile, signed with the server's certificate (CMS, as
# `openssl smime -sign -nodetach -outform der` makes it).
def verified(signed):
    with tempfile.NamedTemporaryFile() as f:
        f.write(signed)
        f.flush()
        out = subprocess.run(["openssl", "cms", "-verify", "-inform", "DER", "-in", f.name,
                              "-CAfile", want["cert"], "-purpose", "any"], capture_output=True)
    assert out.returncode == 0, out.stderr.decode()
    return out.stdout

status, ctype, body = fetch("/apple/mobileconfig?emailaddress=alice%40example.com", "example.com")
assert status == 200 and ctype.startswith("application/x-apple-aspen-config"), (status, ctype)
assert not body.startswith(b"<?xml"), "signed"
profile = plistlib.loads(verified(body))
assert profile["PayloadType"] == "Configuration" and profile["PayloadVersion"] == 1
mail = profile["PayloadContent"][0]
assert mail["PayloadType"] == "com.apple.mail.managed"
assert mail["EmailAccountType"] == "EmailTypeIMAP" and mail["EmailAddress"] == address
assert mail["IncomingMailServerUseSSL"] is True and mail["OutgoingMailServerUseSSL"] is True
assert mail["IncomingMailServerPortNumber"] == int(want["imaps"])
assert mail["OutgoingMailServerPortNumber"] == int(want["submissions"])
assert mail["PayloadUUID"] != profile["PayloadUUID"]
again = plistlib.loads(verified(fetch("/apple/mobileconfig?emailaddress=alice%40example.com", "x")[2]))
assert again["PayloadUUID"] == profile["PayloadUUID"], "the same account, the same profile"
use("imap", mail["IncomingMailServerPortNumber"], "SSL")
use("smtp", mail["OutgoingMailServerPortNumber"], "SSL")
assert fetch("/apple/mobileconfig", "example.com")[0] == 400
print("apple ok")

# MTA-STS, from mta-sts.<domain> only.
status, ctype, body = fetch("/.well-known/mta-sts.txt", "mta-sts.example.com")
assert status == 200 and ctype.startswith("text/plain"), (status, ctype)
assert body == b"version: STSv1\r\nmode: enforce\r\nmx: mx.example.com\r\nmax_age: 86400\r\n", body
assert fetch("/.well-known/mta-sts.txt", "example.com")[0] == 404
assert fetch("/.well-known/mta-sts.txt", "mta-sts.other.org")[0] == 404
print("mta-sts ok")
"#;

#[test]
fn clients_set_themselves_up_from_an_address() {
    let server = Server::start(
        "autoconfig",
        "[mta_sts]\nmode = \"enforce\"\nmax_age = 86400\n",
    );
    let ports = [
        ("imaps", server.imaps_port),
        ("imap", server.imap_port),
        ("pop3s", server.pop3s_port),
        ("pop3", server.pop3_port),
        ("submissions", server.submissions_port),
        ("submission", server.submission_port),
    ]
    .map(|(name, port)| format!("{name}={port}"));
    let mut args = vec![server.http_port.to_string()];
    args.extend(ports);
    let cert = server.dir.join("data/tls/cert.pem");
    args.push(format!("cert={}", cert.display()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = python(CLIENT, &args);
    for line in ["thunderbird ok", "outlook ok", "apple ok", "mta-sts ok"] {
        assert!(out.contains(line), "{out}");
    }
    // Each refusal is in the log, with what was asked.
    let log = server.log();
    assert!(
        log.contains("client settings refused: not one of our domains")
            && log.contains("other.org"),
        "{log}"
    );
    // The mail submitted with those settings arrived (two with Thunderbird's, one each with
    // Outlook's and Apple's).
    wait_for("the submitted mail", || {
        server.messages("bob@example.com").len() == 4
    });

    // `mailserver dns` names what the clients and senders fetch.
    let zone = server.admin_ok(&["dns", "example.com"]);
    for record in [
        "autoconfig.example.com.\t3600\tIN\tCNAME\tmx.example.com.",
        "autodiscover.example.com.\t3600\tIN\tCNAME\tmx.example.com.",
        "_autodiscover._tcp.example.com.\t3600\tIN\tSRV\t0 1 443 mx.example.com.",
        "mta-sts.example.com.\t3600\tIN\tCNAME\tmx.example.com.",
        "_mta-sts.example.com.\t3600\tIN\tTXT\t\"v=STSv1; id=",
        "_smtp._tls.example.com.\t3600\tIN\tTXT\t\"v=TLSRPTv1; rua=mailto:postmaster@example.com\"",
    ] {
        assert!(zone.contains(record), "{record} in\n{zone}");
    }
}

/// A profile signed with an RSA key (as many CA certificates have) checks out too, and
/// `[tls] sign_profiles = false` sends the plain profile.
#[test]
fn profiles_are_signed_with_an_rsa_key_or_not_at_all() {
    let dir = std::env::temp_dir().join(format!("autoconfig-rsa-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=mx.example.com", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let check = r#"
import plistlib, subprocess, sys, tempfile, urllib.request
http, cert, signed = int(sys.argv[1]), sys.argv[2], sys.argv[3] == "yes"
req = urllib.request.Request(f"http://127.0.0.1:{http}/apple/mobileconfig?emailaddress=alice%40example.com")
body = urllib.request.urlopen(req).read()
if signed:
    with tempfile.NamedTemporaryFile() as f:
        f.write(body)
        f.flush()
        out = subprocess.run(["openssl", "cms", "-verify", "-inform", "DER", "-in", f.name,
                              "-CAfile", cert, "-purpose", "any"], capture_output=True)
    assert out.returncode == 0, out.stderr.decode()
    body = out.stdout
print(plistlib.loads(body)["PayloadType"])
"#;
    for sign in [true, false] {
        let server = Server::start(
            "autoconfig-rsa",
            &format!(
                "[tls]\ncert = \"{}\"\nkey = \"{}\"\nsign_profiles = {sign}\n",
                cert.display(),
                key.display()
            ),
        );
        let answer = if sign { "yes" } else { "no" };
        let out = python(
            check,
            &[
                &server.http_port.to_string(),
                cert.to_str().unwrap(),
                answer,
            ],
        );
        assert_eq!(out.trim(), "Configuration", "signed: {sign}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
