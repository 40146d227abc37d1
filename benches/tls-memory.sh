#!/usr/bin/env bash
# Memory per idle IMAP connection with and without TLS: CONNS connections log in, SELECT a
# 10-message INBOX and IDLE, over IMAPS (port 993's implicit TLS) and over plain IMAP, to ours
# and to Dovecot (dovecot-imapd, given our self-signed certificate). The proportional set
# size (PSS, shared pages counted once) of each server's whole process tree is read before
# and after the last nine tenths of the connections; each case starts a fresh server.
#
# Needs root (Dovecot is started as a private instance under $WORK).
# Usage: benches/tls-memory.sh  (env: CONNS=500 WORK=/tmp/tls-memory)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-/tmp/tls-memory}
CONNS=${CONNS:-500}
OUR_IMAP=${OUR_IMAP:-15143}
OUR_IMAPS=${OUR_IMAPS:-15993}
DOVECOT_IMAP=${DOVECOT_IMAP:-15144}
DOVECOT_IMAPS=${DOVECOT_IMAPS:-15994}

. "$ROOT/benches/common.sh"
need_dovecot
ulimit -n "$(ulimit -Hn)"

cat > "$WORK/ours.toml" <<CONF
hostname = "bench.example"
run_as_root = true
data_dir = "$WORK/ours"
[limits]
max_connections = $((CONNS + 100))
[imap]
allow_plaintext_auth = true
[listen]
smtp = []
imap = ["127.0.0.1:$OUR_IMAP"]
imaps = ["127.0.0.1:$OUR_IMAPS"]
CONF
add_bench_users idle
MAILDIR="$WORK/ours/mail/bench.example/idle"
python3 - "$MAILDIR" <<'PY'
import os, sys
for sub in ("cur", "new", "tmp"):
    os.makedirs(os.path.join(sys.argv[1], sub), exist_ok=True)
for i in range(10):
    msg = f"From: a@example.org\r\nSubject: idle {i}\r\n\r\nbody\r\n".encode()
    with open(os.path.join(sys.argv[1], "cur", f"1700000000.M{i}P1.bench,S={len(msg)},W={len(msg)}:2,S"), "wb") as f:
        f.write(msg)
PY
# Ours generates its self-signed certificate at first start; Dovecot is given the same.
serve_ours
wait_port "$OUR_IMAPS"
kill "$OUR_PID"; wait "$OUR_PID" 2>/dev/null || true; OUR_PID=

CLIENTS=$CONNS dovecot_imap_conf idle
cp -a "$MAILDIR" "$WORK/dovecot/mail/"
chown -R nobody:nogroup "$WORK/dovecot/mail"

measure() { # name pid port tls user
    python3 - "$ROOT/benches" "$@" "$CONNS" <<'PY'
import sys, time
sys.path.insert(0, sys.argv[1])
from benchlib import open_idle, pss_kib
name, pid, port, tls, user, conns = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "tls", sys.argv[6], int(sys.argv[7])
held = []
first = max(1, conns // 10)
open_idle(port, user, first, held, tls)
time.sleep(2)
before = pss_kib(pid)
open_idle(port, user, conns - first, held, tls)
time.sleep(2)
after = pss_kib(pid)
print(f"{name:24} {(after - before) / (conns - first):8.1f} KiB per connection")
PY
}

echo "Memory per idle IMAP connection ($CONNS in IDLE, PSS of the whole server, fresh server each)"
for tls in plain tls; do
    port=$OUR_IMAP; [ "$tls" = tls ] && port=$OUR_IMAPS
    serve_ours
    wait_port "$port"
    measure "mailserver ($tls)" "$OUR_PID" "$port" "$tls" idle@bench.example
    kill "$OUR_PID"; wait "$OUR_PID" 2>/dev/null || true; OUR_PID=
done
for tls in plain tls; do
    port=$DOVECOT_IMAP; [ "$tls" = tls ] && port=$DOVECOT_IMAPS
    dovecot -c "$WORK/dovecot/dovecot.conf"
    wait_port "$port"
    measure "dovecot ($tls)" "$(cat "$WORK/dovecot/run/master.pid")" "$port" "$tls" idle
    dovecot -c "$WORK/dovecot/dovecot.conf" stop
    sleep 1
done
