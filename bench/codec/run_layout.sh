#!/usr/bin/env bash
# The codec benchmark's layout rows only (gear4, Llama-3-8B-shaped 256-token fp16 block, one
# thread, canonical vs KV_2LTD in and out), 7 repetitions interleaved at random so that both
# layouts see the same machine load, and writes bench/results/codec_layout.json (Google
# Benchmark's JSON) and bench/results/codec_layout.md (medians, GB/s, the KV_2LTD / canonical
# ratio).
#
#   bench/codec/run_layout.sh [BUILD_DIR]     # default build/release
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build/release}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C "$build" gearkv_codec_bench
mkdir -p bench/results
"$build/bench/codec/gearkv_codec_bench" --benchmark_filter='BM_Layout' \
  --benchmark_repetitions=7 --benchmark_enable_random_interleaving=true \
  --benchmark_report_aggregates_only=true --benchmark_min_time=0.5 \
  --benchmark_out=bench/results/codec_layout.json --benchmark_out_format=json
# The table, then the notes section of the previous codec_layout.md (from "## Notes" on), kept.
table=$(python3 bench/codec/layout_table.py bench/results/codec_layout.json)
notes=$(sed -n '/^## Notes/,$p' bench/results/codec_layout.md 2>/dev/null || true)
{ echo "$table"; if [ -n "$notes" ]; then echo; echo "$notes"; fi; } > bench/results/codec_layout.md.tmp
mv bench/results/codec_layout.md.tmp bench/results/codec_layout.md
cat bench/results/codec_layout.md
