# Client of tests/limits.rs (READ_EMPTY); runnable alone with the same arguments.
import imaplib, poplib, sys
M = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
M.login("bob@example.com", "secret")
typ, data = M.select("INBOX")
P = poplib.POP3("127.0.0.1", int(sys.argv[2]))
P.user("carol@example.com")
P.pass_("secret")
print(typ, data[0].decode(), "|", "+OK %d %d" % P.stat())
