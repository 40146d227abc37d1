# Client of tests/dovecot.rs (THREADS); runnable alone with the same arguments.
import imaplib, json, sys
M = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
M.login("alice@example.com", "secret")
M.select("INBOX", readonly=True)
out = {}
for algorithm in ["REFERENCES", "ORDEREDSUBJECT"]:
    out[algorithm] = M.uid("THREAD", algorithm, "UTF-8", "ALL")[1][0].decode()
out["subset"] = M.uid("THREAD", "REFERENCES", "UTF-8", "NOT", "SUBJECT", "lost")[1][0].decode()
print(json.dumps(out, sort_keys=True))
