#!/usr/bin/env bash
# A mailing list's fan-out: one post to a list of MEMBERS local mailboxes, from the post's
# arrival over SMTP until every member's copy is a file in its Maildir new/. Ours runs the
# post through its list (the list's copy, VERP, one queue entry for all members, the local
# deliveries); Postfix, on this machine in the same run, expands a virtual alias of the same
# MEMBERS addresses into virtual(8) Maildirs (what a list without list software costs).
# Ours and Postfix alternate PAIRS times; prints each side's seconds per post and copies per
# second, and the ratio (Postfix's time / ours: above 1 = ours faster).
#
# Needs root (a private Postfix under $WORK) and Postfix's smtp-source.
# Usage: benches/list-fanout.sh   (env: MEMBERS=1000 PAIRS=3 WORK=/tmp/list-fanout)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-/tmp/list-fanout}
MEMBERS=${MEMBERS:-1000}
PAIRS=${PAIRS:-3}
OUR_PORT=${OUR_PORT:-12535}
PF_PORT=${PF_PORT:-12536}

. "$ROOT/benches/common.sh"
need_postfix

# --- our server: MEMBERS mailboxes and a list of them all ---
cat > "$WORK/ours.toml" <<CONF
hostname = "bench.example"
run_as_root = true
data_dir = "$WORK/ours"
[listen]
smtp = ["127.0.0.1:$OUR_PORT"]
[sender_auth]
enabled = false
CONF
users=()
for i in $(seq "$MEMBERS"); do users+=("m$i"); done
echo "adding $MEMBERS mailboxes (once)" >&2
add_bench_users "${users[@]}"
"$BIN" -c "$WORK/ours.toml" list add list@bench.example --name Bench >/dev/null
"$BIN" -c "$WORK/ours.toml" list subscribe list@bench.example \
    $(for u in "${users[@]}"; do printf '%s@bench.example ' "$u"; done) >/dev/null
"$BIN" -c "$WORK/ours.toml" list set list@bench.example posting anyone >/dev/null
serve_ours
wait_port "$OUR_PORT"

# --- Postfix: the same mailboxes, and an alias of them all ---
PF="$WORK/postfix"
mkdir -p "$PF/mail"
: > "$PF/vmailbox"
targets=""
for u in "${users[@]}"; do
    mkdir -p "$PF/mail/$u"
    echo "$u@bench.example $u/" >> "$PF/vmailbox"
    targets="$targets${targets:+, }$u@bench.example"
done
echo "list@bench.example $targets" > "$PF/valias"
chown -R nobody:nogroup "$PF/mail"
start_postfix "$PF" "$PF_PORT" "virtual_mailbox_domains = bench.example
virtual_mailbox_base = $PF/mail
virtual_mailbox_maps = texthash:$PF/vmailbox
virtual_alias_maps = texthash:$PF/valias
virtual_alias_expansion_limit = $((MEMBERS + 10))
virtual_uid_maps = static:$(id -u nobody)
virtual_gid_maps = static:$(getent group nogroup | cut -d: -f3)
virtual_destination_concurrency_limit = 20
virtual_mailbox_limit = 0"

# One post of about 4 KB, over one SMTP session; seconds until all copies are stored.
post() { # mail-root port -> seconds
    local root=$1 port=$2 before start end
    sync; sleep 0.2
    before=$(files "$root")
    start=$(date +%s.%N)
    smtp-source -c -m 1 -l 4000 -f poster@elsewhere.example -t list@bench.example \
        "127.0.0.1:$port" >/dev/null
    wait_files "$root" $((before + MEMBERS)) 300 "post to $root"
    end=$(date +%s.%N)
    echo "$end - $start" | bc -l
}

echo "members: $MEMBERS; one 4 KB post per run"
printf '%-5s %12s %12s %12s %12s %8s\n' pair "ours s" "ours copies/s" "postfix s" "pf copies/s" ratio
for pair in $(seq "$PAIRS"); do
    a=$(post "$WORK/ours/mail/bench.example" "$OUR_PORT")
    b=$(post "$PF/mail" "$PF_PORT")
    printf '%-5s %12.3f %12.0f %12.3f %12.0f %8.2f\n' "$pair" "$a" "$(echo "$MEMBERS / $a" | bc -l)" \
        "$b" "$(echo "$MEMBERS / $b" | bc -l)" "$(echo "$b / $a" | bc -l)"
done
