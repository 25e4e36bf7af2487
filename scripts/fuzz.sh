#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for a bounded time from a
# generated seed corpus. Fails on any crash, leak or sanitizer report.
#
#   scripts/fuzz.sh [SECONDS]     # default 60 per target
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
build=build/fuzz
CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DGEARKV_FUZZ=ON -DGEARKV_SANITIZE=address,undefined -DGEARKV_CUDA=OFF >/dev/null
ninja -C "$build" block_fuzzer block_fuzzer_seeds
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
"$build/tests/fuzz/block_fuzzer_seeds" "$corpus"
"$build/tests/fuzz/block_fuzzer" -max_total_time="$seconds" -rss_limit_mb=4096 -max_len=65536 \
  -print_final_stats=1 "$corpus"
echo "fuzz: block_fuzzer ran ${seconds}s without a finding"
