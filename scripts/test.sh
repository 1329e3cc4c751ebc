#!/usr/bin/env bash
# Builds (installing what is missing), then runs every test; exits with ctest's code, or 1 when
# a test left a process behind. Each test's time limit is set in CMake. The build directory is
# build/, or $NDX_BUILD_DIR when set.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/build.sh
build_dir=${NDX_BUILD_DIR:-build}
code=0
ctest --test-dir "$build_dir" --output-on-failure -j2 || code=$?

# Whatever the tests started runs from the build's binaries or in a test's temporary directory
# (ndx-test-*, ndx-demo.*); none may outlive the tests.
bin_dir=$(cd "$build_dir/bin" && pwd)
left=$(pgrep -af -- "$bin_dir/|/ndx-test-|/ndx-demo\." | grep -v -- "pgrep" || true)
if [[ -n "$left" ]]; then
  echo "test.sh: processes left behind by the tests:" >&2
  echo "$left" >&2
  exit 1
fi
exit "$code"
