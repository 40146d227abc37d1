#!/usr/bin/env bash
# What the disk under the data directory charges for the syncs of one IMAP APPEND, without
# any server: ROUNDS rounds of N messages of 1 KB, each written to tmp/, fsynced, renamed into
# cur/, then:
#   3 syncs: fsync(cur/), append a uidlist line, fdatasync(uidlist)   (ours and Dovecot's)
#   2 syncs: fsync(cur/), append a uidlist line                        (the uidlist unsynced)
# Prints ms per message for each. docs/durability.md says why all three are needed.
# Usage: benches/sync-cost.sh   (env: DIR=/tmp/sync-cost N=300 ROUNDS=3)
set -euo pipefail
DIR=${DIR:-/tmp/sync-cost}
rm -rf "$DIR"
mkdir -p "$DIR/tmp" "$DIR/cur"
python3 - "$DIR" "${N:-300}" "${ROUNDS:-3}" <<'PY'
import os, sys, time
base, n, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
uidlist = os.open(f"{base}/uidlist", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
cur = os.open(f"{base}/cur", os.O_RDONLY)
message = b"x" * 1024
count = 0

def append(syncs):
    global count
    count += 1
    name = f"m{count}"
    fd = os.open(f"{base}/tmp/{name}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, message)
    os.fsync(fd)
    os.close(fd)
    os.rename(f"{base}/tmp/{name}", f"{base}/cur/{name}")
    os.fsync(cur)
    os.write(uidlist, f"{count} :{name}\n".encode())
    if syncs == 3:
        os.fdatasync(uidlist)

for r in range(rounds):
    for syncs in (3, 2):
        start = time.perf_counter()
        for _ in range(n):
            append(syncs)
        print(f"round {r + 1}: {syncs} syncs {(time.perf_counter() - start) / n * 1000:.3f} ms per message")
PY
