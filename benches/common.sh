# Shared by the comparison scripts in benches/ (sourced, not run): a fresh work directory,
# the release binary, and waiting for a listener.

[ "$(id -u)" -eq 0 ] || { echo "run as root (a private peer server is started)" >&2; exit 1; }
rm -rf "$WORK"; mkdir -p "$WORK"

(cd "$ROOT" && cargo build --release --quiet --bin mailserver)
BIN="$ROOT/target/release/mailserver"

# Waits up to 20 s for something to listen on 127.0.0.1:$1.
wait_port() {
    for _ in $(seq 400); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    echo "port $1 did not open" >&2
    exit 1
}
