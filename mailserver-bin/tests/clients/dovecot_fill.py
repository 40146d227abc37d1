# Client of tests/dovecot.rs (FILL); runnable alone with the same arguments.
# Fills alice's mailbox through an IMAP server: folders (one with a non-ASCII name), messages
# with flags and keywords, and expunged UIDs so the UID sequence has gaps.
import imaplib, sys
M = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
M.login("alice@example.com", "secret")
for name in ["Projects", "&AMQ-rger", "Projects.Q1"]:
    assert M.create(name)[0] == "OK", name
    M.subscribe(name)
for i in range(6):
    M.append("INBOX", None, None, f"Subject: inbox {i}\r\nMessage-ID: <i{i}@x>\r\n\r\nbody {i}\r\n".encode())
for i in range(3):
    M.append("&AMQ-rger", "(\\Seen)", None, f"Subject: other {i}\r\n\r\nx\r\n".encode())
M.select("INBOX")
M.store("1", "+FLAGS", "(\\Seen \\Flagged $Label1)")
M.store("3", "+FLAGS", "(\\Answered Work)")
M.store("2,4", "+FLAGS", "(\\Deleted)")
M.expunge()
M.select("&AMQ-rger")
M.store("2", "+FLAGS", "(\\Deleted)")
M.expunge()
M.logout()
