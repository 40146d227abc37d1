//! The JSON API with bearer tokens made by `mailserver token`: a write token of a global admin
//! adds a domain and a mailbox (which then logs in to IMAP), a read-only token of a domain
//! admin sees only its domain and may not change anything, missing and revoked tokens get 401,
//! and the OpenAPI document describes the routes; the writer then changes and removes what
//! it made (a mailbox's state, quota, password and POP3 policy, a domain's quota and limits,
//! an alias domain, an alias), flushes the queue and bans and lifts a network; the log of
//! changes holds what the writer did, and shows the domain admin nothing of other domains.

#![allow(clippy::unwrap_used)]

mod support;

use support::{Server, python};

const CLIENT: &str = r#"
import imaplib, json, ssl, sys, urllib.error, urllib.request
base, writer, reader, imaps = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])

def call(method, path, token=None, body=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, json.loads(r.read()), r.headers
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read()), e.headers

status, doc, _ = call("GET", "/api/openapi.json")
assert status == 200 and doc["openapi"] == "3.0.3", doc
assert set(doc["paths"]) == {
    "/api/domains", "/api/domains/{domain}", "/api/domains/{domain}/mailboxes",
    "/api/domains/{domain}/mailboxes/{address}", "/api/domains/{domain}/aliases",
    "/api/domains/{domain}/aliases/{address}", "/api/domains/{domain}/alias-domains",
    "/api/domains/{domain}/alias-domains/{alias}", "/api/queue", "/api/queue/flush",
    "/api/queue/{id}/{action}", "/api/bans", "/api/bans/{network}", "/api/log"}, doc["paths"]
status, body, headers = call("GET", "/api/domains")
assert status == 401 and headers["WWW-Authenticate"] == "Bearer", (status, body)
assert call("GET", "/api/domains", writer[:-2] + "00")[0] == 401

status, domains, _ = call("GET", "/api/domains", writer)
assert status == 200 and {d["domain"] for d in domains} >= {"example.com", "example.net"}
status, body, _ = call("POST", "/api/domains", writer, {"domain": "apico.example"})
assert status == 201 and body == {"domain": "apico.example"}, body
status, body, _ = call("POST", "/api/domains/apico.example/mailboxes", writer,
                       {"local": "x", "password": "short"})
assert status == 400 and "8 characters" in body["error"], body
status, body, _ = call("POST", "/api/domains/apico.example/mailboxes", writer,
                       {"local": "x", "password": "Api-pass-123"})
assert status == 201 and body == {"address": "x@apico.example"}, body
status, boxes, _ = call("GET", "/api/domains/apico.example/mailboxes", writer)
assert boxes == [{"address": "x@apico.example", "active": True}], boxes
assert call("GET", "/api/queue", writer)[:2] == (200, [])
status, body, _ = call("POST", "/api/domains/apico.example/aliases", writer,
                       {"local": "info", "goto": ["x@apico.example", "ext@elsewhere.example"]})
assert status == 201 and body["address"] == "info@apico.example", body
status, aliases, _ = call("GET", "/api/domains/apico.example/aliases", writer)
assert {"address": "info@apico.example",
        "goto": ["x@apico.example", "ext@elsewhere.example"]} in aliases, aliases
assert call("POST", "/api/domains/apico.example/aliases", writer, {"local": "y"})[0] == 400
status, log, _ = call("GET", "/api/log", writer)
assert status == 200 and [c["action"] for c in log][:3] == [
    "api: alias added", "api: mailbox added", "api: domain added"], log
# The CLI's changes before (newest first): as PostfixAdmin's CLI, who is "CLI (<login>)".
assert [(c["action"], c["domain"]) for c in log[3:8]] == [
    ("user add", "example.net"), ("token add", ""), ("token add", ""), ("admin add", ""),
    ("admin add", "")], log
assert ("domain add", "example.com") in [(c["action"], c["domain"]) for c in log], log
assert all(c["who"].startswith("CLI (") for c in log[3:]), log
assert log[1]["who"] == "boss@example.com (127.0.0.1)" and log[1]["domain"] == "apico.example" \
    and log[1]["data"] == "mailbox x@apico.example added", log
print("writer ok")

status, domains, _ = call("GET", "/api/domains", reader)
assert [d["domain"] for d in domains] == ["example.net"], domains
assert call("GET", "/api/domains/example.com/mailboxes", reader)[0] == 404
assert call("GET", "/api/domains/example.net/aliases", reader)[0] == 200
assert call("POST", "/api/domains/example.net/aliases", reader,
            {"local": "z", "goto": ["a@example.net"]})[0] == 403
status, body, _ = call("POST", "/api/domains/example.net/mailboxes", reader,
                       {"local": "y", "password": "Api-pass-123"})
assert status == 403 and "only read" in body["error"], body
assert call("GET", "/api/queue", reader)[0] == 403
status, log, _ = call("GET", "/api/log", reader)
assert status == 200 and [(c["action"], c["domain"]) for c in log] == [
    ("user add", "example.net"), ("domain add", "example.net")], "its domain's: " + repr(log)
assert log[0]["data"].endswith("user add cli@example.net") and "secret" not in log[0]["data"], log
print("reader ok")

ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
c = imaplib.IMAP4_SSL("127.0.0.1", imaps, ssl_context=ctx)
c.login("x@apico.example", "Api-pass-123"); c.logout()
print("mailbox logs in")

# Changes and removals, as the console makes them.
box = "/api/domains/apico.example/mailboxes/x@apico.example"
status, body, _ = call("PATCH", box, writer, {"quota": "1G", "pop3_policy": "keep", "active": False})
assert status == 200 and body["done"] == [
    "x@apico.example active: false", "x@apico.example quota: 1073741824 octets",
    "x@apico.example POP3 policy: keep"], body
assert call("PATCH", box, writer, {"pop3_policy": "purge"})[0] == 400
assert call("PATCH", box, writer, {})[0] == 400
assert call("PATCH", box, reader, {"active": True})[0] == 403
assert call("PATCH", "/api/domains/example.net/mailboxes/cli@example.net", reader,
            {"active": False})[0] == 403
assert call("PATCH", "/api/domains/apico.example/mailboxes/x@other.example", writer,
            {"active": True})[0] == 404
status, body, _ = call("PATCH", box, writer, {"active": True, "password": "Api-pass-456"})
assert status == 200, body
status, body, _ = call("PATCH", "/api/domains/apico.example", writer,
                       {"quota": "10G", "limits": {"mailboxes": 5, "aliases": -1}})
assert status == 200 and body["done"][1].startswith("limits: 5 mailboxes, -1 aliases"), body
assert call("PATCH", "/api/domains/apico.example", writer, {"limits": {"mailboxes": -2}})[0] == 400
assert call("PATCH", "/api/domains/example.net", reader, {"active": False})[0] == 403
status, body, _ = call("POST", "/api/domains/apico.example/alias-domains", writer,
                       {"alias_domain": "apico.test"})
assert status == 201 and body == {"alias_domain": "apico.test"}, body
status, listed, _ = call("GET", "/api/domains/apico.example/alias-domains", writer)
assert listed == [{"alias_domain": "apico.test", "active": True}], listed
assert call("DELETE", "/api/domains/example.com/alias-domains/apico.test", writer)[0] == 404
assert call("DELETE", "/api/domains/apico.example/alias-domains/apico.test", writer)[0] == 200
assert call("DELETE", "/api/domains/apico.example/aliases/info@apico.example", writer)[0] == 200
assert call("DELETE", "/api/domains/apico.example/aliases/info@apico.example", writer)[0] == 400
# The queue and the bans.
assert call("POST", "/api/queue/flush", writer)[:2] == (200, {"due": 0})
assert call("POST", "/api/queue/nosuchid/retry", writer)[0] == 404
assert call("POST", "/api/queue/nosuchid/explode", writer)[0] == 404
assert call("POST", "/api/queue/flush", reader)[0] == 403
status, body, _ = call("POST", "/api/bans", writer,
                       {"network": "192.0.2.9/24", "seconds": 600, "reason": "api test"})
assert status == 201 and body == {"network": "192.0.2.0/24", "seconds": 600}, body
assert call("POST", "/api/bans", writer, {"network": "nowhere"})[0] == 400
status, bans, _ = call("GET", "/api/bans", writer)
assert [(b["network"], b["reason"]) for b in bans] == [("192.0.2.0/24", "api test")], bans
assert call("GET", "/api/bans", reader)[0] == 403
assert call("DELETE", "/api/bans/192.0.2.0%2F24", writer)[:2] == (200, {"lifted": ["192.0.2.0/24"]})
assert call("DELETE", "/api/bans/192.0.2.0%2F24", writer)[0] == 404
# Removals: the mailbox (its mail stays), then the domain, empty now.
status, body, _ = call("DELETE", box, writer)
assert status == 200 and "its mail is kept in" in body["done"][0], body
assert call("DELETE", box, writer)[0] == 404
assert call("DELETE", "/api/domains/example.net", reader)[0] == 403
status, body, _ = call("DELETE", "/api/domains/apico.example", writer)
assert status == 200 and body["done"] == ["domain apico.example removed"], body
status, log, _ = call("GET", "/api/log", writer)
actions = [c["action"] for c in log]
assert actions[:3] == ["api: domain removed", "api: mailbox removed", "ban lifted"], actions
for action in ("api: mailbox changed", "api: domain changed", "api: alias domain added",
               "api: alias removed", "queue flush", "ban added"):
    assert action in actions, actions
print("changes ok")
"#;

#[test]
fn tokens_act_for_their_admin() {
    let server = Server::start("api", "");
    server.admin_with_stdin(
        &[
            "admin",
            "add",
            "boss@example.com",
            "--global",
            "--password-stdin",
        ],
        "Boss-pass-42\n",
    );
    server.admin_with_stdin(
        &[
            "admin",
            "add",
            "postmaster@example.net",
            "--domain",
            "example.net",
            "--password-stdin",
        ],
        "Net-pass-42\n",
    );
    let writer = server.admin_ok(&[
        "token",
        "add",
        "boss@example.com",
        "--name",
        "provisioning",
        "--write",
    ]);
    let reader = server.admin_ok(&["token", "add", "postmaster@example.net"]);
    let (writer, reader) = (writer.trim(), reader.trim());
    // A change made with the CLI, in the domain admin's domain.
    server.admin_ok(&["user", "add", "cli@example.net"]);
    assert!(
        writer.starts_with("mw_") && reader.starts_with("mw_"),
        "{writer} {reader}"
    );
    let refused = server.admin(&["token", "add", "nobody@example.com"], "");
    assert!(!refused.status.success());

    let base = format!("http://127.0.0.1:{}", server.http_port);
    let out = python(
        CLIENT,
        &[&base, writer, reader, &server.imaps_port.to_string()],
    );
    for line in ["writer ok", "reader ok", "mailbox logs in", "changes ok"] {
        assert!(out.contains(line), "{out}");
    }
    let log = server.log();
    assert!(
        log.contains("api: domain added who=boss@example.com from=127.0.0.1 domain=apico.example"),
        "{log}"
    );

    // Listed without secrets; a revoked token no longer works.
    let listed = server.admin_ok(&["token", "list"]);
    let id = writer.split('_').nth(1).unwrap();
    assert!(
        listed.contains(id) && listed.contains("read, write") && !listed.contains(writer),
        "{listed}"
    );
    server.admin_ok(&["token", "remove", id]);
    let (status, _) = {
        let out = python(
            "import sys, urllib.request, urllib.error\n\
             req = urllib.request.Request(sys.argv[1] + '/api/domains', headers={'Authorization': 'Bearer ' + sys.argv[2]})\n\
             try:\n    urllib.request.urlopen(req); print(200)\n\
             except urllib.error.HTTPError as e:\n    print(e.code)\n",
            &[&base, writer],
        );
        (out.trim().to_owned(), ())
    };
    assert_eq!(status, "401");
}
