# Client of tests/dovecot.rs (SORTS); runnable alone with the same arguments.
import imaplib, json, sys
M = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
M.login("alice@example.com", "secret")
M.select("INBOX", readonly=True)
out = {}
for key in ["CC", "FROM", "SUBJECT", "REVERSE CC", "TO"]:
    typ, data = M.uid("SORT", "(%s)" % key, "UTF-8", "ALL")
    out[key] = typ + " " + (data[0] or b"").decode()
print(json.dumps(out, sort_keys=True))
