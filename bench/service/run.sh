#!/usr/bin/env bash
# gearkv vs Redis service benchmark on loopback (issue 3, "Must show 2").
#
#   bench/service/run.sh [extra gearkv_service_bench flags]
#   BUILD_DIR=build-client bench/service/run.sh --duration_seconds 5 --clients 1,8
#
# Starts a gearkv-server (memory tier only, GEARKV_BENCH_MEMORY, default 4GiB) and a
# redis-server (no persistence) on free loopback ports, runs gearkv_service_bench against both
# from one process, and writes bench/results/service.json and bench/results/service.md.
# Both servers are stopped on exit. Needs the build's gearkv-server and gearkv_service_bench,
# redis-server and python3 (to pick free ports).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-build}
[[ "$build" = /* ]] || build="$root/$build"
server_bin="$build/server/gearkv-server"
bench_bin="$build/bench/service/gearkv_service_bench"
for b in "$server_bin" "$bench_bin"; do
  [ -x "$b" ] || { echo "run.sh: $b not built (ninja -C $build gearkv-server gearkv_service_bench)" >&2; exit 2; }
done
command -v redis-server >/dev/null || { echo "run.sh: redis-server not installed" >&2; exit 2; }

tmp=$(mktemp -d)
server_pid="" redis_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$tmp" \
  >"$tmp/redis.log" 2>&1 &
redis_pid=$!

"$server_bin" --listen=127.0.0.1:0 --metrics_port=0 \
  --memory_budget="${GEARKV_BENCH_MEMORY:-4GiB}" >"$tmp/server.out" 2>"$tmp/server.err" &
server_pid=$!

target=""
for _ in $(seq 1 200); do
  target=$(sed -n 's/.*listening on \([^ ]*\) .*/\1/p' "$tmp/server.out" | head -1)
  [ -n "$target" ] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$tmp/server.err" >&2; exit 1; }
  sleep 0.05
done
[ -n "$target" ] || { echo "run.sh: gearkv-server did not start" >&2; cat "$tmp/server.err" >&2; exit 1; }
for _ in $(seq 1 200); do
  redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
  sleep 0.05
done
echo "gearkv-server at $target ($(head -1 "$tmp/server.out" | sed 's/.*(\(.*\))/\1/')), redis-server at 127.0.0.1:$redis_port" >&2

mkdir -p "$root/bench/results"
"$bench_bin" --target "$target" --redis_port "$redis_port" \
  --json_out "$root/bench/results/service.json" \
  --markdown_out "$root/bench/results/service.md" "$@"
echo "wrote bench/results/service.json and bench/results/service.md" >&2
