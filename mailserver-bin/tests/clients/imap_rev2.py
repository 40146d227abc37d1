# Client of tests/imap.rs (REV2); runnable alone with the same arguments.
# RFC 9051: after ENABLE IMAP4rev2, no RECENT or \Recent, SEARCH answers with ESEARCH, and
# mailbox names are UTF-8.
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
