#!/usr/bin/env bash
# Overload and fairness (issue 13), measured: on 127.0.0.1, with a fresh PKI, the same gateway and
# adapters run twice per round, side by side: "unguarded" (no grant rate limits, node caps and
# owner bulkhead raised out of reach, no circuit or deadline shedding: the gateway before issue
# 13) and "guarded" (the settings of GUARDS below, as a national operator would set them).
#
# Scenario 1, fairness: the gateway's capacity C is probed (closed loop, PROBE_IN_FLIGHT calls in
# flight, Exchange/Get of one record through the gateway to ndx-minimal-adapter). Then the normal
# consumer alone at 0.2 C, open loop (its unloaded p99); then, in one run, a greedy consumer (its
# own node and grant) at 2 C and the normal consumer at 0.2 C, both open loop. Reported: the
# normal consumer's success and p99 against its unloaded p99, the greedy consumer's answers by
# code and the p99 of its RESOURCE_EXHAUSTED answers, the gateway's resident memory.
# The cost of a refusal: after the probe, a flood consumer at 0.5 C whose grant allows one call a
# second (guarded; unguarded it reads). The gateway's CPU time (/proc/PID/stat) over a run,
# divided by its calls, is reported for the probe (a read) and the flood (a refusal).
# Scenario 2, slow owner: a second owner's adapter answers after SLOW_DELAY_MS, and a load node
# keeps SLOW_IN_FLIGHT calls in flight against it (open loop at SLOW_IN_FLIGHT / delay calls a
# second), while the normal consumer reads the first owner's dataset at 0.1 C: their p99 against
# the same reads' unloaded p99.
#
# usage: bench/overload-bench.sh [--rounds N] [--duration S] [--warmup S] [--quick] [--pin]
#          [--durability power-loss|process-crash] [--capacity CALLS_PER_S] [--json FILE]
#
# --rounds N repeats everything N times (default 3) and reports the median of each figure;
# --quick is a smoke run (1 round of 2 s runs). --capacity sets C instead of the probe (which
# still runs and is reported): on a small machine the clients share the cores with the gateway,
# and a greedy client at 2 C takes from the gateway what it offers to it. The audit log is power-loss durable by default,
# as a gateway's is unless configured otherwise. NDX_BIN_DIR=DIR takes ndxctl, ndx-gateway,
# ndx-minimal-adapter and ndx-bench from DIR instead of building (see build.sh); NDX_KEEP=1 keeps
# the work directory (logs, configs, results.jsonl).
set -euo pipefail

# --- GUARDS: the "guarded" mode's settings, as a national operator would choose them. -----------
# Grant rate limits are fractions of the capacity C probed in the same round, since an operator
# sizes grants against what the gateway serves. The normal consumer's grant leaves it 1.5x the
# rate it uses (0.2 C); the greedy consumer's grant allows it a quarter of the gateway, so that
# both grants together stay well below C and the greedy one's refusals have room.
GUARD_NORMAL_RATE=0.30   # x C, calls per second
GUARD_GREEDY_RATE=0.25   # x C
GUARD_BURST_SECONDS=1    # burst = this many seconds of the rate (ndxctl's default)
# Node caps: the gateway's defaults (node_limits.defaults), except for the load node of scenario
# 2, which stands for the many nodes that read a slow agency at once; its cap is raised above its
# SLOW_IN_FLIGHT calls so that the owner bulkhead, not the node cap, is what scenario 2 measures.
GUARD_NODE_CALLS=256
GUARD_NODE_CONNECTIONS=8
# The owner bulkhead: calls in flight to one owner's adapter (owner_guard.max_in_flight, default).
GUARD_OWNER_MAX_IN_FLIGHT=128
# Calls at once on one connection (node_limits.transport.max_concurrent_streams; the gateway's
# default is 100). Calls beyond it wait in the client, at no cost to the gateway.
GUARD_STREAMS_PER_CONNECTION=${GUARD_STREAMS_PER_CONNECTION:-100}
# ---------------------------------------------------------------------------------------------

# The load. Fractions are of C.
PROBE_IN_FLIGHT=64
NORMAL_RATE=0.2
GREEDY_RATE=2.0
READER_RATE=0.1           # scenario 2: reads of the fast owner's dataset
FLOOD_RATE=0.5            # the cost of a refusal: a consumer whose grant allows 1 call a second
SLOW_DELAY_MS=1000
SLOW_IN_FLIGHT=1000
# Outstanding calls a client may hold before further calls count as not sent: the greedy and
# load clients' ceiling, which only the unguarded gateway, falling behind, can reach.
CLIENT_MAX_IN_FLIGHT=1000
GREEDY_CONNECTIONS=8      # at most GUARD_NODE_CONNECTIONS
LOAD_CONNECTIONS=16       # SLOW_IN_FLIGHT / 16 calls per connection, below 100 streams each
RECORD_BYTES=1024

repo=$(cd "$(dirname "$0")/.." && pwd)
rounds=3 duration=10 warmup=2 durability=power-loss json_out="" fixed_capacity="" pin=""
command_line="$0 $*"
while (($# > 0)); do
  case "$1" in
    --rounds) rounds=$2 && shift ;;
    --duration) duration=$2 && shift ;;
    --warmup) warmup=$2 && shift ;;
    --durability) durability=$2 && shift ;;
    --json) json_out=$2 && shift ;;
    --capacity) fixed_capacity=$2 && shift ;;
    --quick) rounds=1 duration=2 warmup=1 ;;
    --pin) pin=1 ;;
    *)
      sed -n '/^# usage:/,/^#$/s/^# \{0,1\}//p' "$0" >&2
      exit 2
      ;;
  esac
  shift
done
case "$durability" in
  power-loss) durability_enum=DURABILITY_POWER_LOSS ;;
  process-crash) durability_enum=DURABILITY_PROCESS_CRASH ;;
  *) echo "overload-bench: --durability is power-loss or process-crash" >&2 && exit 2 ;;
esac

bench_name=overload-bench
# shellcheck source=bench/lib.sh
source "$repo/bench/lib.sh"
bin=$(bench_bin_dir)

# Every process this script starts is in pids until it has been waited for. The servers and
# clients also die with the script when it is killed with SIGKILL (setpriv --pdeathsig), which no
# trap sees; the memory sampler ends with the gateway.
enter_work_dir
# stop PID: ends one process this script started and forgets it.
stop() {
  kill -TERM "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  local kept=() pid
  for pid in "${pids[@]}"; do [[ "$pid" == "$1" ]] || kept+=("$pid"); done
  pids=("${kept[@]}")
}
die_with_script=(setpriv --pdeathsig KILL)
# With --pin, the gateway has CPU 0 to itself and everything else (adapters, ndxctl, the load
# clients) runs on the other CPUs: the clients stand for other machines, whose CPU is not the
# gateway's. Unpinned, a greedy client offering 2 C takes from the gateway the CPU it would need
# to refuse it.
gateway_cpus=() other_cpus=()
if [[ -n "$pin" ]]; then
  gateway_cpus=(taskset -c 0) other_cpus=(taskset -c "1-$(($(nproc) - 1))")
fi

# --- PKI: the gateway, the two owners' adapters, the operator and the consumers.
"$bin/ndxctl" pki init --dir pki/ca --trust-domain ndx.bench >/dev/null
"$bin/ndxctl" pki issue --ca-dir pki/ca --out-dir pki/core --gateway core >/dev/null
nodes="ops owner slow probe normal greedy loader flood"
for node in $nodes; do
  "$bin/ndxctl" pki issue --ca-dir pki/ca --out-dir "pki/$node" --node "bench/$node" >/dev/null
done

# --- The owners: bench/owner answers at once (the cheapest adapter there is, so that the gateway
# is what saturates: ndx-minimal-adapter costs a fraction of the gateway's authorization, audit
# append and second TLS hop per call); bench/slow answers after SLOW_DELAY_MS.
cat >record.proto <<'EOF'
syntax = "proto3";
package bench.v1;
message Record {
  string id = 1;
  string payload = 2;
}
EOF
minimal() {
  local node=$1
  shift
  start "$node" "${other_cpus[@]}" "$bin/ndx-minimal-adapter" --trust_domain ndx.bench \
    --ca "pki/$node/ca.pem" --cert "pki/$node/tls.pem" --key "pki/$node/tls.key" \
    --record_bytes "$RECORD_BYTES" "$@"
}
minimal owner
minimal slow --delay_ms "$SLOW_DELAY_MS"
owner_port=$(cat owner.port) slow_port=$(cat slow.port)

# gateway_config MODE: the gateway's configuration in MODE.
gateway_config() {
  cat <<EOF
listen_address: "127.0.0.1:0"
trust_domain: "ndx.bench"
tls { ca_file: "pki/core/ca.pem" cert_file: "pki/core/tls.pem" key_file: "pki/core/tls.key" }
data_dir: "$1/registry"
bootstrap_operators: "bench/ops"
audit { durability: $durability_enum }
EOF
  if [[ "$1" == unguarded ]]; then
    # Nothing of issue 13 can trigger: caps out of reach, no circuit, no shedding, and gRPC's
    # own unlimited streams per connection.
    cat <<EOF
node_limits {
  defaults { calls: 1000000 streams: 1000000 subscriptions: 1000000 connections: 1000000 }
  transport { max_concurrent_streams: 1000000 }
}
owner_guard {
  max_in_flight: 1000000
  circuit { disabled: true }
  deadline_shedding { disabled: true }
}
EOF
  else
    cat <<EOF
node_limits {
  defaults { calls: $GUARD_NODE_CALLS connections: $GUARD_NODE_CONNECTIONS }
  nodes {
    key: "bench/loader"
    value { calls: $((CLIENT_MAX_IN_FLIGHT * 2)) connections: $((LOAD_CONNECTIONS * 2)) }
  }
  transport { max_concurrent_streams: $GUARD_STREAMS_PER_CONNECTION }
}
owner_guard { max_in_flight: $GUARD_OWNER_MAX_IN_FLIGHT }
EOF
  fi
}

ndx() {
  local who=$1
  shift
  "${other_cpus[@]}" "$bin/ndxctl" --gateway "127.0.0.1:$gateway_port" --gateway-id core --ca pki/ca/ca.pem \
    --cert "pki/$who/tls.pem" --key "pki/$who/tls.key" "$@"
}
# grant CONSUMER DATASET OWNER [APPROVE FLAGS...]: CONSUMER's grant to read DATASET, approved by
# OWNER (with a rate limit when the flags give one).
grant() {
  local consumer=$1 dataset=$2 owner=$3 id
  shift 3
  id=$(ndx "$consumer" grant request --dataset "$dataset" --fields id,payload \
    --purpose benchmark --days 30 --justification "overload bench")
  ndx "$owner" grant approve "$id" "$@" >/dev/null
}

# start_gateway MODE: a fresh gateway (registry and audit log) in MODE, with the nodes, datasets
# and the probe's and loader's grants, which have no rate limit in either mode.
start_gateway() {
  # Paths in a config are relative to its file: it stays in the work directory.
  mkdir -p "$1"
  gateway_config "$1" >"$1-gateway.textproto"
  rm -f "$1-gateway.port"
  start "$1-gateway" "${gateway_cpus[@]}" "$bin/ndx-gateway" \
    --config "$1-gateway.textproto"
  gateway_pid=${pids[-1]} gateway_port=$(cat "$1-gateway.port")
  ndx ops node register bench/owner --name Owner --kind other \
    --endpoint "127.0.0.1:$owner_port" >/dev/null
  ndx ops node register bench/slow --name "Slow owner" --kind other \
    --endpoint "127.0.0.1:$slow_port" >/dev/null
  local node
  for node in probe normal greedy loader flood; do
    ndx ops node register "bench/$node" --name "$node" --kind other >/dev/null
  done
  ndx owner dataset register bench/records --proto record.proto --message bench.v1.Record \
    --key id >/dev/null
  ndx slow dataset register bench/slow-records --proto record.proto --message bench.v1.Record \
    --key id >/dev/null
  grant probe bench/records owner
  grant loader bench/slow-records slow
}

# The gateway's CPU time so far (user and system), in microseconds.
clock_ticks=$(getconf CLK_TCK)
gateway_cpu_us() { awk -v t="$clock_ticks" '{print int(($14 + $15) * 1000000 / t)}' "/proc/$gateway_pid/stat"; }
# cpu_per_call FILE CPU_US: the gateway's CPU per call of the run in FILE, whose warm-up and
# measured time took CPU_US of it (calls during the warm-up counted at the measured rate).
cpu_per_call() {
  jq -c --argjson cpu "$2" --argjson seconds "$((warmup + duration))" \
    '{gateway_cpu_us_per_call: ($cpu / (.rps * $seconds) * 100 | round / 100)}' "$1"
}

# The gateway's resident memory: sampled every 100 ms while a measured run goes on.
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
start_rss_sampler() {
  (while kill -0 "$gateway_pid" 2>/dev/null; do rss_kib "$gateway_pid"; sleep 0.1; done) \
    >"$1" 2>/dev/null &
  pids+=($!)
  sampler_pid=$!
}
stop_rss_sampler() {
  stop "$sampler_pid"
  sort -n "$1" | tail -n 1
}

# load NAME CONSUMER DATASET ARGS...: ndx-bench as CONSUMER on DATASET in the background, its
# JSON in NAME.json; `wait_loads` waits for every load started.
loads=()
load() {
  local name=$1 consumer=$2 dataset=$3
  shift 3
  "${die_with_script[@]}" "${other_cpus[@]}" "$bin/ndx-bench" --target "127.0.0.1:$gateway_port" --server-id spiffe://ndx.bench/gateway/core \
    --ca pki/ca/ca.pem --cert "pki/$consumer/tls.pem" --key "pki/$consumer/tls.key" \
    --dataset "$dataset" --record-key r-1 --purpose benchmark --fields id,payload \
    --output json "$@" >"$name.json" 2>"$name.log" &
  pids+=($!)
  loads+=($!)
}
# wait_loads: waits for the loads; ndx-bench exits 1 when calls failed or were not sent, which
# is what overload looks like; only a run without a report is an error.
wait_loads() {
  local pid
  for pid in "${loads[@]}"; do stop_wait "$pid"; done
  loads=()
}
stop_wait() {
  wait "$1" 2>/dev/null || true
  local kept=() pid
  for pid in "${pids[@]}"; do [[ "$pid" == "$1" ]] || kept+=("$pid"); done
  pids=("${kept[@]}")
}
# record ROUND MODE RUN FILE [EXTRA JSON]: one line of results.jsonl.
record() {
  local extra=${5:-}
  [[ -n "$extra" ]] || extra='{}'
  if [[ ! -s "$4" ]]; then
    echo "overload-bench: $3 ($2, round $1) gave no report:" >&2
    cat "${4%.json}.log" >&2
    exit 1
  fi
  jq -c --argjson round "$1" --arg mode "$2" --arg run "$3" --argjson extra "$extra" \
    '{round: $round, mode: $mode, run: $run} + $extra + .' "$4" >>"$results"
  jq -r '"  round \(.round) \(.mode) \(.run): \(.rps | floor) calls/s, " +
         ([.latency_by_code | to_entries[] | "\(.key) \(.value.calls) (p99 \(.value.latency_p99_us) us)"]
          | join(", ")) + (if .not_sent then ", not sent \(.not_sent)" else "" end)' \
    <(tail -n 1 "$results") >&2
}
# times C FRACTION: C * FRACTION, rounded, at least 1.
times() { awk -v c="$1" -v f="$2" 'BEGIN { r = int(c * f + 0.5); print (r < 1 ? 1 : r) }'; }

results=results.jsonl
: >"$results"
run_args=(--duration "${duration}s" --warmup "${warmup}s")
slow_rate=$((SLOW_IN_FLIGHT * 1000 / SLOW_DELAY_MS))
echo "overload-bench: $rounds rounds of ${warmup}s warm-up + ${duration}s per run, audit" \
  "$durability durable, $(nproc) cores" >&2
for round in $(seq 1 "$rounds"); do
  capacity=$fixed_capacity
  for mode in unguarded guarded; do
    rm -rf "$mode"
    start_gateway "$mode"

    # The capacity, probed in each mode (what the guards cost); the loads of both modes come from
    # the unguarded probe of the round, so that both modes are offered the same calls.
    cpu_before=$(gateway_cpu_us)
    load probe probe bench/records --concurrency "$PROBE_IN_FLIGHT" --connections 2 "${run_args[@]}"
    wait_loads
    record "$round" "$mode" probe probe.json "$(cpu_per_call probe.json $(($(gateway_cpu_us) - cpu_before)))"
    [[ -n "$capacity" ]] || capacity=$(jq '.rps | floor' probe.json)
    normal_rate=$(times "$capacity" "$NORMAL_RATE")
    greedy_rate=$(times "$capacity" "$GREEDY_RATE")
    reader_rate=$(times "$capacity" "$READER_RATE")

    # The consumers' grants: rate limited only when guarded.
    if [[ "$mode" == guarded ]]; then
      rate=$(times "$capacity" "$GUARD_NORMAL_RATE")
      grant normal bench/records owner --rate "$rate" --burst "$((rate * GUARD_BURST_SECONDS))"
      rate=$(times "$capacity" "$GUARD_GREEDY_RATE")
      grant greedy bench/records owner --rate "$rate" --burst "$((rate * GUARD_BURST_SECONDS))"
      grant flood bench/records owner --rate 1 --burst 1
    else
      grant normal bench/records owner
      grant greedy bench/records owner
      grant flood bench/records owner
    fi

    # What a call costs the gateway at FLOOD_RATE: a read unguarded, a refusal guarded.
    cpu_before=$(gateway_cpu_us)
    load flood flood bench/records --rate "$(times "$capacity" "$FLOOD_RATE")" \
      --max-in-flight "$CLIENT_MAX_IN_FLIGHT" --connections "$GREEDY_CONNECTIONS" "${run_args[@]}"
    wait_loads
    record "$round" "$mode" flood flood.json "$(cpu_per_call flood.json $(($(gateway_cpu_us) - cpu_before)))"

    # Scenario 1: the normal consumer alone, then beside the greedy one.
    load alone normal bench/records --rate "$normal_rate" --connections 2 "${run_args[@]}"
    wait_loads
    record "$round" "$mode" normal-alone alone.json
    rss_before=$(rss_kib "$gateway_pid")
    start_rss_sampler rss-mixed
    load greedy greedy bench/records --rate "$greedy_rate" --max-in-flight "$CLIENT_MAX_IN_FLIGHT" \
      --connections "$GREEDY_CONNECTIONS" "${run_args[@]}"
    load normal normal bench/records --rate "$normal_rate" --connections 2 "${run_args[@]}"
    wait_loads
    rss_peak=$(stop_rss_sampler rss-mixed)
    record "$round" "$mode" greedy greedy.json \
      "{\"rss_before_kib\": $rss_before, \"rss_peak_kib\": $rss_peak}"
    record "$round" "$mode" normal-mixed normal.json

    # Scenario 2: reads of the fast owner alone, then while the slow owner holds its load. The
    # load ramps up for one delay before the reads start, and ends after them.
    load reader-alone normal bench/records --rate "$reader_rate" --connections 2 "${run_args[@]}"
    wait_loads
    record "$round" "$mode" reader-alone reader-alone.json
    rss_before=$(rss_kib "$gateway_pid")
    start_rss_sampler rss-slow
    ramp=$(((SLOW_DELAY_MS + 999) / 1000 + 1))
    load slow loader bench/slow-records --rate "$slow_rate" \
      --max-in-flight "$((SLOW_IN_FLIGHT * 11 / 10))" --connections "$LOAD_CONNECTIONS" \
      --warmup "${ramp}s" --duration "$((warmup + duration + 1))s"
    sleep "$ramp"
    load reader normal bench/records --rate "$reader_rate" --connections 2 "${run_args[@]}"
    wait_loads
    rss_peak=$(stop_rss_sampler rss-slow)
    record "$round" "$mode" slow-load slow.json \
      "{\"rss_before_kib\": $rss_before, \"rss_peak_kib\": $rss_peak}"
    record "$round" "$mode" reader-loaded reader.json

    stop "$gateway_pid"
  done
done

# The figures of each round and mode, their medians over the rounds, and the targets beside them.
guards="grant rates normal $GUARD_NORMAL_RATE C, greedy $GUARD_GREEDY_RATE C, burst"
guards+=" ${GUARD_BURST_SECONDS} s of the rate; node caps $GUARD_NODE_CALLS calls,"
guards+=" $GUARD_NODE_CONNECTIONS connections (bench/loader $((CLIENT_MAX_IN_FLIGHT * 2)),"
guards+=" $((LOAD_CONNECTIONS * 2))); owner bulkhead $GUARD_OWNER_MAX_IN_FLIGHT in flight"
jq -s -r --arg command "NDX_BIN_DIR=$bin $command_line" --arg rounds "$rounds" \
  --arg guards "$guards" \
  --arg duration "$duration" '
  def median: sort | if length == 0 then null elif length % 2 == 1 then .[length / 2 | floor]
                     else (.[length / 2 - 1] + .[length / 2]) / 2 end;
  def r2: if . == null then null else . * 100 | round / 100 end;
  def ok: .latency_by_code.OK.calls // 0;
  def code(c): .latency_by_code[c].calls // 0;
  def pct(a; b): if b > 0 then a / b * 100 else null end;
  def ratio(a; b): if b > 0 then a / b else null end;
  def pad(n): tostring | . + " " * ([n - length, 0] | max);
  def fmt: if . == null then "-" elif type == "number" then (. * 100 | round / 100 | tostring)
           else tostring end;
  # One object of figures per round and mode.
  (group_by([.round, .mode]) | map(
    (map({key: .run, value: .}) | from_entries) as $r
    | {mode: .[0].mode,
       capacity: $r.probe.rps,
       probe_cpu: $r.probe.gateway_cpu_us_per_call,
       flood_cpu: $r.flood.gateway_cpu_us_per_call,
       flood_exhausted_p99: $r.flood.latency_by_code.RESOURCE_EXHAUSTED.latency_p99_us,
       normal_alone_p99: $r["normal-alone"].latency_total.latency_p99_us,
       normal_success: pct($r["normal-mixed"] | ok; $r["normal-mixed"].scheduled),
       normal_p99: $r["normal-mixed"].latency_total.latency_p99_us,
       normal_p99_ratio: ratio($r["normal-mixed"].latency_total.latency_p99_us;
                               $r["normal-alone"].latency_total.latency_p99_us),
       greedy_ok: ($r.greedy | ok),
       greedy_exhausted: ($r.greedy | code("RESOURCE_EXHAUSTED")),
       greedy_other: ($r.greedy.calls - ($r.greedy | ok) - ($r.greedy | code("RESOURCE_EXHAUSTED"))),
       greedy_not_sent: $r.greedy.not_sent,
       greedy_exhausted_p99: $r.greedy.latency_by_code.RESOURCE_EXHAUSTED.latency_p99_us,
       greedy_start_lag_p99: $r.greedy.start_lag_p99_us,
       rss_before_mib: ($r.greedy.rss_before_kib / 1024),
       rss_peak_mib: ($r.greedy.rss_peak_kib / 1024),
       reader_alone_p99: $r["reader-alone"].latency_total.latency_p99_us,
       reader_success: pct($r["reader-loaded"] | ok; $r["reader-loaded"].scheduled),
       reader_p99: $r["reader-loaded"].latency_total.latency_p99_us,
       reader_p99_ratio: ratio($r["reader-loaded"].latency_total.latency_p99_us;
                               $r["reader-alone"].latency_total.latency_p99_us),
       slow_ok: ($r["slow-load"] | ok),
       slow_exhausted: ($r["slow-load"] | code("RESOURCE_EXHAUSTED")),
       slow_other: ($r["slow-load"].calls - ($r["slow-load"] | ok)
                    - ($r["slow-load"] | code("RESOURCE_EXHAUSTED"))),
       slow_not_sent: $r["slow-load"].not_sent,
       slow_rss_peak_mib: ($r["slow-load"].rss_peak_kib / 1024)})) as $rounds_by_mode
  | ($rounds_by_mode | group_by(.mode) | map({key: .[0].mode, value: (
      . as $all | $all[0] | keys | map({key: ., value: ([$all[][.]] | map(select(. != null))
        | if .[0] | type == "number" then median else .[0] end)}) | from_entries)})
    | from_entries) as $m
  | def row(title; field; target):
      "  \(title | pad(46)) \($m.unguarded[field] | fmt | pad(12)) \($m.guarded[field] | fmt | pad(12)) \(target)";
    "overload-bench: medians over \($rounds) round(s) of \($duration) s runs",
    "  \("figure" | pad(46)) \("unguarded" | pad(12)) \("guarded" | pad(12)) target (issue 13)",
    row("capacity C, calls/s (closed loop)"; "capacity"; ""),
    row("gateway CPU us per read, at C"; "probe_cpu"; ""),
    row("gateway CPU us per call, flood at 0.5 C"; "flood_cpu"; "(guarded: refused)"),
    row("flood: RESOURCE_EXHAUSTED p99 us"; "flood_exhausted_p99"; ""),
    "  scenario 1: greedy consumer at 2 C, normal at 0.2 C",
    row("normal: success %"; "normal_success"; ">= 99"),
    row("normal: p99 us, alone"; "normal_alone_p99"; ""),
    row("normal: p99 us, beside the greedy one"; "normal_p99"; ""),
    row("normal: p99 / p99 alone"; "normal_p99_ratio"; "<= 3"),
    row("greedy: OK"; "greedy_ok"; ""),
    row("greedy: RESOURCE_EXHAUSTED"; "greedy_exhausted"; ""),
    row("greedy: other codes"; "greedy_other"; ""),
    row("greedy: not sent (client at its max in flight)"; "greedy_not_sent"; ""),
    row("greedy: RESOURCE_EXHAUSTED p99 us"; "greedy_exhausted_p99"; "< 1000"),
    row("greedy: client start lag p99 us"; "greedy_start_lag_p99"; "(client health)"),
    row("gateway RSS MiB before"; "rss_before_mib"; ""),
    row("gateway RSS MiB peak during"; "rss_peak_mib"; "bounded"),
    "  scenario 2: slow owner (1 s answers, 1,000 in flight), reads of another owner",
    row("reads: success %"; "reader_success"; "(unaffected)"),
    row("reads: p99 us, alone"; "reader_alone_p99"; ""),
    row("reads: p99 us, beside the slow owner load"; "reader_p99"; ""),
    row("reads: p99 / p99 alone"; "reader_p99_ratio"; "<= 2"),
    row("slow owner load: OK"; "slow_ok"; ""),
    row("slow owner load: RESOURCE_EXHAUSTED"; "slow_exhausted"; ""),
    row("slow owner load: other codes"; "slow_other"; ""),
    row("slow owner load: not sent"; "slow_not_sent"; ""),
    row("gateway RSS MiB peak during"; "slow_rss_peak_mib"; "bounded"),
    "guarded: \($guards)",
    "command: \($command)"
' "$results"
if [[ -n "$json_out" ]]; then cp "$results" "$json_out"; fi
