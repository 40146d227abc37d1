# Client of tests/imap_concurrency.rs (FOUR_FLAGS); runnable alone with the same arguments.
# Four sessions on one INBOX, each setting, clearing and setting a flag of its own on the
# same messages at once; then every message must have all four, and no STORE may fail.
import imaplib, sys, threading
port = int(sys.argv[1])
M = imaplib.IMAP4("127.0.0.1", port)
M.login("alice@example.com", "secret")
for i in range(40):
    M.append("INBOX", None, None, b"Subject: m%d\r\n\r\nbody\r\n" % i)
flags = ["\\Seen", "\\Flagged", "\\Answered", "$Label1"]
errors = []
def client(flag):
    C = imaplib.IMAP4("127.0.0.1", port)
    C.login("alice@example.com", "secret")
    C.select("INBOX")
    for _ in range(5):
        for op in ("+FLAGS.SILENT", "-FLAGS.SILENT", "+FLAGS.SILENT"):
            typ, data = C.store("1:40", op, "(%s)" % flag)
            if typ != "OK":
                errors.append((flag, op, data))
    C.logout()
threads = [threading.Thread(target=client, args=(f,)) for f in flags]
for t in threads: t.start()
for t in threads: t.join()
M.select("INBOX")
typ, data = M.fetch("1:40", "(FLAGS)")
missing = 0
for line in data:
    text = line.decode()
    missing += sum(1 for f in flags if f not in text)
print("errors", len(errors), errors[:3])
print("missing", missing)
