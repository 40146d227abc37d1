# Client of tests/dovecot.rs (UIDS); runnable alone with the same arguments.
# The INBOX's UIDNEXT and each UID's subject.
import imaplib, re, sys
M = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
M.login("alice@example.com", "secret")
M.select("INBOX", readonly=True)
print(M.status("INBOX", "(UIDNEXT)")[1][0].decode().split("(")[1])
typ, data = M.uid("FETCH", "1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
for item in data:
    if isinstance(item, tuple):
        uid = re.search(rb"UID (\d+)", item[0]).group(1).decode()
        print(uid, item[1].decode().strip())
M.logout()
