#!/usr/bin/env bash
# Outbound mail through a relay host: our server against Postfix on this same machine in the
# same run. Each takes messages for a remote domain, queues them durably and passes them to
# the same relay host, Postfix's smtp-sink (which stores each message it receives as a file).
#
# CONNECTIONS clients at once each send PER messages of SIZE octets over one connection: to
# our submission port after AUTH PLAIN (what a user's mail client does), to Postfix's port 25
# as a client of mynetworks (Postfix's relay permission without SASL, which needs Dovecot or
# Cyrus to check passwords). Printed per server: messages per second accepted (the clients'
# time) and relayed (until the last one is a file at the sink).
#
# Needs root (Postfix runs as a private instance under $WORK) and postfix (installed when
# missing). Usage: benches/smtp-relay.sh
#   (env: CONNECTIONS=10 PER=100 SIZE=4000 WORK=/tmp/smtp-relay)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-/tmp/smtp-relay}
CONNECTIONS=${CONNECTIONS:-10}
PER=${PER:-100}
SIZE=${SIZE:-4000}
OUR_PORT=${OUR_PORT:-12587}
PF_PORT=${PF_PORT:-12527}
SINK_PORT=${SINK_PORT:-12528}

. "$ROOT/benches/common.sh"
need_postfix


start_sink "$SINK_PORT"

start_relaying_servers "$OUR_PORT" "$SINK_PORT" "$PF_PORT"

python3 - "$ROOT/benches" "$OUR_PORT" "$PF_PORT" "$WORK/sink" "$CONNECTIONS" "$PER" "$SIZE" <<'PY'
import os, sys, time
sys.path.insert(0, sys.argv[1])
from benchlib import send_remote
ours, theirs, sink = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
connections, per, size = map(int, sys.argv[5:8])

def send(port, auth):
    before = len(os.listdir(sink))
    start = time.perf_counter()
    accepted = send_remote(port, auth, connections, per, size, "relay bench")
    want, deadline = before + connections * per, time.time() + 300
    while len(os.listdir(sink)) < want:
        if time.time() > deadline:
            raise SystemExit(f"port {port}: only {len(os.listdir(sink)) - before} of {want - before} relayed")
        time.sleep(0.01)
    relayed = time.perf_counter() - start
    n = connections * per
    return n / accepted, n / relayed

o, p = send(ours, True), send(theirs, False)
n = connections * per
print(f"\nRelaying {n} messages of {size} octets ({connections} connections x {per}), messages per second (higher is better)")
print(f"{'':10} {'mailserver':>11} {'postfix':>9} {'ratio':>7}")
for i, label in enumerate(("accepted", "relayed")):
    print(f"{label:10} {o[i]:11.0f} {p[i]:9.0f} {o[i] / p[i]:7.2f}")
print("ratio = our rate / Postfix's (above 1: we are faster)")
PY
