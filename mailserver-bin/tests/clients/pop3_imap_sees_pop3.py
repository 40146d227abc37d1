# Client of tests/pop3.rs (IMAP_SEES_POP3); runnable alone with the same arguments.
# An IMAP session open on the INBOX while a POP3 session retrieves one message and deletes
# another: its next NOOP reports both.
import imaplib, poplib, sys, time
imap_port, pop3_port = int(sys.argv[1]), int(sys.argv[2])
M = imaplib.IMAP4("127.0.0.1", imap_port)
M.login("alice@example.com", "secret")
M.select("INBOX")
M.fetch("1:3", "(FLAGS)")
p = poplib.POP3("127.0.0.1", pop3_port, timeout=20)
p.user("alice@example.com"); p.pass_("secret")
p.retr(1); p.dele(2)
p.quit()
time.sleep(0.2)
M.untagged_responses.clear()
M.noop()
for key in ("EXPUNGE", "FETCH"):
    print(key, *[x.decode() for x in M.untagged_responses.get(key, [])])
print("SEARCH", M.search(None, "ALL")[1][0].decode())
