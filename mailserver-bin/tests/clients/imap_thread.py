# Client of tests/imap.rs (THREAD); runnable alone with the same arguments.
import imaplib, smtplib, sys, json
imap_port, smtp_port = int(sys.argv[1]), int(sys.argv[2])
s = smtplib.SMTP("127.0.0.1", smtp_port)
for subject, date in [("plan", "2020"), ("Re: plan", "2021"), ("other", "2019"), ("Fwd: [team] plan (fwd)", "2022")]:
    s.sendmail("x@example.org", ["alice@example.com"],
        f"Subject: {subject}\r\nDate: Wed, 1 Jan {date} 10:00:00 +0000\r\n\r\nbody\r\n".encode())
s.quit()
M = imaplib.IMAP4("127.0.0.1", imap_port)
M.login("alice@example.com", "secret")
M.select("INBOX")
out = {"ordered": M.thread("ORDEREDSUBJECT", "UTF-8", "ALL")[1][0].decode()}
out["uid"] = M.uid("THREAD", "ORDEREDSUBJECT", "UTF-8", "SUBJECT", "plan")[1][0].decode()
try:
    M.thread("X-UNKNOWN", "UTF-8", "ALL")
    out["unknown"] = "OK"
except imaplib.IMAP4.error as e:
    out["unknown"] = str(e)
print(json.dumps(out))
