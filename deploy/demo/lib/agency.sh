# What the demo's agency programs share: their own database, and reads through the gateway under
# their own grant and purpose. Sourced by reactions/*.sh and portal/*.sh; `db` names the agency's
# database: a SQLite file, or a PostgreSQL connection string ("host=... dbname=...").

# sql SQL: runs SQL on $db and prints the rows, columns separated by '|': sqlite3 (waiting for a
# concurrent reader, the agency's adapter, to finish), or psql.
sql() {
  if [[ "$db" == *=* ]]; then
    psql -X -q -A -t -F '|' -v ON_ERROR_STOP=1 "$db" -c "$1"
  else
    sqlite3 -cmd ".timeout 5000" "$db" "$1"
  fi
}
# quote TEXT: TEXT as an SQL string literal.
quote() { printf "'%s'" "${1//\'/\'\'}"; }
# read_record DATASET KEY PURPOSE FIELDS: sets $record to the record's fields, as JSON, read
# through the gateway (an audited Get).
read_record() {
  record=$(ndxctl get "$1" "$2" --purpose "$3" --fields "$4" --output json | jq -c .record)
}
# field NAME: one field of $record, empty when unset.
field() { jq -r --arg name "$1" '.[$name] // ""' <<<"$record"; }
