# Client of tests/imap.rs (IDLE_SAME_TICK); runnable alone with the same arguments.
# Two messages appear in new/ within one tick of the directory's clock (the second one's
# arrival leaves new/'s time as the first left it): an IDLE session woken by the first must
# still report the second within a second, not at its next 30-second look.
import imaplib, os, sys, time
imap_port, new_dir = int(sys.argv[1]), sys.argv[2]
M = imaplib.IMAP4("127.0.0.1", imap_port)
M.login("alice@example.com", "secret")
M.select("INBOX")
tag = M._new_tag().decode()
M.send(f"{tag} IDLE\r\n".encode())
assert M.readline().startswith(b"+"), "no continuation"
def drop(k):
    tmp = os.path.join(new_dir, f"..tmp{k}")
    with open(tmp, "wb") as f:
        f.write(b"Subject: same tick %d\r\n\r\nbody\r\n" % k)
    os.rename(tmp, os.path.join(new_dir, f"{int(time.time())}.M{k}P1.host"))
drop(1)
tick = os.stat(new_dir).st_mtime_ns
M.sock.settimeout(5)
line = M.readline()
while not line.startswith(b"* 1 EXISTS"):
    line = M.readline()
drop(2)
os.utime(new_dir, ns=(tick, tick))
start = time.monotonic()
while not line.startswith(b"* 2 EXISTS"):
    line = M.readline()
print(f"{time.monotonic() - start:.3f}")
