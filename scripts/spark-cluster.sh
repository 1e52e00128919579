#!/usr/bin/env bash
# Starts and stops a small Apache Spark standalone cluster on this machine for the tests:
# one master and two workers (1 core, 2 GiB each), all bound to 127.0.0.1.
#
#   scripts/spark-cluster.sh start DIR   starts the cluster, keeps its logs (DIR/*.log), its
#                                        process ids (DIR/pids) and its URL (DIR/master) in
#                                        DIR, waits until both workers have joined, and prints
#                                        the master URL (spark://127.0.0.1:PORT) as its last line.
#   scripts/spark-cluster.sh stop DIR    stops exactly the processes listed in DIR/pids, and
#                                        the executors the workers started.
#
# Spark comes from $SPARK_HOME if set, else from the pip-installed pyspark of python3
# (`python3 -m pip install pyspark`), which has bin/spark-class but no sbin/start-*.sh.
# Each daemon is started in a session of its own, so its process id is also its process
# group: stop signals the group, which holds the daemon's JVM and any executor JVMs it forked.
set -euo pipefail

usage() {
  echo "usage: $0 start|stop DIR" >&2
  exit 2
}
[ $# -eq 2 ] || usage
cmd=$1
dir=$2

# True if pid is alive and is one of our Spark daemons (not a reused pid).
is_ours() {
  local pid=$1
  [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'org\.apache\.spark\.deploy\.'
}

# Process ids of the members of process group $1.
group_members() {
  ps -eo pid=,pgid= | awk -v g="$1" '$2 == g { print $1 }'
}

# wait_groups N GROUP...: waits up to N times 0.2 s until no process of the groups is left.
wait_groups() {
  local tries=$1 i pid alive
  shift
  for ((i = 0; i < tries; i++)); do
    alive=0
    for pid in "$@"; do
      [ -n "$(group_members "$pid")" ] && alive=1
    done
    [ $alive -eq 0 ] && return 0
    sleep 0.2
  done
}

stop_cluster() {
  local pidfile=$dir/pids pid p i alive
  [ -f "$pidfile" ] || return 0
  local pids=()
  while read -r pid; do
    [ -n "$pid" ] && pids+=("$pid")
  done <"$pidfile"
  # Workers first (reverse order), so they stop their executors while the master is up.
  local groups=()
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    pid=${pids[$i]}
    if is_ours "$pid" || [ -n "$(group_members "$pid")" ]; then
      groups+=("$pid")
      kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    fi
  done
  # Up to 10 s for the JVMs to run their shutdown hooks, then SIGKILL what is left.
  wait_groups 50 ${groups[@]+"${groups[@]}"}
  for pid in ${groups[@]+"${groups[@]}"}; do
    for p in $(group_members "$pid"); do
      echo "spark-cluster: process $p (group $pid) did not exit on SIGTERM; killing it" >&2
      kill -KILL "$p" 2>/dev/null || true
    done
  done
  wait_groups 25 ${groups[@]+"${groups[@]}"}
  rm -f "$pidfile" "$dir/master"
}

# A free TCP port on 127.0.0.1 (the kernel's choice; free when asked, which suffices here).
free_port() {
  "$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Starts one daemon in a session of its own; appends its pid to DIR/pids.
launch() {
  local log=$1
  shift
  setsid "$SPARK_HOME/bin/spark-class" "$@" >"$dir/$log" 2>&1 </dev/null &
  echo $! >>"$dir/pids"
}

failed() {
  echo "spark-cluster: the cluster did not come up: $*" >&2
  exit 1
}

# On a failed start (failed, an error under set -e, a signal): show the logs, stop what started.
start_exit() {
  local rc=$? f
  [ $rc -ne 0 ] || return 0
  for f in "$dir"/*.log; do
    [ -f "$f" ] || continue
    echo "---- tail of $f" >&2
    tail -n 30 "$f" >&2
  done
  stop_cluster
  exit $rc
}

start_cluster() {
  # The interpreter itself, not a pyenv shim: executors run it for the Python workers.
  python=$("${PYSPARK_PYTHON:-python3}" -c 'import sys; print(sys.executable)') || {
    echo "spark-cluster: ${PYSPARK_PYTHON:-python3} not found" >&2
    exit 1
  }
  if [ -z "${SPARK_HOME:-}" ]; then
    SPARK_HOME=$("$python" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))') || {
      echo "spark-cluster: no SPARK_HOME and no pyspark for $python (python3 -m pip install pyspark)" >&2
      exit 1
    }
  fi
  [ -x "$SPARK_HOME/bin/spark-class" ] || { echo "spark-cluster: no $SPARK_HOME/bin/spark-class" >&2; exit 1; }
  command -v java >/dev/null || [ -n "${JAVA_HOME:-}" ] || { echo "spark-cluster: java not found" >&2; exit 1; }
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if [ -f "$dir/pids" ]; then
    local pid
    while read -r pid; do
      if [ -n "$pid" ] && is_ours "$pid"; then
        echo "spark-cluster: a cluster from $dir is still running (pid $pid); stop it first" >&2
        exit 1
      fi
    done <"$dir/pids"
  fi
  rm -f "$dir/pids" "$dir/master" "$dir"/*.log
  : >"$dir/pids"

  # Localhost only; executors run the same python3 as the driver's default.
  export SPARK_HOME SPARK_LOCAL_IP=127.0.0.1 SPARK_LOCAL_HOSTNAME=127.0.0.1 SPARK_PUBLIC_DNS=127.0.0.1
  export SPARK_LOCAL_DIRS="$dir/tmp" PYSPARK_PYTHON=$python
  # No REST submission server: it would take the fixed port 6066.
  export SPARK_MASTER_OPTS="${SPARK_MASTER_OPTS:-} -Dspark.master.rest.enabled=false"
  mkdir -p "$SPARK_LOCAL_DIRS"
  trap start_exit EXIT
  trap 'failed "interrupted"' INT TERM

  local port webui url
  port=$(free_port)
  webui=$(free_port)
  url=spark://127.0.0.1:$port
  launch master.log org.apache.spark.deploy.master.Master \
    --host 127.0.0.1 --port "$port" --webui-port "$webui"

  # Wait for the master before starting the workers: a worker that misses it retries only
  # after 5 to 15 s.
  local deadline=$((SECONDS + 90)) state
  until state=$(alive_workers "$webui"); do
    check_alive
    [ $SECONDS -lt $deadline ] || failed "the master did not answer on 127.0.0.1:$webui within 90 s"
    sleep 0.5
  done

  local n
  for n in 1 2; do
    mkdir -p "$dir/work-$n"
    launch "worker-$n.log" org.apache.spark.deploy.worker.Worker "$url" \
      --host 127.0.0.1 --webui-port "$(free_port)" \
      --cores 1 --memory 2g --work-dir "$dir/work-$n"
  done

  until [ "$(alive_workers "$webui" || echo 0)" -ge 2 ]; do
    check_alive
    [ $SECONDS -lt $deadline ] || failed "fewer than 2 workers alive after 90 s"
    sleep 0.5
  done
  echo "$url" >"$dir/master"
  trap - EXIT INT TERM
  echo "$url"
}

# The master's count of ALIVE workers, from its JSON page; fails while it does not answer.
alive_workers() {
  "$python" - "$1" <<'EOF'
import json, sys, urllib.request
try:
    with urllib.request.urlopen("http://127.0.0.1:%s/json/" % sys.argv[1], timeout=2) as r:
        d = json.load(r)
except Exception:
    sys.exit(1)
print(sum(1 for w in d.get("workers", []) if w.get("state") == "ALIVE"))
EOF
}

# Fails the start if a daemon has already exited.
check_alive() {
  local pid
  while read -r pid; do
    kill -0 "$pid" 2>/dev/null || failed "process $pid exited"
  done <"$dir/pids"
}

case $cmd in
start) start_cluster ;;
stop)
  [ -d "$dir" ] || exit 0
  stop_cluster
  ;;
*) usage ;;
esac
