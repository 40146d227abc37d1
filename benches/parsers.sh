#!/usr/bin/env bash
# Our SMTP and IMAP parsers against Stalwart's smtp-proto and imap-codec (benches/peers.rs):
# ROUNDS runs of the whole criterion bench, each measuring ours then the peer for every
# command, so the two alternate; prints per command the range of each side's median time over
# the rounds and the range of the per-round ratio (peer time / our time: above 1 = ours faster).
# Usage: benches/parsers.sh   (env: ROUNDS=3 MEASURE=2 — seconds of measurement per function;
#        FILTER=smtp_command — only the benchmarks whose name contains it)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${ROUNDS:-3}
MEASURE=${MEASURE:-2}
FILTER=${FILTER:-}
OUT=$(mktemp -d)
cd "$ROOT"
cargo bench -p benches --bench peers --no-run --locked 2>&1 | tail -1
for round in $(seq "$ROUNDS"); do
    CRITERION_HOME="$OUT/$round" cargo bench -p benches --bench peers --locked -- --noplot \
        --warm-up-time 1 --measurement-time "$MEASURE" ${FILTER:+"$FILTER"} >/dev/null 2>&1
    echo "round $round done" >&2
done
python3 - "$OUT" "$ROUNDS" <<'PY'
import json, os, sys
out, rounds = sys.argv[1], int(sys.argv[2])
# Each measured function leaves new/benchmark.json (its group and name) beside its estimates.
times = {}  # (group, side) -> [median ns per round]
for r in range(1, rounds + 1):
    for dirpath, _, files in os.walk(os.path.join(out, str(r))):
        if dirpath.endswith("/new") and "benchmark.json" in files:
            meta = json.load(open(os.path.join(dirpath, "benchmark.json")))
            est = json.load(open(os.path.join(dirpath, "estimates.json")))
            key = (meta["group_id"], meta["function_id"])
            times.setdefault(key, []).append(est["median"]["point_estimate"])
groups = sorted({g for g, _ in times if (g, "ours") in times})
fmt = lambda v: f"{min(v):,.0f}-{max(v):,.0f}" if max(v) >= 100 else f"{min(v):.1f}-{max(v):.1f}"
print(f"{'benchmark':36} {'peer':10} {'ours ns':>17} {'peer ns':>17} {'peer/ours':>11}")
for group in groups:
    for (g, side), theirs in sorted(times.items()):
        if g != group or side == "ours":
            continue
        ours = times[(group, "ours")]
        ratios = [t / o for o, t in zip(ours, theirs)]
        print(f"{group:36} {side:10} {fmt(ours):>17} {fmt(theirs):>17} "
              f"{min(ratios):.2f}-{max(ratios):.2f}")
PY
rm -rf "$OUT"
