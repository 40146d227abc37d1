# Client of tests/pop3.rs (DELIVER); runnable alone with the same arguments.
import smtplib, sys
port, rcpt, count, tag = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
s = smtplib.SMTP("127.0.0.1", port)
for i in range(count):
    body = "Subject: %s %d\r\n\r\n.line with dot\r\nmessage %d of %s\r\n" % (tag, i, i, tag)
    s.sendmail("sender@example.org", [rcpt], body.encode())
s.quit()
