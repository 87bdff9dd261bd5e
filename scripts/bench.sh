#!/usr/bin/env bash
# `make bench` (issue 9): builds in release, starts Tessera on its own PostgreSQL
# database on loopback, starts the HTTP ceiling server, and runs tessera-loadgen,
# which measures every scenario and ceiling in the same run and writes
# target/bench/report.md and results.json. The database is dropped at the end.
#
#   scripts/bench.sh            # the full run (about 6 minutes after the build)
#   scripts/bench.sh --quick    # a smoke run (1 s windows, 50,000 bulk sessions)
#
# Extra arguments go to `tessera-loadgen bench` (see `tessera-loadgen bench --help`).
# BENCH_PG_HOST / BENCH_PG_PORT / BENCH_PG_USER pick another PostgreSQL (trust auth).
set -euo pipefail
cd "$(dirname "$0")/.."

started=$SECONDS
pg_host=${BENCH_PG_HOST:-127.0.0.1}
pg_port=${BENCH_PG_PORT:-5432}
pg_user=${BENCH_PG_USER:-postgres}
database="tessera_bench_$$"
admin_url="postgres://${pg_user}@${pg_host}:${pg_port}/postgres"
# No TLS on loopback, for the server and for pgbench alike: libpq's default
# (`sslmode=prefer`) encrypts whenever the server offers it, as Debian's does, which
# cost `me` about a fifth of its throughput here (docs/performance.md).
database_url="postgres://${pg_user}@${pg_host}:${pg_port}/${database}?sslmode=disable"
out=target/bench
psql=$(command -v psql || echo /usr/lib/postgresql/15/bin/psql)
pgbench=$(command -v pgbench || echo /usr/lib/postgresql/15/bin/pgbench)

# One invocation, so both binaries share one feature resolution (no rebuilds).
cargo build --release -p tessera-server -p tessera-loadgen
tessera=target/release/tessera
loadgen=target/release/tessera-loadgen

server_pid=""
ceiling_pid=""
cleanup() {
    local status=$?
    for pid in $server_pid $ceiling_pid; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    "$psql" -X -q -d "$admin_url" -c "DROP DATABASE IF EXISTS ${database} WITH (FORCE)" \
        >/dev/null 2>&1 || echo "bench: could not drop database ${database}" >&2
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$out"
"$psql" -X -q -d "$admin_url" -c "CREATE DATABASE ${database}"
pg_settings=$("$psql" -X -A -t -d "$admin_url" -c \
    "SELECT 'PostgreSQL ' || current_setting('server_version') || ', fsync ' || current_setting('fsync') || ', synchronous_commit ' || current_setting('synchronous_commit') || ', shared_buffers ' || current_setting('shared_buffers')")

port=$("$loadgen" free-port)
pool_size=${TESSERA_DATABASE_POOL_SIZE:-10}
# Rate limiting (once it exists) would turn the load into 429s.
TESSERA_BIND="127.0.0.1:${port}" \
TESSERA_DATABASE_URL="$database_url" \
TESSERA_DATABASE_POOL_SIZE="$pool_size" \
TESSERA_ISSUER="http://127.0.0.1:${port}" \
TESSERA_LOG_FORMAT=json \
TESSERA_RATE_LIMIT=off \
RUST_LOG=warn \
    "$tessera" serve >"$out/server.log" 2>&1 &
server_pid=$!

"$loadgen" ceiling-server --bind 127.0.0.1:0 >"$out/ceiling.addr" 2>"$out/ceiling.log" &
ceiling_pid=$!

for _ in $(seq 1 100); do
    if curl -sf "http://127.0.0.1:${port}/healthz" >/dev/null && [[ -s "$out/ceiling.addr" ]]; then
        break
    fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "bench: tessera did not start:" >&2
        cat "$out/server.log" >&2
        exit 1
    fi
    sleep 0.1
done
curl -sf "http://127.0.0.1:${port}/healthz" >/dev/null || { echo "bench: tessera is not healthy" >&2; exit 1; }
ceiling=$(head -n1 "$out/ceiling.addr")

"$loadgen" bench \
    --target "http://127.0.0.1:${port}" \
    --server-pid "$server_pid" \
    --ceiling "http://${ceiling}" \
    --ceiling-pid "$ceiling_pid" \
    --database-url "$database_url" \
    --psql "$psql" \
    --pgbench "$pgbench" \
    --out "$out" \
    --run-date "$(date -u '+%Y-%m-%d %H:%M UTC')" \
    --server-settings "\`tessera serve\` (release build), defaults except TESSERA_LOG_FORMAT=json, RUST_LOG=warn; database pool ${pool_size} connections; actix-web workers: default (one per CPU); EdDSA access tokens; ${pg_settings}, on loopback without TLS" \
    "$@"

echo "bench: done in $((SECONDS - started)) s; report in ${out}/report.md" >&2
