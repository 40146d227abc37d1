"""Shared by the comparison scripts in benches/ (imported, not run): a client that sends mail
for a remote domain over several connections, and the memory of a server's process tree."""
import os
import smtplib
import socket
import subprocess
import threading
import time


def send_remote(port, auth, connections, per, size, subject="bench"):
    """Sends connections x per messages of about `size` octets to rcpt@remote.example, each
    connection after AUTH PLAIN as sender@bench.example when `auth`. Returns the seconds taken."""
    line = b"x" * 76 + b"\r\n"
    body = (b"Subject: " + subject.encode() + b"\r\nFrom: sender@bench.example\r\n"
            b"To: rcpt@remote.example\r\n\r\n" + line * (size // len(line)))
    errors = []

    def client():
        try:
            s = smtplib.SMTP("127.0.0.1", port)
            if auth:
                s.login("sender@bench.example", "secret")
            for _ in range(per):
                s.sendmail("sender@bench.example", ["rcpt@remote.example"], body)
            s.quit()
        except Exception as e:  # reported after all threads end
            errors.append(e)

    start = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - start


def tree(pid):
    """`pid` and all its descendants."""
    children = {}
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                ppid = int(open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(ppid, []).append(int(p))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def pss_kib(pid):
    """The proportional set size of `pid`'s whole process tree (shared pages counted once)."""
    total = 0
    for p in tree(pid):
        try:
            for line in open(f"/proc/{p}/smaps_rollup"):
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def open_idle(port, user, n, held, tls=False):
    """Opens `n` IMAP connections (over implicit TLS when `tls`) that log in as `user`
    (password "secret"), SELECT INBOX and IDLE; appends each socket to `held`, which keeps
    them open."""
    import ssl
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        if tls:
            s = ctx.wrap_socket(s)
        f = s.makefile("rb")
        f.readline()
        for tag, cmd in ((b"a", f"a LOGIN {user} secret\r\n".encode()),
                         (b"b", b"b SELECT INBOX\r\n"), (b"c", b"c IDLE\r\n")):
            s.sendall(cmd)
            while True:
                line = f.readline()
                if not line:
                    raise RuntimeError(f"{port}: connection closed")
                if line.startswith(tag + b" ") or line.startswith(b"+"):
                    break
        held.append(s)


def cpu_seconds(pid):
    """CPU time (user and system) of `pid`'s whole process tree so far, in seconds."""
    total = 0
    for p in tree(pid):
        try:
            fields = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total / os.sysconf("SC_CLK_TCK")


class Client:
    """Sends a command and reads until its tagged completion; no response parsing beyond
    that, so the client costs both servers the same and little."""
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.buf = b""
        self.n = 0
        self.read_until(b"\r\n")
    def read_until(self, marker):
        while marker not in self.buf:
            chunk = self.s.recv(1 << 20)
            if not chunk:
                raise RuntimeError("connection closed")
            self.buf += chunk
        i = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out
    def command(self, text):
        self.n += 1
        tag = b"t%d" % self.n
        self.s.sendall(tag + b" " + text.encode() + b"\r\n")
        data = b""
        while True:
            # The tagged line starts a line; scan only what is new.
            chunk = self.s.recv(1 << 20)
            if not chunk:
                raise RuntimeError("connection closed")
            data += chunk
            j = data.rfind(b"\r\n" + tag + b" ", max(0, len(data) - len(chunk) - 64))
            if (j >= 0 or data.startswith(tag + b" ")) and data.endswith(b"\r\n"):
                line = data[(j + 2 if j >= 0 else 0):]
                if not line.split(b" ")[1].startswith(b"OK"):
                    raise RuntimeError(f"{text}: {line[:200]!r}")
                return data


def wait_port(port, seconds=20):
    """Waits until something listens on 127.0.0.1:`port`."""
    for _ in range(int(seconds / 0.05)):
        try:
            socket.create_connection(("127.0.0.1", port)).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"port {port} did not open")


def stop(pid):
    """Sends SIGTERM to `pid` and waits until it is gone (a child of ours is reaped)."""
    import signal
    os.kill(pid, signal.SIGTERM)
    while True:
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return
        except ChildProcessError:
            pass
        try:
            os.kill(pid, 0)
        except OSError:
            return
        time.sleep(0.02)


def start_ours(bin_path, config, log, port):
    """Starts our server with `config` (stderr appended to `log`) and waits for `port`."""
    proc = subprocess.Popen([bin_path, "-c", config, "serve"],
                            env={**os.environ, "MAILSERVER_LOG": "warn"},
                            stderr=open(log, "ab"))
    wait_port(port)
    return proc
