# Client of tests/imap_concurrency.rs (RECENT_ONCE); runnable alone with the same arguments.
import imaplib, smtplib, sys, time
imap_port, smtp_port = int(sys.argv[1]), int(sys.argv[2])
sessions = []
for _ in range(3):
    M = imaplib.IMAP4("127.0.0.1", imap_port)
    M.login("alice@example.com", "secret")
    M.select("INBOX")
    sessions.append(M)
s = smtplib.SMTP("127.0.0.1", smtp_port)
for i in range(2):
    s.sendmail("x@example.org", ["alice@example.com"], b"Subject: new\r\n\r\nbody\r\n")
s.quit()
time.sleep(0.3)
recent = []
for M in sessions:
    M.untagged_responses.clear()
    M.noop()
    recent.append(int(M.untagged_responses.get("RECENT", [b"0"])[-1]))
    typ, data = M.search(None, "RECENT")
    recent.append(len(data[0].split()))
print(recent)
