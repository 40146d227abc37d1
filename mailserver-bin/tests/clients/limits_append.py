# Client of tests/limits.rs (APPEND); runnable alone with the same arguments.
import imaplib, sys
M = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
M.login("alice@example.com", "secret")
typ, data = M.append("INBOX", None, None, b"Subject: appended\r\n\r\nhello\r\n")
print(typ, data[0].decode())
if typ != "OK":
    sys.exit(0)
M.select("INBOX")
typ, data = M.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
print(b" ".join(d[1] for d in data if isinstance(d, tuple)).decode().replace("\r\n", " "))
