#!/usr/bin/env bash
# Start-up of the server, from outside, with public tools only (bash, curl, /proc):
# the time from starting `node bin/log-service.js server` to the first 200 on
# GET /healthz (curl every 10 ms), the CPU time the server process used until then
# (user + system, all its threads: the figure a busy machine disturbs least), and
# the server's resident anonymous memory
# (RssAnon in /proc/<pid>/status: heap and code, not the page cache of LMDB's map)
# once it has been at rest for STARTUP_REST_SECONDS (default 2).
#
#   bench/startup.sh [-n RUNS] [CHECKOUT ...]
#
# Each CHECKOUT (default: this one) is a log-service checkout with node_modules;
# with several, the runs take turns (A B A B ...) so that a machine whose speed
# drifts treats them alike. Each run gets a free loopback port and a fresh LMDB in
# a temporary directory, and ends with SIGTERM. Prints one line per run, then
# min / median / max for each checkout. Environment passes through, so
# LOG_SERVICE_RUN_SOURCES=1 measures the TypeScript sources (tsx) instead of build/.
set -euo pipefail

runs=5
if [[ ${1:-} == -n ]]; then
  runs=$2
  shift 2
fi
checkouts=("$@")
[[ ${#checkouts[@]} -gt 0 ]] || checkouts=("$(cd "$(dirname "$0")/.." && pwd)")
rest=${STARTUP_REST_SECONDS:-2}

tmp=$(mktemp -d)
server=''
cleanup() {
  if [[ -n $server ]]; then kill -KILL "$server" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

free_port() {
  node -e "const s = require('node:net').createServer().listen(0, '127.0.0.1', () => { console.log(s.address().port); s.close(); });"
}

now_ns() { date +%s%N; }

tick_ms=$((1000 / $(getconf CLK_TCK)))

# one_run CHECKOUT: sets run_ms (start to first 200), run_cpu (the server's user +
# system ms at that moment) and run_rss (RssAnon at rest, kB)
one_run() {
  local checkout=$1 port start ready status stat
  port=$(free_port)
  rm -rf "$tmp/b.lmdb"
  start=$(now_ns)
  LOG_SERVICE_HTTP_BIND="127.0.0.1:$port" LOG_SERVICE_LMDB_PATH="$tmp/b.lmdb" LOG_SERVICE_LOG_LEVEL=warn \
    node "$checkout/bin/log-service.js" server >"$tmp/server.log" 2>&1 &
  server=$!
  while :; do
    status=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$port/healthz" || true)
    [[ $status == 200 ]] && break
    if ! kill -0 "$server" 2>/dev/null; then
      echo "startup.sh: the server in $checkout exited before it answered /healthz:" >&2
      cat "$tmp/server.log" >&2
      exit 1
    fi
    sleep 0.01
  done
  ready=$(now_ns)
  # /proc/PID/stat: fields 14 and 15 (utime, stime in clock ticks) after the ")" that ends the command name
  stat=$(<"/proc/$server/stat")
  run_cpu=$(echo "${stat##*) }" | awk -v t="$tick_ms" '{ print ($12 + $13) * t }')
  sleep "$rest"
  run_rss=$(awk '/^RssAnon:/ { print $2 }' "/proc/$server/status")
  run_ms=$(((ready - start) / 1000000))
  kill -TERM "$server"
  wait "$server" || true
  server=''
}

# summary LABEL VALUES... -> "LABEL min X median Y max Z"
summary() {
  local label=$1
  shift
  printf '%s\n' "$@" | sort -n | awk -v label="$label" '
    { v[NR] = $1 }
    END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%-44s min %6s  median %6s  max %6s\n", label, v[1], m, v[NR] }'
}

declare -A ms cpu rss
for ((i = 1; i <= runs; i++)); do
  for checkout in "${checkouts[@]}"; do
    one_run "$checkout"
    echo "run $i  $checkout  first 200 after ${run_ms} ms  CPU ${run_cpu} ms  RssAnon ${run_rss} kB"
    ms[$checkout]+="$run_ms "
    cpu[$checkout]+="$run_cpu "
    rss[$checkout]+="$run_rss "
  done
done
echo
for checkout in "${checkouts[@]}"; do
  # shellcheck disable=SC2086
  summary "$checkout: first 200 (ms)" ${ms[$checkout]}
  # shellcheck disable=SC2086
  summary "$checkout: CPU to first 200 (ms)" ${cpu[$checkout]}
  # shellcheck disable=SC2086
  summary "$checkout: RssAnon at rest (kB)" ${rss[$checkout]}
done
