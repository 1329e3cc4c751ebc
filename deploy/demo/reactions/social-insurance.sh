#!/usr/bin/env bash
# Vietnam Social Security (vss/social-insurance), reacting to changes of permanent residence.
# Run for each event of mops/residents by
#   ndxctl events subscribe mops/residents --purpose child-health-insurance \
#     --exec reactions/social-insurance.sh
# in the demo's directory, as vss/social-insurance (NDX_PROFILE). A child under 6 who gets a
# permanent residence gets a health-insurance card paid by the state budget; the death of an
# insured person whose residence is cancelled opens a funeral allowance for whoever declared the
# death. Both are written to its own database (social-insurance.db), then it publishes
# vss/insurance-cards card.issued or vss/funeral-allowances allowance.created.
# An event may come twice: a card or allowance that exists is published again, not made again.
# A case it does not settle by itself is acknowledged with a line saying so; any other failure
# exits non-zero, and the event comes again.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/../lib/agency.sh"

readonly db=social-insurance.db
readonly child_scheme="child under 6, state budget"
# The statutory base salary (VND a month); the funeral allowance is ten times it.
readonly base_salary_vnd=2340000

# not_for_us MESSAGE: acknowledges an event that opens no benefit.
not_for_us() {
  echo "social-insurance: $NDX_EVENT_DATASET $NDX_EVENT_KEY: $1"
  exit 0
}

issue_child_card() {
  local citizen_id=$NDX_EVENT_KEY
  read_record mops/residents "$citizen_id" child-health-insurance \
    citizen_id,full_name,birth_date,residence_status
  local name birth_date
  name=$(field full_name) birth_date=$(field birth_date)
  [[ "$(field residence_status)" == active ]] || not_for_us "no active permanent residence"
  local today sixth_birthday
  today=$(date +%F)
  sixth_birthday=$(date -d "$birth_date +6 years" +%F) ||
    not_for_us "birth date '$birth_date' is not a date; left to an officer"
  [[ "$today" < "$sixth_birthday" ]] || not_for_us "$name is not under 6"
  card_id=$(sql "SELECT card_id FROM insurance_cards
                 WHERE holder_citizen_id = $(quote "$citizen_id")
                   AND scheme = $(quote "$child_scheme")")
  if [[ -n "$card_id" ]]; then
    action="$name ($citizen_id) already holds card $card_id"
    return
  fi
  # Children under 6 are covered from birth until the day before their sixth birthday. The card
  # number: the scheme (TE1), Hanoi's code (01), the last 10 digits of the citizen id.
  card_id="HI-TE1-01-${citizen_id:2}"
  local valid_until
  valid_until=$(date -d "$sixth_birthday -1 day" +%F)
  sql "INSERT OR IGNORE INTO insurance_cards (card_id, holder_citizen_id, holder_name, birth_date,
           scheme, valid_from, valid_until, issued_on)
       VALUES ($(quote "$card_id"), $(quote "$citizen_id"), $(quote "$name"),
               $(quote "$birth_date"), $(quote "$child_scheme"), $(quote "$birth_date"),
               $(quote "$valid_until"), $(quote "$today"));"
  action="card $card_id issued to $name ($citizen_id, born $birth_date), valid until $valid_until"
}

create_funeral_allowance() {
  local citizen_id=$NDX_EVENT_KEY
  read_record mops/residents "$citizen_id" funeral-allowance \
    citizen_id,full_name,residence_status,cancellation_reference
  local name death_id
  name=$(field full_name) death_id=$(field cancellation_reference)
  [[ "$(field residence_status)" == cancelled && "$death_id" == D-* ]] ||
    not_for_us "residence not cancelled by a registered death"
  local membership
  membership=$(sql "SELECT membership FROM members WHERE citizen_id = $(quote "$citizen_id")")
  [[ -n "$membership" ]] || not_for_us "$name was not insured: no funeral allowance"
  allowance_id=$(sql "SELECT allowance_id FROM funeral_allowances
                      WHERE deceased_citizen_id = $(quote "$citizen_id")")
  if [[ -n "$allowance_id" ]]; then
    action="funeral allowance $allowance_id for $name already decided"
    return
  fi
  # The allowance goes to whoever organised the funeral: here, who declared the death.
  read_record moj/deaths "$death_id" funeral-allowance \
    death_id,deceased_citizen_id,death_date,declarant_citizen_id,declarant_full_name
  [[ "$(field deceased_citizen_id)" == "$citizen_id" ]] ||
    not_for_us "$death_id is the death of someone else; left to an officer"
  local beneficiary beneficiary_name amount=$((10 * base_salary_vnd)) year
  beneficiary=$(field declarant_citizen_id) beneficiary_name=$(field declarant_full_name)
  year=$(date +%Y)
  allowance_id=$(sql "
    INSERT INTO funeral_allowances (allowance_id, deceased_citizen_id, deceased_name, death_id,
        beneficiary_citizen_id, beneficiary_name, amount_vnd, decided_on)
    VALUES (
        (SELECT printf('FA-%s-%04d', '$year',
                       coalesce(max(CAST(substr(allowance_id, 9) AS INTEGER)), 0) + 1)
         FROM funeral_allowances WHERE allowance_id LIKE 'FA-$year-%'),
        $(quote "$citizen_id"), $(quote "$name"), $(quote "$death_id"),
        $(quote "$beneficiary"), $(quote "$beneficiary_name"), $amount, date('now', 'localtime'))
    RETURNING allowance_id;")
  action="funeral allowance $allowance_id of $amount VND for the death of $name ($membership)"
  action+=" to $beneficiary_name ($beneficiary)"
}

case "$NDX_EVENT_DATASET $NDX_EVENT_TYPE" in
  "mops/residents residence.registered")
    issue_child_card
    published=$(ndxctl events publish vss/insurance-cards "$card_id" --type card.issued)
    ;;
  "mops/residents residence.cancelled")
    create_funeral_allowance
    published=$(ndxctl events publish vss/funeral-allowances "$allowance_id" \
      --type allowance.created)
    ;;
  *)
    not_for_us "#$NDX_EVENT_SEQUENCE $NDX_EVENT_TYPE: nothing to do"
    ;;
esac
echo "social-insurance: $NDX_EVENT_DATASET $NDX_EVENT_KEY: $action; $published"
