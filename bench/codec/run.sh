#!/usr/bin/env bash
# Builds and runs the codec benchmark (Release), 5 repetitions, and writes
# bench/results/codec.json (Google Benchmark's JSON) and bench/results/codec.md (a table of
# medians: GB/s of fp16 input per preset, single thread and two threads, next to memcpy; its
# notes section is kept).
#
#   bench/codec/run.sh [BUILD_DIR]     # default build/release
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build/release}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C "$build" gearkv_codec_bench
mkdir -p bench/results
"$build/bench/codec/gearkv_codec_bench" --benchmark_repetitions=5 \
  --benchmark_report_aggregates_only=true --benchmark_min_time=0.3 \
  --benchmark_out=bench/results/codec.json --benchmark_out_format=json
# The table, then the notes section of the previous codec.md (from "## Notes" on), kept.
table=$(python3 bench/codec/table.py bench/results/codec.json)
notes=$(sed -n '/^## Notes/,$p' bench/results/codec.md 2>/dev/null || true)
{ echo "$table"; if [ -n "$notes" ]; then echo; echo "$notes"; fi; } > bench/results/codec.md.tmp
mv bench/results/codec.md.tmp bench/results/codec.md
cat bench/results/codec.md
