#!/usr/bin/env bash
# Times `audit verify` over a million chained records (COFRE_BENCH_RECORDS to change), in
# release mode, on SQLite, or on PostgreSQL when COFRE_TEST_POSTGRES_URL is set.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --release --test api -- --ignored --exact audit_chain::bench_verify_a_million_records --nocapture 2>&1 |
    grep -E '^audit verify:|panicked|error'
