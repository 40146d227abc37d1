#!/usr/bin/env bash
# A relay host outage and its backlog: our queue against Postfix's on this same machine in the
# same run. While the relay host (Postfix's smtp-sink) is down, COUNT messages for a remote
# domain are sent to each server (CONNECTIONS clients at once, as benches/smtp-relay.sh does)
# and deferred. Then, per server: the time to list the queue (`mailserver queue list`,
# `postqueue -p`), its memory with the backlog (PSS of the whole server), and, with the relay
# host back, the time from the flush command (`mailserver queue flush`, `postqueue -f`) until
# the last message is a file at the sink.
#
# Needs root and postfix (installed when missing). Usage: benches/queue-backlog.sh
#   (env: COUNT=10000 CONNECTIONS=10 SIZE=4000 WORK=/tmp/queue-backlog)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-/tmp/queue-backlog}
COUNT=${COUNT:-10000}
CONNECTIONS=${CONNECTIONS:-10}
SIZE=${SIZE:-4000}
OUR_PORT=${OUR_PORT:-12687}
PF_PORT=${PF_PORT:-12627}
SINK_PORT=${SINK_PORT:-12628}

. "$ROOT/benches/common.sh"
need_postfix


start_relaying_servers "$OUR_PORT" "$SINK_PORT" "$PF_PORT"
PF_PID=$(head -1 "$WORK/postfix/spool/pid/master.pid" | tr -d ' ')

python3 - "$ROOT/benches" "$OUR_PORT" "$PF_PORT" "$COUNT" "$CONNECTIONS" "$SIZE" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
from benchlib import send_remote
ours, theirs, count, connections, size = map(int, sys.argv[2:7])
send_remote(ours, True, connections, count // connections, size, "backlog")
send_remote(theirs, False, connections, count // connections, size, "backlog")
PY

pss() { # pids...
    local total=0 p
    for p in "$@"; do
        total=$((total + $(awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)))
    done
    echo "$total"
}
tree() { echo "$1"; pgrep -P "$1" || true; }
seconds() { local start; start=$(date +%s.%N); "$@" >/dev/null; echo "$(date +%s.%N) $start" | awk '{ printf "%.2f", $1 - $2 }'; }

# Every message tried once (the relay refused) before the figures are taken.
sleep 5
ours_listed=$("$BIN" -c "$WORK/ours.toml" queue list | tail -n +2 | wc -l)
pf_listed=$(postqueue -c "$WORK/postfix/etc" -p | grep -c '^[0-9A-F]' || true)
ours_list=$(seconds "$BIN" -c "$WORK/ours.toml" queue list)
pf_list=$(seconds postqueue -c "$WORK/postfix/etc" -p)
# shellcheck disable=SC2046
ours_kib=$(pss $(tree "$OUR_PID"))
# shellcheck disable=SC2046
pf_kib=$(pss $(tree "$PF_PID"))

start_sink "$SINK_PORT"
drain() { # name flush-command...
    local name=$1 before start deadline
    shift
    before=$(sink_files)
    start=$(date +%s.%N)
    "$@" >/dev/null
    deadline=$(( $(date +%s) + 900 ))
    while [ "$(sink_files)" -lt $((before + COUNT)) ]; do
        [ "$(date +%s)" -lt "$deadline" ] || { echo "$name: only $(( $(sink_files) - before )) of $COUNT relayed" >&2; exit 1; }
        sleep 0.05
    done
    echo "$(date +%s.%N) $start" | awk '{ printf "%.2f", $1 - $2 }'
}
ours_drain=$(drain mailserver "$BIN" -c "$WORK/ours.toml" queue flush)
pf_drain=$(drain postfix postqueue -c "$WORK/postfix/etc" -f)

printf '\nA backlog of %s messages of %s octets for a relay host that was down\n' "$COUNT" "$SIZE"
printf '%-28s %12s %12s\n' "" mailserver postfix
printf '%-28s %12s %12s\n' "messages deferred" "$ours_listed" "$pf_listed"
printf '%-28s %12s %12s\n' "list the queue (s)" "$ours_list" "$pf_list"
printf '%-28s %12s %12s\n' "server memory (MiB, PSS)" "$((ours_kib / 1024))" "$((pf_kib / 1024))"
printf '%-28s %12s %12s\n' "flush until relayed (s)" "$ours_drain" "$pf_drain"
echo "$ours_drain $pf_drain" | awk '{ printf "drain ratio (postfix time / ours): %.2f\n", $2 / $1 }'
