# Client of tests/imap_concurrency.rs (ESEARCH_MODSEQ); runnable alone with the same arguments.
import imaplib, sys
M = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
M.login("alice@example.com", "secret")
for i in range(3):
    M.append("INBOX", None, None, b"Subject: m%d\r\n\r\nbody\r\n" % i)
M.select("INBOX")
M.store("2", "+FLAGS", "(\\Flagged)")
def esearch(opts):
    typ, data = M._simple_command("UID", "SEARCH", "RETURN", opts, "MODSEQ", "1")
    return M.untagged_responses.pop("ESEARCH")[0].decode()
print(esearch("(MIN MAX)"))
print(esearch("(MIN MAX COUNT)"))
typ, data = M.fetch("1:3", "(UID MODSEQ)")
print(" ".join(d.decode() for d in data))
