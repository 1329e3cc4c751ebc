#!/usr/bin/env bash
# Installs what is missing, then builds everything into build/ (binaries in build/bin/), or into
# $NDX_BUILD_DIR when set. $NDX_BUILD_TYPE picks CMake's build type (default RelWithDebInfo).
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=${NDX_BUILD_DIR:-build}
scripts/install-deps.sh
cmake -G Ninja -S . -B "$build_dir" -DCMAKE_BUILD_TYPE="${NDX_BUILD_TYPE:-RelWithDebInfo}"
ninja -C "$build_dir" -j"$(nproc)"
