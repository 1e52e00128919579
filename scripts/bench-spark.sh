#!/usr/bin/env bash
# The engines side by side: scripts/bench-spark.sh [SESSIONS ...] (default 1000000
# 10000000). For each size it generates an export (etl generate, about 58 sessions a
# patient), loads it with etl, then times as separate processes:
#   - the DuckDB models: etl models --full on the loaded database;
#   - the Parquet export: report export --partition-by patient_bucket:8;
#   - the Spark models: etl models --engine spark on a standalone cluster of two
#     workers (one core, 2 GiB each) that this script starts on 127.0.0.1
#     (scripts/spark-cluster.sh) and stops by its process ids at the end.
# Wall time is the process's; peak memory is the largest resident set of the process
# (GNU time) for DuckDB, and for Spark the largest sum, sampled every half second, of
# etl and every Spark process (driver, master, workers, executors). It prints one
# Markdown table, and checks that both engines give the same landmark headline.
# Needs pyspark (pip install pyspark) and Java 17. BENCH_DIR sets the work folder
# (default: a temporary one; 10M sessions take about 3 GB).
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1000000 10000000)
work=${BENCH_DIR:-$(mktemp -d)}
mkdir -p "$work"
SPARK_HOME=${SPARK_HOME:-$(python3 -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')}
PYSPARK_PYTHON=${PYSPARK_PYTHON:-$(python3 -c 'import sys; print(sys.executable)')}
export SPARK_HOME PYSPARK_PYTHON SPARK_LOCAL_IP=127.0.0.1
cluster="$work/cluster"
mkdir -p "$cluster"
trap 'scripts/spark-cluster.sh stop "$cluster" >/dev/null 2>&1 || true; [ -n "${BENCH_DIR:-}" ] || rm -rf "$work"' EXIT
go build -o "$work/etl" ./cmd/etl
go build -o "$work/report" ./cmd/report
master=$(scripts/spark-cluster.sh start "$cluster" | tail -n 1)

# timed NAME CMD...: runs CMD, and prints "seconds peak_kib" of its own process.
timed() {
	local name=$1
	shift
	/usr/bin/time -f '%e %M' -o "$work/$name.time" "$@" >"$work/$name.out" 2>"$work/$name.err" || {
		echo "bench-spark: $name failed:" >&2
		tail -n 20 "$work/$name.err" "$work/$name.out" >&2
		exit 1
	}
	cat "$work/$name.time"
}

# sampled NAME CMD...: runs CMD, and prints "seconds peak_kib", the peak being of the
# sum of CMD and every java process on the machine (the cluster's).
sampled() {
	local name=$1
	shift
	local start end peak=0
	start=$(date +%s.%N)
	"$@" >"$work/$name.out" 2>"$work/$name.err" &
	local pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		local rss
		rss=$({ ps -o rss= -p "$pid" 2>/dev/null; ps -C java -o rss= 2>/dev/null; } | awk '{s += $1} END {print s + 0}')
		[ "$rss" -gt "$peak" ] && peak=$rss
		sleep 0.5
	done
	wait "$pid" || {
		echo "bench-spark: $name failed:" >&2
		tail -n 20 "$work/$name.err" "$work/$name.out" >&2
		exit 1
	}
	end=$(date +%s.%N)
	echo "$(echo "$end - $start" | bc) $peak"
}

gib() { printf '%.2f' "$(echo "$1 / 1048576" | bc -l)"; }

echo "| sessions | DuckDB models | DuckDB peak | export | Spark models (2 workers) | Spark peak (all JVMs) | Spark / DuckDB |"
echo "|---:|---:|---:|---:|---:|---:|---:|"
for n in "${sizes[@]}"; do
	d="$work/n$n"
	rm -rf "$d"
	mkdir -p "$d"
	"$work/etl" generate --out "$d/data" --patients $((n / 58)) --seed 1 >/dev/null
	"$work/etl" --db "$d/o.duckdb" "$d/data" >"$d/load.out"
	sessions=$("$work/report" query --db "$d/o.duckdb" --format csv "SELECT count(*) FROM sessions" | tail -n 1)
	read -r duck_s duck_k < <(timed "duck-$n" "$work/etl" models --full --db "$d/o.duckdb")
	read -r exp_s _ < <(timed "export-$n" "$work/report" export --db "$d/o.duckdb" --out "$d/export" --partition-by patient_bucket:8)
	read -r spark_s spark_k < <(sampled "spark-$n" "$work/etl" models --engine spark --master "$master" \
		--input "$d/export" --out "$d/spark" --conf spark.executor.memory=1500m --conf spark.driver.memory=2g)
	h1=$(grep '^Landmark dropout' "$work/duck-$n.out" || true)
	h2=$(grep '^Landmark dropout' "$work/spark-$n.out" || true)
	if [ "$h1" != "$h2" ]; then
		echo "bench-spark: the engines differ at $n sessions: DuckDB '$h1', Spark '$h2'" >&2
		exit 1
	fi
	printf '| %s | %.1f s | %s GiB | %.1f s | %.1f s | %s GiB | %.1fx |\n' "$sessions" "$duck_s" "$(gib "$duck_k")" "$exp_s" \
		"$spark_s" "$(gib "$spark_k")" "$(echo "$spark_s / $duck_s" | bc -l)"
	rm -rf "$d"
done
