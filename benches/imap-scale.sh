#!/usr/bin/env bash
# IMAP writes as a mailbox grows: APPEND, STORE and the first SELECT after a restart on INBOXes
# of 1,000, 10,000 and 100,000 messages, our server against Dovecot serving a copy of the same
# Maildirs, in the same run.
#
# 1. One user per size, its INBOX written straight into Maildir cur/ (small realistic
#    messages, a third \Seen). Each server gets a copy; each reads every INBOX once (Dovecot
#    builds its index, we write dovecot-uidlist), and everything is written back (sync)
#    before anything is timed.
# 2. ROUNDS rounds, each alternating ours / Dovecot on every size (the machine is noisy; the
#    range over the rounds is printed):
#    - APPEND: one session appends OPS messages of 1 KB, each followed by a NOOP (so work a
#      server defers to the next command is counted). Per message: wall time, and the CPU
#      time of the server's whole process tree (Dovecot: master, login and imap processes).
#    - STORE: OPS times `STORE n +FLAGS (\Flagged)` on a random message, then a NOOP.
#    - First SELECT after a restart: the server is stopped and started again (page cache
#      warm for both), a client logs in, and SELECT INBOX is timed; best of RESTARTS.
# Ratio = Dovecot's figure / ours (above 1: we are faster).
#
# Needs root (Dovecot runs as a private instance under $WORK) and dovecot-imapd (installed
# when missing).
# Usage: benches/imap-scale.sh  (env: SIZES="1000 10000 100000" OPS=100 ROUNDS=2 RESTARTS=5
#        WORK=/tmp/imap-scale)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-/tmp/imap-scale}
SIZES=${SIZES:-"1000 10000 100000"}
OPS=${OPS:-100}
ROUNDS=${ROUNDS:-2}
RESTARTS=${RESTARTS:-5}
OUR_IMAP=${OUR_IMAP:-14153}
DOVECOT_IMAP=${DOVECOT_IMAP:-14154}

. "$ROOT/benches/common.sh"
need_dovecot

cat > "$WORK/ours.toml" <<CONF
hostname = "bench.example"
run_as_root = true
data_dir = "$WORK/ours"
[imap]
allow_plaintext_auth = true
[listen]
smtp = []
imap = ["127.0.0.1:$OUR_IMAP"]
CONF
USERS=$(for n in $SIZES; do printf 'm%s ' "$n"; done)
# shellcheck disable=SC2086
add_bench_users $USERS
MAILROOT="$WORK/ours/mail/bench.example"

echo "writing INBOXes of $SIZES messages..."
# shellcheck disable=SC2086
python3 - "$MAILROOT" $SIZES <<'PY'
import os, random, sys
root, sizes = sys.argv[1], map(int, sys.argv[2:])
rng = random.Random(7)
words = "alpha beta gamma delta report meeting budget project update review".split()
for count in sizes:
    box = os.path.join(root, f"m{count}")
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(box, sub), exist_ok=True)
    for i in range(count):
        subject = " ".join(rng.choice(words) for _ in range(5))
        body = "\n".join(" ".join(rng.choice(words) for _ in range(10)) for _ in range(12))
        msg = (f"From: User {i % 300} <user{i % 300}@example.org>\nTo: <m{count}@bench.example>\n"
               f"Subject: {subject}\nDate: Mon, {1 + i % 28} Jan 2024 10:{i % 60:02}:00 +0000\n"
               f"Message-ID: <{i}.{count}@example.org>\n\n{body}\n").encode()
        vsize = len(msg) + msg.count(b"\n")
        flags = "S" if i % 3 == 0 else ""
        name = f"{1700000000 + i}.M{i}P1.bench,S={len(msg)},W={vsize}:2,{flags}"
        with open(os.path.join(box, "cur", name), "wb") as f:
            f.write(msg)
PY

# shellcheck disable=SC2086
CLIENTS=10 dovecot_imap_conf $USERS
for u in $USERS; do cp -a "$MAILROOT/$u" "$WORK/dovecot/mail/"; done
chown -R nobody:nogroup "$WORK/dovecot/mail"
dovecot -c "$WORK/dovecot/dovecot.conf"
serve_ours
wait_port "$OUR_IMAP"; wait_port "$DOVECOT_IMAP"

# shellcheck disable=SC2086
python3 - "$OUR_IMAP" "$DOVECOT_IMAP" "$OUR_PID" "$BIN" "$WORK" "$ROOT/benches" \
    "$OPS" "$ROUNDS" "$RESTARTS" $SIZES <<'PY'
import os, random, socket, subprocess, sys, time
ours, theirs, our_pid = map(int, sys.argv[1:4])
bin_path, work = sys.argv[4:6]
sys.path.insert(0, sys.argv[6])
ops, rounds, restarts = map(int, sys.argv[7:10])
sizes = list(map(int, sys.argv[10:]))
from benchlib import Client, cpu_seconds, start_ours, stop, wait_port

dovecot_conf = f"{work}/dovecot/dovecot.conf"

def dovecot_pid():
    return int(open(f"{work}/dovecot/run/master.pid").read())

class Ours:
    name, port = "mailserver", ours
    pid = our_pid
    proc = None
    def user(self, n): return f"m{n}@bench.example"
    def restart(self):
        stop(self.pid)
        self.proc = start_ours(bin_path, f"{work}/ours.toml", f"{work}/ours.log", self.port)
        self.pid = self.proc.pid
    def stop(self):
        stop(self.pid)

class Dovecot:
    name, port = "dovecot", theirs
    def user(self, n): return f"m{n}"
    @property
    def pid(self): return dovecot_pid()
    def restart(self):
        subprocess.run(["dovecot", "-c", dovecot_conf, "stop"], check=True)
        for _ in range(400):
            try:
                socket.create_connection(("127.0.0.1", self.port)).close()
                time.sleep(0.05)
            except OSError:
                break
        subprocess.run(["dovecot", "-c", dovecot_conf], check=True)
        wait_port(self.port)
    def stop(self): pass

servers = [Ours(), Dovecot()]
MSG = "From: a@example.org\r\nTo: b@bench.example\r\nSubject: appended\r\n\r\n" + "x" * 70 + "\r\n"
MSG = MSG + ("y" * 78 + "\r\n") * 12

def session(server, n):
    c = Client(server.port)
    c.command(f"LOGIN {server.user(n)} secret")
    c.command("SELECT INBOX")
    return c

def timed(server, n, command):
    """OPS commands (each followed by a NOOP) in one session: wall and server CPU per op."""
    c = session(server, n)
    rng = random.Random(n)
    cpu, start = cpu_seconds(server.pid), time.perf_counter()
    for k in range(ops):
        c.command(command(rng, k))
        c.command("NOOP")
    wall, cpu = time.perf_counter() - start, cpu_seconds(server.pid) - cpu
    c.command("LOGOUT")
    return wall / ops, cpu / ops

def first_select(server, n):
    best = 9e9
    for _ in range(restarts):
        server.restart()
        c = Client(server.port)
        c.command(f"LOGIN {server.user(n)} secret")
        start = time.perf_counter()
        data = c.command("SELECT INBOX")
        best = min(best, time.perf_counter() - start)
        assert b"EXISTS" in data
        c.command("LOGOUT")
    return best

for server in servers:
    for n in sizes:
        c = session(server, n)
        c.command("FETCH 1:* (FLAGS)")
        c.command("LOGOUT")
# The INBOXes just written (and each server's first reading of them) are still being written
# back: a round timed meanwhile waits behind that (one APPEND round at 1k took 1.98 ms against
# 0.73 in the others). Both start with the disk quiet.
os.sync()

APPEND = lambda rng, k: f"APPEND INBOX (\\Seen) {{{len(MSG)}+}}\r\n{MSG}"
STORE = lambda n: lambda rng, k: f"STORE {rng.randrange(1, n + 1)} +FLAGS (\\Flagged)"
results = {}  # (op, size, server) -> list of (wall, cpu)
for r in range(rounds):
    for n in sizes:
        for server in servers:
            key = lambda op: (op, n, server.name)
            results.setdefault(key("APPEND"), []).append(timed(server, n, APPEND))
            results.setdefault(key("STORE"), []).append(timed(server, n, STORE(n)))
            results.setdefault(key("SELECT"), []).append((first_select(server, n), None))
servers[0].stop()

def span(values, scale=1000):
    if not values:
        return f"{'-':15}"
    lo, hi = min(values) * scale, max(values) * scale
    return f"{lo:7.2f}-{hi:<7.2f}" if rounds > 1 else f"{lo:7.2f}        "

print(f"\nIMAP writes by INBOX size: ms per operation, range over {rounds} rounds "
      f"(APPEND, STORE: {ops} per round, each with a NOOP; SELECT: best of {restarts} restarts)")
print(f"{'operation':10} {'size':>7}  {'ours wall':>15} {'dovecot wall':>15} {'ratio':>11}"
      f"  {'ours CPU':>15} {'dovecot CPU':>15} {'ratio':>11}")
for op in ("APPEND", "STORE", "SELECT"):
    for n in sizes:
        o, d = results[(op, n, "mailserver")], results[(op, n, "dovecot")]
        ratio = lambda i: [b[i] / a[i] for a, b in zip(o, d) if a[i]]
        line = f"{op:10} {n:7}  {span([x[0] for x in o])} {span([x[0] for x in d])} " \
               f"{span(ratio(0), 1)}"
        if op != "SELECT":
            line += f"  {span([x[1] for x in o])} {span([x[1] for x in d])} {span(ratio(1), 1)}"
        print(line)
print("ratio = dovecot / ours, per round (above 1: we are faster); SELECT is wall time after a restart")
PY
