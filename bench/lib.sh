# shellcheck shell=bash disable=SC2154  # repo, bench_name and pids belong to the sourcing script
# Shell helpers the bench scripts share (sourced, not run). The sourcing script sets `repo` and
# `bench_name` (its name in messages) and appends the pids of what it starts to `pids`.

# bench_bin_dir: the directory of the programs to measure: $NDX_BIN_DIR, or the build's bin/ after
# building (scripts/build.sh, which installs what is missing).
bench_bin_dir() {
  if [[ -n "${NDX_BIN_DIR:-}" ]]; then
    (cd "$NDX_BIN_DIR" && pwd)
    return
  fi
  "$repo/scripts/build.sh" >/dev/null
  local build_dir=${NDX_BUILD_DIR:-build}
  [[ "$build_dir" == /* ]] || build_dir="$repo/$build_dir"
  echo "$build_dir/bin"
}

# start NAME COMMAND...: a server in the background whose port arrives in NAME.port. It is killed
# when the script dies, even by SIGKILL, which no trap sees (setpriv --pdeathsig).
start() {
  local name=$1
  shift
  setpriv --pdeathsig KILL "$@" --port_file "$name.port" >"$name.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 150); do
    [[ -s "$name.port" ]] && return 0
    sleep 0.2
  done
  echo "$bench_name: $name did not start:" >&2
  cat "$name.log" >&2
  return 1
}

# free_port: a port nothing listens on at 127.0.0.1, for a server that cannot report one it
# picked itself (nginx, PostgreSQL).
free_port() {
  local port
  while true; do
    port=$((20000 + RANDOM % 40000))
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || break
  done
  echo "$port"
}

# enter_work_dir: a fresh temporary directory in $work, made the current directory, and an empty
# `pids`. On exit (SIGINT and SIGTERM included) the script's `cleanup` runs if it defines one
# (which stops what pids holds with stop_started, then whatever else it started), else
# stop_started; then $work is removed unless NDX_KEEP is set.
enter_work_dir() {
  work=$(mktemp -d -t "ndx-$bench_name.XXXXXX")
  pids=()
  trap bench_on_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  cd "$work"
}
bench_on_exit() {
  if declare -F cleanup >/dev/null; then cleanup; else stop_started; fi
  [[ -n "${NDX_KEEP:-}" ]] || rm -rf "$work"
}

# stop_started: ends every process in pids and waits for each.
stop_started() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
