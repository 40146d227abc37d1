# Shared by the comparison scripts in benches/ (sourced, not run): a fresh work directory,
# the release binary, and waiting for a listener.

[ "$(id -u)" -eq 0 ] || { echo "run as root (a private peer server is started)" >&2; exit 1; }
rm -rf "$WORK"; mkdir -p "$WORK"

(cd "$ROOT" && cargo build --release --quiet --bin mailserver)
# OUR_BIN: time another build of ours (e.g. an older one) instead.
BIN=${OUR_BIN:-$ROOT/target/release/mailserver}

# Stops whatever a script started (ours, smtp-sink, its private Postfix, Dovecot, slapd);
# run at exit.
stop_servers() {
    [ -n "${OUR_PID:-}" ] && kill "$OUR_PID" 2>/dev/null && wait "$OUR_PID" 2>/dev/null || true
    [ -n "${SINK_PID:-}" ] && kill "$SINK_PID" 2>/dev/null || true
    [ -f "$WORK/postfix/etc/main.cf" ] && postfix -c "$WORK/postfix/etc" stop >/dev/null 2>&1 || true
    [ -f "$WORK/dovecot/dovecot.conf" ] && dovecot -c "$WORK/dovecot/dovecot.conf" stop 2>/dev/null || true
    [ -f "$WORK/slapd/slapd.pid" ] && kill "$(cat "$WORK/slapd/slapd.pid")" 2>/dev/null || true
}
trap stop_servers EXIT

# Starts ours with $WORK/ours.toml in the background (log: $WORK/ours.log); sets OUR_PID.
serve_ours() {
    MAILSERVER_LOG=warn "$BIN" -c "$WORK/ours.toml" serve 2>>"$WORK/ours.log" &
    OUR_PID=$!
}

# Adds the domain bench.example to ours, and each of its users named in $@ with the
# password "secret".
add_bench_users() {
    "$BIN" -c "$WORK/ours.toml" domain add bench.example >/dev/null
    local u
    for u in "$@"; do
        echo secret | "$BIN" -c "$WORK/ours.toml" user add "$u@bench.example" --password-stdin >/dev/null
    done
}

# Waits up to 20 s for something to listen on 127.0.0.1:$1.
wait_port() {
    for _ in $(seq 400); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    echo "port $1 did not open" >&2
    exit 1
}

# Installs Dovecot's IMAP server when missing.
need_dovecot() {
    command -v dovecot >/dev/null ||
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dovecot-imapd >/dev/null
}

# Installs Postfix when smtp-source is missing ("No configuration": the system instance
# stays off).
need_postfix() {
    command -v smtp-source >/dev/null && return 0
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix >/dev/null
}

# Starts a private Postfix under $1 with smtpd on 127.0.0.1:$2; $3 is added to its main.cf.
# Stop it with `postfix -c $1/etc stop`.
start_postfix() {
    local dir=$1 port=$2 extra=$3
    mkdir -p "$dir/etc" "$dir/spool" "$dir/lib"
    chown postfix:postfix "$dir/lib"
    cat > "$dir/etc/main.cf" <<CONF
compatibility_level = 3.6
queue_directory = $dir/spool
data_directory = $dir/lib
mail_owner = postfix
myhostname = pf.bench.example
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mydestination =
mynetworks = 127.0.0.0/8
message_size_limit = 52428800
smtpd_client_connection_rate_limit = 0
maillog_file_prefixes = $dir
maillog_file = $dir/maillog
$extra
CONF
    sed -e "s/^smtp\s\+inet.*/127.0.0.1:$port inet n - n - - smtpd/" \
        -e 's/^\([a-z]\+\s\+\(unix\|fifo\|inet\|unix-dgram\)\s\+[-ny]\s\+[-ny]\s\+\)y/\1n/' \
        /etc/postfix/master.cf > "$dir/etc/master.cf"
    grep -q '^postlog' "$dir/etc/master.cf" || echo "postlog unix-dgram n - n - 1 postlogd" >> "$dir/etc/master.cf"
    postfix -c "$dir/etc" check >/dev/null 2>&1 || true
    script -qc "postfix -c $dir/etc start" /dev/null || { echo "postfix did not start" >&2; exit 1; }
    wait_port "$port"
}

# Starts ours under $WORK with submission on 127.0.0.1:$1 (user sender@bench.example, password
# "secret") relaying to 127.0.0.1:$2 without TLS; sets OUR_PID. Then a private Postfix with
# smtpd on 127.0.0.1:$3 relaying there for mynetworks (under $WORK/postfix).
start_relaying_servers() {
    local our_port=$1 sink_port=$2 pf_port=$3
    cat > "$WORK/ours.toml" <<CONF
hostname = "bench.example"
run_as_root = true
data_dir = "$WORK/ours"
[listen]
smtp = []
submission = ["127.0.0.1:$our_port"]
[limits]
max_connections = 1000
# The bench's one user sends more than a person would: no hourly sending limits.
[guard]
max_messages_per_hour = 0
max_recipients_per_hour = 0
max_connections_per_minute = 0
[relay]
host = "127.0.0.1:$sink_port"
tls = "none"
CONF
    add_bench_users sender
    serve_ours
    wait_port "$our_port"
    start_postfix "$WORK/postfix" "$pf_port" "relayhost = [127.0.0.1]:$sink_port
smtp_tls_security_level = none
default_destination_concurrency_limit = 20"
}

# Starts Postfix's smtp-sink on 127.0.0.1:$1 as a relay host that stores each message it
# takes as a file under $WORK/sink; sets SINK_PID.
start_sink() {
    mkdir -p "$WORK/sink"
    chown nobody:nogroup "$WORK/sink"
    smtp-sink -u nobody -d "$WORK/sink/%H%M%S." "127.0.0.1:$1" 256 &
    SINK_PID=$!
    wait_port "$1"
}

# Files at the sink so far (smtp-sink -d writes one per message).
sink_files() { find "$WORK/sink" -maxdepth 1 -type f | wc -l; }

# A private Dovecot for the IMAP comparisons, under $WORK/dovecot: the users named in $@ with
# ours' Argon2id password hash, mail under $WORK/dovecot/mail/<user> (owned by nobody), IMAP
# on 127.0.0.1:$DOVECOT_IMAP and, when DOVECOT_IMAPS is set, IMAPS there with ours'
# certificate; room for CLIENTS connections. Writes the configuration; start it with
# `dovecot -c "$WORK/dovecot/dovecot.conf"`.
dovecot_imap_conf() {
    mkdir -p "$WORK/dovecot/run" "$WORK/dovecot/state" "$WORK/dovecot/mail"
    local hash u ssl imaps
    hash=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select password from mailbox limit 1").fetchone()[0])' "$WORK/ours/accounts.db")
    : > "$WORK/dovecot/passwd"
    for u in "$@"; do printf '%s:%s\n' "$u" "$hash" >> "$WORK/dovecot/passwd"; done
    ssl="ssl = no"
    imaps="port = 0"
    if [ -n "${DOVECOT_IMAPS:-}" ]; then
        ssl="ssl = yes
ssl_cert = <$WORK/ours/tls/cert.pem
ssl_key = <$WORK/ours/tls/key.pem"
        imaps="port = $DOVECOT_IMAPS
    ssl = yes"
    fi
    cat > "$WORK/dovecot/dovecot.conf" <<CONF
base_dir = $WORK/dovecot/run
state_dir = $WORK/dovecot/state
log_path = $WORK/dovecot/dovecot.log
protocols = imap
listen = 127.0.0.1
$ssl
disable_plaintext_auth = no
auth_mechanisms = plain
mail_location = maildir:$WORK/dovecot/mail/%n
default_process_limit = $((CLIENTS + 100))
default_client_limit = $(((CLIENTS + 100) * 3))
protocol imap {
  mail_max_userip_connections = $((CLIENTS + 100))
}
passdb {
  driver = passwd-file
  args = $WORK/dovecot/passwd
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$WORK/dovecot/mail/%n
}
service imap-login {
  service_count = 0
  client_limit = $((CLIENTS + 100))
  inet_listener imap {
    port = $DOVECOT_IMAP
  }
  inet_listener imaps {
    $imaps
  }
}
CONF
}

# Files in every new/ under $1.
files() { find "$1" -path '*/new/*' -type f 2>/dev/null | wc -l; }
# CPU time of the whole machine so far, in clock ticks, less idle and I/O wait.
busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }

# Waits up to $3 seconds for $2 files in the new/ directories under $1; says how many came
# (label $4) and fails when they did not.
wait_files() {
    local root=$1 want=$2 deadline=$(( $(date +%s) + $3 )) label=$4
    while [ "$(files "$root")" -lt "$want" ]; do
        [ "$(date +%s)" -lt "$deadline" ] || { echo "$label: only $(files "$root") of $want stored" >&2; return 1; }
        sleep 0.01
    done
}
