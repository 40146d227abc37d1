#!/usr/bin/env bash
# Logins against an LDAP directory: our server against Dovecot (passdb ldap with auth_bind,
# Debian's dovecot-ldap), both pointed at the same private slapd, in the same run.
#
# slapd holds USERS users (inetOrgPerson, SSHA passwords) and a service account that may
# search them. Each server finds the user by a filter as the service account, then binds as
# the entry found. Neither caches authentication (Dovecot's auth_cache_size is 0 by default).
# The client opens a connection, logs in over IMAP (LOGIN, cleartext on loopback), logs out;
# LOGINS of these, from 1 and then CONCURRENCY clients at once. Prints logins per second.
#
# Needs root; installs slapd, ldap-utils, dovecot-imapd and dovecot-ldap when missing.
# Usage: benches/ldap-auth.sh  (env: LOGINS=2000 CONCURRENCY=8 USERS=50 WORK=/tmp/ldap-bench;
#        OUR_BIN=another build of ours)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-/tmp/ldap-bench}
LOGINS=${LOGINS:-2000}
CONCURRENCY=${CONCURRENCY:-8}
USERS=${USERS:-50}
LDAP_PORT=${LDAP_PORT:-14389}
OUR_IMAP=${OUR_IMAP:-14243}
DOVECOT_IMAP=${DOVECOT_IMAP:-14244}

. "$ROOT/benches/common.sh"
missing=""
for p in slapd:slapd slappasswd:slapd ldapadd:ldap-utils dovecot:dovecot-imapd; do
    command -v "${p%%:*}" >/dev/null || missing="$missing ${p#*:}"
done
[ -e /usr/lib/dovecot/modules/auth/libauthdb_ldap.so ] || missing="$missing dovecot-ldap"
[ -z "$missing" ] ||
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null


# The directory.
mkdir -p "$WORK/slapd/db"
cat > "$WORK/slapd/slapd.conf" <<CONF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile $WORK/slapd/slapd.pid
database mdb
suffix "dc=example,dc=com"
rootdn "cn=admin,dc=example,dc=com"
rootpw admin-pw
directory $WORK/slapd/db
index mail eq
access to attrs=userPassword by anonymous auth by * none
access to * by dn.exact="cn=mail,dc=example,dc=com" read by self read by * none
CONF
{
    printf 'dn: dc=example,dc=com\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example\n\n'
    printf 'dn: ou=people,dc=example,dc=com\nobjectClass: organizationalUnit\nou: people\n\n'
    printf 'dn: cn=mail,dc=example,dc=com\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: mail\nuserPassword: %s\n\n' \
        "$(slappasswd -s service-pw)"
    hash=$(slappasswd -s secret)
    for i in $(seq 0 $((USERS - 1))); do
        printf 'dn: uid=user%d,ou=people,dc=example,dc=com\nobjectClass: inetOrgPerson\nuid: user%d\ncn: User %d\nsn: %d\nmail: user%d@example.com\nuserPassword: %s\n\n' \
            "$i" "$i" "$i" "$i" "$i" "$hash"
    done
} > "$WORK/slapd/users.ldif"
slapadd -q -f "$WORK/slapd/slapd.conf" -l "$WORK/slapd/users.ldif"
slapd -f "$WORK/slapd/slapd.conf" -h "ldap://127.0.0.1:$LDAP_PORT/"
wait_port "$LDAP_PORT"

# Ours.
cat > "$WORK/ours.toml" <<CONF
hostname = "bench.example"
run_as_root = true
data_dir = "$WORK/ours"
[limits]
max_connections = 1000
[imap]
allow_plaintext_auth = true
[listen]
smtp = []
imap = ["127.0.0.1:$OUR_IMAP"]
[ldap]
url = "ldap://127.0.0.1:$LDAP_PORT"
bind_dn = "cn=mail,dc=example,dc=com"
bind_password = "service-pw"
base = "ou=people,dc=example,dc=com"
user_filter = "(&(objectClass=inetOrgPerson)(mail=%u))"
CONF
"$BIN" -c "$WORK/ours.toml" domain add example.com >/dev/null
serve_ours

# Dovecot: the same search and bind.
mkdir -p "$WORK/dovecot/run" "$WORK/dovecot/state" "$WORK/dovecot/mail"
chown nobody:nogroup "$WORK/dovecot/mail"
cat > "$WORK/dovecot/ldap.conf" <<CONF
hosts = 127.0.0.1:$LDAP_PORT
dn = cn=mail,dc=example,dc=com
dnpass = service-pw
auth_bind = yes
base = ou=people,dc=example,dc=com
pass_filter = (&(objectClass=inetOrgPerson)(mail=%u))
pass_attrs = mail=user
CONF
cat > "$WORK/dovecot/dovecot.conf" <<CONF
base_dir = $WORK/dovecot/run
state_dir = $WORK/dovecot/state
log_path = $WORK/dovecot/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:$WORK/dovecot/mail/%d/%n
default_process_limit = 1000
default_client_limit = 3000
protocol imap {
  mail_max_userip_connections = 1000
}
passdb {
  driver = ldap
  args = $WORK/dovecot/ldap.conf
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$WORK/dovecot/mail/%d/%n
}
service imap-login {
  service_count = 0
  inet_listener imap {
    port = $DOVECOT_IMAP
  }
  inet_listener imaps {
    port = 0
  }
}
CONF
dovecot -c "$WORK/dovecot/dovecot.conf"
wait_port "$OUR_IMAP"; wait_port "$DOVECOT_IMAP"

python3 - "$OUR_IMAP" "$DOVECOT_IMAP" "$LOGINS" "$CONCURRENCY" "$USERS" <<'PY'
import socket, sys, threading, time
ours, theirs, logins, concurrency, users = map(int, sys.argv[1:6])

def login(port, n):
    s = socket.create_connection(("127.0.0.1", port))
    f = s.makefile("rb")
    f.readline()
    s.sendall(b"a LOGIN user%d@example.com secret\r\nb LOGOUT\r\n" % (n % users))
    while True:
        line = f.readline()
        if not line:
            raise RuntimeError("connection closed")
        if line.startswith(b"a "):
            if not line.startswith(b"a OK"):
                raise RuntimeError(f"port {port}: {line!r}")
        if line.startswith(b"b "):
            break
    s.close()

def run(port, clients):
    per = logins // clients
    errors = []
    def worker(k):
        try:
            for i in range(per):
                login(port, k * per + i)
        except Exception as e:
            errors.append(e)
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise errors[0]
    return per * clients / elapsed

# A few logins each first (processes started, connections opened), then the measured runs.
for port in (ours, theirs):
    for i in range(20):
        login(port, i)
print(f"\nIMAP LOGIN + LOGOUT against slapd ({users} users), logins per second (higher is better)")
print(f"{'clients':>8} {'mailserver':>11} {'dovecot':>9} {'ratio':>7}")
for clients in (1, concurrency):
    o, d = run(ours, clients), run(theirs, clients)
    print(f"{clients:8} {o:11.0f} {d:9.0f} {o / d:7.2f}")
print("ratio = our rate / Dovecot's (above 1: we are faster)")
PY
