#!/usr/bin/env bash
# Checks deploy/prometheus/ with promtool: the scrape configuration (with the rule files it names),
# the alert rules, and the rules' unit tests (alerts_test.yml). The configuration's TLS files are
# pointed at empty stand-ins, since promtool checks that they exist. Exits 77 (skipped) where
# promtool (Debian's prometheus package) is not installed.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v promtool >/dev/null || { echo "check-prometheus: no promtool; skipped"; exit 77; }
work=$(mktemp -d -t ndx-prometheus.XXXXXX)
trap 'rm -rf "$work"' EXIT
cp deploy/prometheus/*.yml "$work/"
mkdir "$work/ndx"
touch "$work/ndx/ca.pem" "$work/ndx/tls.pem" "$work/ndx/tls.key"
sed -i "s|/etc/prometheus/ndx/|$work/ndx/|g" "$work/prometheus.yml"
promtool check config "$work/prometheus.yml"
promtool check rules deploy/prometheus/alerts.yml
# promtool resolves rule_files against the test file's directory.
promtool test rules deploy/prometheus/alerts_test.yml
