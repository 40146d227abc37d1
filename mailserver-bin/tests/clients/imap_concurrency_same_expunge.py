# Client of tests/imap_concurrency.rs (SAME_EXPUNGE); runnable alone with the same arguments.
# Ten messages to keep and eight to drop; then three sessions at once mark the eight
# `\Deleted` and EXPUNGE them, eight rounds over.
import imaplib, sys, threading
port = int(sys.argv[1])
M = imaplib.IMAP4("127.0.0.1", port)
M.login("alice@example.com", "secret")
keep = b"Subject: keep\r\n\r\n" + b"k" * 10000 + b"\r\n"
for _ in range(10):
    M.append("INBOX", None, None, keep)
for rnd in range(8):
    for _ in range(8):
        M.append("INBOX", None, None, b"Subject: drop\r\n\r\n" + b"d" * 5000 + b"\r\n")
    barrier = threading.Barrier(3)
    def client():
        C = imaplib.IMAP4("127.0.0.1", port)
        C.login("alice@example.com", "secret")
        C.select("INBOX")
        typ, data = C.search(None, "SUBJECT", "drop")
        if data[0]:
            C.store(data[0].decode().replace(" ", ","), "+FLAGS", "(\\Deleted)")
        # All three have the messages \Deleted in view: now all expunge at once.
        barrier.wait()
        C.expunge()
        C.logout()
    threads = [threading.Thread(target=client) for _ in range(3)]
    for t in threads: t.start()
    for t in threads: t.join()
typ, data = M.getquotaroot("INBOX")
print(data[1][0].decode())
