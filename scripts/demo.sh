#!/usr/bin/env bash
# A small ndx federation on 127.0.0.1 that runs the "lien thong" life-event procedures: a birth
# declared online becomes a registered birth, a permanent residence and a health-insurance card
# for the child; a death declared online becomes a registered death, a cancelled residence and a
# funeral allowance. Nobody retypes anything and nothing is copied to a central store:
#   - a development PKI (trust domain ndx.gov.vn) made with ndxctl;
#   - the gateway "core"; four agencies, each with an adapter in front of its own database
#     (SQLite; the population register in PostgreSQL when the machine can run it): hanoi/portal (hanoi/applications), moj/civil-status (moj/births, moj/deaths),
#     mops/population (mops/residents), vss/social-insurance (vss/insurance-cards,
#     vss/funeral-allowances); the platform operator ndx/ops and the auditor ndx/audit;
#   - nodes, datasets and grants registered through the gateway, each by whoever may do it;
#   - each agency's reactions (deploy/demo/reactions/) subscribed to the events of the datasets
#     it may read: an event names a record, never carries it; the reaction reads what it needs
#     under its own grant and purpose, writes its own database and publishes the next event;
#   - the two chains, checked end to end; reads the gateway refuses;
#   - an auditor's view: who read the child's data, when and why, and a verification of the
#     tamper-evident audit log against its signed checkpoint.
# Everything runs in a temporary directory that is removed at the end, with every process it
# started. Static inputs (schemas, seed data, configs, reactions) are in deploy/demo/.
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
for tool in sqlite3 jq; do
  command -v "$tool" >/dev/null || { echo "demo: $tool is missing (scripts/install-deps.sh)" >&2; exit 1; }
done
# The reactions and the portal's scripts call ndxctl by name.
export PATH="$bin:$PATH"

work=$(mktemp -d -t ndx-demo.XXXXXX)
pids=()
# Stops what was started, the last first: subscribers before the gateway they talk to.
stop_all() {
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill -TERM "${pids[i]}" 2>/dev/null || true; done
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do wait "${pids[i]}" 2>/dev/null || true; done
  pids=()
}
pg_dir=""
cleanup() {
  stop_all
  rm -rf "$work" ${pg_dir:+"$pg_dir"}
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cp -R "$repo"/deploy/demo/. "$work/"
cd "$work"
mkdir -p logs

step() { printf '\n== %s\n' "$*"; }
indent() { sed 's/^/    /'; }

# ndx WHO ARGS...: ndxctl as node WHO (ops, audit, portal, moj, mops, vss), through its profile.
ndx() {
  local who=$1
  shift
  "$bin/ndxctl" --profile "profiles/$who.textproto" "$@"
}

# q [-header -column] DB SQL: the demo's own look into an agency's database, as the agency's
# staff would; population.db means the population register wherever it is (PostgreSQL or SQLite).
q() {
  local options=()
  while [[ "$1" == -* ]]; do
    options+=("$1")
    shift
  done
  local db=$1
  shift
  if [[ "$db" == population.db && -n "$population_pg" ]]; then
    # Unaligned rows as sqlite3 prints them, or a table for -header -column.
    local format=(-A -t -F '|')
    ((${#options[@]} == 0)) || format=()
    psql -X -q -v ON_ERROR_STOP=1 "${format[@]}" "$population_pg" -c "$1"
  else
    sqlite3 -cmd ".timeout 5000" "${options[@]}" "$db" "$@"
  fi
}

# The population register runs on PostgreSQL when this machine can run Debian's server: as its
# postgres user (it refuses root), which only root can switch to. Its only listener is a Unix
# socket in its own directory, so it needs no port; it dies with the demo (--pdeathsig).
population_pg=""
start_population_postgresql() {
  local pg_bin
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [[ -n "$pg_bin" && -x "$pg_bin/postgres" && $(id -u) -eq 0 ]] || return 1
  id postgres >/dev/null 2>&1 && command -v psql >/dev/null || return 1
  pg_dir=$(mktemp -d -t ndx-demo.pg.XXXXXX)
  chown postgres: "$pg_dir"
  local as_postgres=(setpriv --reuid=postgres --regid=postgres --init-groups)
  "${as_postgres[@]}" "$pg_bin/initdb" -D "$pg_dir/data" -U postgres --auth=trust -E UTF8 \
    --locale=C --no-sync >postgresql.log 2>&1 || return 1
  (cd "$pg_dir" && exec "${as_postgres[@]}" --pdeathsig KILL "$pg_bin/postgres" -D "$pg_dir/data" \
    -k "$pg_dir" -c listen_addresses= -c fsync=off) >>postgresql.log 2>&1 &
  pids+=($!)
  local i
  for i in $(seq 1 100); do
    psql -X -q -h "$pg_dir" -U postgres -d postgres -c 'SELECT 1' >/dev/null 2>&1 && break
    ((i < 100)) || { cat postgresql.log >&2; return 1; }
    sleep 0.1
  done
  psql -X -q -h "$pg_dir" -U postgres -d postgres -c 'CREATE DATABASE population' >/dev/null
  population_pg="host=$pg_dir dbname=population user=postgres"
  psql -X -q -v ON_ERROR_STOP=1 "$population_pg" -f population.sql >/dev/null
  # The adapter reads from it, and the population register's reactions write to it.
  sed -i "s|sqlite { path: \"population.db\" }|postgresql { connection: \"$population_pg\" }|" \
    population.textproto
  export NDX_POPULATION_DATABASE=$population_pg
}

# start NAME BINARY CONFIG [FLAG...]: starts a server in the background, waits for its port file,
# and sets the variable port_NAME to the port it listens on.
start() {
  local name=$1 binary=$2 config=$3
  shift 3
  "$bin/$binary" --config "$config" --port_file "$name.port" "$@" >"$name.log" 2>&1 &
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

# subscribe WHO DATASET PURPOSE REACTION: runs reactions/REACTION.sh, as node WHO, for each event
# of DATASET; its output goes to logs/WHO-<dataset>.log.
subscribers=()
subscribe() {
  local who=$1 dataset=$2 purpose=$3 reaction=$4
  NDX_PROFILE="profiles/$who.textproto" "$bin/ndxctl" events subscribe "$dataset" \
    --purpose "$purpose" --exec "reactions/$reaction.sh" >"logs/$who-${dataset//\//-}.log" 2>&1 &
  pids+=($!)
  subscribers+=("$!:the subscriber of $who to $dataset")
  echo "$who runs reactions/$reaction.sh on the events of $dataset (purpose $purpose)"
}

# reaction_logs [new]: what each subscriber and its reaction printed; with "new", only the
# lines printed since the last call with "new".
declare -A log_lines_shown=()
reaction_logs() {
  local log from lines
  for log in logs/*.log; do
    from=0
    if [[ "${1:-}" == new ]]; then
      from=${log_lines_shown[$log]:-0}
      lines=$(wc -l <"$log")
      log_lines_shown[$log]=$lines
      ((lines > from)) || continue
    fi
    echo "$log:"
    tail -n +"$((from + 1))" "$log" | indent
  done
}

# fail MESSAGE: stops the demo with MESSAGE and what the reactions said.
fail() {
  {
    echo "demo: $*"
    echo "demo: the reactions' logs:"
    reaction_logs
  } >&2
  exit 1
}

# wait_until DESCRIPTION COMMAND...: polls COMMAND until it succeeds; fails the demo when
# $deadline (in $SECONDS) passes first, or when a subscriber stopped. A chain has $timeout
# seconds.
wait_until() {
  local description=$1 entry
  shift
  until "$@"; do
    for entry in "${subscribers[@]}"; do
      kill -0 "${entry%%:*}" 2>/dev/null || fail "${entry#*:} stopped before $description"
    done
    ((SECONDS < deadline)) || fail "$description did not happen within $timeout seconds"
    sleep 0.2
  done
}
timeout=30

# show DB TABLE SQL: the rows SQL selects from TABLE of DB, as a table.
show() {
  echo "$1, $2:"
  q -header -column "$1" "$3" | indent
}

# has_row DB SQL: whether SQL returns something.
has_row() { [[ -n "$(q "$1" "$2")" ]]; }

# same WHAT EXPECTED ACTUAL: fails the demo unless ACTUAL is EXPECTED.
same() {
  [[ "$3" == "$2" ]] || fail "$1: expected '$2', got '$3'"
  echo "same $1: $3"
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

# refused EXIT_CODE WHO DESCRIPTION ARGS...: a call that ndxctl must fail with EXIT_CODE.
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
for node in ndx/ops ndx/audit hanoi/portal moj/civil-status mops/population \
  vss/social-insurance; do
  "$bin/ndxctl" pki issue --ca-dir pki/ca --out-dir "pki/${node//\//-}" --node "$node" | indent
done

step "The agencies' databases (fictional people)"
for db in portal civil-status social-insurance; do
  sqlite3 "$db.db" <"$db.sql"
done
if start_population_postgresql; then
  echo "the population register is in PostgreSQL ($population_pg), the others in SQLite"
else
  sqlite3 population.db <population.sql
  echo "the population register is in SQLite like the others (PostgreSQL needs root and Debian's" \
    "postgresql package)"
fi
echo "portal.db: $(q portal.db 'SELECT count(*) FROM applications') applications"
echo "civil-status.db: $(q civil-status.db 'SELECT count(*) FROM births') births," \
  "$(q civil-status.db 'SELECT count(*) FROM deaths') deaths"
echo "population register: $(q population.db 'SELECT count(*) FROM residents') residents"
echo "social-insurance.db: $(q social-insurance.db 'SELECT count(*) FROM insurance_cards')" \
  "health-insurance cards, $(q social-insurance.db 'SELECT count(*) FROM members') members"

step "Gateway and adapters"
start gateway ndx-gateway gateway.textproto --json_api_port_file json-api.port
echo "its REST/JSON face is listening on 127.0.0.1:$(cat json-api.port)"
for agency in portal civil-status population social-insurance; do
  start "$agency" ndx-adapter "$agency.textproto"
done

# One ndxctl profile per node; paths are relative to the profile file.
mkdir -p profiles
for entry in ops:ndx-ops audit:ndx-audit portal:hanoi-portal moj:moj-civil-status \
  mops:mops-population vss:vss-social-insurance; do
  who=${entry%%:*} dir=${entry#*:}
  cat >"profiles/$who.textproto" <<EOF
gateway: "127.0.0.1:$port_gateway"
gateway_id: "core"   # spiffe://ndx.gov.vn/gateway/core: ndxctl refuses any other server
tls {
  ca_file: "../pki/$dir/ca.pem"
  cert_file: "../pki/$dir/tls.pem"
  key_file: "../pki/$dir/tls.key"
}
EOF
done

step "The operator ndx/ops registers the nodes"
ndx ops node register hanoi/portal --name "Hanoi public-service portal" \
  --kind province --endpoint "127.0.0.1:$port_portal" >/dev/null
ndx ops node register moj/civil-status --name "Ministry of Justice, civil status" \
  --kind ministry --endpoint "127.0.0.1:$port_civil_status" >/dev/null
ndx ops node register mops/population --name "Ministry of Public Security, population register" \
  --kind ministry --endpoint "127.0.0.1:$port_population" >/dev/null
ndx ops node register vss/social-insurance --name "Vietnam Social Security" \
  --kind other --endpoint "127.0.0.1:$port_social_insurance" >/dev/null
ndx ops node register ndx/audit --name "State audit office" --kind other --role auditor \
  >/dev/null
ndx ops node list | indent

step "The owners register their datasets"
ndx portal dataset register hanoi/applications --proto application.proto \
  --message portal.v1.Application --key application_id --subject applicant_citizen_id \
  --class application_id=internal --class kind=internal --class submitted_at=internal \
  --description "Births and deaths declared online at the Hanoi portal" >/dev/null
ndx moj dataset register moj/births --proto birth.proto --message civil.v1.Birth \
  --key birth_id --subject child_citizen_id --class birth_id=internal \
  --class application_id=internal --class registered_at=internal \
  --description "Births registered by civil-status offices" >/dev/null
ndx moj dataset register moj/deaths --proto death.proto --message civil.v1.Death \
  --key death_id --subject deceased_citizen_id --class death_id=internal \
  --class application_id=internal --class registered_at=internal \
  --description "Deaths registered by civil-status offices" >/dev/null
ndx mops dataset register mops/residents --proto resident.proto \
  --message population.v1.Resident --key citizen_id --subject citizen_id \
  --class province=open --class address=sensitive --description "The population register" \
  >/dev/null
ndx vss dataset register vss/insurance-cards --proto insurance-card.proto \
  --message insurance.v1.InsuranceCard --key card_id --subject holder_citizen_id \
  --class scheme=open --description "Health-insurance cards" >/dev/null
ndx vss dataset register vss/funeral-allowances --proto funeral-allowance.proto \
  --message insurance.v1.FuneralAllowance --key allowance_id --subject deceased_citizen_id \
  --class allowance_id=internal --description "Funeral allowances decided" >/dev/null
ndx ops dataset list | indent

step "Each agency asks for what its procedures need; the owners approve"
# request WHO DATASET FIELDS JUSTIFICATION PURPOSE...: prints the grant id.
request() {
  local who=$1 dataset=$2 fields=$3 justification=$4
  shift 4
  local purposes=() purpose
  for purpose in "$@"; do purposes+=(--purpose "$purpose"); done
  ndx "$who" grant request --dataset "$dataset" --fields "$fields" "${purposes[@]}" --days 365 \
    --justification "$justification"
}
decree="Decree 63/2024/ND-CP (electronic inter-connection of birth and death procedures)"
grant=$(request moj hanoi/applications \
  application_id,kind,applicant_citizen_id,applicant_full_name,child_full_name,child_sex,child_birth_date,child_birth_place,mother_citizen_id,mother_full_name,father_citizen_id,father_full_name,deceased_citizen_id,deceased_full_name,death_date,death_place \
  "Register births and deaths declared online: Law on Civil Status 2014; $decree" \
  civil-registration)
ndx portal grant approve "$grant" >/dev/null
grant=$(request mops moj/births \
  birth_id,child_citizen_id,child_full_name,child_sex,birth_date,mother_citizen_id \
  "Register a newborn's permanent residence: Law on Residence 2020; $decree" \
  permanent-residence-registration)
ndx moj grant approve "$grant" >/dev/null
grant=$(request mops moj/deaths death_id,deceased_citizen_id,death_date \
  "Cancel the permanent residence of the deceased: Law on Residence 2020, art. 24; $decree" \
  permanent-residence-cancellation)
ndx moj grant approve "$grant" >/dev/null
grant=$(request vss mops/residents \
  citizen_id,full_name,birth_date,residence_status,cancellation_reference \
  "Cards for children under 6 (Law on Health Insurance) and funeral allowances (Law on Social Insurance); $decree" \
  child-health-insurance funeral-allowance)
ndx mops grant approve "$grant" >/dev/null
grant=$(request vss moj/deaths \
  death_id,deceased_citizen_id,death_date,declarant_citizen_id,declarant_full_name \
  "Pay the funeral allowance to whoever declared the death: Law on Social Insurance; $decree" \
  funeral-allowance)
ndx moj grant approve "$grant" >/dev/null
grant=$(request portal vss/insurance-cards \
  card_id,holder_citizen_id,holder_full_name,birth_date,scheme,valid_from,valid_until \
  "Tell the applicant the outcome of a birth declaration: $decree" citizen-notification)
ndx vss grant approve "$grant" >/dev/null
grant=$(request portal vss/funeral-allowances \
  allowance_id,deceased_full_name,beneficiary_citizen_id,beneficiary_full_name,amount_vnd,decided_on \
  "Tell the applicant the outcome of a death declaration: $decree" citizen-notification)
ndx vss grant approve "$grant" >/dev/null
ndx ops grant list | indent

step "The agencies subscribe their reactions to the events they may read"
subscribe moj hanoi/applications civil-registration civil-status
subscribe mops moj/births permanent-residence-registration population
subscribe mops moj/deaths permanent-residence-cancellation population
# One subscription per (node, dataset): the card and the allowance both react to mops/residents,
# and the reaction reads each record under the purpose of the procedure it runs.
subscribe vss mops/residents child-health-insurance social-insurance
subscribe portal vss/insurance-cards citizen-notification portal
subscribe portal vss/funeral-allowances citizen-notification portal
# all_connected: whether every subscriber has its stream open, as the operator sees it.
all_connected() {
  local connected
  connected=$(ndx ops events subscriptions --output json |
    jq '[.subscriptions[]? | select(.connected == true)] | length')
  ((connected == ${#subscribers[@]}))
}
deadline=$((SECONDS + timeout))
wait_until "the subscribers' connection" all_connected
ndx ops events subscriptions | indent

step "Chain 1: Le Thi Lan's daughter is born; her father declares the birth at the portal"
birth_date=$(date -d '-6 days' +%F)
NDX_PROFILE=profiles/portal.textproto portal/declare-birth.sh \
  --applicant 001090004567 --applicant-name "Tran Van Minh" --child-name "Tran Bao An" \
  --sex female --birth-date "$birth_date" \
  --birth-place "Hanoi Obstetrics Hospital, Dong Da, Hanoi" \
  --mother 001192004321 --mother-name "Le Thi Lan" \
  --father 001090004567 --father-name "Tran Van Minh" | indent
application=$(q portal.db "SELECT max(application_id) FROM applications WHERE kind = 'birth'")
birth_application=$application

started=$SECONDS deadline=$((SECONDS + timeout))
wait_until "the birth registration of $application" has_row civil-status.db \
  "SELECT 1 FROM births WHERE application_id = '$application'"
birth_id=$(q civil-status.db "SELECT birth_id FROM births WHERE application_id = '$application'")
child=$(q civil-status.db "SELECT child_citizen_id FROM births WHERE birth_id = '$birth_id'")
wait_until "the permanent residence of $child" has_row population.db \
  "SELECT 1 FROM residents WHERE citizen_id = '$child' AND residence_status = 'active'"
wait_until "the health-insurance card of $child" has_row social-insurance.db \
  "SELECT 1 FROM insurance_cards WHERE holder_citizen_id = '$child'"
card=$(q social-insurance.db "SELECT card_id FROM insurance_cards WHERE holder_citizen_id = '$child'")
wait_until "the portal's message about card $card" has_row portal.db \
  "SELECT 1 FROM notifications WHERE dataset = 'vss/insurance-cards' AND record_key = '$card'"
echo "done in $((SECONDS - started)) s: birth $birth_id, citizen id $child, card $card"

echo "The child as each agency's own database holds it:"
{
  show portal.db applications "SELECT application_id, child_name, child_birth_date
    FROM applications WHERE application_id = '$application'"
  show civil-status.db births "SELECT birth_id, child_citizen_id, child_name, birth_date
    FROM births WHERE birth_id = '$birth_id'"
  show population.db residents "SELECT citizen_id, full_name, birth_date, address,
    residence_status, residence_registered_on FROM residents WHERE citizen_id = '$child'"
  show social-insurance.db insurance_cards "SELECT card_id, holder_name, birth_date,
    valid_from, valid_until FROM insurance_cards WHERE card_id = '$card'"
  echo "portal.db, notifications:"
  q portal.db "SELECT 'to ' || citizen_id || ' (application ' || application_id || '): ' ||
    message FROM notifications WHERE record_key = '$card'" | indent
} | indent
declared=$(q portal.db "SELECT child_name || ', born ' || child_birth_date FROM applications
  WHERE application_id = '$application'")
same "child in the application (portal)" "Tran Bao An, born $birth_date" "$declared"
same "child in the birth register (moj)" "$declared" "$(q civil-status.db \
  "SELECT child_name || ', born ' || birth_date FROM births WHERE birth_id = '$birth_id'")"
same "child in the population register (mops)" "$declared" "$(q population.db \
  "SELECT full_name || ', born ' || birth_date FROM residents WHERE citizen_id = '$child'")"
same "child on the card (vss)" "$declared" "$(q social-insurance.db \
  "SELECT holder_name || ', born ' || birth_date FROM insurance_cards WHERE card_id = '$card'")"
same "residence of the child and her mother (mops)" \
  "$(q population.db "SELECT address FROM residents WHERE citizen_id = '001192004321'")" \
  "$(q population.db "SELECT address FROM residents WHERE citizen_id = '$child'")"
same "card valid until (vss), the day before her sixth birthday" \
  "$(date -d "$birth_date +6 years -1 day" +%F)" \
  "$(q social-insurance.db "SELECT valid_until FROM insurance_cards WHERE card_id = '$card'")"
same "recipient of the portal's message, the applicant" 001090004567 "$(q portal.db \
  "SELECT citizen_id FROM notifications WHERE record_key = '$card'")"
echo "The reactions' logs:"
reaction_logs new

step "Chain 2: Tran Van Hung dies; his son declares the death at the portal"
death_date=$(date -d '-2 days' +%F)
NDX_PROFILE=profiles/portal.textproto portal/declare-death.sh \
  --applicant 001090004567 --applicant-name "Tran Van Minh" \
  --deceased 001048001122 --deceased-name "Tran Van Hung" --death-date "$death_date" \
  --death-place "27 Thuy Khue, Tay Ho, Hanoi" | indent
application=$(q portal.db "SELECT max(application_id) FROM applications WHERE kind = 'death'")

started=$SECONDS deadline=$((SECONDS + timeout))
wait_until "the death registration of $application" has_row civil-status.db \
  "SELECT 1 FROM deaths WHERE application_id = '$application'"
death_id=$(q civil-status.db "SELECT death_id FROM deaths WHERE application_id = '$application'")
wait_until "the cancellation of the permanent residence of 001048001122" has_row population.db \
  "SELECT 1 FROM residents WHERE citizen_id = '001048001122' AND residence_status = 'cancelled'"
wait_until "the funeral allowance for 001048001122" has_row social-insurance.db \
  "SELECT 1 FROM funeral_allowances WHERE deceased_citizen_id = '001048001122'"
allowance=$(q social-insurance.db \
  "SELECT allowance_id FROM funeral_allowances WHERE deceased_citizen_id = '001048001122'")
wait_until "the portal's message about allowance $allowance" has_row portal.db \
  "SELECT 1 FROM notifications WHERE dataset = 'vss/funeral-allowances'
     AND record_key = '$allowance'"
echo "done in $((SECONDS - started)) s: death $death_id, allowance $allowance"

echo "The deceased as each agency's own database holds it:"
{
  show portal.db applications "SELECT application_id, deceased_citizen_id, deceased_name,
    death_date FROM applications WHERE application_id = '$application'"
  show civil-status.db deaths "SELECT death_id, deceased_citizen_id, deceased_name,
    death_date, declarant_name FROM deaths WHERE death_id = '$death_id'"
  show population.db residents "SELECT citizen_id, full_name, residence_status,
    residence_cancelled_on, cancellation_reference FROM residents
    WHERE citizen_id = '001048001122'"
  show social-insurance.db funeral_allowances "SELECT allowance_id, deceased_name, death_id,
    beneficiary_name, amount_vnd, decided_on FROM funeral_allowances
    WHERE allowance_id = '$allowance'"
  echo "portal.db, notifications:"
  q portal.db "SELECT 'to ' || citizen_id || ' (application ' || application_id || '): ' ||
    message FROM notifications WHERE record_key = '$allowance'" | indent
} | indent
same "deceased in the death register (moj)" "001048001122 Tran Van Hung, died $death_date" \
  "$(q civil-status.db "SELECT deceased_citizen_id || ' ' || deceased_name || ', died ' ||
     death_date FROM deaths WHERE death_id = '$death_id'")"
same "reason of the cancellation (mops)" "$death_id" "$(q population.db \
  "SELECT cancellation_reference FROM residents WHERE citizen_id = '001048001122'")"
same "allowance: death, beneficiary and amount (vss)" \
  "$death_id 001090004567 Tran Van Minh 23400000" "$(q social-insurance.db \
  "SELECT death_id || ' ' || beneficiary_citizen_id || ' ' || beneficiary_name || ' ' ||
     amount_vnd FROM funeral_allowances WHERE allowance_id = '$allowance'")"
same "recipient of the portal's message, the applicant" 001090004567 "$(q portal.db \
  "SELECT citizen_id FROM notifications WHERE record_key = '$allowance'")"
echo "The reactions' logs:"
reaction_logs new

step "The same declaration published again (an event may come twice): nothing is done twice"
counts() {
  echo "$(q civil-status.db 'SELECT count(*) FROM births') births," \
    "$(q population.db 'SELECT count(*) FROM residents') residents," \
    "$(q social-insurance.db 'SELECT count(*) FROM insurance_cards') cards," \
    "$(q portal.db 'SELECT count(*) FROM notifications') notifications"
}
before=$(counts)
ndx portal events publish hanoi/applications "$birth_application" --type birth.declared | indent
# card_told_again: whether the portal's reaction saw the card a second time.
card_told_again() { grep -q "$card: citizen .* was already told" logs/portal-vss-insurance-cards.log; }
deadline=$((SECONDS + timeout))
wait_until "the second delivery of $birth_application down the chain" card_told_again
same "counts" "$before" "$(counts)"
echo "The reactions' logs:"
reaction_logs new

step "What a grant allows, and what the gateway refuses"
allowed mops "mops/population reads moj/births $birth_id for permanent-residence-registration" \
  get moj/births "$birth_id" --purpose permanent-residence-registration
refused 17 portal "hanoi/portal reads mops/residents $child without a grant" \
  get mops/residents "$child" --purpose citizen-notification
refused 17 mops "mops/population reads moj/births $birth_id for child-health-insurance" \
  get moj/births "$birth_id" --purpose child-health-insurance
refused 17 vss "vss/social-insurance reads the address of mops/residents $child" \
  get mops/residents "$child" --purpose child-health-insurance --fields address
refused 17 vss "vss/social-insurance publishes an event on moj/births, which it does not own" \
  events publish moj/births "$birth_id" --type birth.registered
# An identifier the register does not hold: the answer does not repeat it, nor does any log.
unknown_citizen=001099999999
refused 15 vss "vss/social-insurance reads mops/residents $unknown_citizen, which is not registered" \
  get mops/residents "$unknown_citizen" --purpose child-health-insurance

step "A system without gRPC reads the same way over HTTPS and JSON (curl)"
# The same identity (mops/population's certificate), authorization, projection and audit.
rest_get() {
  curl -sS --cacert pki/ca/ca.pem --cert pki/mops-population/tls.pem \
    --key pki/mops-population/tls.key -H 'Content-Type: application/json' -d "$2" \
    "https://127.0.0.1:$(cat json-api.port)/v1/datasets/$1:get"
}
rest_answer=$(rest_get moj/births \
  "{\"key\": \"$birth_id\", \"purpose\": \"permanent-residence-registration\"}")
jq -c . <<<"$rest_answer" | indent
[[ $(jq -r '.request_id // empty' <<<"$rest_answer") != "" ]] ||
  fail "the REST/JSON read of moj/births $birth_id was not answered"
rest_refusal=$(rest_get moj/births \
  "{\"key\": \"$birth_id\", \"purpose\": \"child-health-insurance\"}")
jq -c . <<<"$rest_refusal" | indent
[[ $(jq -r '.code' <<<"$rest_refusal") == 7 ]] ||
  fail "a REST/JSON read for a purpose its grant lacks was not refused with PERMISSION_DENIED"

step "The gateway's decision log (decisions.jsonl): $(wc -l <decisions.jsonl) decisions; the refused ones"
jq -c 'select(.decision == "deny") | {caller, operation, dataset, purpose, code, reason}
       | with_entries(select(.value != null))' decisions.jsonl

step "The subscriptions, as the operator sees them: every event acknowledged"
# all_acknowledged: whether every subscription has acknowledged its dataset's last event.
all_acknowledged() {
  ndx ops events subscriptions --output json | jq -e '
    [.subscriptions[]? | (.acknowledged_sequence // "0" | tonumber) ==
                         (.head_sequence // "0" | tonumber)] | length > 0 and all' >/dev/null
}
deadline=$((SECONDS + timeout))
wait_until "the acknowledgement of every event" all_acknowledged
ndx ops events subscriptions | indent

step "The auditor: who read the child's data ($child), when, and why"
ndx audit audit query --subject "$child" --all | indent
# Refused reads are found under the citizen they name too, as are reads that found nothing.
# denied_read SUBJECT CALLER CODE: whether the audit log holds a refused read of SUBJECT by CALLER
# that ended with CODE.
denied_read() {
  ndx audit audit query --subject "$1" --all --output json | jq -e --arg caller "$2" \
    --arg code "$3" '[.entries[] | select(.caller == $caller and .code == $code)] | length > 0' \
    >/dev/null
}
denied_read "$child" hanoi/portal PERMISSION_DENIED ||
  fail "the refused read of $child by hanoi/portal is not found under $child"
echo "found under $child: the refused read by hanoi/portal"
denied_read "$unknown_citizen" vss/social-insurance NOT_FOUND ||
  fail "the read of $unknown_citizen that found nothing is not found under it"
echo "found under $unknown_citizen: the read by vss/social-insurance that found nothing"

step "The auditor verifies the audit log against its signed checkpoint"
# The verifier key comes from the operator, out of band; here, from the gateway's audit directory.
ndx audit audit verify --key registry/audit/verifier.key --state audit-state.json --full | indent
ndx audit audit checkpoint --sign-now | indent

# Read before the stop, while the population register's server still runs.
q population.db 'SELECT citizen_id FROM residents' >citizen-ids.txt

step "Stopping"
stop_all

step "No citizen identifier outside the agencies' own databases"
# Every identifier the registers hold, and the one they do not, looked for in everything the
# platform wrote: the gateway's data directory (registry, audit log, events), its decision log
# and log, and the adapters' logs. The agencies' databases and their reactions' logs are theirs.
echo "$unknown_citizen" >>citizen-ids.txt
platform_files=(registry decisions.jsonl gateway.log portal.log civil-status.log population.log
  social-insurance.log)
leaks=$(grep -rlaFf citizen-ids.txt "${platform_files[@]}" || true)
[[ -z "$leaks" ]] || fail "citizen identifiers in clear in: $leaks"
echo "$(wc -l <citizen-ids.txt) identifiers, $(find "${platform_files[@]}" -type f | wc -l) files:" \
  "none found"
echo "demo finished: subscribers, gateway and adapters stopped, $work removed"
