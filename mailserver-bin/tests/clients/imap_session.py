# Client of tests/imap.rs (SESSION); runnable alone with the same arguments.
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
