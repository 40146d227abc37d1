#!/usr/bin/env bash
# The cost of sender authentication on port 25: ingest with [sender_auth] on (SPF, DKIM,
# DMARC and ARC checked through a local DNS server) against the same server with it off, in
# the same run, alternating on/off PAIRS times (the machine is noisy).
#
# smtp-source sends COUNT copies of one DKIM-signed (RSA-2048, dkimpy) 10 KB message over
# SESSIONS sessions from 127.0.0.1, which the zone's SPF record allows; the sender's DMARC
# record says p=reject, so every message is fully judged (and must pass: the script checks
# the Authentication-Results of a stored copy). The clock stops when the last copy is a file
# in new/. The resolver caches the records after the first message, as it does for a sender
# that writes often; the lookups themselves cost one round trip to unbound per record.
#
# Needs root, postfix (smtp-source), unbound, python3-dkim and openssl (installed when
# missing). Usage: benches/sender-auth.sh  (env: COUNT=2000 PAIRS=4 SESSIONS=10
# WORK=/tmp/sender-auth-bench)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-/tmp/sender-auth-bench}
COUNT=${COUNT:-2000}
PAIRS=${PAIRS:-4}
SESSIONS=${SESSIONS:-10}
ON_PORT=${ON_PORT:-12535}
OFF_PORT=${OFF_PORT:-12536}
DNS_PORT=${DNS_PORT:-12553}

. "$ROOT/benches/common.sh"
need_postfix
for pkg in unbound:/usr/sbin/unbound python3-dkim:/usr/lib/python3/dist-packages/dkim; do
    [ -e "${pkg#*:}" ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkg%%:*}" >/dev/null
done

# --- the sender's domain: SPF, DKIM key, DMARC p=reject, served by unbound ---
openssl genrsa -traditional -out "$WORK/client.pem" 2048 2>/dev/null
PUB=$(openssl rsa -in "$WORK/client.pem" -pubout -outform DER 2>/dev/null | base64 -w0)
cat > "$WORK/unbound.conf" <<CONF
server:
 interface: 127.0.0.1@$DNS_PORT
 port: $DNS_PORT
 do-daemonize: no
 use-syslog: no
 username: ""
 chroot: ""
 directory: "$WORK"
 pidfile: ""
 access-control: 127.0.0.0/8 allow
 local-zone: "." refuse
 # The tree walk of DMARC (RFC 9989) asks _dmarc.example too: NXDOMAIN, not REFUSED.
 local-zone: "example." static
 local-data: 'client.example. 300 IN TXT "v=spf1 ip4:127.0.0.1 -all"'
 local-data: '_dmarc.client.example. 300 IN TXT "v=DMARC1; p=reject"'
 local-data: 'sel._domainkey.client.example. 300 IN TXT "v=DKIM1; k=rsa; p=${PUB:0:200}" "${PUB:200}"'
remote-control:
 control-enable: no
CONF
unbound -d -c "$WORK/unbound.conf" 2>"$WORK/unbound.log" &
DNS_PID=$!
trap 'kill $DNS_PID 2>/dev/null; stop_servers' EXIT

# One signed message of about 10 KB; smtp-source -F sends each line with CRLF, as signed.
/usr/bin/python3 - "$WORK/client.pem" "$WORK/message.eml" <<'PY'
import sys, dkim
key = open(sys.argv[1], "rb").read()
body = b"".join(b"line %05d of a message of some ten kilobytes, as mail often is..........\r\n" % i
                for i in range(130))
msg = (b"From: sender@client.example\r\nTo: rcpt@bench.example\r\nSubject: bench\r\n"
       b"Message-ID: <bench@client.example>\r\nDate: Sat, 05 Dec 2026 10:00:00 +0000\r\n\r\n" + body)
sig = dkim.sign(msg, b"sel", b"client.example", key,
                include_headers=[b"from", b"to", b"subject", b"message-id", b"date"])
open(sys.argv[2], "wb").write((sig + msg).replace(b"\r\n", b"\n"))
PY

# --- two servers, one with the checks and one without ---
for mode in on off; do
    port=$ON_PORT; enabled=true
    [ "$mode" = off ] && { port=$OFF_PORT; enabled=false; }
    cat > "$WORK/$mode.toml" <<CONF
hostname = "bench.example"
run_as_root = true
data_dir = "$WORK/$mode"
[listen]
smtp = ["127.0.0.1:$port"]
submission = []
submissions = []
pop3 = []
pop3s = []
imap = []
imaps = []
[limits]
max_connections = 1000
max_connections_per_address = 1000
[relay]
nameservers = ["127.0.0.1:$DNS_PORT"]
[guard]
# The bench's client is 127.0.0.1: not trusted, so its mail is checked; no rate limit.
trusted_networks = []
max_connections_per_minute = 0
[sender_auth]
enabled = $enabled
CONF
    "$BIN" -c "$WORK/$mode.toml" domain add bench.example >/dev/null
    echo secret | "$BIN" -c "$WORK/$mode.toml" user add rcpt@bench.example --password-stdin >/dev/null
    MAILSERVER_LOG=warn "$BIN" -c "$WORK/$mode.toml" serve 2>>"$WORK/$mode.log" &
    eval "${mode^^}_PID=$!"
    wait_port "$port"
done
trap 'kill $DNS_PID $ON_PID $OFF_PID 2>/dev/null; wait $ON_PID $OFF_PID 2>/dev/null; stop_servers' EXIT

run() { # mode -> "messages/s cpu-ms-per-message"
    local mode=$1 port=$ON_PORT root="$WORK/on/mail"
    [ "$mode" = off ] && { port=$OFF_PORT; root="$WORK/off/mail"; }
    sync; sleep 0.2
    local before; before=$(files "$root")
    local cpu0; cpu0=$(busy)
    local start; start=$(date +%s.%N)
    local client
    client=$( { /usr/bin/time -f "%U %S" smtp-source -s "$SESSIONS" -m "$COUNT" -F "$WORK/message.eml" \
        -f sender@client.example -t rcpt@bench.example "127.0.0.1:$port" >/dev/null; } 2>&1 | tail -1)
    wait_files "$root" $((before + COUNT)) 300 "checks $mode" || return 1
    local end; end=$(date +%s.%N)
    local cpu1; cpu1=$(busy)
    echo "$end $start $cpu1 $cpu0 $client" | awk -v n="$COUNT" -v hz="$(getconf CLK_TCK)" \
        '{ printf "%.1f %.3f", n / ($1 - $2), (($3 - $4) / hz - $5 - $6) * 1000 / n }'
}

range() { tr ' ' '\n' | sed '/^$/d' | sort -g | sed -n '1p;$p' | paste -sd- ; }

on_rate=""; off_rate=""; on_cpu=""; off_cpu=""; ratios=""; costs=""
for _ in $(seq "$PAIRS"); do
    read -r a ac <<<"$(run on)"
    read -r b bc <<<"$(run off)"
    on_rate+="$a "; off_rate+="$b "; on_cpu+="$ac "; off_cpu+="$bc "
    ratios+="$(echo "$a $b" | awk '{ printf "%.2f", $1 / $2 }') "
    costs+="$(echo "$ac $bc" | awk '{ printf "%.3f", $1 - $2 }') "
done
# The checks ran, and passed: a stored copy says so.
copy=$(find "$WORK/on/mail" -path '*/new/*' -type f -print -quit)
grep -q "dkim=pass" "$copy" && grep -q "spf=pass" "$copy" && grep -q "dmarc=pass header.from=client.example policy.dmarc=reject" "$copy" ||
    { echo "the checks did not pass; a stored copy:" >&2; head -20 "$copy" >&2; exit 1; }
off_copy=$(find "$WORK/off/mail" -path '*/new/*' -type f -print -quit)
! grep -q "^Authentication-Results: bench.example" "$off_copy" || { echo "off judged mail" >&2; exit 1; }

printf '\nSender authentication, %s signed 10 KB messages per run over %s sessions, %s pairs alternating\n' "$COUNT" "$SESSIONS" "$PAIRS"
printf '%-22s %15s %15s\n' "" "checks on" "checks off"
printf '%-22s %15s %15s\n' "messages/s (range)" "$(echo $on_rate | range)" "$(echo $off_rate | range)"
printf '%-22s %15s %15s\n' "CPU ms/message" "$(echo $on_cpu | range)" "$(echo $off_cpu | range)"
printf 'on/off rate per pair: %s; CPU cost of the checks per message: %s ms\n' "$(echo $ratios | range)" "$(echo $costs | range)"
