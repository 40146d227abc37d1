#!/usr/bin/env bash
# Scale-out: SMTP deliveries per second through one node against two nodes serving the same
# data directory ([storage] shared, docs/scale-out.md) on this machine, driven by Postfix's
# smtp-source. In each run SESSIONS connections send COUNT messages of SIZE octets to
# RCPTS mailboxes (spread over them; one connection per message, as MX traffic arrives);
# with two nodes, half of each go to each node. The clock stops when the last copy is a file
# in a Maildir new/. One node and two alternate ROUNDS times (the machine is noisy); the range
# is printed, with the ratio two/one of each round.
# Usage: benches/scale-out.sh   (env: COUNT=2000 SESSIONS=20 SIZE=4000 RCPTS=10 ROUNDS=3
#        WORK=/tmp/scale-out)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-/tmp/scale-out}
COUNT=${COUNT:-2000}
SESSIONS=${SESSIONS:-20}
SIZE=${SIZE:-4000}
RCPTS=${RCPTS:-10}
ROUNDS=${ROUNDS:-3}
PORT1=${PORT1:-12625}
PORT2=${PORT2:-12626}

. "$ROOT/benches/common.sh"
need_postfix

node_conf() { # node port -> its configuration file
    cat > "$WORK/$1.toml" <<CONF
hostname = "$1.bench.example"
run_as_root = true
data_dir = "$WORK/data"
[listen]
smtp = ["127.0.0.1:$2"]
[limits]
max_connections = 1000
max_connections_per_address = 1000
[storage]
shared = true
node = "$1"
CONF
}
node_conf mx1 "$PORT1"
node_conf mx2 "$PORT2"
cp "$WORK/mx1.toml" "$WORK/ours.toml"
users=()
for i in $(seq "$RCPTS"); do users+=("u$i"); done
add_bench_users "${users[@]}"

start_node() { # node port
    MAILSERVER_LOG=warn "$BIN" -c "$WORK/$1.toml" serve >/dev/null 2>>"$WORK/$1.log" &
    echo $!
}
stop_node() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null || true; }

# One smtp-source per mailbox, all at once, the sessions and messages split evenly over them.
send() { # port sessions count
    local port=$1 sessions=$2 count=$3 per=$(( $3 / RCPTS )) i
    for i in $(seq "$RCPTS"); do
        smtp-source -s $(( (sessions + RCPTS - 1) / RCPTS )) -m "$per" -l "$SIZE" \
            -f sender@client.example -t "u$i@bench.example" "127.0.0.1:$port" >/dev/null &
    done
    wait
}

run() { # nodes (1 or 2) -> copies per second
    local nodes=$1 pids=()
    pids+=("$(start_node mx1 "$PORT1")")
    [ "$nodes" = 2 ] && pids+=("$(start_node mx2 "$PORT2")")
    wait_port "$PORT1"
    [ "$nodes" = 2 ] && wait_port "$PORT2"
    sync; sleep 0.2
    local root="$WORK/data/mail/bench.example"
    local before; before=$(files "$root")
    local start; start=$(date +%s.%N)
    if [ "$nodes" = 2 ]; then
        send "$PORT1" $(( SESSIONS / 2 )) $(( COUNT / 2 )) &
        send "$PORT2" $(( SESSIONS / 2 )) $(( COUNT / 2 )) &
        wait
    else
        send "$PORT1" "$SESSIONS" "$COUNT"
    fi
    wait_files "$root" $(( before + COUNT )) 300 "$nodes node(s)" || return 1
    local end; end=$(date +%s.%N)
    for p in "${pids[@]}"; do stop_node "$p"; done
    echo "$end $start" | awk -v n="$COUNT" '{ printf "%.1f", n / ($1 - $2) }'
}

range() { tr ' ' '\n' | sort -g | sed -n '1p;$p' | paste -sd- ; }

one=() two=() ratios=()
for r in $(seq "$ROUNDS"); do
    a=$(run 1); b=$(run 2)
    one+=("$a"); two+=("$b")
    ratios+=("$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", b / a }')")
    echo "round $r: one node $a/s, two nodes $b/s"
done
printf '\n%s messages of %s octets, %s sessions, %s mailboxes, %s rounds:\n' \
    "$COUNT" "$SIZE" "$SESSIONS" "$RCPTS" "$ROUNDS"
printf 'one node %s/s, two nodes %s/s, two/one %s\n' \
    "$(echo "${one[*]}" | range)" "$(echo "${two[*]}" | range)" "$(echo "${ratios[*]}" | range)"
