#!/usr/bin/env bash
# Installs the Debian 12 packages that ndx needs to build, test and run its demo, and with
# --fuzz also clang and its libFuzzer and sanitizer runtimes (scripts/fuzz.sh). Does nothing when
# they are all there; otherwise needs root (apt-get update once, then one apt-get install).
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev libprotoc-dev protobuf-compiler
  librocksdb-dev libspdlog-dev libgtest-dev libgmock-dev libsqlite3-dev sqlite3 jq
  libcli11-dev nlohmann-json3-dev libssl-dev libabsl-dev openssl ca-certificates clang-format
  libbenchmark-dev procps libpq-dev postgresql libcpp-httplib-dev prometheus-cpp-dev curl
  prometheus  # for promtool, which checks deploy/prometheus/
  # A gateway cluster (docs/cluster.md): etcd holds the registry, NATS JetStream the events.
  etcd-server etcd-client nats-server libnats-dev
)
if [[ "${1:-}" == "--fuzz" ]]; then
  packages+=(clang-14 libclang-rt-14-dev)
fi

missing=()
for package in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  if [[ "$status" != "install ok installed" ]]; then
    missing+=("$package")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages are installed"
  exit 0
fi

echo "install-deps: missing: ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps: run this script as root to install them, or install them yourself:" >&2
  echo "  apt-get install ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${missing[@]}"
