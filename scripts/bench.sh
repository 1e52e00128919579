#!/usr/bin/env bash
# The scale benchmark: scripts/bench.sh [bench flags], for example
#   scripts/bench.sh                                  1M, 10M and 50M sessions (about 40 min, 15 GB of disk)
#   scripts/bench.sh --sizes 1000000 --reps 3         a quick check
# It builds etl, report and bench, then runs cmd/bench, which prints a Markdown table
# (BENCHMARKS.md records one with the machine it ran on). Flags: go run ./cmd/bench -h.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/etl" ./cmd/etl
go build -o "$bin/report" ./cmd/report
go build -o "$bin/bench" ./cmd/bench
"$bin/bench" --bin "$bin" "$@"
