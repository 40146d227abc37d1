#!/usr/bin/env bash
# SMTP ingest: durable Maildir deliveries per second, our server against Postfix on this same
# machine in the same run, both driven by Postfix's smtp-source.
#
# Cases (the issue's): sessions x message size, and one with 5 recipients per message. In each,
# smtp-source sends COUNT messages (one connection per message, as inbound MX traffic arrives),
# and the clock stops when the last copy is a file in the mailboxes' Maildir new/. Postfix
# acknowledges once its queue file is fsynced and delivers afterwards, so waiting for the files
# is what makes the two comparable: both numbers are copies on disk per second. Ours and
# Postfix alternate PAIRS times per case (the machine is noisy); the range over the pairs is
# printed, with the server CPU per message (all CPU time of the machine during the run, less
# smtp-source's own) and our rate as a fraction of smtp-sink's (which stores nothing).
#
# Needs root (Postfix runs as a private instance under $WORK, on its own port) and the Debian
# package postfix (installed when missing, configured as "No configuration" so the system
# instance stays off). Also the memory each waiting connection costs (WAITING of them).
# Usage: benches/smtp-ingest.sh   (env: COUNT=1000 PAIRS=5 WAITING=90 WORK=/tmp/smtp-ingest
#        CASES="1:1000:1 10:10000:1 50:10000:1 10:100000:1 10:10000:5" as sessions:size:rcpts,
#        STORAGE_SYNC=auto|directory CACHE_TTL=0)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-/tmp/smtp-ingest}
COUNT=${COUNT:-1000}
PAIRS=${PAIRS:-5}
CASES=${CASES:-"1:1000:1 10:10000:1 50:10000:1 10:100000:1 10:10000:5"}
SINK_PORT=${SINK_PORT:-12527}
OUR_PORT=${OUR_PORT:-12525}
# [storage] sync of ours: auto (one flush per copy on ext4/XFS/btrfs) or directory (two).
STORAGE_SYNC=${STORAGE_SYNC:-auto}
# [accounts] cache_ttl of ours: seconds a recipient lookup is reused (0, the default: none).
CACHE_TTL=${CACHE_TTL:-0}
PF_PORT=${PF_PORT:-12526}

. "$ROOT/benches/common.sh"
need_postfix


count() { find "$1" -maxdepth 1 -type f 2>/dev/null | wc -l; }

# --- our server ---
cat > "$WORK/ours.toml" <<CONF
hostname = "bench.example"
run_as_root = true
data_dir = "$WORK/ours"
[listen]
smtp = ["127.0.0.1:$OUR_PORT"]
[limits]
max_connections = 1000
# Every client of the bench comes from 127.0.0.1.
max_connections_per_address = 1000
[storage]
sync = "$STORAGE_SYNC"
[accounts]
cache_ttl = $CACHE_TTL
CONF
# smtp-source -r N sends to 1rcpt@ ... Nrcpt@ (a number prepended).
add_bench_users rcpt 1rcpt 2rcpt 3rcpt 4rcpt 5rcpt
serve_ours
wait_port "$OUR_PORT"
OUR_MAIL="$WORK/ours/mail/bench.example"

# --- Postfix, delivering with virtual(8) into Maildir ---
PF="$WORK/postfix"
mkdir -p "$PF/mail"
# One Maildir per recipient, as ours has (virtual(8) refuses $1 substitution from a regexp
# map, so the table lists each address).
: > "$PF/vmailbox"
for user in rcpt 1rcpt 2rcpt 3rcpt 4rcpt 5rcpt; do
    mkdir -p "$PF/mail/$user"
    echo "$user@bench.example $user/" >> "$PF/vmailbox"
done
chown -R nobody:nogroup "$PF/mail"
start_postfix "$PF" "$PF_PORT" "virtual_mailbox_domains = bench.example
virtual_mailbox_base = $PF/mail
virtual_mailbox_maps = texthash:$PF/vmailbox
virtual_uid_maps = static:$(id -u nobody)
virtual_gid_maps = static:$(getent group nogroup | cut -d: -f3)
virtual_destination_concurrency_limit = 20
virtual_mailbox_limit = 0"
PF_MAIL="$PF/mail"
smtp-sink -u nobody "127.0.0.1:$SINK_PORT" 256 &
SINK_PID=$!
wait_port "$SINK_PORT"


run() { # mail-root port sessions size rcpts -> "copies/s cpu-ms-per-message"
    local root=$1 port=$2 sessions=$3 size=$4 rcpts=$5
    # What the last run left dirty is written now, not during this one.
    sync; sleep 0.2
    local before; before=$(files "$root")
    local to=rcpt@bench.example
    local cpu0; cpu0=$(busy)
    local start; start=$(date +%s.%N)
    local client
    client=$( { /usr/bin/time -f "%U %S" smtp-source -s "$sessions" -m "$COUNT" -l "$size" -r "$rcpts" \
        -f sender@client.example -t "$to" "127.0.0.1:$port" >/dev/null; } 2>&1 | tail -1)
    if [ -n "$root" ]; then
        wait_files "$root" $((before + COUNT * rcpts)) 180 "port $port" || return 1
    fi
    local end; end=$(date +%s.%N)
    local cpu1; cpu1=$(busy)
    echo "$end $start $cpu1 $cpu0 $client" | awk -v n="$COUNT" -v r="$rcpts" -v hz="$(getconf CLK_TCK)" \
        '{ printf "%.1f %.2f", n * r / ($1 - $2), (($3 - $4) / hz - $5 - $6) * 1000 / n }'
}

range() { tr ' ' '\n' | sort -g | sed -n '1p;$p' | paste -sd- ; }

printf '\nSMTP ingest, %s messages per run, %s pairs alternating: copies on disk per second (range),\n' "$COUNT" "$PAIRS"
printf 'server CPU ms per message (range), ratio ours/postfix per pair, ours/smtp-sink\n'
printf '%-9s %-7s %-5s %17s %17s %13s %13s %11s %9s\n' sessions size rcpts mailserver postfix "our CPU" "pf CPU" ratio "of sink"
for case in $CASES; do
    IFS=: read -r sessions size rcpts <<<"$case"
    ours_rate=""; pf_rate=""; ours_cpu=""; pf_cpu=""; ratios=""; sink_rate=""
    for _ in $(seq "$PAIRS"); do
        read -r o oc <<<"$(run "$OUR_MAIL" "$OUR_PORT" "$sessions" "$size" "$rcpts")"
        read -r p pc <<<"$(run "$PF_MAIL" "$PF_PORT" "$sessions" "$size" "$rcpts")"
        ours_rate+="$o "; pf_rate+="$p "; ours_cpu+="$oc "; pf_cpu+="$pc "
        ratios+="$(echo "$o $p" | awk '{ printf "%.2f", $1 / $2 }') "
    done
    read -r s _ <<<"$(run "" "$SINK_PORT" "$sessions" "$size" "$rcpts")"
    best=$(echo $ours_rate | tr ' ' '\n' | sort -g | tail -1)
    label="$((size / 1000))KB"
    printf '%-9s %-7s %-5s %17s %17s %13s %13s %11s %9s\n' "$sessions" "$label" "$rcpts" \
        "$(echo $ours_rate | range)" "$(echo $pf_rate | range)" "$(echo $ours_cpu | range)" \
        "$(echo $pf_cpu | range)" "$(echo $ratios | range)" "$(echo "$best $s" | awk '{ printf "%.2f", $1 / $2 }')"
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
