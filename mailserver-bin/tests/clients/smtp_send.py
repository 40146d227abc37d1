# Client of tests/smtp.rs (SEND); runnable alone with the same arguments.
import smtplib, ssl, sys
port, starttls, sender, rcpts, path = int(sys.argv[1]), sys.argv[2] == "tls", sys.argv[3], sys.argv[4].split(","), sys.argv[5]
body = open(path, "rb").read()
s = smtplib.SMTP("127.0.0.1", port, local_hostname="client.example.org", timeout=30)
s.ehlo()
if starttls:
    ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
    s.starttls(context=ctx)
    s.ehlo()
opts = ["SMTPUTF8"] if any(ord(c) > 127 for c in sender + "".join(rcpts)) else []
refused = s.sendmail(sender, rcpts, body, mail_options=opts)
print("refused", refused)
s.quit()
