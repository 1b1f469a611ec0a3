#!/usr/bin/env bash
# Load harness: a release cofre on loopback (plain HTTP, fresh data dir) driven by wrk from a
# second process. Prints wrk's summary for a token request, a sealed read and a sealed write.
#   bench/run.sh [seconds] [connections]      (default 10 s, 32 connections)
# Set COFRE_DATABASE_URL=postgres://… to measure PostgreSQL instead of SQLite.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-10}"; conns="${2:-32}"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release --quiet
cofre=target/release/cofre
. bench/common.sh
data=$(mktemp -d)
cofre_up "$data" /dev/stderr "${COFRE_DATABASE_URL:-}"
trap 'kill $cofre_pid 2>/dev/null; wait $cofre_pid 2>/dev/null; rm -rf "$data"' EXIT
id=$client_id secret=$client_secret

lua=$(mktemp)
cat >"$lua" <<LUA
wrk.method = "POST"
wrk.body = "content=written-under-load"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Bearer $token"
LUA
tok=$(mktemp)
cat >"$tok" <<LUA
wrk.method = "POST"
wrk.body = "grant_type=client_credentials&client_id=$id&client_secret=$secret"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
LUA

echo "== token issue (POST /iso/oauth2/token)"
wrk -t2 -c"$conns" -d"${secs}s" --latency -s "$tok" "$base/iso/oauth2/token" | sed -n '/Latency Distribution/,/Requests\/sec/p'
echo "== sealed read (GET /iso/pam/info/bench)"
wrk -t2 -c"$conns" -d"${secs}s" --latency -H "Authorization: Bearer $token" "$base/iso/pam/info/bench" | sed -n '/Latency Distribution/,/Requests\/sec/p'
echo "== sealed write (POST /iso/pam/info)"
wrk -t2 -c"$conns" -d"${secs}s" --latency -s "$lua" "$base/iso/pam/info" | sed -n '/Latency Distribution/,/Requests\/sec/p'
rm -f "$lua" "$tok"
echo "audit records: $(COFRE_DATA_DIR="$data" COFRE_TLS=off "$cofre" audit tail -n 1 --json >/dev/null && echo written)"
