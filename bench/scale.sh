#!/usr/bin/env bash
# Two properties of cofre under load, on SQLite then PostgreSQL:
#   scale:  read one secret with 1,000 and then with 100,000 secrets stored (goal: within 10%)
#   memory: the server's resident memory through a 5-minute mixed load of reads, writes and token
#           requests (goal: flat once warm; the store itself grows by every write)
#   bench/scale.sh [soak seconds] [read seconds]        (default 300 s and 10 s, wrk -t2 -c16)
# SCALE_LARGE=N stores N instead of 100,000 (for a quick try of the script).
# Needs the local PostgreSQL (postgres@127.0.0.1:5432, trust auth); installs wrk if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
soak="${1:-300}"; secs="${2:-10}"; conns=16; large_target="${SCALE_LARGE:-100000}"
pg="postgres://postgres@127.0.0.1:5432"
work=$(mktemp -d)
server=
cleanup() { [ -n "$server" ] && { kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; }; rm -rf "$work"; }
trap cleanup EXIT
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release --quiet
cofre="$PWD/target/release/cofre"
. bench/common.sh
rss_mib() { awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$server/status"; }

# Writes at a path of their own per wrk thread; `wrk` prints how many it sent.
cat >"$work/write.lua" <<'LUA'
local threads = 0
function setup(thread) threads = threads + 1; thread:set("tid", threads) end
function init(args) n = 0; prefix = "s" .. tid .. "-" .. os.time(); token = os.getenv("BENCH_TOKEN") end
function request()
  n = n + 1
  return wrk.format("POST", "/iso/pam/info", {["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/x-www-form-urlencoded"}, "identifier=" .. prefix .. "-" .. n .. "&content=stored-under-load")
end
LUA

stored=0
seed_exactly() { # count: that many more secrets, one request each, four at a time
  python3 - "$base" "$token" "$1" <<'PY'
import sys, urllib.request, concurrent.futures
base, token, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
def put(i):
    body = ("identifier=small-%d&content=stored-before-load" % i).encode()
    req = urllib.request.Request(base + "/iso/pam/info", data=body, headers={"Authorization": "Bearer " + token})
    urllib.request.urlopen(req).read()
with concurrent.futures.ThreadPoolExecutor(4) as pool:
    list(pool.map(put, range(count)))
PY
  stored=$((stored + $1))
}
seed_to() { # target: write until at least that many secrets are stored
  while [ "$stored" -lt "$1" ]; do
    local out sent
    out=$(wrk -t2 -c"$conns" -d2s -s "$work/write.lua" "$base/")
    grep -q Non-2xx <<<"$out" && { echo "writes failed while seeding: $out" >&2; return 1; }
    sent=$(awk '/requests in/ {print $1}' <<<"$out"); stored=$((stored + sent))
  done
}
read_rps() { wrk -t2 -c"$conns" -d"${secs}s" -H "Authorization: Bearer $token" "$base/iso/pam/info/bench" | awk '/Requests\/sec/ {print $2}'; }

measure() { # label [database url]
  local label=$1 db=${2:-}
  cofre_up "$work/$label" "$work/$label.log" "$db"; server=$cofre_pid
  export BENCH_TOKEN=$token
  stored=1

  seed_exactly 999; local small_n=$stored small; small=$(read_rps)
  seed_to "$large_target"; local large_n=$stored large; large=$(read_rps)
  python3 -c "import sys; s,l=float(sys.argv[1]),float(sys.argv[2]); print('%-15s read with %6d stored: %8.0f req/s; with %6d stored: %8.0f req/s (%+.1f%%)' % (sys.argv[3], int(sys.argv[4]), s, int(sys.argv[5]), l, (l/s-1)*100))" \
    "$small" "$large" "$label" "$small_n" "$large_n" | tee -a "$work/summary"

  # The soak: three wrk runs side by side (read, write, token), RSS sampled every 10 s.
  token_lua >"$work/token.lua"
  local c=$((conns / 3 + 1)) loads=()
  wrk -t1 -c"$c" -d"${soak}s" -H "Authorization: Bearer $token" "$base/iso/pam/info/bench" >"$work/soak.read" & loads+=($!)
  wrk -t1 -c"$c" -d"${soak}s" -s "$work/write.lua" "$base/" >"$work/soak.write" & loads+=($!)
  wrk -t1 -c"$c" -d"${soak}s" -s "$work/token.lua" "$base/iso/oauth2/token" >"$work/soak.token" & loads+=($!)
  local samples=() t
  for ((t = 0; t < soak; t += 10)); do samples+=("$(rss_mib)"); sleep 10; done
  wait "${loads[@]}"
  samples+=("$(rss_mib)")
  local served; served=$(cat "$work"/soak.* | awk '/requests in/ {s += $1} END {print s}')
  python3 - "$label" "$soak" "$served" "${samples[@]}" <<'PY' | tee -a "$work/summary"
import sys
label, soak, served, rss = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), [float(x) for x in sys.argv[4:]]
warm = rss[min(6, len(rss) - 1)]  # after the first minute
print("%-15s RSS over %d s (%d requests): start %.1f MiB, after 1 min %.1f, end %.1f, max %.1f MiB; growth after warm-up %+.1f%%"
      % (label, soak, served, rss[0], warm, rss[-1], max(rss), (rss[-1] / warm - 1) * 100))
print("%-15s samples every 10 s: %s" % (label, " ".join("%.0f" % x for x in rss)))
PY
  kill "$server"; wait "$server" 2>/dev/null || true; server=
}

psql -q "$pg/postgres" -c "DROP DATABASE IF EXISTS bench_scale" -c "CREATE DATABASE bench_scale" >/dev/null
measure cofre-sqlite
measure cofre-postgres "$pg/bench_scale"
echo; cat "$work/summary"
