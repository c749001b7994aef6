#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server for the index's PostgreSQL tests and prints its URL (the last line of
# stdout). The tests run it themselves (tests/support/index_backends.py); to keep one server across runs instead:
#
#   export ASSISTANT_TEST_POSTGRES=$(bash scripts/start-test-postgres.sh)
#   python -m pytest -q tests/test_index.py tests/test_postgres.py
#   bash scripts/start-test-postgres.sh stop
#
# The server listens on 127.0.0.1 only (port $TEST_POSTGRES_PORT, default 55432), keeps its data in
# $TEST_POSTGRES_DIR (default /tmp/assistant-test-postgres) and asks for a password (generated on first start),
# so the tests see a real URL with a real password. Run as root, it runs as the unprivileged `postgres` user
# (PostgreSQL refuses to run as root). It is a test server: fsync is off. Run again, it reuses the running one.
set -euo pipefail

DIR="${TEST_POSTGRES_DIR:-/tmp/assistant-test-postgres}"
PORT="${TEST_POSTGRES_PORT:-55432}"
DATA="$DIR/data"

bindir() {
    # Debian's packages put the server binaries outside PATH; pick the newest installed version.
    local found
    found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -n "$found" ] && [ -x "$found/initdb" ]; then echo "$found"; return; fi
    if command -v initdb >/dev/null 2>&1; then dirname "$(command -v initdb)"; return; fi
    if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then pg_config --bindir; return; fi
    echo "PostgreSQL's server binaries (initdb, pg_ctl) are not installed: apt-get install postgresql" >&2
    exit 1
}

BIN=$(bindir)
if [ "$(id -u)" = 0 ]; then
    if ! id postgres >/dev/null 2>&1; then
        useradd --system --no-create-home --shell /usr/sbin/nologin postgres
    fi
    as_server() { runuser -u postgres -- "$@"; }
    OWNER=postgres
else
    as_server() { "$@"; }
    OWNER=$(id -un)
fi

if [ "${1:-start}" = stop ]; then
    if [ -f "$DATA/postmaster.pid" ]; then
        as_server "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >&2
    fi
    exit 0
fi

if [ ! -f "$DATA/PG_VERSION" ]; then
    mkdir -p "$DIR"
    chmod 755 "$DIR"
    chown "$OWNER" "$DIR"
    # The superuser's password: random, readable by the server's user and whoever started it.
    as_server sh -c "umask 077 && od -An -tx1 -N16 /dev/urandom | tr -d ' \n' > '$DIR/password'"
    as_server "$BIN/initdb" -D "$DATA" --username=assistant --pwfile="$DIR/password" --auth-host=scram-sha-256 \
        --auth-local=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >/dev/null
fi
PASSWORD=$(cat "$DIR/password")
URL="postgresql://assistant:$PASSWORD@127.0.0.1:$PORT/assistant_test"

if ! as_server "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    # Loopback only; the unix socket lives in the data dir (the system's socket folder may not exist).
    as_server "$BIN/pg_ctl" -D "$DATA" -l "$DIR/server.log" -w -t 60 start \
        -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DATA -c fsync=off -c full_page_writes=off -c max_connections=200" \
        >&2 || { cat "$DIR/server.log" >&2; exit 1; }
fi
# The tests' database (each test makes its own schema in it).
PGPASSWORD="$PASSWORD" "$BIN/psql" -qAt "postgresql://assistant@127.0.0.1:$PORT/postgres" \
    -c "SELECT 1 FROM pg_database WHERE datname = 'assistant_test'" | grep -q 1 \
    || PGPASSWORD="$PASSWORD" "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U assistant assistant_test
echo "$URL"
