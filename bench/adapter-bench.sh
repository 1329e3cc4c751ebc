#!/usr/bin/env bash
# The adapter's own cost per point read, side by side with a minimal gRPC server: on 127.0.0.1,
# with a fresh PKI, ndx-minimal-adapter (Adapter/Fetch answering a fixed record, with the
# adapter's credentials and server options: bench/minimal_server.cc) and one ndx-adapter per
# backend serve the same record, of a fixed size, by key. ndx-bench calls each directly, as a
# gateway, in alternating rounds, and this prints per server and calls in flight: calls/s, the
# server process's CPU per call (user + system, from /proc), and its ratio to the minimal
# server's. For PostgreSQL and REST the CPU per call of the server the backend reads from (the
# postmaster and its processes; nginx standing for the agency's API) is given separately, and
# the adapter's and that server's together.
#
# usage: bench/adapter-bench.sh [--rounds N] [--duration S] [--warmup S] [--concurrency "64 1"]
#          [--record-bytes N] [--backends "sqlite postgresql rest"] [--json FILE]
#          [--baseline-bin DIR]
#
# Backends: sqlite (always available); postgresql (needs Debian's postgresql package and root,
# which alone can run the server as the postgres user); rest (needs Debian's nginx package). A
# backend this machine cannot run is skipped with a note. A backend is one start_<backend> and
# one unavailable_<backend> function below. Each measured run opens a new connection and is
# preceded by an unmeasured warm-up run of --warmup seconds on the same server, so the CPU read
# over the measured run is divided by exactly the calls it counted. --baseline-bin DIR also
# runs, for each backend, the ndx-adapter of another build (as "<backend>-baseline", on the same
# data), so that a change is measured against what it replaces in the same run. NDX_BIN_DIR=DIR
# takes ndxctl, ndx-adapter, ndx-minimal-adapter and ndx-bench from DIR instead of building (see
# build.sh); NDX_KEEP=1 keeps the work directory (logs, configs, results.jsonl).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
rounds=5 duration=10 warmup=2 concurrency="64 1" record_bytes=1024 json_out=""
backends="sqlite postgresql rest" baseline_bin=""
while (($# > 0)); do
  case "$1" in
    --rounds) rounds=$2 ;;
    --duration) duration=$2 ;;
    --warmup) warmup=$2 ;;
    --concurrency) concurrency=$2 ;;
    --record-bytes) record_bytes=$2 ;;
    --backends) backends=$2 ;;
    --json) json_out=$2 ;;
    --baseline-bin) baseline_bin=$(cd "$2" && pwd) ;;
    *)
      sed -n '/^# usage:/,/^#$/s/^# \{0,1\}//p' "$0" >&2
      exit 2
      ;;
  esac
  shift 2
done
for backend in $backends; do
  case "$backend" in
    sqlite | postgresql | rest) ;;
    *) echo "adapter-bench: unknown backend \"$backend\" (sqlite, postgresql, rest)" >&2 && exit 2 ;;
  esac
done

bench_name=adapter-bench
# shellcheck source=bench/lib.sh
source "$repo/bench/lib.sh"
bin=$(bench_bin_dir)

pg_pid="" api_pid=""
# The adapters first, then the servers they read from.
cleanup() {
  stop_started
  if [[ -n "$pg_pid" ]]; then
    # Fast shutdown: the postmaster ends its sessions and stops without a checkpoint to wait for.
    kill -INT "$pg_pid" 2>/dev/null || true
    wait "$pg_pid" 2>/dev/null || true
  fi
  if [[ -n "$api_pid" ]]; then
    # nginx's fast shutdown: the master stops its worker and waits for it before it exits.
    kill -TERM "$api_pid" 2>/dev/null || true
    wait "$api_pid" 2>/dev/null || true
  fi
}
enter_work_dir


# --- PKI: the owner's adapter (and the minimal server, with the same identity), and the bench's
# client, which holds a gateway identity as the adapter requires.
"$bin/ndxctl" pki init --dir pki/ca --trust-domain ndx.bench >/dev/null
"$bin/ndxctl" pki issue --ca-dir pki/ca --out-dir pki/direct --gateway direct >/dev/null
"$bin/ndxctl" pki issue --ca-dir pki/ca --out-dir pki/owner --node bench/owner >/dev/null

# --- The record: bench.v1.Record {id: "r-1", payload: 'x' * n}, record_bytes long on the wire
# (tag and length of id: 2 bytes, id: 3, payload's tag: 1, its length: a varint of 1-3 bytes).
cat >record.proto <<'EOF'
syntax = "proto3";
package bench.v1;
message Record {
  string id = 1;
  string payload = 2;
}
EOF
payload_bytes=$((record_bytes - 7))
if ((payload_bytes >= 128)); then payload_bytes=$((record_bytes - 8)); fi
if ((payload_bytes >= 16384)); then payload_bytes=$((record_bytes - 9)); fi

# adapter_config BINDING_TEXT: an AdapterConfig serving bench/records from one backend, which
# BINDING_TEXT gives with its table if it has one.
adapter_config() {
  cat <<EOF
listen_address: "127.0.0.1:0"
trust_domain: "ndx.bench"
tls { ca_file: "pki/owner/ca.pem" cert_file: "pki/owner/tls.pem" key_file: "pki/owner/tls.key" }
allowed_gateways: ["direct"]
datasets {
  dataset: "bench/records" proto_file: "record.proto" message_type: "bench.v1.Record"
  key_field: "id" $1
}
EOF
}

# The servers measured, in the order of a round; server_pid[NAME], db_pid[NAME] (the process
# the backend reads from: PostgreSQL's postmaster, nginx's master; its process tree's CPU is
# counted beside the adapter's).
servers=()
declare -A server_pid server_port db_pid
# measure NAME [DB_PID]: the server just started as NAME is measured.
measure() {
  servers+=("$1")
  server_pid[$1]=${pids[-1]}
  server_port[$1]=$(cat "$1.port")
  [[ -z "${2:-}" ]] || db_pid[$1]=$2
}
# start_adapter BACKEND CONFIG [DB_PID]: ndx-adapter serving CONFIG, measured as BACKEND, and
# with --baseline-bin the other build's, as BACKEND-baseline.
start_adapter() {
  start "$1" "$bin/ndx-adapter" --config "$2"
  measure "$1" "${3:-}"
  if [[ -n "$baseline_bin" ]]; then
    start "$1-baseline" "$baseline_bin/ndx-adapter" --config "$2"
    measure "$1-baseline" "${3:-}"
  fi
}

start minimal "$bin/ndx-minimal-adapter" --trust_domain ndx.bench --ca pki/owner/ca.pem \
  --cert pki/owner/tls.pem --key pki/owner/tls.key --record_bytes "$record_bytes"
measure minimal

start_sqlite() {
  sqlite3 owner.db "CREATE TABLE records (id TEXT PRIMARY KEY, payload TEXT);
    INSERT INTO records VALUES ('r-1', substr(replace(hex(zeroblob($payload_bytes)), '0', 'x'),
                                              1, $payload_bytes));"
  adapter_config 'sqlite { path: "owner.db" } table: "records"' >adapter-sqlite.textproto
  start_adapter sqlite adapter-sqlite.textproto
}

# unavailable_BACKEND: why this machine cannot measure BACKEND, or nothing.
unavailable_sqlite() { :; }
unavailable_postgresql() {
  if [[ -z "$(pg_bin)" ]] || ! id postgres >/dev/null 2>&1 || ! command -v psql >/dev/null; then
    echo "Debian's postgresql package is not installed"
  elif [[ $(id -u) -ne 0 ]]; then
    echo "only root can run the server as the postgres user"
  fi
}
unavailable_rest() {
  [[ -n "$(nginx_bin)" ]] || echo "install nginx (Debian's nginx package)"
}
# pg_bin: the newest installed PostgreSQL server's bin directory, or nothing.
pg_bin() {
  local dir
  for dir in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V -r); do
    [[ -x "$dir/postgres" ]] && echo "$dir" && return
  done
}

# A private PostgreSQL server run as the postgres user (it refuses root) on a free port of
# 127.0.0.1, its data in the work directory, killed with this script if this script dies.
start_postgresql() {
  local pg_bin
  pg_bin=$(pg_bin)
  local pg_port as_postgres=(setpriv --reuid=postgres --regid=postgres --init-groups)
  pg_port=$(free_port)
  mkdir pg
  chown postgres: pg
  chmod 755 "$work"
  "${as_postgres[@]}" "$pg_bin/initdb" -D pg/data -U postgres --auth=trust -E UTF8 --locale=C \
    --no-sync >pg/initdb.log 2>&1
  "${as_postgres[@]}" --pdeathsig KILL "$pg_bin/postgres" -D pg/data -p "$pg_port" -k "$work/pg" \
    -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=40 >pg/server.log 2>&1 &
  pg_pid=$!
  local i
  for i in $(seq 1 100); do
    psql -X -q -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -c 'SELECT 1' >/dev/null 2>&1 &&
      break
    ((i < 100)) || { cat pg/server.log >&2 && return 1; }
    sleep 0.1
  done
  psql -X -q -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -c 'CREATE DATABASE bench'
  psql -X -q -h 127.0.0.1 -p "$pg_port" -U postgres -d bench -v ON_ERROR_STOP=1 <<EOF
CREATE TABLE records (id text PRIMARY KEY, payload text);
INSERT INTO records VALUES ('r-1', repeat('x', $payload_bytes));
VACUUM ANALYZE records;
EOF
  adapter_config "postgresql { connection: \"host=127.0.0.1 port=$pg_port dbname=bench user=postgres\" }
    table: \"records\"" >adapter-postgresql.textproto
  start_adapter postgresql adapter-postgresql.textproto "$pg_pid"
}

# nginx_bin: the nginx program, or nothing (it is in /usr/sbin, which a user's PATH may lack).
nginx_bin() {
  command -v nginx || { [[ -x /usr/sbin/nginx ]] && echo /usr/sbin/nginx; } || true
}

# The agency's API: a private nginx on a free port of 127.0.0.1, with its own prefix, config, pid
# file, logs and temporary directories in the work directory (never the system's), a master and one
# worker. Its master is killed with this script even by SIGKILL, but not its worker, which does not
# watch its master (nor are the adapters): only the trap stops them all. HTTPS only, with a server
# certificate of the bench's CA naming 127.0.0.1 (the REST backend checks the IP subjectAltName
# against base_url's host), answering GET /records/r-1 with the record as JSON, from memory (a file
# would add nginx's own open and read to its figure, not the adapter's), and 404 for any other key.
# Keep-alive connections are never closed by request count: nginx's default of 1000 would add one
# TLS handshake per 1000 reads to the adapter's figure; a connection the API closed while idle
# between runs is reopened in the next warm-up.
start_rest() {
  local nginx api_port payload user=""
  nginx=$(nginx_bin)
  api_port=$(free_port)
  "$bin/ndxctl" pki issue --ca-dir pki/ca --out-dir pki/api --node bench/api --ip 127.0.0.1 \
    >/dev/null
  mkdir -p rest/tmp
  payload=$(printf "%${payload_bytes}s" "" | tr ' ' x)
  # Run as root, the master (which binds, reads the key and writes the pid file) hands the
  # requests to a worker without privileges, as a real server's would; otherwise nginx ignores
  # the directive and warns.
  if (($(id -u) == 0)); then user="user nobody $(id -gn nobody);"; fi
  cat >rest/nginx.conf <<EOF
$user
daemon off;
master_process on;
worker_processes 1;
pid $work/rest/nginx.pid;
lock_file $work/rest/nginx.lock;
error_log stderr warn;
events { worker_connections 512; }
http {
  access_log off;
  client_body_temp_path $work/rest/tmp/body;
  proxy_temp_path $work/rest/tmp/proxy;
  fastcgi_temp_path $work/rest/tmp/fastcgi;
  uwsgi_temp_path $work/rest/tmp/uwsgi;
  scgi_temp_path $work/rest/tmp/scgi;
  keepalive_requests 1000000000;
  server {
    listen 127.0.0.1:$api_port ssl;
    ssl_certificate $work/pki/api/tls.pem;
    ssl_certificate_key $work/pki/api/tls.key;
    location = /records/r-1 {
      default_type application/json;
      return 200 '{"id":"r-1","payload":"$payload"}';
    }
    location / { return 404; }
  }
}
EOF
  setpriv --pdeathsig KILL "$nginx" -e stderr -p "$work/rest/" -c "$work/rest/nginx.conf" \
    >rest/server.log 2>&1 &
  api_pid=$!
  local i
  for i in $(seq 1 100); do
    kill -0 "$api_pid" 2>/dev/null || { cat rest/server.log >&2 && return 1; }
    (exec 3<>"/dev/tcp/127.0.0.1/$api_port") 2>/dev/null && break
    ((i < 100)) || { cat rest/server.log >&2 && return 1; }
    sleep 0.1
  done
  adapter_config "rest { base_url: \"https://127.0.0.1:$api_port/records\" ca_file: \"pki/ca/ca.pem\" }" \
    >adapter-rest.textproto
  start_adapter rest adapter-rest.textproto "$api_pid"
}

for backend in $backends; do
  why=$("unavailable_$backend")
  if [[ -n "$why" ]]; then
    echo "adapter-bench: skipping $backend: $why" >&2
    continue
  fi
  "start_$backend"
done

# cpu_us PID...: user + system CPU time, in microseconds, of the processes, their threads and
# their child processes (PostgreSQL: the postmaster and its sessions and workers; nginx: its
# master and its worker).
cpu_us() {
  local pid ticks=0 fields
  for pid in "$@" $(pgrep -P "$1" 2>/dev/null || true); do
    read -ra fields <"/proc/$pid/stat" 2>/dev/null || continue
    ticks=$((ticks + fields[13] + fields[14]))
  done
  echo $((ticks * 1000000 / $(getconf CLK_TCK)))
}
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

# bench SERVER CONCURRENCY SECONDS: one ndx-bench run, no warm-up inside it; prints its JSON.
bench() {
  "$bin/ndx-bench" --api adapter --target "127.0.0.1:${server_port[$1]}" --ca pki/ca/ca.pem \
    --cert pki/direct/tls.pem --key pki/direct/tls.key --dataset bench/records --record-key r-1 \
    --purpose benchmark --fields id,payload --concurrency "$2" --connections 1 --duration "$3s" \
    --warmup 0 --output json
}

results=results.jsonl
: >"$results"
echo "adapter-bench: ${servers[*]}; $rounds rounds of ${warmup}s warm-up + ${duration}s per" \
  "server and concurrency, record $record_bytes bytes, $(nproc) cores" >&2
for round in $(seq 1 "$rounds"); do
  for in_flight in $concurrency; do
    # The order rotates from round to round, so that no server always follows the same one.
    count=${#servers[@]}
    for ((k = 0; k < count; k++)); do
      server=${servers[$(((k + round - 1) % count))]}
      pid=${server_pid[$server]}
      db=${db_pid[$server]:-}
      if ((warmup > 0)); then bench "$server" "$in_flight" "$warmup" >/dev/null; fi
      before=$(cpu_us "$pid")
      db_before=0
      [[ -z "$db" ]] || db_before=$(cpu_us "$db")
      output=$(bench "$server" "$in_flight" "$duration")
      spent=$(($(cpu_us "$pid") - before))
      db_spent=0
      [[ -z "$db" ]] || db_spent=$(($(cpu_us "$db") - db_before))
      jq -c --arg server "$server" --argjson round "$round" --argjson cpu "$spent" \
        --argjson db_cpu "$db_spent" --argjson has_db "$([[ -n "$db" ]] && echo true || echo false)" \
        --argjson rss "$(rss_kib "$pid")" \
        '{server: $server, round: $round,
          server_cpu_us_per_call: ($cpu / .calls * 10 | round / 10),
          db_cpu_us_per_call: (if $has_db then ($db_cpu / .calls * 10 | round / 10) else null end),
          server_rss_kib: $rss} + .' <<<"$output" >>"$results"
      jq -r '"  round \(.round) \(.server) x\(.concurrency): \(.rps | floor) calls/s, server CPU \(.server_cpu_us_per_call) us/call\(if .db_cpu_us_per_call != null then ", DB/API CPU \(.db_cpu_us_per_call) us/call" else "" end), \(.response_bytes) bytes, errors \(.errors)"' \
        <(tail -n 1 "$results") >&2
    done
  done
done

# Median and range over the rounds, per concurrency and server, and the ratios to the minimal
# server: of the medians, and the range of the ratios within each round.
jq -s -r --arg record "$record_bytes" --arg order "${servers[*]}" '
  def median: sort | if length % 2 == 1 then .[length / 2 | floor]
                     else (.[length / 2 - 1] + .[length / 2]) / 2 end;
  def stats(f): (map(f) | {median: median, min: min, max: max});
  def r1: . * 10 | round / 10;
  def r2: . * 100 | round / 100;
  def pad(n): tostring | . + " " * ([n - length, 0] | max);
  group_by(.concurrency)[] as $level
  | ($level | map(select(.server == "minimal")) | map({key: (.round | tostring),
       value: .server_cpu_us_per_call}) | from_entries) as $minimal_by_round
  | ($level | group_by(.server) | map({key: .[0].server, value: {
        rps: stats(.rps), cpu: stats(.server_cpu_us_per_call),
        db: (if .[0].db_cpu_us_per_call != null then stats(.db_cpu_us_per_call) else null end),
        ratio: stats(.server_cpu_us_per_call / $minimal_by_round[.round | tostring]),
        total_ratio: stats((.server_cpu_us_per_call + (.db_cpu_us_per_call // 0))
                           / $minimal_by_round[.round | tostring]),
        rss: (map(.server_rss_kib) | max), bytes: .[0].response_bytes,
        errors: (map(.errors) | add)}}) | from_entries) as $by
  | "\($level[0].concurrency) calls in flight, record \($record) bytes (medians over \($level | map(.round) | unique | length) rounds [min, max]):",
    "  server               calls/s                  server CPU us/call      x minimal (per round)   DB/API CPU us/call     adapter+DB/API x minimal     RSS KiB  errors",
    ( $order | split(" ")[] as $s | select($by[$s] != null) | $by[$s] as $x
      | "  \($s | pad(20)) \("\($x.rps.median | floor) [\($x.rps.min | floor), \($x.rps.max | floor)]" | pad(24))"
        + " \("\($x.cpu.median | r1) [\($x.cpu.min | r1), \($x.cpu.max | r1)]" | pad(23))"
        + " \("\(($x.cpu.median / $by.minimal.cpu.median) | r2) [\($x.ratio.min | r2), \($x.ratio.max | r2)]" | pad(23))"
        + " \((if $x.db != null then "\($x.db.median | r1) [\($x.db.min | r1), \($x.db.max | r1)]" else "-" end) | pad(22))"
        + " \((if $x.db != null then "\((($x.cpu.median + $x.db.median) / $by.minimal.cpu.median) | r2) [\($x.total_ratio.min | r2), \($x.total_ratio.max | r2)]" else "-" end) | pad(28))"
        + " \($x.rss | pad(8)) \($x.errors)"),
    ( [$by[] | .bytes] | unique | select(length > 1)
      | "  WARNING: the servers answered records of different sizes: \(.)" ),
    ""
' "$results"
if [[ -n "$json_out" ]]; then cp "$results" "$json_out"; fi
