#!/usr/bin/env bash
# Runs every fuzz target for a while: scripts/fuzz.sh [DURATION], default 5s each (CI);
# scripts/fuzz.sh 10m for a long run. A crash stops the script and leaves the failing
# input under the package's testdata/fuzz/ to be kept as a regression seed.
set -euo pipefail
cd "$(dirname "$0")/.."
time=${1:-5s}
targets=(
  "./pipeline/ingest FuzzCSVLoad"
  "./pipeline/ingest FuzzXLSXLoad"
  "./pipeline/ingest FuzzDates"
  "./pipeline/profile FuzzProfileYAML"
  "./pipeline/report FuzzDashboardYAML"
  "./pipeline/report FuzzTargetsYAML"
  "./pipeline/models FuzzParamsYAML"
)
for t in "${targets[@]}"; do
  set -- $t
  echo "fuzz $2 ($1) for $time"
  # A load takes a fraction of a second, so minimizing an input is bounded by count.
  go test "$1" -run '^$' -fuzz "^$2\$" -fuzztime "$time" -fuzzminimizetime 20x -parallel 1
done
