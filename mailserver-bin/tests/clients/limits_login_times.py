# Client of tests/limits.rs (LOGIN_TIMES); runnable alone with the same arguments.
import socket, sys, time
port = int(sys.argv[1])
def attempt(user):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    f = s.makefile("rb")
    f.readline()
    start = time.perf_counter()
    s.sendall(b"a LOGIN " + user.encode() + b" wrong-password\r\n")
    line = f.readline()
    took = time.perf_counter() - start
    assert line.startswith(b"a NO"), line
    s.close()
    return took
known = min(attempt("alice@example.com") for _ in range(5))
unknown = min(attempt("nobody@example.com") for _ in range(5))
print(known, unknown)
