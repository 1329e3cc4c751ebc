#!/usr/bin/env bash
# The gateway's cost per request, side by side with nginx: on 127.0.0.1, with a fresh PKI, one
# adapter serves a dataset with one record of a fixed size; the gateway (authorization, field
# projection and the audit append all on) and nginx (a plain mTLS gRPC proxy: grpc_pass grpcs://,
# upstream keepalive) stand in front of it. ndx-bench then calls the adapter directly, through
# nginx and through the gateway, in alternating rounds, and this prints each path's throughput
# and median latency (median and range over the rounds) and their ratios to the direct path.
#
# usage: bench/proxy-bench.sh [--rounds N] [--duration S] [--warmup S] [--concurrency "64 1"]
#          [--record-bytes N] [--durability process-crash|power-loss] [--json FILE]
#          [--paths "direct nginx gateway"]
#
# What keeps the comparison fair to nginx: upstream keepalive with keepalive_requests raised,
# access log off, TLS 1.3 on both hops for everyone, and HTTP/2 BDP pings off on the adapter
# (nginx drops an upstream connection on a frame it does not expect). NDX_BIN_DIR=DIR takes
# ndxctl, ndx-gateway, ndx-adapter and ndx-bench from DIR instead of building (see build.sh).
# Installs nginx-light when it is missing (needs root).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
rounds=5 duration=10 warmup=2 concurrency="64 1" record_bytes=1024
durability=process-crash json_out="" paths="direct nginx gateway"
while (($# > 0)); do
  case "$1" in
    --rounds) rounds=$2 ;;
    --duration) duration=$2 ;;
    --warmup) warmup=$2 ;;
    --concurrency) concurrency=$2 ;;
    --record-bytes) record_bytes=$2 ;;
    --durability) durability=$2 ;;
    --json) json_out=$2 ;;
    --paths) paths=$2 ;;
    *)
      sed -n '/^# usage:/,/^#$/s/^# \{0,1\}//p' "$0" >&2
      exit 2
      ;;
  esac
  shift 2
done
case "$durability" in
  process-crash) durability_enum=DURABILITY_PROCESS_CRASH ;;
  power-loss) durability_enum=DURABILITY_POWER_LOSS ;;
  *) echo "proxy-bench: --durability is process-crash or power-loss" >&2 && exit 2 ;;
esac

if ! command -v nginx >/dev/null; then
  if [[ $(id -u) -ne 0 ]]; then
    echo "proxy-bench: nginx is missing; install it: apt-get install nginx-light" >&2
    exit 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx-light >/dev/null
fi
bench_name=proxy-bench
# shellcheck source=bench/lib.sh
source "$repo/bench/lib.sh"
bin=$(bench_bin_dir)

enter_work_dir


# --- PKI: the gateway, the owner's adapter, a consumer; nginx and the bench's direct client
# hold gateway identities, which is what the adapter accepts.
"$bin/ndxctl" pki init --dir pki/ca --trust-domain ndx.bench >/dev/null
"$bin/ndxctl" pki issue --ca-dir pki/ca --out-dir pki/core --gateway core >/dev/null
for gateway in nginx direct; do
  "$bin/ndxctl" pki issue --ca-dir pki/ca --out-dir "pki/$gateway" --gateway "$gateway" >/dev/null
done
for node in bench/ops bench/consumer; do
  "$bin/ndxctl" pki issue --ca-dir pki/ca --out-dir "pki/${node//\//-}" --node "$node" >/dev/null
done
# nginx checks the adapter's certificate against a DNS name (ndx peers check the URI SAN).
"$bin/ndxctl" pki issue --ca-dir pki/ca --out-dir pki/bench-owner --node bench/owner \
  --dns adapter.bench >/dev/null

# --- The owner's data: one record whose payload makes it record_bytes long on the wire.
cat >record.proto <<'EOF'
syntax = "proto3";
package bench.v1;
message Record {
  string id = 1;
  string payload = 2;
}
EOF
payload_bytes=$((record_bytes - 20))
sqlite3 owner.db "CREATE TABLE records (id TEXT PRIMARY KEY, payload TEXT);
  INSERT INTO records VALUES ('r-1', substr(replace(hex(zeroblob($payload_bytes)), '0', 'x'),
                                            1, $payload_bytes));"
cat >adapter.textproto <<EOF
listen_address: "127.0.0.1:0"
trust_domain: "ndx.bench"
tls { ca_file: "pki/bench-owner/ca.pem" cert_file: "pki/bench-owner/tls.pem"
      key_file: "pki/bench-owner/tls.key" }
allowed_gateways: ["core", "nginx", "direct"]
datasets {
  dataset: "bench/records" proto_file: "record.proto" message_type: "bench.v1.Record"
  key_field: "id" sqlite { path: "owner.db" } table: "records"
}
EOF
start adapter "$bin/ndx-adapter" --config adapter.textproto
adapter_port=$(cat adapter.port)
adapter_pid=${pids[-1]}

cat >gateway.textproto <<EOF
listen_address: "127.0.0.1:0"
trust_domain: "ndx.bench"
tls { ca_file: "pki/core/ca.pem" cert_file: "pki/core/tls.pem" key_file: "pki/core/tls.key" }
data_dir: "registry"
bootstrap_operators: "bench/ops"
audit { durability: $durability_enum }
EOF
start gateway "$bin/ndx-gateway" --config gateway.textproto
gateway_port=$(cat gateway.port)
gateway_pid=${pids[-1]}

ndx() {
  local who=$1
  shift
  "$bin/ndxctl" --gateway "127.0.0.1:$gateway_port" --gateway-id core --ca pki/ca/ca.pem \
    --cert "pki/bench-$who/tls.pem" --key "pki/bench-$who/tls.key" "$@"
}
ndx ops node register bench/owner --name "Owner" --kind other \
  --endpoint "127.0.0.1:$adapter_port" >/dev/null
ndx ops node register bench/consumer --name "Consumer" --kind other >/dev/null
ndx owner dataset register bench/records --proto record.proto --message bench.v1.Record \
  --key id >/dev/null
grant=$(ndx consumer grant request --dataset bench/records --fields id,payload \
  --purpose benchmark --days 30 --justification "gateway cost per request")
ndx owner grant approve "$grant" >/dev/null

# --- nginx: a plain mTLS gRPC proxy in front of the same adapter.
nginx_port=$(free_port)
mkdir -p nginx
cat >nginx/nginx.conf <<EOF
worker_processes auto;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work/nginx/body;
  upstream adapter {
    server 127.0.0.1:$adapter_port;
    keepalive 128;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
  }
  server {
    listen 127.0.0.1:$nginx_port ssl http2;
    ssl_protocols TLSv1.3;
    ssl_certificate $work/pki/nginx/tls.pem;
    ssl_certificate_key $work/pki/nginx/tls.key;
    ssl_client_certificate $work/pki/ca/ca.pem;
    ssl_verify_client on;
    keepalive_requests 1000000;
    http2_max_requests 1000000;
    location / {
      grpc_pass grpcs://adapter;
      grpc_ssl_protocols TLSv1.3;
      grpc_ssl_certificate $work/pki/nginx/tls.pem;
      grpc_ssl_certificate_key $work/pki/nginx/tls.key;
      grpc_ssl_trusted_certificate $work/pki/ca/ca.pem;
      grpc_ssl_verify on;
      grpc_ssl_name adapter.bench;
      grpc_ssl_session_reuse on;
    }
  }
}
EOF
nginx -c "$work/nginx/nginx.conf" -g 'daemon off;' >nginx/stdout.log 2>&1 &
pids+=($!)
nginx_pid=$!
for _ in $(seq 1 50); do
  (exec 3<>"/dev/tcp/127.0.0.1/$nginx_port") 2>/dev/null && break
  sleep 0.1
done

# cpu_us PID...: user + system CPU time, in microseconds, of the processes and their children's
# threads (nginx: the master and its workers).
cpu_us() {
  local pid ticks=0 fields
  for pid in "$@" $(pgrep -P "$1" 2>/dev/null || true); do
    read -ra fields <"/proc/$pid/stat"
    ticks=$((ticks + fields[13] + fields[14]))
  done
  echo $((ticks * 1000000 / $(getconf CLK_TCK)))
}
# rss_kib PID: resident memory.
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

# bench PATH CONCURRENCY: one ndx-bench run on PATH (direct, nginx, gateway); prints its JSON.
bench() {
  local path=$1 in_flight=$2 args=()
  case "$path" in
    direct)
      args=(--api adapter --target "127.0.0.1:$adapter_port" --ca pki/ca/ca.pem
        --cert pki/direct/tls.pem --key pki/direct/tls.key)
      ;;
    nginx)
      args=(--api adapter --target "127.0.0.1:$nginx_port" --ca pki/ca/ca.pem
        --cert pki/direct/tls.pem --key pki/direct/tls.key)
      ;;
    gateway)
      args=(--api exchange --target "127.0.0.1:$gateway_port" --ca pki/ca/ca.pem
        --cert pki/bench-consumer/tls.pem --key pki/bench-consumer/tls.key)
      ;;
  esac
  "$bin/ndx-bench" "${args[@]}" --dataset bench/records --record-key r-1 --purpose benchmark \
    --fields id,payload --concurrency "$in_flight" --connections 1 --duration "${duration}s" \
    --warmup "${warmup}s" --output json
}

results=results.jsonl
: >"$results"
echo "proxy-bench: $rounds rounds of ${duration}s per path and concurrency, record $record_bytes" \
  "bytes, audit $durability durable, $(nproc) cores" >&2
for round in $(seq 1 "$rounds"); do
  for in_flight in $concurrency; do
    for path in $paths; do
      case "$path" in
        direct) server=$adapter_pid ;;
        nginx) server=$nginx_pid ;;
        gateway) server=$gateway_pid ;;
      esac
      # The server's CPU over the whole run, warm-up included, per measured call: an upper bound
      # that the warm-up share inflates by warmup/duration.
      before=$(cpu_us "$server")
      output=$(bench "$path" "$in_flight")
      spent=$(($(cpu_us "$server") - before))
      jq -c --arg path "$path" --argjson round "$round" --argjson cpu "$spent" \
        --argjson rss "$(rss_kib "$server")" --argjson warmup "$warmup" \
        --argjson duration "$duration" \
        '{path: $path, round: $round,
          server_cpu_us_per_call: ($cpu / (.calls * (1 + $warmup / $duration)) | floor),
          server_rss_kib: $rss} + .' <<<"$output" >>"$results"
      jq -r 'select(.path != null) | "  round \(.round) \(.path) x\(.concurrency): \(.rps | floor) rps, p50 \(.latency_p50_us) us, server CPU \(.server_cpu_us_per_call) us/call, RSS \(.server_rss_kib) KiB, errors \(.errors)"' \
        <(tail -n 1 "$results") >&2
    done
  done
done

# Median and range over the rounds, per concurrency and path, then the ratios to direct.
jq -s -r --arg record "$record_bytes" --arg durability "$durability" '
  def median: sort | if length % 2 == 1 then .[length / 2 | floor]
                     else (.[length / 2 - 1] + .[length / 2]) / 2 end;
  def stats(f): (map(f) | {median: median, min: min, max: max});
  group_by(.concurrency)[] as $level
  | ($level | group_by(.path) | map({key: .[0].path, value: {
        rps: stats(.rps), p50: stats(.latency_p50_us), p99: stats(.latency_p99_us),
        cpu: stats(.server_cpu_us_per_call), rss: (map(.server_rss_kib) | max),
        errors: (map(.errors) | add)}}) | from_entries) as $by_path
  | "\(($level[0].concurrency)) calls in flight, record \($record) bytes, audit \($durability):",
    "  path      rps median [min, max]           p50 us median [min, max]   p99 us   server CPU us/call   RSS KiB   errors",
    ( ["direct", "nginx", "gateway"][] as $p | select($by_path[$p] != null) | $by_path[$p] as $s
      | "  \($p | . + " " * (8 - length)) \($s.rps.median | floor) [\($s.rps.min | floor), \($s.rps.max | floor)]"
        + "      \($s.p50.median) [\($s.p50.min), \($s.p50.max)]      \($s.p99.median)   \($s.cpu.median)   \($s.rss)   \($s.errors)"),
    ( select($by_path.direct != null and $by_path.nginx != null and $by_path.gateway != null)
      | "  nginx / direct throughput:   \(($by_path.nginx.rps.median / $by_path.direct.rps.median * 100 | round) / 100)",
        "  gateway / direct throughput: \(($by_path.gateway.rps.median / $by_path.direct.rps.median * 100 | round) / 100)",
        "  gateway / nginx throughput:  \(($by_path.gateway.rps.median / $by_path.nginx.rps.median * 100 | round) / 100)",
        "  added median latency: nginx +\($by_path.nginx.p50.median - $by_path.direct.p50.median) us, gateway +\($by_path.gateway.p50.median - $by_path.direct.p50.median) us" ),
    ""
' "$results"
if [[ -n "$json_out" ]]; then cp "$results" "$json_out"; fi
