#!/usr/bin/env bash
# The Hanoi public-service portal (hanoi/portal), telling citizens what came of their
# applications. Run for each event of vss/insurance-cards and of vss/funeral-allowances by
#   ndxctl events subscribe vss/insurance-cards --purpose citizen-notification \
#     --exec reactions/portal.sh
#   ndxctl events subscribe vss/funeral-allowances --purpose citizen-notification \
#     --exec reactions/portal.sh
# in the demo's directory, as hanoi/portal (NDX_PROFILE). It reads the card or allowance and
# writes a message to the citizen's inbox in its own database (portal.db): for a card, to whoever
# declared the child's birth at the portal (else to the holder); for an allowance, to its
# beneficiary. An event may come twice: there is one message per card or allowance.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/../lib/agency.sh"

readonly db=portal.db
readonly purpose=citizen-notification

# vnd AMOUNT: 23400000 -> 23,400,000.
vnd() { sed -E ':a; s/([0-9])([0-9]{3})($|,)/\1,\2\3/; ta' <<<"$1"; }

card_message() {
  read_record "$NDX_EVENT_DATASET" "$NDX_EVENT_KEY" "$purpose" card_id,holder_citizen_id,holder_full_name,birth_date,scheme,valid_from,valid_until
  local name birth_date application
  name=$(field holder_full_name) birth_date=$(field birth_date)
  # The birth application this card results from: the same child, as declared here.
  application=$(sql "SELECT application_id || '|' || applicant_citizen_id FROM applications
                     WHERE kind = 'birth' AND child_name = $(quote "$name")
                       AND child_birth_date = $(quote "$birth_date")
                     ORDER BY submitted_at DESC LIMIT 1")
  application_id=${application%|*}
  recipient=${application#*|}
  [[ -n "$application" ]] || recipient=$(field holder_citizen_id)
  message="The health-insurance card $(field card_id) of $name (born $birth_date) is issued:"
  message+=" $(field scheme), valid from $(field valid_from) to $(field valid_until)."
  message+=" Show it, or the child's citizen id $(field holder_citizen_id), at any clinic."
}

allowance_message() {
  read_record "$NDX_EVENT_DATASET" "$NDX_EVENT_KEY" "$purpose" allowance_id,deceased_full_name,beneficiary_citizen_id,beneficiary_full_name,amount_vnd,decided_on
  local deceased
  deceased=$(field deceased_full_name)
  recipient=$(field beneficiary_citizen_id)
  application_id=$(sql "SELECT application_id FROM applications
                        WHERE kind = 'death' AND deceased_name = $(quote "$deceased")
                          AND applicant_citizen_id = $(quote "$recipient")
                        ORDER BY submitted_at DESC LIMIT 1")
  message="Dear $(field beneficiary_full_name), a funeral allowance of"
  message+=" $(vnd "$(field amount_vnd)") VND for $deceased was decided on $(field decided_on)"
  message+=" ($(field allowance_id)); it will be paid to you."
}

case "$NDX_EVENT_DATASET $NDX_EVENT_TYPE" in
  "vss/insurance-cards card.issued") card_message ;;
  "vss/funeral-allowances allowance.created") allowance_message ;;
  *)
    echo "portal: $NDX_EVENT_DATASET #$NDX_EVENT_SEQUENCE $NDX_EVENT_TYPE: nothing to do"
    exit 0
    ;;
esac
written=$(sql "INSERT OR IGNORE INTO notifications (citizen_id, application_id, dataset,
                   record_key, message, created_at)
               VALUES ($(quote "$recipient"), nullif($(quote "$application_id"), ''),
                       $(quote "$NDX_EVENT_DATASET"), $(quote "$NDX_EVENT_KEY"),
                       $(quote "$message"), strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
               RETURNING notification_id;")
if [[ -n "$written" ]]; then
  echo "portal: $NDX_EVENT_DATASET $NDX_EVENT_KEY: message $written to citizen $recipient" \
    "(application ${application_id:-none}): $message"
else
  echo "portal: $NDX_EVENT_DATASET $NDX_EVENT_KEY: citizen $recipient was already told"
fi
