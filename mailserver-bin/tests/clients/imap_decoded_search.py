# Client of tests/imap.rs (DECODED_SEARCH); runnable alone with the same arguments.
# SEARCH BODY and TEXT find words in base64 and quoted-printable text parts, in UTF-8 or
# Latin-1.
import imaplib, json, smtplib, sys
imap_port, smtp_port = int(sys.argv[1]), int(sys.argv[2])
s = smtplib.SMTP("127.0.0.1", smtp_port)
s.sendmail("x@example.org", ["alice@example.com"],
    b"Subject: b64\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\nR3LDvMOfZSBhdXMgS8O2bG4=\r\n")
s.sendmail("x@example.org", ["alice@example.com"],
    b"Subject: qp\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nTreffen in K=F6ln am Montag\r\n")
s.sendmail("x@example.org", ["alice@example.com"],
    b"Subject: plain\r\n\r\nnothing here\r\n")
s.quit()
M = imaplib.IMAP4("127.0.0.1", imap_port)
M.login("alice@example.com", "secret")
M.select("INBOX")
out = {}
M.literal = "Köln".encode()
out["koeln"] = M.search("UTF-8", "BODY")[1][0].decode()
out["montag"] = M.search(None, "BODY", "montag")[1][0].decode()
out["text"] = M.search(None, "TEXT", "treffen")[1][0].decode()
out["encoded"] = M.search(None, "BODY", "R3LDvMOf")[1][0].decode()
print(json.dumps(out))
