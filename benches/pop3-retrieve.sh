#!/usr/bin/env bash
# POP3 retrieval: log in and RETR every message of a 1,000-message mailbox, our server against
# Dovecot's POP3 serving a copy of the same Maildir on another loopback port, in the same run,
# with the same client (Python's poplib). Each server gets a warm-up pass (Dovecot builds its
# index, we write the uidlist), then RUNS timed passes; the best pass is reported.
#
# Needs root (Dovecot is started as a private instance under $WORK) and the Debian packages
# postfix (smtp-source fills the mailbox) and dovecot-pop3d; both are installed when missing.
# Usage: benches/pop3-retrieve.sh   (env: COUNT=1000 SIZE=5000 RUNS=5 WORK=/tmp/pop3-retrieve)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-/tmp/pop3-retrieve}
COUNT=${COUNT:-1000}
SIZE=${SIZE:-5000}
RUNS=${RUNS:-5}
SMTP_PORT=${SMTP_PORT:-13525}
OUR_POP3=${OUR_POP3:-13110}
DOVECOT_POP3=${DOVECOT_POP3:-13111}

. "$ROOT/benches/common.sh"
need=()
command -v smtp-source >/dev/null || need+=(postfix)
command -v dovecot >/dev/null || need+=(dovecot-pop3d)
if [ ${#need[@]} -gt 0 ]; then
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi


cat > "$WORK/ours.toml" <<CONF
hostname = "bench.example"
run_as_root = true
data_dir = "$WORK/ours"
[listen]
smtp = ["127.0.0.1:$SMTP_PORT"]
pop3 = ["127.0.0.1:$OUR_POP3"]
CONF
add_bench_users rcpt
serve_ours
wait_port "$SMTP_PORT"; wait_port "$OUR_POP3"
MAILDIR="$WORK/ours/mail/bench.example/rcpt"
smtp-source -s 10 -m "$COUNT" -l "$SIZE" -f sender@client.example -t rcpt@bench.example "127.0.0.1:$SMTP_PORT"
while [ "$(find "$MAILDIR/new" -type f | wc -l)" -lt "$COUNT" ]; do sleep 0.1; done

# Dovecot serves a copy of the same Maildir, and checks the same Argon2id password hash (so
# both pay the same for a login).
mkdir -p "$WORK/dovecot/run" "$WORK/dovecot/state" "$WORK/dovecot/mail"
HASH=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select password from mailbox").fetchone()[0])' "$WORK/ours/accounts.db")
echo "rcpt:$HASH" > "$WORK/dovecot/passwd"
cp -a "$MAILDIR" "$WORK/dovecot/mail/rcpt"
chown -R nobody:nogroup "$WORK/dovecot/mail"
cat > "$WORK/dovecot/dovecot.conf" <<CONF
base_dir = $WORK/dovecot/run
state_dir = $WORK/dovecot/state
log_path = $WORK/dovecot/dovecot.log
protocols = pop3
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
mail_location = maildir:$WORK/dovecot/mail/%n
passdb {
  driver = passwd-file
  args = $WORK/dovecot/passwd
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$WORK/dovecot/mail/%n
}
service pop3-login {
  inet_listener pop3 {
    port = $DOVECOT_POP3
  }
  inet_listener pop3s {
    port = 0
  }
}
CONF
dovecot -c "$WORK/dovecot/dovecot.conf"
wait_port "$DOVECOT_POP3"

python3 - "$OUR_POP3" "$DOVECOT_POP3" "$RUNS" "$COUNT" <<'PY'
import poplib, sys, time
ours, theirs, runs, count = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
def session(port, user):
    start = time.perf_counter()
    p = poplib.POP3("127.0.0.1", port)
    p.user(user); p.pass_("secret")
    n, size = p.stat()
    octets = 0
    for i in range(1, n + 1):
        octets += len(b"\r\n".join(p.retr(i)[1]))
    p.quit()
    elapsed = time.perf_counter() - start
    assert n == count, (port, n)
    return elapsed, octets
results = {}
for name, port, user in (("mailserver", ours, "rcpt@bench.example"), ("dovecot", theirs, "rcpt")):
    session(port, user)  # warm-up: indexes and uidlists are built here
    best = min(session(port, user)[0] for _ in range(runs))
    results[name] = best
print("\nPOP3: log in and RETR all %d messages (best of %d runs, seconds; lower is better)" % (count, runs))
print("%-12s %10.3f s  %8.0f msg/s" % ("mailserver", results["mailserver"], count / results["mailserver"]))
print("%-12s %10.3f s  %8.0f msg/s" % ("dovecot", results["dovecot"], count / results["dovecot"]))
print("ratio (dovecot time / our time): %.2f" % (results["dovecot"] / results["mailserver"]))
PY
