#!/usr/bin/env bash
# The civil-status office of the Ministry of Justice (moj/civil-status), reacting to what
# citizens declare at the Hanoi portal. Run for each event of hanoi/applications by
#   ndxctl events subscribe hanoi/applications --purpose civil-registration \
#     --exec reactions/civil-status.sh
# in the demo's directory, as moj/civil-status (NDX_PROFILE). It reads the application through
# the gateway, registers the birth or death in its own database (civil-status.db), then
# publishes moj/births birth.registered or moj/deaths death.registered.
# An event may come twice: a declaration already registered is published again, not registered
# again. A declaration it cannot register by itself is left to an officer (the event is
# acknowledged); any other failure exits non-zero, and the event comes again.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/../lib/agency.sh"

readonly db=civil-status.db
readonly purpose=civil-registration
# The office registers births and deaths declared in Hanoi: its province code in personal
# identification numbers.
readonly province_code=001

# valid_date TEXT: whether TEXT is a date written YYYY-MM-DD.
valid_date() { [[ "$(date -d "$1" +%F 2>/dev/null)" == "$1" ]]; }

register_birth() {
  local registered
  registered=$(sql "SELECT birth_id || ' ' || child_citizen_id FROM births
                    WHERE application_id = $(quote "$application")")
  if [[ -n "$registered" ]]; then
    birth_id=${registered% *}
    action="already registered as $birth_id (citizen id ${registered#* })"
    return
  fi
  read_record hanoi/applications "$application" "$purpose" kind,child_full_name,child_sex,child_birth_date,child_birth_place,mother_citizen_id,mother_full_name,father_citizen_id,father_full_name
  local name sex birth_date
  name=$(field child_full_name) sex=$(field child_sex) birth_date=$(field child_birth_date)
  if [[ "$(field kind)" != birth || -z "$name" || ! "$sex" =~ ^(male|female)$ ]] ||
    ! valid_date "$birth_date"; then
    echo "civil-status: application $application is not a complete birth declaration;" \
      "left to an officer"
    exit 0
  fi
  # Personal identification number: province, century and sex (2000-2099: 2 male, 3 female;
  # 1900-1999: 0 and 1), last two digits of the birth year, then a serial.
  local year=${birth_date:0:4} sex_digit=0
  [[ "$sex" == female ]] && sex_digit=1
  local prefix="$province_code$(((10#${year:0:2} - 19) * 2 + sex_digit))${year:2:2}"
  local this_year
  this_year=$(date -u +%Y)
  # Both numbers are chosen and stored in one statement.
  local row
  row=$(sql "
    INSERT INTO births (birth_id, application_id, child_citizen_id, child_name, child_sex,
        birth_date, birth_place, mother_citizen_id, mother_name, father_citizen_id, father_name,
        registered_at)
    VALUES (
        (SELECT printf('B-%s-%04d', '$this_year',
                       coalesce(max(CAST(substr(birth_id, 8) AS INTEGER)), 0) + 1)
         FROM births WHERE birth_id LIKE 'B-$this_year-%'),
        $(quote "$application"),
        (SELECT '$prefix' || printf('%06d',
                                    coalesce(max(CAST(substr(child_citizen_id, 7) AS INTEGER)), 0) + 1)
         FROM births WHERE substr(child_citizen_id, 1, 6) = '$prefix'),
        $(quote "$name"), $(quote "$sex"), $(quote "$birth_date"),
        $(quote "$(field child_birth_place)"),
        nullif($(quote "$(field mother_citizen_id)"), ''),
        nullif($(quote "$(field mother_full_name)"), ''),
        nullif($(quote "$(field father_citizen_id)"), ''),
        nullif($(quote "$(field father_full_name)"), ''),
        strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
    RETURNING birth_id || ' ' || child_citizen_id;")
  birth_id=${row% *}
  action="birth of $name ($birth_date) registered as $birth_id, citizen id ${row#* }"
}

register_death() {
  death_id=$(sql "SELECT death_id FROM deaths WHERE application_id = $(quote "$application")")
  if [[ -n "$death_id" ]]; then
    action="already registered as $death_id"
    return
  fi
  read_record hanoi/applications "$application" "$purpose" kind,applicant_citizen_id,applicant_full_name,deceased_citizen_id,deceased_full_name,death_date,death_place
  local name deceased death_date
  name=$(field deceased_full_name) deceased=$(field deceased_citizen_id)
  death_date=$(field death_date)
  if [[ "$(field kind)" != death || -z "$name" || ! "$deceased" =~ ^[0-9]{12}$ ]] ||
    ! valid_date "$death_date"; then
    echo "civil-status: application $application is not a complete death declaration;" \
      "left to an officer"
    exit 0
  fi
  local this_year
  this_year=$(date -u +%Y)
  death_id=$(sql "
    INSERT INTO deaths (death_id, application_id, deceased_citizen_id, deceased_name,
        death_date, death_place, declarant_citizen_id, declarant_name, registered_at)
    VALUES (
        (SELECT printf('D-%s-%04d', '$this_year',
                       coalesce(max(CAST(substr(death_id, 8) AS INTEGER)), 0) + 1)
         FROM deaths WHERE death_id LIKE 'D-$this_year-%'),
        $(quote "$application"), $(quote "$deceased"), $(quote "$name"),
        $(quote "$death_date"), $(quote "$(field death_place)"),
        $(quote "$(field applicant_citizen_id)"), $(quote "$(field applicant_full_name)"),
        strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
    RETURNING death_id;")
  action="death of $name ($death_date) registered as $death_id"
}

application=$NDX_EVENT_KEY
case "$NDX_EVENT_DATASET $NDX_EVENT_TYPE" in
  "hanoi/applications birth.declared")
    register_birth
    published=$(ndxctl events publish moj/births "$birth_id" --type birth.registered)
    ;;
  "hanoi/applications death.declared")
    register_death
    published=$(ndxctl events publish moj/deaths "$death_id" --type death.registered)
    ;;
  *)
    echo "civil-status: $NDX_EVENT_DATASET #$NDX_EVENT_SEQUENCE $NDX_EVENT_TYPE: nothing to do"
    exit 0
    ;;
esac
echo "civil-status: application $application: $action; $published"
