# Sourced by the bench scripts: helpers, and a release cofre with a client to drive it.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq 1 100); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done; echo "no answer from $1" >&2; return 1; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }

# cofre_up DATA_DIR LOG [DATABASE_URL]: `$cofre serve` on a free loopback port (plain HTTP) with
# an application for resource `info`, a token for it and one stored secret, `bench`. Sets
# cofre_pid, base, client_id, client_secret and token.
cofre_up() {
  local dir=$1 log=$2 db=${3:-} port app
  port=$(free_port); mkdir -p "$dir"
  (
    export COFRE_DATA_DIR="$dir" COFRE_TLS=off COFRE_LISTEN="127.0.0.1:$port" COFRE_PROXY_LISTEN="127.0.0.1:0" RUST_LOG=warn
    [ -n "$db" ] && export COFRE_DATABASE_URL="$db"
    exec "$cofre" serve
  ) >"$log" 2>&1 & cofre_pid=$!
  base="http://127.0.0.1:$port"
  wait_http "$base/health"
  app=$(env COFRE_DATA_DIR="$dir" COFRE_TLS=off ${db:+COFRE_DATABASE_URL=$db} "$cofre" app create --name bench --resource info --json)
  client_id=$(json 'd["client_id"]' <<<"$app"); client_secret=$(json 'd["client_secret"]' <<<"$app")
  token=$(curl -sf "$base/iso/oauth2/token" -d grant_type=client_credentials -d "client_id=$client_id" -d "client_secret=$client_secret" | json 'd["access_token"]')
  curl -sf "$base/iso/pam/info" -H "Authorization: Bearer $token" -d identifier=bench -d content=benchmark-secret >/dev/null
}

# The wrk script for client-credentials token requests.
token_lua() { printf "wrk.method='POST'\nwrk.body='grant_type=client_credentials&client_id=%s&client_secret=%s'\nwrk.headers['Content-Type']='application/x-www-form-urlencoded'\n" "$client_id" "$client_secret"; }
