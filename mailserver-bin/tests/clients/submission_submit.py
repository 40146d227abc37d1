# Client of tests/submission.rs (SUBMIT); runnable alone with the same arguments.
# Sends with smtplib over 587 + STARTTLS as alice; prints the refused recipients.
import smtplib, ssl, sys
port, sender, rcpts, subject = int(sys.argv[1]), sys.argv[2], sys.argv[3].split(","), sys.argv[4]
mail_options = sys.argv[5].split() if len(sys.argv) > 5 else []
rcpt_options = sys.argv[6].split() if len(sys.argv) > 6 else []
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP("127.0.0.1", port, timeout=30)
s.ehlo("laptop.home.example")
s.starttls(context=ctx)
s.ehlo("laptop.home.example")
s.login("alice@example.com", "secret")
msg = "From: Alice <alice@example.com>\r\nTo: someone\r\nSubject: %s\r\n\r\nHello.\r\n.leading dot\r\n" % subject
print(s.sendmail(sender, rcpts, msg.encode(), mail_options, rcpt_options))
s.quit()
