#!/usr/bin/env bash
# Runs every fuzz target: scripts/fuzz.sh runs each for a fixed number of inputs (CI);
# scripts/fuzz.sh 10m runs each for a duration (the long runs). A crash stops the script
# and leaves the failing input under the package's testdata/fuzz/ to be kept as a seed.
#
# CI uses counts, not durations: Go 1.26's fuzz coordinator can report a bare "context
# deadline exceeded" failure when a -fuzztime duration ends while a worker is mid-input
# (golang/go#75804, fixed in Go 1.27). A count has no deadline to race.
set -euo pipefail
cd "$(dirname "$0")/.."
budget=${1:-}
# package, target, inputs for the CI run (a few seconds each on 2 cores)
targets=(
  "./pipeline/ingest FuzzCSVLoad 20"
  "./pipeline/ingest FuzzXLSXLoad 200"
  "./pipeline/ingest FuzzDates 500"
  "./pipeline/ingest FuzzKeyedCopy 2000"
  "./pipeline/profile FuzzProfileYAML 20000"
  "./pipeline/report FuzzDashboardYAML 5000"
  "./pipeline/report FuzzTargetsYAML 2000"
  "./pipeline/models FuzzParamsYAML 2000"
)
for t in "${targets[@]}"; do
  set -- $t
  run=${budget:-${3}x}
  echo "fuzz $2 ($1) for $run"
  # A load takes a fraction of a second, so minimizing an input is bounded by count.
  go test "$1" -run '^$' -fuzz "^$2\$" -fuzztime "$run" -fuzzminimizetime 20x -parallel 1
done
