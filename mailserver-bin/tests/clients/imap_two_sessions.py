# Client of tests/imap.rs (TWO_SESSIONS); runnable alone with the same arguments.
# Two sessions on one mailbox: an expunge by one reaches the other only when RFC 9051 §7.5.1
# allows (not during FETCH by sequence number), and flag changes arrive with new sequence
# numbers after it.
import imaplib, json, smtplib, sys, time
imap_port, smtp_port = int(sys.argv[1]), int(sys.argv[2])
s = smtplib.SMTP("127.0.0.1", smtp_port)
for i in range(3):
    s.sendmail("x@example.org", ["alice@example.com"], f"Subject: m{i}\r\n\r\nbody {i}\r\n".encode())
s.quit()
A = imaplib.IMAP4("127.0.0.1", imap_port); A.login("alice@example.com", "secret"); A.select("INBOX")
B = imaplib.IMAP4("127.0.0.1", imap_port); B.login("alice@example.com", "secret"); B.select("INBOX")
B.store("2", "+FLAGS", "(\\Deleted)"); B.expunge()
time.sleep(0.1)
def raw(M, *args):
    M.untagged_responses.clear()
    typ, dat = M._simple_command(*args)
    return [typ, dat[-1].decode(), {k: [x.decode() if isinstance(x, bytes) else str(x) for x in v] for k, v in M.untagged_responses.items()}]
out = {"flags": raw(A, "FETCH", "1:3", "(FLAGS)"), "fetch": raw(A, "FETCH", "1:3", "(BODY.PEEK[TEXT])")}
B.store("2", "+FLAGS", "(\\Flagged)")
time.sleep(0.1)
out["noop"] = raw(A, "NOOP")
out["search"] = raw(A, "SEARCH", "ALL")
print(json.dumps(out))
