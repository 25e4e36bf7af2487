#!/usr/bin/env bash
# gearkv at work, set-up included (the README's first command, for a fresh Debian 12 machine):
#   1. installs the packages, builds gearkv-server and the gearkv CLI (Release, build/release)
#   2. starts gearkv-server on 127.0.0.1:50051 with the in-memory store (the default)
#   3. puts a real KV block (SmolLM2-135M, layer 5: K and V, 3 KV heads x 256 tokens x 64, fp16)
#      with every preset: stored size, ratio, bits/element and relative error
#   4. gets each back both ways, COMPRESSED (decompressed by the client) and RAW (decompressed
#      by the server), and checks that they are identical
#   5. a 3-second load test with `gearkv bench` (4 clients, 4 MiB blocks, gear4)
#   6. shows the server's stats and stops it with SIGTERM (it drains and exits)
#
#   scripts/demo.sh                 # GEARKV_DEMO_PORT=50051 to change the port
set -euo pipefail
cd "$(dirname "$0")/.."
port=${GEARKV_DEMO_PORT:-50051}
target=127.0.0.1:$port
build=build/release
step() { echo; echo "==== $*"; }

step "installing packages (scripts/install-deps.sh) and building"
if [ "$(id -u)" = 0 ]; then scripts/install-deps.sh --build; else sudo scripts/install-deps.sh --build; fi
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C "$build" -j"${GEARKV_JOBS:-2}" gearkv-server gearkv
server=$build/server/gearkv-server
cli=(build/release/client/cli/gearkv --target="$target")

step "starting gearkv-server on $target (in-memory store)"
work=$(mktemp -d)
"$server" --listen="$target" --metrics_port=0 >"$work/server.log" 2>&1 &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 50); do
  "${cli[@]}" --deadline_seconds=1 --attempts=1 health >/dev/null 2>&1 && break
  sleep 0.2
done
"${cli[@]}" health
head -1 "$work/server.log"

block=kernels/testdata/real/smollm2-135m_gpl3_tok2048-2304_layer05_f16.npy
step "put: one real KV block with every preset"
for preset in none kivi4 kivi2 gear4 gear2 gearl4 gearl2; do
  "${cli[@]}" put -n demo -k "layer5-$preset" --preset "$preset" --measure_error "$block"
done

step "get: compressed (client decompresses) and raw (server decompresses), compared"
for preset in none kivi4 gear4 gear2; do
  "${cli[@]}" get -n demo -k "layer5-$preset" --encoding compressed -o "$work/c.npy" >/dev/null
  "${cli[@]}" get -n demo -k "layer5-$preset" --encoding raw -o "$work/r.npy" >/dev/null
  cmp -s "$work/c.npy" "$work/r.npy" || { echo "$preset: compressed and raw gets differ"; exit 1; }
  if [ "$preset" = none ]; then
    cmp -s "$work/r.npy" "$block" || { echo "none: the block came back changed"; exit 1; }
    echo "$preset: both gets identical, and bit-exact to what was put"
  else
    echo "$preset: both gets identical"
  fi
done
"${cli[@]}" lookup -n demo layer5-none layer5-gear4 layer5-missing layer5-gear2

step "load: gearkv bench, 4 clients, 4 MiB blocks, gear4, 3 s per phase"
"${cli[@]}" bench -c 4 --layers 4 --preset gear4 -d 3 -q

step "server stats"
"${cli[@]}" stats

step "stopping the server (SIGTERM: health NOT_SERVING, drain, exit)"
kill -TERM "$server_pid"
wait "$server_pid"
tail -2 "$work/server.log"
echo
echo "demo done. Run the server yourself: $server --help"
