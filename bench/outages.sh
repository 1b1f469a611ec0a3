#!/usr/bin/env bash
# The outage clients see in each store fault: runs the fault tests (real faults: a filled
# filesystem, a stopped or hung PostgreSQL, a killed Patroni primary) and prints their
# `outage report:` lines — seconds without a successful write. Needs what .ci/run installs and
# the same environment (COFRE_TEST_POSTGRES_URL, COFRE_TEST_MOUNT=1 as root, COFRE_TEST_PATRONI).
#   bench/outages.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export COFRE_TEST_MOUNT="${COFRE_TEST_MOUNT:-1}"
export COFRE_TEST_POSTGRES_URL="${COFRE_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --quiet --test api -- --nocapture --test-threads=1 disk_full store_outages store_hangs failover >"$log" 2>&1 || {
  tail -40 "$log" >&2
  exit 1
}
grep -h "^outage report:" "$log" | sed 's/^outage report: //'
