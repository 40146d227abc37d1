# Client of tests/filters.rs: one message to alice on port 25 from 127.0.0.9 (a stranger),
# printing the answer to the end of DATA ("250" or the refusal).
#   filters.py PORT CASE     CASE: clean, gtube (SpamAssassin's test string), virus (the
#                            test's own ClamAV signature)
import email.utils, smtplib, sys

port, case = int(sys.argv[1]), sys.argv[2]
body = {
    "clean": "Lunch on Friday?\r\n",
    "gtube": "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\r\n",
    "virus": "The attachment: MAILWRIGHT-TEST-VIRUS-7f3a9c\r\n",
}[case]
msg = (f"From: bob@outside.test\r\nTo: alice@example.com\r\nSubject: {case}\r\n"
       f"Message-ID: <{case}@outside.test>\r\nDate: {email.utils.formatdate(usegmt=True)}\r\n\r\n{body}")
smtp = smtplib.SMTP("127.0.0.1", port, source_address=("127.0.0.9", 0), timeout=60)
smtp.ehlo("outside.test")
try:
    smtp.sendmail("bob@outside.test", ["alice@example.com"], msg.encode())
    print("250")
except smtplib.SMTPDataError as e:
    print(e.smtp_code, e.smtp_error.decode())
smtp.quit()
