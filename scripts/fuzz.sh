#!/usr/bin/env bash
# Builds the fuzz targets (fuzz/) with clang-14, libFuzzer, ASan and UBSan into build-fuzz/ (or
# $NDX_FUZZ_BUILD_DIR), installing what is missing, then runs each target for a given time,
# starting from its corpus in fuzz/corpus/<target>.
#
#   scripts/fuzz.sh [--seconds N] [--merge] [target...]
#     --seconds N  how long each target runs (default 60)
#     --merge      then add to fuzz/corpus/<target> the inputs found that reach new code,
#                  minimized by libFuzzer's -merge=1
#     target       run only these (default: every target)
#
# New inputs are written to <build>/corpus/<target>, never into the repository unless --merge.
# An input that breaks a property or trips a sanitizer is saved as <build>/artifacts/<target>/
# crash-<sha1> (or leak-, timeout-, oom-); the script goes on with the other targets, prints a
# summary line per target (executions, coverage, corpus, result) and exits 1 if any target failed.
# Replay one with build-fuzz/fuzz/<target>_fuzzer <file>.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=60
merge=0
targets=()
while (($#)); do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --merge) merge=1; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
# libFuzzer reads -max_total_time=0 as "no limit".
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
  echo "fuzz.sh: --seconds takes a whole number of seconds, 1 or more" >&2
  exit 2
fi
if ((${#targets[@]} == 0)); then
  for dir in fuzz/corpus/*/; do targets+=("$(basename "$dir")"); done
fi

scripts/install-deps.sh --fuzz
build_dir=${NDX_FUZZ_BUILD_DIR:-build-fuzz}
cmake -G Ninja -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Fuzz -DNDX_FUZZ=ON \
  -DCMAKE_CXX_COMPILER=clang++-14 >/dev/null
ninja -C "$build_dir" -j"$(nproc)" $(printf '%s_fuzzer ' "${targets[@]}")

failed=0
summary=()
for target in "${targets[@]}"; do
  program="$build_dir/fuzz/${target}_fuzzer"
  work="$build_dir/corpus/$target"
  artifacts="$build_dir/artifacts/$target"
  log="$build_dir/logs/$target.log"
  mkdir -p "$work" "$artifacts" "$(dirname "$log")"
  echo "fuzz.sh: $target for ${seconds} s (log: $log)"
  code=0
  # -timeout: one input taking over 10 s is a hang. -rss_limit_mb: an input making the target
  # take 2 GiB is a bug, not a slow machine. Leak checking stays on (ASan's default).
  "$program" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "$work" "fuzz/corpus/$target" >"$log" 2>&1 || code=$?
  executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  coverage=$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9]+[a-zA-Z]*' "$log" | tail -1 || true)
  if ((code == 0)); then
    result=ok
  else
    result="FAILED (exit $code): $(ls "$artifacts" | tr '\n' ' ')"
    failed=1
    tail -40 "$log" >&2
  fi
  summary+=("$(printf '%-17s %10s execs  %-40s %s' "$target" "${executions:-?}" "$coverage" "$result")")
  if ((merge)) && ((code == 0)); then
    "$program" -merge=1 "fuzz/corpus/$target" "$work" >>"$log" 2>&1
  fi
done
printf '%s\n' "${summary[@]}"
exit "$failed"
