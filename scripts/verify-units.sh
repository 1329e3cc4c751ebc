#!/usr/bin/env bash
# Checks the systemd units of deploy/systemd/ with systemd-analyze verify, their ExecStart
# pointed at the binaries in BIN_DIR (default build/bin). Fails on any complaint (an unknown or
# misspelt key, a missing binary); exits 77 (skipped) where systemd-analyze is not installed.
set -euo pipefail
cd "$(dirname "$0")/.."
bin_dir=$(cd "${1:-build/bin}" && pwd)
command -v systemd-analyze >/dev/null || { echo "verify-units: no systemd-analyze; skipped"; exit 77; }
work=$(mktemp -d -t ndx-units.XXXXXX)
trap 'rm -rf "$work"' EXIT
units=()
for unit in deploy/systemd/*.service; do
  name=$(basename "$unit")
  sed "s|/usr/local/bin/|$bin_dir/|" "$unit" >"$work/$name"
  # An instance of a template unit: ndx-adapter@.service as ndx-adapter@check.service.
  units+=("$work/${name/@./@check.}")
  [[ "$name" == *@.service ]] && cp "$work/$name" "$work/${name/@./@check.}"
done
output=$(cd "$work" && systemd-analyze verify "${units[@]}" 2>&1 || true)
if [[ -n "$output" ]]; then
  echo "$output" >&2
  exit 1
fi
echo "verify-units: ${#units[@]} units verified"
