#!/usr/bin/env bash
# C++ client vs Python client, side by side against one gearkv-server on loopback.
#
#   bench/python/run.sh [--duration 3] [--repeats 3]
#   BUILD_DIR=build/release PYTHON=build/venv-client/bin/python bench/python/run.sh
#
# Needs the build's gearkv-server and gearkv CLI, and a Python with the gearkv package installed
# (pip install ./client/python). Writes bench/results/python_client.json and .md.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-build/release}
[[ "$build" = /* ]] || build="$root/$build"
python=${PYTHON:-$root/build/venv-client/bin/python}
server_bin="$build/server/gearkv-server"
cli_bin="$build/client/cli/gearkv"
for b in "$server_bin" "$cli_bin" "$python"; do
  [ -x "$b" ] || { echo "run.sh: $b not found (ninja -C $build gearkv-server gearkv; pip install ./client/python)" >&2; exit 2; }
done
port=$("$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=$(mktemp)
"$server_bin" --listen="127.0.0.1:$port" --metrics_port=0 --memory_budget="${GEARKV_BENCH_MEMORY:-4GiB}" >"$log" 2>&1 &
server_pid=$!
trap 'kill $server_pid 2>/dev/null || true; wait 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 100); do grep -q "listening on" "$log" && break; sleep 0.1; done
grep -q "listening on" "$log" || { cat "$log" >&2; exit 1; }
cd "$root"  # not client/python: the installed package, not the source tree, is imported
"$python" bench/python/bench.py --target "127.0.0.1:$port" --cli "$cli_bin" "$@"
