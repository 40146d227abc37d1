# Client of tests/imap.rs (IDLE); runnable alone with the same arguments.
import imaplib, smtplib, sys, time, socket
imap_port, smtp_port = int(sys.argv[1]), int(sys.argv[2])
M = imaplib.IMAP4("127.0.0.1", imap_port)
M.login("alice@example.com", "secret")
M.select("INBOX")
tag = M._new_tag().decode()
M.send(f"{tag} IDLE\r\n".encode())
assert M.readline().startswith(b"+"), "no continuation"
s = smtplib.SMTP("127.0.0.1", smtp_port)
sent = time.monotonic()
s.sendmail("x@example.org", ["alice@example.com"], b"Subject: push\r\n\r\nnew mail\r\n")
acked = time.monotonic()
s.quit()
M.sock.settimeout(5)
line = M.readline()
seen = time.monotonic()
while not line.startswith(b"* 1 EXISTS"):
    line = M.readline()
# Another session flags it: the idling one hears of it too.
N = imaplib.IMAP4("127.0.0.1", imap_port)
N.login("alice@example.com", "secret")
N.select("INBOX")
stored = time.monotonic()
N.store("1", "+FLAGS", "(\\Flagged)")
flag_line = M.readline()
while b"FETCH" not in flag_line:
    flag_line = M.readline()
flagged = time.monotonic()
M.send(b"DONE\r\n")
rest = b""
while not rest.startswith(tag.encode()):
    rest = M.readline()
print(line.decode().strip(), "|", rest.decode().strip(), "|", round(seen - acked, 3), "|", flag_line.decode().strip(), "|", round(flagged - stored, 3))
