#!/usr/bin/env bash
# The scale benchmark: scripts/bench.sh [bench flags], for example
#   scripts/bench.sh                                  1M, 10M and 50M sessions (about 30 min, 20 GB of disk)
#   scripts/bench.sh --sizes 1000000 --reps 3         a quick check
# It builds etl, report and bench, then runs cmd/bench, which prints a Markdown table
# (BENCHMARKS.md records one with the machine it ran on) and, per size, the load's
# ratio to DuckDB's own read_csv and the ratio of etl + report to the analyst's pandas
# script (scripts/pandas_baseline.py) on the same files. The pandas script needs
# Debian's python3-pandas and python3-openpyxl (apt-get install -y python3-pandas
# python3-openpyxl); without them the bench says so and leaves it out.
# Flags: go run ./cmd/bench -h.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/etl" ./cmd/etl
go build -o "$bin/report" ./cmd/report
go build -o "$bin/bench" ./cmd/bench
python=${PYTHON:-/usr/bin/python3}
pandas=()
if "$python" -c 'import pandas, openpyxl' 2>/dev/null; then
	pandas=(--pandas "$PWD/scripts/pandas_baseline.py" --python "$python")
else
	echo "bench.sh: $python has no pandas and openpyxl (apt-get install -y python3-pandas python3-openpyxl): the pandas comparison is left out" >&2
fi
"$bin/bench" --bin "$bin" "${pandas[@]}" "$@"
