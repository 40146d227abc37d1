#!/usr/bin/env bash
# IMAP on a large mailbox: our server against Dovecot's IMAP serving a copy of the same
# Maildir on another loopback port, in the same run, with the same minimal client.
#
# 1. A 100,000-message INBOX (COUNT) is written straight into Maildir cur/ (realistic headers,
#    ~2 KB bodies, a third of the messages \Seen, 1% with "invoice" in the subject, 0.1% with
#    "needle" in the body). Each server gets a copy.
# 2. For each server: one first pass (Dovecot builds its index, we write dovecot-uidlist),
#    then RUNS passes; each pass logs in and times SELECT INBOX, UID FETCH 1:* (FLAGS),
#    FETCH 1:* (ENVELOPE), FETCH 1:5000 (... BODYSTRUCTURE) (a webmail message list with
#    attachment icons), Roundcube's message list fetch on 1:5000 (INTERNALDATE and the header
#    fields it asks for), FETCH 1:* (INTERNALDATE), UID SEARCH SUBJECT "invoice",
#    UID SEARCH BODY "needle", and UID SORT by date and by subject, and UID THREAD REFERENCES.
#    Then it downloads a 30 MB message in 64 KiB chunks as Thunderbird does, stored with CRLF
#    and with LF line ends; in the fresh process of step 3, ours fetches both whole and its
#    peak memory (VmHWM) is printed before and after. Then new mail: a file appears in the
#    INBOX's new/ and the next NOOPs are timed. Last, the client's own changes: STORE of one
#    flag, APPEND and COPY of one message, each with the NOOP after it.
#    The best of the RUNS passes is reported, with the first pass beside it.
# 3. Memory: IDLE_CONNS (1,000) connections log in as a user with a 10-message INBOX, SELECT
#    it and IDLE; the proportional set size (PSS, so shared libraries count once) of the whole
#    server (Dovecot: master and every child) is read before and after. Ours is restarted
#    first, so memory freed by the passes above does not hide what connections cost.
#
# Needs root (Dovecot is started as a private instance under $WORK) and dovecot-imapd
# (installed when missing).
# Usage: benches/imap-bench.sh  (env: COUNT=100000 RUNS=3 IDLE_CONNS=1000 WORK=/tmp/imap-bench)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-/tmp/imap-bench}
COUNT=${COUNT:-100000}
RUNS=${RUNS:-3}
IDLE_CONNS=${IDLE_CONNS:-1000}
OUR_IMAP=${OUR_IMAP:-14143}
DOVECOT_IMAP=${DOVECOT_IMAP:-14144}

. "$ROOT/benches/common.sh"
need_dovecot
ulimit -n "$(ulimit -Hn)"  # each server and the client hold IDLE_CONNS sockets


cat > "$WORK/ours.toml" <<CONF
hostname = "bench.example"
run_as_root = true
data_dir = "$WORK/ours"
[limits]
max_connections = $((IDLE_CONNS + 100))
[imap]
allow_plaintext_auth = true
[listen]
smtp = []
imap = ["127.0.0.1:$OUR_IMAP"]
CONF
add_bench_users big idle
MAILROOT="$WORK/ours/mail/bench.example"

echo "writing $COUNT messages..."
python3 - "$MAILROOT/big" "$COUNT" "$MAILROOT/idle" <<'PY'
import os, random, sys
root, count, idle = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rng = random.Random(42)
words = ("alpha beta gamma delta report quarterly meeting budget project update review draft "
         "schedule customer release network server storage backup holiday lunch").split()
senders = [f"User {i} <user{i}@example{i % 17}.org>" for i in range(500)]
def write(dirname, i, flags):
    subject = " ".join(rng.choice(words) for _ in range(5))
    if i % 100 == 7:
        subject = "invoice " + subject
    body_lines = [" ".join(rng.choice(words) for _ in range(10)) for _ in range(30)]
    if i % 1000 == 3:
        body_lines[15] += " needle"
    msg = (f"Return-Path: <bounce{i}@example.org>\n"
           f"From: {rng.choice(senders)}\nTo: Big <big@bench.example>\n"
           f"Subject: {subject}\nDate: Mon, {1 + i % 28} Jan 2024 10:{i % 60:02}:00 +0000\n"
           f"Message-ID: <{i}.bench@example.org>\nMIME-Version: 1.0\n"
           + (f"References: <{i - 1}.bench@example.org>\n" if i % 5 == 1 else "") +
           f"Content-Type: text/plain; charset=us-ascii\n\n" + "\n".join(body_lines) + "\n").encode()
    vsize = len(msg) + msg.count(b"\n")
    name = f"{1700000000 + i}.M{i}P1.bench,S={len(msg)},W={vsize}:2,{flags}"
    path = os.path.join(dirname, "cur", name)
    with open(path, "wb") as f:
        f.write(msg)
    t = 1700000000 + i
    os.utime(path, (t, t))
for d in (root, idle):
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
for i in range(count):
    write(root, i, "S" if i % 3 == 0 else "")
for i in range(10):
    write(idle, i, "S")
# Folders with one 30 MB message (a base64 attachment): "Large" with CRLF line ends as SMTP
# stores it, "LargeLF" with LF as Dovecot's LDA does.
blob = bytes(rng.getrandbits(8) for _ in range(1 << 16)) * 344
import base64
b64 = base64.encodebytes(blob).replace(b"\n", b"\r\n")
msg = (b"From: a@example.org\r\nTo: big@bench.example\r\nSubject: large\r\nMIME-Version: 1.0\r\n"
       b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee\r\n"
       b"--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
       + b64 + b"--b--\r\n")
for folder, data in ((".Large", msg), (".LargeLF", msg.replace(b"\r\n", b"\n"))):
    large = os.path.join(root, folder)
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(large, sub), exist_ok=True)
    open(os.path.join(large, "maildirfolder"), "wb").close()
    with open(os.path.join(large, "cur", f"1700000000.M0P1.bench,S={len(data)},W={len(msg)}:2,S"), "wb") as f:
        f.write(data)
PY

# Dovecot serves a copy of the same Maildirs and checks the same Argon2id password hash.
CLIENTS=$IDLE_CONNS dovecot_imap_conf big idle
cp -a "$MAILROOT/big" "$MAILROOT/idle" "$WORK/dovecot/mail/"
chown -R nobody:nogroup "$WORK/dovecot/mail"
dovecot -c "$WORK/dovecot/dovecot.conf"
serve_ours
wait_port "$OUR_IMAP"; wait_port "$DOVECOT_IMAP"
DOVECOT_PID=$(cat "$WORK/dovecot/run/master.pid")

python3 - "$OUR_IMAP" "$DOVECOT_IMAP" "$RUNS" "$COUNT" "$IDLE_CONNS" "$OUR_PID" "$DOVECOT_PID" "$BIN" "$WORK" "$ROOT/benches" "$MAILROOT/big/new" "$WORK/dovecot/mail/big/new" <<'PY'
import os, re, sys, time
ours, theirs, runs, count, idle_conns, our_pid, dove_pid = map(int, sys.argv[1:8])
bin_path, work = sys.argv[8:10]
sys.path.insert(0, sys.argv[10])
our_new, dovecot_new = sys.argv[11:13]
from benchlib import Client, cpu_seconds, open_idle, pss_kib, start_ours, stop, tree

PAGE = min(5000, count)  # the message-list fetches (all of a small COUNT)
OPS = [
    ("SELECT INBOX", "SELECT INBOX"),
    ("UID FETCH 1:* (FLAGS)", "UID FETCH 1:* (FLAGS)"),
    ("FETCH 1:* (ENVELOPE)", "FETCH 1:* (ENVELOPE)"),
    ("FETCH 1:5000 BODYSTRUCTURE", f"FETCH 1:{PAGE} (UID RFC822.SIZE FLAGS BODYSTRUCTURE)"),
    ("FETCH 1:5000 webmail list", f"UID FETCH 1:{PAGE} (UID RFC822.SIZE FLAGS INTERNALDATE BODY.PEEK"
     "[HEADER.FIELDS (DATE FROM TO SUBJECT CONTENT-TYPE CC REPLY-TO LIST-POST "
     "DISPOSITION-NOTIFICATION-TO X-PRIORITY)])"),
    ("FETCH 1:* (INTERNALDATE)", "FETCH 1:* (INTERNALDATE)"),
    ("UID SEARCH SUBJECT invoice", 'UID SEARCH SUBJECT "invoice"'),
    ("UID SEARCH BODY needle", 'UID SEARCH BODY "needle"'),
    ("UID SORT (REVERSE DATE)", "UID SORT (REVERSE DATE) UTF-8 ALL"),
    ("UID SORT (SUBJECT)", "UID SORT (SUBJECT) UTF-8 ALL"),
    ("UID THREAD REFERENCES", "UID THREAD REFERENCES UTF-8 ALL"),
]

LARGE = {"Large": "30 MB in 64 KiB chunks (CRLF)", "LargeLF": "30 MB in 64 KiB chunks (LF)"}

def one_pass(port, user):
    c = Client(port)
    c.command(f"LOGIN {user} secret")
    times, answers = {}, {}
    for name, cmd in OPS:
        start = time.perf_counter()
        data = c.command(cmd)
        times[name] = time.perf_counter() - start
        answers[name] = data
    # Thunderbird's download of a large message: BODY.PEEK[]<offset.65536> until a short one.
    for folder, name in LARGE.items():
        c.command(f"SELECT {folder}")
        start, offset, got = time.perf_counter(), 0, 0
        while True:
            data = c.command(f"UID FETCH 1 (UID RFC822.SIZE BODY.PEEK[]<{offset}.65536>)")
            n = int(re.search(rb"BODY\[\]<\d+> \{(\d+)\}", data).group(1))
            got += n
            offset += 65536
            if n < 65536:
                break
        times[name] = time.perf_counter() - start
        assert got > 30_000_000, (port, got)
    c.s.close()
    exists = int(re.search(rb"\* (\d+) EXISTS", answers["SELECT INBOX"]).group(1))
    assert exists == count, (port, exists)
    fetched = answers["UID FETCH 1:* (FLAGS)"].count(b" FETCH (")
    assert fetched == count, (port, fetched, answers["UID FETCH 1:* (FLAGS)"][:300])
    hits = lambda d: len(re.search(rb"\* SEARCH([ 0-9]*)", d).group(1).split())
    order = lambda d: re.search(rb"\* SORT([ 0-9]*)", d).group(1).split()
    sorts = [order(answers[name]) for name, _ in OPS if name.startswith("UID SORT")]
    assert all(len(s) == count for s in sorts), (port, [len(s) for s in sorts])
    sorts.append(re.search(rb"\* THREAD[^\r]*", answers["UID THREAD REFERENCES"]).group(0))
    # The untagged part of the answer, byte for byte.
    untagged = lambda d: d[:d.rfind(b"\r\n", 0, len(d) - 2) + 2]
    sorts += [untagged(answers[name]) for name in ("FETCH 1:5000 webmail list", "FETCH 1:* (INTERNALDATE)")]
    return times, (hits(answers["UID SEARCH SUBJECT invoice"]), hits(answers["UID SEARCH BODY needle"])), sorts

results = {}
for name, port, user in (("mailserver", ours, "big@bench.example"), ("dovecot", theirs, "big")):
    # Answers are compared from the last pass: in the first, Dovecot flags every message
    # \Recent (new to its index) and we do not (they were in cur/ already).
    first, found, sorts = one_pass(port, user)
    best = {}
    for _ in range(runs):
        t, f, sorts = one_pass(port, user)
        assert f == found, (name, f, found)
        for k, v in t.items():
            best[k] = min(best.get(k, v), v)
    results[name] = (first, best, found, sorts)
assert results["mailserver"][2] == results["dovecot"][2], "the servers found different messages"

print(f"\nIMAP on a {count}-message INBOX (seconds; best of {runs} runs after a first pass; lower is better)")
print(f"{'operation':30} {'mailserver':>11} {'dovecot':>11} {'ratio':>7}   {'first: ours':>12} {'dovecot':>9}")
for name in [n for n, _ in OPS] + list(LARGE.values()):
    o, d = results["mailserver"][1][name], results["dovecot"][1][name]
    fo, fd = results["mailserver"][0][name], results["dovecot"][0][name]
    print(f"{name:30} {o:11.3f} {d:11.3f} {d / o:7.2f}   {fo:12.3f} {fd:9.3f}")
print("ratio = dovecot time / our time (above 1: we are faster)")
print(f"search hits (subject, body): {results['mailserver'][2]}")
same = [a == b for a, b in zip(results["mailserver"][3], results["dovecot"][3])]
print("SORT, THREAD, webmail list and INTERNALDATE answers identical to Dovecot's "
      f"(by date, by subject, references, list, dates): {same}")

def idle_memory(port, user, pid):
    # Measured between a tenth and all of the connections, so memory the process frees or
    # grows for other reasons at the start (the big mailbox's sessions ending) stays out of it.
    conns = []
    def idle(n):
        open_idle(port, user, n, conns)
        time.sleep(2)
        return pss_kib(pid)
    first = max(1, idle_conns // 10)
    before = idle(first)
    after = idle(idle_conns - first)
    procs = len(tree(pid))
    # What the idling costs: CPU time of the whole process tree over 10 seconds.
    busy = cpu_seconds(pid)
    time.sleep(10)
    busy = cpu_seconds(pid) - busy
    for c in conns:
        c.close()
    return before, after, procs, busy

# New mail in the big INBOX: a message file appears in new/ (as a delivery leaves it) and the
# client's next NOOP must report it; the time of that NOOP, the next one, and a third.
def new_mail(port, user, new_dir):
    c = Client(port)
    c.command(f"LOGIN {user} secret")
    c.command("SELECT INBOX")
    rows = []
    for k in range(3):
        name = os.path.join(new_dir, f"{int(time.time())}.M{k}P{port}.newmail")
        with open(name + ".tmp", "wb") as f:
            f.write(b"From: a@example.org\r\nSubject: new\r\n\r\nhello\r\n")
        if new_dir == dovecot_new:
            os.chown(name + ".tmp", 65534, 65534)
        os.rename(name + ".tmp", name)
        times = []
        for _ in range(3):
            start = time.perf_counter()
            data = c.command("NOOP")
            times.append(time.perf_counter() - start)
            if not times[1:]:
                assert b"EXISTS" in data, (port, data)
            time.sleep(0.02)
        rows.append(times)
    c.s.close()
    return [min(r[i] for r in rows) for i in range(3)]
print(f"\nNew mail in the {count}-message INBOX: NOOP after a message appears in new/ (seconds, best of 3)")
print(f"{'':14} {'first NOOP':>11} {'second':>9} {'third':>9}")
for name, port, user, new_dir in (("mailserver", ours, "big@bench.example", our_new),
                                  ("dovecot", theirs, "big", dovecot_new)):
    t = new_mail(port, user, new_dir)
    print(f"{name:14} {t[0]:11.3f} {t[1]:9.3f} {t[2]:9.3f}")

# Changes the client itself makes in the big INBOX: a flag on one message (STORE), a message
# appended (APPEND with a non-synchronising literal) and one copied into the same folder
# (COPY). Each command and the NOOP after it are timed, half a second after the last change
# (as a user's clicks come), best of 5.
def own_changes(port, user):
    c = Client(port)
    c.command(f"LOGIN {user} secret")
    c.command("SELECT INBOX")
    msg = "From: a@example.org\r\nSubject: appended\r\n\r\nhello\r\n"
    ops = (("STORE one flag", lambda k: f"STORE {101 + k} +FLAGS (\\Flagged)"),
           ("APPEND", lambda k: f"APPEND INBOX (\\Seen) {{{len(msg)}+}}\r\n{msg}"),
           ("COPY one message", lambda k: f"COPY {201 + k} INBOX"))
    best = {}
    for k in range(5):
        for name, text in ops:
            time.sleep(0.5)
            start = time.perf_counter()
            c.command(text(k))
            mid = time.perf_counter()
            c.command("NOOP")
            end = time.perf_counter()
            b = best.get(name, (9e9, 9e9))
            best[name] = (min(b[0], mid - start), min(b[1], end - mid))
    c.s.close()
    return best
print(f"\nChanges by the client in the {count}-message INBOX (seconds, best of 5)")
print(f"{'':18} {'ours':>8} {'NOOP after':>11} {'dovecot':>8} {'NOOP after':>11} {'ratio':>7}")
mine, dove = own_changes(ours, "big@bench.example"), own_changes(theirs, "big")
for name in mine:
    (a, an), (d, dn) = mine[name], dove[name]
    print(f"{name:18} {a:8.3f} {an:11.3f} {d:8.3f} {dn:11.3f} {d / a:7.2f}")

# A fresh process of ours for the memory figure: what the big mailbox's passes freed would
# otherwise be handed out again to the new connections and hide their cost.
stop(our_pid)
fresh = start_ours(bin_path, f"{work}/ours.toml", f"{work}/ours-idle.log", ours)
our_pid = fresh.pid

def peak_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

# A large message fetched whole is streamed: the process's peak memory barely moves.
c = Client(ours)
c.command("LOGIN big@bench.example secret")
peak_before = peak_kib(our_pid)
for folder in LARGE:
    c.command(f"SELECT {folder}")
    c.command("UID FETCH 1 (BODY.PEEK[])")
c.s.close()
print(f"\nPeak memory of a fresh process of ours fetching each 30 MB message whole (BODY.PEEK[]): "
      f"{peak_before / 1024:.1f} MiB before, {peak_kib(our_pid) / 1024:.1f} MiB after")

print(f"\nMemory from {max(1, idle_conns // 10)} to {idle_conns} connections logged in, INBOX (10 messages) selected, in IDLE (PSS)")
mem = {}
for name, port, user, pid in (("mailserver", ours, "idle@bench.example", our_pid), ("dovecot", theirs, "idle", dove_pid)):
    before, after, procs, busy = idle_memory(port, user, pid)
    per = (after - before) / (idle_conns - max(1, idle_conns // 10))
    mem[name] = per
    print(f"{name:12} before {before / 1024:8.1f} MiB  after {after / 1024:8.1f} MiB  "
          f"per connection {per:7.1f} KiB  ({procs} processes)  CPU while idling {busy * 10:.1f}% of a core")
print(f"ratio (dovecot per connection / ours): {mem['dovecot'] / mem['mailserver']:.1f}")
fresh.terminate()
fresh.wait()
PY
