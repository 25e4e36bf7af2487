#!/usr/bin/env bash
# Builds the libFuzzer targets (the fuzz preset of CMakePresets.json: clang, ASan + UBSan) and
# runs each for a bounded time from a generated seed corpus. Fails on any crash, leak or
# sanitizer report.
#
#   scripts/fuzz.sh [SECONDS]     # default 60 per target
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
build=build/fuzz  # the binary dir of the fuzz preset (CMakePresets.json)
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
"$build/tests/fuzz/block_fuzzer_seeds" "$corpus"
"$build/tests/fuzz/block_fuzzer" -max_total_time="$seconds" -rss_limit_mb=4096 -max_len=65536 \
  -print_final_stats=1 "$corpus"
echo "fuzz: block_fuzzer ran ${seconds}s without a finding"
