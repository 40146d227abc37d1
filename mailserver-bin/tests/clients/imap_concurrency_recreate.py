# Client of tests/imap_concurrency.rs (RECREATE); runnable alone with the same arguments.
# Creates, fills and deletes the same folder three times within a second.
import imaplib, sys
M = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
M.login("alice@example.com", "secret")
for i in range(3):
    print("create", M.create("Work")[0])
    typ, data = M.append("Work", None, None, b"Subject: round %d\r\n\r\nbody\r\n" % i)
    print("append", typ, data[0].decode())
    typ, data = M.status("Work", "(MESSAGES UIDVALIDITY)")
    print("status", typ, data[0].decode())
    print("delete", M.delete("Work")[0])
