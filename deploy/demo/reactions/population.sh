#!/usr/bin/env bash
# The population register of the Ministry of Public Security (mops/population), reacting to
# births and deaths registered by the civil-status offices. Run for each event of moj/births and
# of moj/deaths by
#   ndxctl events subscribe moj/births --purpose permanent-residence-registration \
#     --exec reactions/population.sh
#   ndxctl events subscribe moj/deaths --purpose permanent-residence-cancellation \
#     --exec reactions/population.sh
# in the demo's directory, as mops/population (NDX_PROFILE). A newborn gets a permanent residence
# at its mother's; a deceased person's permanent residence is cancelled. Both change its own
# database (population.db, or the PostgreSQL database $NDX_POPULATION_DATABASE names), then it
# publishes mops/residents residence.registered or
# residence.cancelled, keyed by the citizen id.
# An event may come twice: a change already made is published again, not made again. A case it
# cannot settle by itself is left to an officer (the event is acknowledged); any other failure
# exits non-zero, and the event comes again.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/../lib/agency.sh"

readonly db=${NDX_POPULATION_DATABASE:-population.db}

# left_to_officer MESSAGE: acknowledges an event this program does not settle.
left_to_officer() {
  echo "population: $NDX_EVENT_DATASET $NDX_EVENT_KEY: $1; left to an officer"
  exit 0
}

register_newborn() {
  read_record moj/births "$NDX_EVENT_KEY" permanent-residence-registration \
    birth_id,child_citizen_id,child_full_name,child_sex,birth_date,mother_citizen_id
  citizen_id=$(field child_citizen_id)
  local name birth_date mother
  name=$(field child_full_name) birth_date=$(field birth_date) mother=$(field mother_citizen_id)
  [[ "$citizen_id" =~ ^[0-9]{12}$ ]] || left_to_officer "no valid citizen id"
  local existing
  existing=$(sql "SELECT residence_status FROM residents WHERE citizen_id = $(quote "$citizen_id")")
  if [[ -n "$existing" ]]; then
    action="$name ($citizen_id) already in the register, residence $existing"
    return
  fi
  # The law's rule for a newborn: permanent residence where its parents, here its mother, have
  # theirs.
  local at_mother
  at_mother=$(sql "SELECT address || ', ' || province FROM residents
                   WHERE citizen_id = $(quote "$mother") AND residence_status = 'active'")
  [[ -n "$at_mother" ]] || left_to_officer "the mother has no permanent residence in the register"
  sql "INSERT INTO residents (citizen_id, full_name, birth_date, sex, province, address,
           residence_status, residence_registered_on)
       SELECT $(quote "$citizen_id"), $(quote "$name"), $(quote "$birth_date"),
              $(quote "$(field child_sex)"), province, address, 'active', $(quote "$(date +%F)")
       FROM residents WHERE citizen_id = $(quote "$mother");"
  action="$name ($citizen_id, born $birth_date) registered as a permanent resident at $at_mother"
}

cancel_residence() {
  read_record moj/deaths "$NDX_EVENT_KEY" permanent-residence-cancellation \
    death_id,deceased_citizen_id,death_date
  citizen_id=$(field deceased_citizen_id)
  local death_id=$NDX_EVENT_KEY resident
  resident=$(sql "SELECT full_name || '|' || residence_status || '|' ||
                         coalesce(cancellation_reference, '')
                  FROM residents WHERE citizen_id = $(quote "$citizen_id")")
  [[ -n "$resident" ]] || left_to_officer "$citizen_id is not in the register"
  local name status reference
  IFS='|' read -r name status reference <<<"$resident"
  if [[ "$status" == cancelled ]]; then
    [[ "$reference" == "$death_id" ]] ||
      left_to_officer "the residence of $citizen_id was already cancelled ($reference)"
    action="the permanent residence of $name ($citizen_id) was already cancelled ($death_id)"
    return
  fi
  sql "UPDATE residents SET residence_status = 'cancelled',
           residence_cancelled_on = $(quote "$(date +%F)"),
           cancellation_reference = $(quote "$death_id")
       WHERE citizen_id = $(quote "$citizen_id") AND residence_status = 'active';"
  action="permanent residence of $name ($citizen_id) cancelled: died $(field death_date), $death_id"
}

case "$NDX_EVENT_DATASET $NDX_EVENT_TYPE" in
  "moj/births birth.registered")
    register_newborn
    published=$(ndxctl events publish mops/residents "$citizen_id" --type residence.registered)
    ;;
  "moj/deaths death.registered")
    cancel_residence
    published=$(ndxctl events publish mops/residents "$citizen_id" --type residence.cancelled)
    ;;
  *)
    echo "population: $NDX_EVENT_DATASET #$NDX_EVENT_SEQUENCE $NDX_EVENT_TYPE: nothing to do"
    exit 0
    ;;
esac
echo "population: $NDX_EVENT_DATASET $NDX_EVENT_KEY: $action; $published"
