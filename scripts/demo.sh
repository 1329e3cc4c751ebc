#!/usr/bin/env bash
# A small ndx federation on 127.0.0.1, from nothing to audited reads:
#   - a development PKI (trust domain ndx.gov.vn) made with ndxctl;
#   - the gateway "core"; two owner agencies, each with an adapter in front of its own SQLite
#     database: moj/civil-status (dataset moj/births) and mops/population (mops/residents);
#     one consumer, moh/insurance; the platform operator ndx/ops;
#   - nodes, datasets and grants registered through the gateway, each by whoever may do it;
#   - reads that are allowed (only the granted fields come back) and reads that are refused;
#   - the gateway's decision log, one JSON line per decision;
#   - an auditor's view: who read one citizen's data, when and why, and a verification of the
#     tamper-evident audit log against its signed checkpoint.
# Everything runs in a temporary directory that is removed at the end, with every process it
# started. Static inputs (schemas, seed data, configs) are in deploy/demo/.
# NDX_BIN_DIR=DIR skips the build and takes ndxctl, ndx-gateway and ndx-adapter from DIR;
# NDX_BUILD_DIR builds somewhere else than build/ (see build.sh).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
if [[ -n "${NDX_BIN_DIR:-}" ]]; then
  bin=$(cd "$NDX_BIN_DIR" && pwd)
else
  "$repo/scripts/build.sh"
  build_dir=${NDX_BUILD_DIR:-build}
  [[ "$build_dir" == /* ]] || build_dir="$repo/$build_dir"
  bin="$build_dir/bin"
fi

work=$(mktemp -d -t ndx-demo.XXXXXX)
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cp "$repo"/deploy/demo/* "$work/"
cd "$work"

step() { printf '\n== %s\n' "$*"; }
indent() { sed 's/^/    /'; }

# ndx WHO ARGS...: ndxctl as node WHO (ops, moj, mops, moh), through its profile.
ndx() {
  local who=$1
  shift
  "$bin/ndxctl" --profile "profiles/$who.textproto" "$@"
}

# start NAME BINARY CONFIG: starts a server in the background, waits for its port file, and sets
# the variable port_NAME to the port it listens on.
start() {
  local name=$1 binary=$2 config=$3
  "$bin/$binary" --config "$config" --port_file "$name.port" >"$name.log" 2>&1 &
  pids+=($!)
  local pid=$!
  for _ in $(seq 1 150); do
    if [[ -s "$name.port" ]]; then
      printf -v "port_${name//-/_}" '%s' "$(cat "$name.port")"
      echo "$name ($binary) is listening on 127.0.0.1:$(cat "$name.port")"
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "demo: $binary exited before listening:" >&2
      cat "$name.log" >&2
      return 1
    fi
    sleep 0.2
  done
  echo "demo: $binary did not listen within 30 seconds:" >&2
  cat "$name.log" >&2
  return 1
}

# allowed WHO DESCRIPTION ARGS...: a read that must succeed; prints the fields that came back.
allowed() {
  local who=$1 description=$2
  shift 2
  local output fields
  output=$(ndx "$who" "$@")
  # Top-level keys of the printed record(s): the fields the gateway let through.
  fields=$(grep -o '"[a-z_0-9]*":' <<<"$output" | tr -d '":' | awk '!seen[$0]++' | paste -sd, -)
  echo "$description: allowed, fields ${fields//,/, }"
  indent <<<"$output"
}

# refused EXIT_CODE WHO DESCRIPTION ARGS...: a read that ndxctl must fail with EXIT_CODE.
refused() {
  local expected=$1 who=$2 description=$3
  shift 3
  local output code=0
  output=$(ndx "$who" "$@" 2>&1) || code=$?
  if [[ $code -ne $expected ]]; then
    echo "demo: expected ndxctl to exit with $expected, got $code:" >&2
    echo "$output" >&2
    return 1
  fi
  echo "$description: refused (exit $code)"
  indent <<<"$output"
}

step "Development PKI (trust domain ndx.gov.vn)"
"$bin/ndxctl" pki init --dir pki/ca --trust-domain ndx.gov.vn | indent
# The gateway's certificate also names 127.0.0.1, for tools that check host names (grpcurl).
"$bin/ndxctl" pki issue --ca-dir pki/ca --out-dir pki/core --gateway core \
  --ip 127.0.0.1 --dns localhost | indent
for node in ndx/ops ndx/audit moj/civil-status mops/population moh/insurance; do
  "$bin/ndxctl" pki issue --ca-dir pki/ca --out-dir "pki/${node//\//-}" --node "$node" | indent
done

step "The owners' databases (SQLite, fictional people)"
sqlite3 civil-status.db <civil-status.sql
sqlite3 population.db <population.sql
echo "civil-status.db: $(sqlite3 civil-status.db 'SELECT count(*) FROM births') births"
echo "population.db: $(sqlite3 population.db 'SELECT count(*) FROM residents') residents"

step "Gateway and adapters"
start gateway ndx-gateway gateway.textproto
start civil-status ndx-adapter civil-status.textproto
start population ndx-adapter population.textproto

# One ndxctl profile per node; paths are relative to the profile file.
mkdir -p profiles
for entry in ops:ndx-ops audit:ndx-audit moj:moj-civil-status mops:mops-population moh:moh-insurance; do
  who=${entry%%:*} dir=${entry#*:}
  cat >"profiles/$who.textproto" <<EOF
gateway: "127.0.0.1:$port_gateway"
tls {
  ca_file: "../pki/$dir/ca.pem"
  cert_file: "../pki/$dir/tls.pem"
  key_file: "../pki/$dir/tls.key"
}
EOF
done

step "The operator ndx/ops registers the nodes"
ndx ops node register moj/civil-status --name "Ministry of Justice, civil status" \
  --kind ministry --endpoint "127.0.0.1:$port_civil_status" >/dev/null
ndx ops node register mops/population --name "Ministry of Public Security, population register" \
  --kind ministry --endpoint "127.0.0.1:$port_population" >/dev/null
ndx ops node register ndx/audit --name "State audit office" --kind other --role auditor \
  >/dev/null
ndx ops node register moh/insurance --name "Ministry of Health, health insurance" \
  --kind ministry >/dev/null
ndx ops node list | indent

step "The owners register their datasets"
ndx moj dataset register moj/births --proto birth.proto --message civil.v1.Birth \
  --key birth_id --subject child_citizen_id --class birth_id=internal \
  --class birth_province=open --description "Births registered by civil-status offices" \
  >/dev/null
ndx mops dataset register mops/residents --proto resident.proto \
  --message population.v1.Resident --key citizen_id --subject citizen_id \
  --class province=open --class address=sensitive --description "Permanent residents" \
  >/dev/null
ndx moh dataset list | indent
ndx moh dataset describe mops/residents | indent

step "moh/insurance asks for grants; the owners approve them"
residents_grant=$(ndx moh grant request --dataset mops/residents \
  --fields citizen_id,full_name,birth_date,province --purpose health-insurance-enrolment \
  --days 365 --justification "Enrol residents in health insurance (Law on Health Insurance)")
births_grant=$(ndx moh grant request --dataset moj/births \
  --fields birth_id,child_citizen_id,child_full_name,birth_date \
  --purpose child-health-insurance --days 365 \
  --justification "Issue a health-insurance card to every newborn")
ndx mops grant approve "$residents_grant" >/dev/null
ndx moj grant approve "$births_grant" >/dev/null
ndx ops grant list | indent

step "Reads that are allowed: only the granted fields come back"
allowed moh "moh/insurance reads mops/residents 001090000001 for health-insurance-enrolment" \
  get mops/residents 001090000001 --purpose health-insurance-enrolment
allowed moh "moh/insurance reads the full name and birth date of mops/residents 079001000003" \
  get mops/residents 079001000003 --purpose health-insurance-enrolment \
  --fields full_name,birth_date
allowed moh "moh/insurance queries mops/residents where province=hanoi" \
  query mops/residents --where province=hanoi --purpose health-insurance-enrolment \
  --fields citizen_id,full_name --all
allowed moh "moh/insurance reads moj/births B-2024-0001 for child-health-insurance" \
  get moj/births B-2024-0001 --purpose child-health-insurance

step "Reads that are refused"
refused 17 moj "moj/civil-status reads mops/residents 001090000001 without a grant" \
  get mops/residents 001090000001 --purpose health-insurance-enrolment
refused 17 moh "moh/insurance reads mops/residents 001090000001 for marketing" \
  get mops/residents 001090000001 --purpose marketing
refused 17 moh "moh/insurance reads the address of mops/residents 001090000001" \
  get mops/residents 001090000001 --purpose health-insurance-enrolment --fields address
refused 15 moh "moh/insurance reads moj/deaths D-2024-0001, a dataset that does not exist" \
  get moj/deaths D-2024-0001 --purpose child-health-insurance
echo "mops/population revokes grant $residents_grant"
ndx mops grant revoke "$residents_grant" --reason "enrolment campaign finished" >/dev/null
refused 17 moh "moh/insurance reads mops/residents 001090000001 after the revocation" \
  get mops/residents 001090000001 --purpose health-insurance-enrolment

step "The gateway's decision log (decisions.jsonl): every decision, allowed or refused"
cat decisions.jsonl

step "The auditor: who read citizen 001090000001's data, when, and why"
ndx audit audit query --subject 001090000001 --all | indent

step "The auditor verifies the audit log against its signed checkpoint"
# The verifier key comes from the operator, out of band; here, from the gateway's audit directory.
ndx audit audit verify --key registry/audit/verifier.key --state audit-state.json --full | indent
ndx audit audit checkpoint --sign-now | indent

step "Stopping"
for pid in "${pids[@]}"; do kill -TERM "$pid"; done
for pid in "${pids[@]}"; do wait "$pid" || true; done
pids=()
echo "demo finished: gateway and adapters stopped, $work removed"
