# Client of tests/limits.rs (LOGIN_FROM); runnable alone with the same arguments.
# Logs in over IMAP from `source` (a loopback address of its own) and says how it went.
import socket, sys
source, port = sys.argv[1], int(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))
f = s.makefile("rb")
greeting = f.readline().decode()
s.sendall(b"a LOGIN alice@example.com secret\r\n")
print(greeting.strip(), "|", f.readline().decode().strip())
