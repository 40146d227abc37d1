# Client of tests/imap.rs (DELIVER); runnable alone with the same arguments.
import smtplib, sys
port = int(sys.argv[1])
s = smtplib.SMTP("127.0.0.1", port)
s.sendmail("bob@example.org", ["alice@example.com"],
    b"From: Bob Example <bob@example.org>\r\nTo: alice@example.com\r\nSubject: first\r\nDate: Tue, 1 Jul 2003 10:52:37 +0200\r\nMessage-ID: <one@example.org>\r\n\r\nhello world\r\n")
s.sendmail("carol@example.org", ["alice@example.com"],
    b"From: \"Carol, C.\" <carol@example.org>\r\nTo: alice@example.com, Team: x@example.net, y@example.net;\r\n"
    b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
    b"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nthe body text\r\n"
    b"--b1\r\nContent-Type: application/octet-stream; name=\"a.bin\"\r\nContent-Disposition: attachment; filename=\"a.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\nAAECAw==\r\n"
    b"--b1--\r\n")
s.sendmail("dave@example.org", ["alice@example.com"], b"Subject: third\r\n\r\nneedle in the body\r\n")
s.quit()
