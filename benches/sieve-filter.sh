#!/usr/bin/env bash
# Our Sieve interpreter against Dovecot Pigeonhole's on the same machine: the 50-rule script
# of the criterion bench (benches/sieve-50-rules.sieve) run over every message of one
# Maildir, by Pigeonhole's `sieve-filter` (its dry run: each message read through Dovecot's
# storage, the script run, nothing moved) and by our `filter_maildir` example (each message
# read, parsed and the script run). ROUNDS rounds alternate ours and Pigeonhole's; prints each
# side's messages per second and the ratio per round (ours / Pigeonhole's: above 1 = ours
# faster). Process start-up is in both; with MESSAGES in the thousands it is a few percent.
# Usage: benches/sieve-filter.sh   (env: MESSAGES=5000 ROUNDS=4; run as root: Pigeonhole's
# tool runs as nobody)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
MESSAGES=${MESSAGES:-5000}
ROUNDS=${ROUNDS:-4}
WORK=${WORK:-/tmp/sieve-filter-bench}
[ "$(id -u)" -eq 0 ] || { echo "run as root (sieve-filter is run as nobody)" >&2; exit 1; }
command -v sieve-filter >/dev/null || { echo "sieve-filter is missing: apt install dovecot-sieve" >&2; exit 1; }
rm -rf "$WORK"
mkdir -p "$WORK/Maildir/cur" "$WORK/Maildir/new" "$WORK/Maildir/tmp"
SCRIPT="$ROOT/benches/sieve-50-rules.sieve"
cp "$SCRIPT" "$WORK/rules.sieve"

(cd "$ROOT" && cargo build --release --quiet --example filter_maildir -p mailwright-sieve)
OURS="$ROOT/target/release/examples/filter_maildir"

# Messages like the criterion bench's: a shop's invoice, a list post, a colleague's note, in
# turn; each has its own Message-ID and subject.
python3 - "$WORK/Maildir/cur" "$MESSAGES" <<'PY'
import sys
root, n = sys.argv[1], int(sys.argv[2])
kinds = [
    ("Billing <billing@shop.example>", "Invoice 2026-{i}", ""),
    ("List <list@lists.example>", "[users] question {i}", "List-Id: Users <list7.lists.example>\r\n"),
    ("Bob <bob@example.com>", "Re: project-{i} plans", ""),
]
for i in range(n):
    sender, subject, extra = kinds[i % 3]
    body = ("Please find the details below.\r\n" * 20)
    text = (
        f"Return-Path: <{sender.split('<')[1]}\r\n"
        f"Received: from mx.example.org by mx.example.com; Mon, 1 Dec 2026 10:00:00 +0000\r\n"
        f"From: {sender}\r\nTo: Alice <alice@example.com>\r\n"
        f"Subject: {subject.format(i=i)}\r\nDate: Mon, 1 Dec 2026 10:00:00 +0000\r\n"
        f"Message-ID: <{i}@bench.example>\r\n{extra}Content-Type: text/plain\r\n\r\n{body}"
    )
    with open(f"{root}/{1700000000 + i}.M{i}P1.bench:2,", "w") as f:
        f.write(text)
PY
cat > "$WORK/dovecot.conf" <<EOF
ssl = no
protocols =
mail_location = maildir:$WORK/Maildir
log_path = /dev/stderr
EOF
chown -R nobody "$WORK"

ours() { "$OURS" "$WORK/rules.sieve" "$WORK/Maildir" > "$WORK/ours.out"; }
theirs() {
    runuser -u nobody -- sieve-filter -c "$WORK/dovecot.conf" "$WORK/rules.sieve" INBOX \
        > "$WORK/theirs.out" 2>&1
}
# Warm both: the page cache, and Dovecot's index of the Maildir (built on its first look).
ours; theirs
grep -q "$MESSAGES messages" "$WORK/ours.out" || { echo "ours did not read every message" >&2; exit 1; }

seconds() { local s e; s=$(date +%s.%N); "$@"; e=$(date +%s.%N); echo "$e - $s" | bc -l; }
echo "messages: $MESSAGES, script: 50 rules ($SCRIPT)"
printf '%-6s %14s %14s %8s\n' round "ours msg/s" "pigeonhole" ratio
for round in $(seq "$ROUNDS"); do
    a=$(seconds ours)
    b=$(seconds theirs)
    printf '%-6s %14.0f %14.0f %8.2f\n' "$round" "$(echo "$MESSAGES / $a" | bc -l)" \
        "$(echo "$MESSAGES / $b" | bc -l)" "$(echo "$b / $a" | bc -l)"
done
