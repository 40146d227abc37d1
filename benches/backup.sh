#!/usr/bin/env bash
# Snapshots of a mail store: `mailserver backup` against rsync with --link-dest (what
# rsnapshot runs), on the same store of COUNT messages of 4 KB over USERS mailboxes.
# Each round: a first (full) snapshot, 1 % new mail, then an incremental one; ours and rsync
# alternate for PAIRS rounds. Prints seconds for each and the space the incremental took.
# Ours does more than rsync: the SQLite database through VACUUM INTO (rsync copies the file as
# it is, possibly mid-write), the SHA-256 of every new file for the manifest, and new/ before
# cur/ so that a message moved meanwhile is not missed.
#
#   COUNT=20000 USERS=10 PAIRS=3 benches/backup.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-/tmp/mailserver-bench-backup}
COUNT=${COUNT:-20000}
USERS=${USERS:-10}
PAIRS=${PAIRS:-3}
source "$ROOT/benches/common.sh"

cat > "$WORK/ours.toml" <<TOML
hostname = "bench.example"
run_as_root = true
data_dir = "$WORK/data"
TOML
users=$(seq -f "u%g" 1 "$USERS")
add_bench_users $users
body=$(head -c 3000 /dev/urandom | base64 -w 76)
for u in $users; do mkdir -p "$WORK"/data/mail/bench.example/"$u"/{new,cur,tmp}; done
# Messages written as a delivery leaves them (new/), and a few hundred read (cur/, flags).
fill() {
    local n=$1 tag=$2 i u dir
    for i in $(seq 1 "$n"); do
        u=u$(( i % USERS + 1 ))
        dir=$WORK/data/mail/bench.example/$u
        if (( i % 10 == 0 )); then
            printf 'Subject: %s %s\r\n\r\n%s\r\n' "$tag" "$i" "$body" > "$dir/cur/$tag.$i.M$i.bench:2,S"
        else
            printf 'Subject: %s %s\r\n\r\n%s\r\n' "$tag" "$i" "$body" > "$dir/new/$tag.$i.M$i.bench"
        fi
    done
}
fill "$COUNT" base
sync

ours() {
    local dest=$1
    "$BIN" -c "$WORK/ours.toml" backup "$dest" >/dev/null
}
theirs() {
    local dest=$1 prev
    mkdir -p "$dest"
    prev=$(ls -1 "$dest" | sort | tail -1)
    local name
    name=$(date -u +%Y-%m-%dT%H%M%S%N)
    if [ -n "$prev" ]; then
        rsync -a --link-dest="$dest/$prev/" "$WORK/data/" "$dest/$name/"
    else
        rsync -a "$WORK/data/" "$dest/$name/"
    fi
}
seconds() { local t0 t1; t0=$(date +%s.%N); "$@"; t1=$(date +%s.%N); echo "$t1 - $t0" | bc; }

extra=$(( COUNT / 100 ))
for pair in $(seq 1 "$PAIRS"); do
    for tool in ours theirs; do
        dest=$WORK/backups-$tool-$pair
        rm -rf "$dest"; sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
        full=$(seconds "$tool" "$dest")
        fill "$extra" "new$pair$tool"
        inc=$(seconds "$tool" "$dest")
        # What the incremental snapshot added: du counts a hard-linked file once, first seen.
        added=$(du -sk "$dest" | cut -f1)
        first=$(du -sk "$dest/$(ls -1 "$dest" | grep -v '^\.' | sort | head -1)" | cut -f1)
        printf '%-6s pair %d: full %6.2f s  incremental %6.2f s  incremental adds %6d KB\n' \
            "$tool" "$pair" "$full" "$inc" $(( added - first ))
    done
done
