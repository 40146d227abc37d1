#!/usr/bin/env bash
# SMTP ingest: durable Maildir deliveries per second, our server against Postfix on this same
# machine in the same run, both driven by Postfix's smtp-source.
#
# For each server, sessions (1, 10) and message size (1 KB, 100 KB), smtp-source sends COUNT
# messages to one local mailbox (one connection per message, as inbound MX traffic arrives), and
# the clock stops when the last message is a file in the mailbox's Maildir new/. Postfix
# acknowledges once its queue file is fsynced and delivers afterwards, so waiting for the files
# is what makes the two comparable: both numbers are messages on disk in the mailbox per second.
#
# Needs root (Postfix runs as a private instance under $WORK, on its own port) and the Debian
# package postfix (installed when missing, configured as "No configuration" so the system
# instance stays off). Also the memory each waiting connection costs (WAITING of them).
# Usage: benches/smtp-ingest.sh   (env: COUNT=500 WAITING=90 WORK=/tmp/smtp-ingest)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-/tmp/smtp-ingest}
COUNT=${COUNT:-500}
OUR_PORT=${OUR_PORT:-12525}
PF_PORT=${PF_PORT:-12526}

. "$ROOT/benches/common.sh"
need_postfix


count() { find "$1" -maxdepth 1 -type f 2>/dev/null | wc -l; }

# --- our server ---
cat > "$WORK/ours.toml" <<CONF
hostname = "bench.example"
data_dir = "$WORK/ours"
[listen]
smtp = ["127.0.0.1:$OUR_PORT"]
[limits]
max_connections = 1000
# Every client of the bench comes from 127.0.0.1.
max_connections_per_address = 1000
CONF
add_bench_users rcpt
serve_ours
wait_port "$OUR_PORT"
OUR_NEW="$WORK/ours/mail/bench.example/rcpt/new"

# --- Postfix, delivering with virtual(8) into Maildir ---
PF="$WORK/postfix"
mkdir -p "$PF/mail/rcpt"
chown -R nobody:nogroup "$PF/mail"
start_postfix "$PF" "$PF_PORT" "virtual_mailbox_domains = bench.example
virtual_mailbox_base = $PF/mail
virtual_mailbox_maps = static:rcpt/
virtual_uid_maps = static:$(id -u nobody)
virtual_gid_maps = static:$(getent group nogroup | cut -d: -f3)
virtual_destination_concurrency_limit = 20
virtual_mailbox_limit = 0"
PF_NEW="$PF/mail/rcpt/new"

run() { # name port newdir sessions size
    local name=$1 port=$2 dir=$3 sessions=$4 size=$5
    local before; before=$(count "$dir")
    local start; start=$(date +%s.%N)
    smtp-source -s "$sessions" -m "$COUNT" -l "$size" -f sender@client.example -t rcpt@bench.example "127.0.0.1:$port"
    local want=$((before + COUNT))
    local deadline=$(( $(date +%s) + 120 ))
    while [ "$(count "$dir")" -lt "$want" ]; do
        [ "$(date +%s)" -lt "$deadline" ] || { echo "$name: only $(( $(count "$dir") - before ))/$COUNT delivered" >&2; return 1; }
        sleep 0.01
    done
    local end; end=$(date +%s.%N)
    echo "$end $start" | awk -v n="$COUNT" '{ printf "%.1f", n / ($1 - $2) }'
}

printf '\nSMTP ingest, %s messages per run, durable deliveries per second (higher is better)\n' "$COUNT"
printf '%-10s %-8s %12s %12s %8s\n' sessions size mailserver postfix ratio
for sessions in 1 10; do
    for size in 1000 100000; do
        ours=$(run mailserver "$OUR_PORT" "$OUR_NEW" "$sessions" "$size")
        pf=$(run postfix "$PF_PORT" "$PF_NEW" "$sessions" "$size")
        ratio=$(echo "$ours $pf" | awk '{ printf "%.2f", $1 / $2 }')
        label=$([ "$size" = 1000 ] && echo 1KB || echo 100KB)
        printf '%-10s %-8s %12s %12s %8s\n' "$sessions" "$label" "$ours" "$pf" "$ratio"
    done
done

# Memory per waiting connection: WAITING clients (fewer than Postfix's default_process_limit
# of 100, so each gets its smtpd) say EHLO and MAIL FROM and wait; the PSS of each server's
# whole process tree is read at a tenth of them and at all. Ours is restarted first, so memory
# its deliveries freed does not hide what connections cost.
PF_PID=$(head -1 "$PF/spool/pid/master.pid" | tr -d ' ')
kill "$OUR_PID"; wait "$OUR_PID" 2>/dev/null || true
serve_ours
wait_port "$OUR_PORT"
python3 - "$ROOT/benches" "$OUR_PORT" "$OUR_PID" "$PF_PORT" "$PF_PID" "${WAITING:-90}" <<'PY'
import socket, sys, time
sys.path.insert(0, sys.argv[1])
from benchlib import pss_kib as pss
our_port, our_pid, pf_port, pf_pid, n = map(int, sys.argv[2:7])
def per_connection(port, pid):
    conns = []
    def open_some(k):
        for _ in range(k):
            s = socket.create_connection(("127.0.0.1", port))
            f = s.makefile("rb")
            f.readline()
            s.sendall(b"EHLO client.example\r\nMAIL FROM:<a@client.example>\r\n")
            def reply():
                line = f.readline()
                if not line or line[:1] in (b"4", b"5"):
                    raise SystemExit(f"port {port}: connection {len(conns)} refused: {line!r}")
                return line
            while not reply().startswith(b"250 "):
                pass
            while not reply().startswith(b"250"):
                pass
            conns.append(s)
        time.sleep(2)
        return pss(pid)
    before = open_some(n // 10)
    after = open_some(n - n // 10)
    for s in conns:
        s.close()
    return (after - before) / (n - n // 10)
ours, pf = per_connection(our_port, our_pid), per_connection(pf_port, pf_pid)
print(f"\nMemory per waiting SMTP connection ({n}, after EHLO and MAIL; PSS): "
      f"mailserver {ours:.1f} KiB, postfix {pf:.1f} KiB")
PY
