# What the demo's agency programs share: their own SQLite database, and reads through the gateway
# under their own grant and purpose. Sourced by reactions/*.sh and portal/*.sh; `db` names the
# agency's database file.

# sql ARGS...: sqlite3 on $db, waiting for a concurrent reader (the agency's adapter) to finish.
sql() { sqlite3 -cmd ".timeout 5000" "$db" "$@"; }
# quote TEXT: TEXT as an SQL string literal.
quote() { printf "'%s'" "${1//\'/\'\'}"; }
# read_record DATASET KEY PURPOSE FIELDS: sets $record to the record's fields, as JSON, read
# through the gateway (an audited Get).
read_record() {
  record=$(ndxctl get "$1" "$2" --purpose "$3" --fields "$4" --output json | jq -c .record)
}
# field NAME: one field of $record, empty when unset.
field() { jq -r --arg name "$1" '.[$name] // ""' <<<"$record"; }
