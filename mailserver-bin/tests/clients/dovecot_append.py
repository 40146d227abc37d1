# Client of tests/dovecot.rs (APPEND); runnable alone with the same arguments.
# Selects alice's INBOX, appends argv[3] messages with subjects "argv[2] <i>" to it, and
# selects it again.
import imaplib, sys
M = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
M.login("alice@example.com", "secret")
assert M.select("INBOX")[0] == "OK"
for i in range(int(sys.argv[3])):
    m = f"Subject: {sys.argv[2]} {i}\r\n\r\nbody\r\n".encode()
    assert M.append("INBOX", None, None, m)[0] == "OK"
assert M.select("INBOX")[0] == "OK"
M.logout()
