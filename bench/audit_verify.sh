#!/usr/bin/env bash
# Times `audit verify` over a million chained records (COFRE_BENCH_RECORDS to change), in
# release mode, on SQLite, or on PostgreSQL when COFRE_TEST_POSTGRES_URL is set.
set -euo pipefail
cd "$(dirname "$0")/.."
COFRE_BENCH_RECORDS="${COFRE_BENCH_RECORDS:-1000000}" cargo test --release --test api -- --exact audit_chain::a_long_chain_written_in_large_batches_verifies --nocapture 2>&1 |
    grep -E '^audit verify:|panicked|error'
