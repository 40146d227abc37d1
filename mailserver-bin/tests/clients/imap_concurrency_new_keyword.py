# Client of tests/imap_concurrency.rs (NEW_KEYWORD); runnable alone with the same arguments.
# Two sessions; A sets a keyword the folder never had; both must hear `* FLAGS` naming it
# before any FETCH shows it (RFC 3501 §7.2.6).
import socket, sys, time
port = int(sys.argv[1])
def session():
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    f = s.makefile("rb")
    f.readline()
    return s, f
def command(conn, tag, line):
    s, f = conn
    s.sendall(("%s %s\r\n" % (tag, line)).encode())
    out = []
    while True:
        l = f.readline().decode()
        out.append(l.strip())
        if l.startswith(tag + " "):
            return out
A, B = session(), session()
for c in (A, B):
    command(c, "a", "LOGIN alice@example.com secret")
command(A, "b", "APPEND INBOX {18+}\r\nSubject: k\r\n\r\nbody")
for c in (A, B):
    command(c, "c", "SELECT INBOX")
print("A", command(A, "d", "STORE 1 +FLAGS ($Project)"))
time.sleep(0.2)
print("B", command(B, "e", "NOOP"))
