#!/usr/bin/env bash
# Builds (installing what is missing), then runs every test; exits with ctest's code. Each
# test's time limit is set in CMake. The build directory is build/, or $NDX_BUILD_DIR when set.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/build.sh
exec ctest --test-dir "${NDX_BUILD_DIR:-build}" --output-on-failure -j2
