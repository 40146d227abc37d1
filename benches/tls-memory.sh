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
command -v dovecot >/dev/null ||
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dovecot-imapd >/dev/null
ulimit -n "$(ulimit -Hn)"

cat > "$WORK/ours.toml" <<CONF
hostname = "bench.example"
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

mkdir -p "$WORK/dovecot/run" "$WORK/dovecot/state" "$WORK/dovecot/mail"
HASH=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select password from mailbox limit 1").fetchone()[0])' "$WORK/ours/accounts.db")
printf 'idle:%s\n' "$HASH" > "$WORK/dovecot/passwd"
cp -a "$MAILDIR" "$WORK/dovecot/mail/"
chown -R nobody:nogroup "$WORK/dovecot/mail"
cat > "$WORK/dovecot/dovecot.conf" <<CONF
base_dir = $WORK/dovecot/run
state_dir = $WORK/dovecot/state
log_path = $WORK/dovecot/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <$(ls "$WORK"/ours/tls/*cert*.pem)
ssl_key = <$(ls "$WORK"/ours/tls/*key*.pem)
disable_plaintext_auth = no
auth_mechanisms = plain
mail_location = maildir:$WORK/dovecot/mail/%n
default_process_limit = $((CONNS + 100))
default_client_limit = $(((CONNS + 100) * 3))
protocol imap {
  mail_max_userip_connections = $((CONNS + 100))
}
passdb {
  driver = passwd-file
  args = $WORK/dovecot/passwd
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$WORK/dovecot/mail/%n
}
service imap-login {
  service_count = 0
  client_limit = $((CONNS + 100))
  inet_listener imap {
    port = $DOVECOT_IMAP
  }
  inet_listener imaps {
    port = $DOVECOT_IMAPS
    ssl = yes
  }
}
CONF

measure() { # name pid port tls user
    python3 - "$ROOT/benches" "$@" "$CONNS" <<'PY'
import socket, ssl, sys, time
sys.path.insert(0, sys.argv[1])
from benchlib import pss_kib
name, pid, port, tls, user, conns = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "tls", sys.argv[6], int(sys.argv[7])
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
held = []
def connect():
    s = socket.create_connection(("127.0.0.1", port))
    if tls:
        s = ctx.wrap_socket(s)
    f = s.makefile("rb")
    f.readline()
    for tag, cmd in ((b"a", f"a LOGIN {user} secret\r\n".encode()), (b"b", b"b SELECT INBOX\r\n"), (b"c", b"c IDLE\r\n")):
        s.sendall(cmd)
        while True:
            line = f.readline()
            if not line:
                raise RuntimeError(f"{name}: connection closed")
            if line.startswith(tag + b" ") or line.startswith(b"+"):
                break
    held.append((s, f))
first = max(1, conns // 10)
for _ in range(first):
    connect()
time.sleep(2)
before = pss_kib(pid)
for _ in range(conns - first):
    connect()
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
