#!/usr/bin/env bash
# Runs the workspace's tests and ends with one summary line over every test
# binary ("N passed, N failed"), so a reader (or CI) sees the total at a glance.
set -uo pipefail

log=$(mktemp)
trap 'rm -f "$log"' EXIT
# Every binary runs even after a failure, so one CI run shows every failing test.
cargo test --workspace --no-fail-fast "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
awk '/^test result:/ { passed += $4; failed += $6 } END { printf "%d passed, %d failed\n", passed, failed }' "$log"
exit "$status"
