# Client of tests/dovecot.rs (CHARSETS); runnable alone with the same arguments.
# Messages in the charsets mail clients still send: a windows-1252, an ISO-8859-15, a
# KOI8-R and a Shift_JIS body (8bit, quoted-printable and base64), an RFC 2047 KOI8-R
# subject, and a UTF-8 control.
import base64, quopri, smtplib, sys
from email.header import Header
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]))
def send(subject, charset, cte, text):
    body = text.encode(charset)
    if cte == "base64":
        body = base64.encodebytes(body)
    elif cte == "quoted-printable":
        body = quopri.encodestring(body)
    head = (f"Subject: {subject}\r\nFrom: x@example.org\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: text/plain; charset={charset}\r\nContent-Transfer-Encoding: {cte}\r\n")
    s.sendmail("x@example.org", ["alice@example.com"], head.encode() + b"\r\n" + body.replace(b"\n", b"\r\n") + b"\r\n")
send("western", "windows-1252", "8bit", "Viele Grüße aus Köln, 10 € pro Stück\n")
send("euro", "iso-8859-15", "quoted-printable", "Prix: 20 € la bière\n")
send("cyrillic", "koi8-r", "8bit", "Привет, как дела?\n")
send("japanese", "shift_jis", "base64", "日本語のテキストです\n")
send(Header("Отчёт за май", "koi8-r").encode(), "us-ascii", "7bit", "see subject\n")
send("control", "utf-8", "8bit", "nothing to find here\n")
s.quit()
