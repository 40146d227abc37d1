# Client of tests/limits.rs (LOGINS); runnable alone with the same arguments.
import socket, sys
port, count, source = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
held, answers = [], []
for i in range(count):
    s = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))
    f = s.makefile("rb")
    f.readline()
    s.sendall(b"a LOGIN alice@example.com secret\r\n")
    line = f.readline()
    while line.startswith(b"*"):
        line = f.readline()
    answers.append(line.decode().strip())
    held.append((s, f))
print("\n".join(answers))
