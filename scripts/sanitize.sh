#!/usr/bin/env bash
# Builds everything with AddressSanitizer and UndefinedBehaviorSanitizer into build-asan/ (or
# $NDX_ASAN_BUILD_DIR) and runs the whole suite. Reports of the processes the integration tests
# start (gateway, adapters, ndxctl) go to files named by $NDX_ASAN_LOG (default
# build-asan/sanitizer.log.<pid>); the script fails if any such file appears. Not part of CI: it
# takes about twice the normal build.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
build_dir=${NDX_ASAN_BUILD_DIR:-build-asan}
log=${NDX_ASAN_LOG:-$PWD/$build_dir/sanitizer.log}
flags="-fsanitize=address,undefined -fno-omit-frame-pointer"
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined"
ninja -C "$build_dir" -j"$(nproc)"
rm -f "$log".*
status=0
ASAN_OPTIONS="log_path=$log:detect_leaks=1" UBSAN_OPTIONS="log_path=$log:print_stacktrace=1" \
  ctest --test-dir "$build_dir" --output-on-failure -j2 || status=$?
if compgen -G "$log.*" >/dev/null; then
  echo "sanitize: reports in $log.*:" >&2
  head -n 40 "$log".* >&2
  exit 1
fi
exit "$status"
