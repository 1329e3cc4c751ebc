#!/usr/bin/env bash
# What the Hanoi portal's web form does when a citizen declares a death: stores the application
# in the portal's database (portal.db) and publishes hanoi/applications death.declared, so that
# the civil-status office registers the death from the facts as declared.
# Runs in the demo's directory as the portal (NDX_PROFILE=profiles/portal.textproto).
#
# usage: declare-death.sh --applicant ID --applicant-name NAME --deceased ID
#          --deceased-name NAME --death-date YYYY-MM-DD --death-place TEXT
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/../lib/agency.sh"

usage() {
  sed -n '/^# usage:/,/^[^#]/s/^# \{0,1\}//p' "$0" >&2
  exit 2
}

declare -A form=()
while (($# > 0)); do
  case $1 in
    --applicant | --applicant-name | --deceased | --deceased-name | --death-date | --death-place)
      (($# >= 2)) || usage
      form[${1#--}]=$2
      shift 2
      ;;
    *) usage ;;
  esac
done
for field in applicant applicant-name deceased deceased-name death-date death-place; do
  [[ -n "${form[$field]:-}" ]] || { echo "declare-death: --$field is required" >&2; usage; }
done
for field in applicant deceased; do
  if [[ ! "${form[$field]}" =~ ^[0-9]{12}$ ]]; then
    echo "declare-death: --$field must be a 12-digit citizen id" >&2
    exit 2
  fi
done
if [[ "$(date -d "${form[death-date]}" +%F 2>/dev/null)" != "${form[death-date]}" ]]; then
  echo "declare-death: --death-date must be a date, YYYY-MM-DD" >&2
  exit 2
fi

year=$(date -u +%Y)
# The next number of this year, chosen and stored in one statement.
id=$(sqlite3 -cmd ".timeout 5000" portal.db "
  INSERT INTO applications (application_id, kind, applicant_citizen_id, applicant_name,
      submitted_at, deceased_citizen_id, deceased_name, death_date, death_place)
  SELECT printf('HN-%s-%06d', '$year',
             coalesce(max(CAST(substr(application_id, 9) AS INTEGER)), 0) + 1), 'death',
      $(quote "${form[applicant]}"), $(quote "${form[applicant-name]}"),
      strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), $(quote "${form[deceased]}"),
      $(quote "${form[deceased-name]}"), $(quote "${form[death-date]}"),
      $(quote "${form[death-place]}")
  FROM applications WHERE application_id LIKE 'HN-$year-%'
  RETURNING application_id;")

published=$(ndxctl events publish hanoi/applications "$id" --type death.declared)
echo "portal: application $id, death of ${form[deceased-name]} declared by" \
  "${form[applicant-name]}; $published"
