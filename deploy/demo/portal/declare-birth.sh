#!/usr/bin/env bash
# What the Hanoi portal's web form does when a citizen declares a birth: stores the application
# in the portal's database (portal.db) and publishes hanoi/applications birth.declared, so that
# the civil-status office registers the birth from the facts as declared.
# Runs in the demo's directory as the portal (NDX_PROFILE=profiles/portal.textproto).
#
# usage: declare-birth.sh --applicant ID --applicant-name NAME --child-name NAME
#          --sex male|female --birth-date YYYY-MM-DD --birth-place TEXT
#          --mother ID --mother-name NAME [--father ID --father-name NAME]
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/../lib/agency.sh"

usage() {
  sed -n '/^# usage:/,/^[^#]/s/^# \{0,1\}//p' "$0" >&2
  exit 2
}

declare -A form=([father]="" [father-name]="")
while (($# > 0)); do
  case $1 in
    --applicant | --applicant-name | --child-name | --sex | --birth-date | --birth-place | \
      --mother | --mother-name | --father | --father-name)
      (($# >= 2)) || usage
      form[${1#--}]=$2
      shift 2
      ;;
    *) usage ;;
  esac
done
for field in applicant applicant-name child-name sex birth-date birth-place mother mother-name; do
  [[ -n "${form[$field]:-}" ]] || { echo "declare-birth: --$field is required" >&2; usage; }
done
for field in applicant mother father; do
  if [[ -n "${form[$field]}" && ! "${form[$field]}" =~ ^[0-9]{12}$ ]]; then
    echo "declare-birth: --$field must be a 12-digit citizen id" >&2
    exit 2
  fi
done
[[ "${form[sex]}" == male || "${form[sex]}" == female ]] || usage
if [[ "$(date -d "${form[birth-date]}" +%F 2>/dev/null)" != "${form[birth-date]}" ]]; then
  echo "declare-birth: --birth-date must be a date, YYYY-MM-DD" >&2
  exit 2
fi

year=$(date -u +%Y)
# The next number of this year, chosen and stored in one statement.
id=$(sqlite3 -cmd ".timeout 5000" portal.db "
  INSERT INTO applications (application_id, kind, applicant_citizen_id, applicant_name,
      submitted_at, child_name, child_sex, child_birth_date, child_birth_place,
      mother_citizen_id, mother_name, father_citizen_id, father_name)
  SELECT printf('HN-%s-%06d', '$year',
             coalesce(max(CAST(substr(application_id, 9) AS INTEGER)), 0) + 1), 'birth',
      $(quote "${form[applicant]}"), $(quote "${form[applicant-name]}"),
      strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), $(quote "${form[child-name]}"),
      $(quote "${form[sex]}"), $(quote "${form[birth-date]}"), $(quote "${form[birth-place]}"),
      $(quote "${form[mother]}"), $(quote "${form[mother-name]}"),
      nullif($(quote "${form[father]}"), ''), nullif($(quote "${form[father-name]}"), '')
  FROM applications WHERE application_id LIKE 'HN-$year-%'
  RETURNING application_id;")

published=$(ndxctl events publish hanoi/applications "$id" --type birth.declared)
echo "portal: application $id, birth of ${form[child-name]} declared by" \
  "${form[applicant-name]}; $published"
