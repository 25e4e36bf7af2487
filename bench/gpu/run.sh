#!/usr/bin/env bash
# One prepared run of gearkv's CUDA backend on a machine with an NVIDIA GPU (default target: an
# H200, sm_90). Budget: about 8 minutes with 16 cores. Steps:
#   1. print the toolchain (nvidia-smi, nvcc --version, cmake, g++);
#   2. configure a build with -DGEARKV_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=$CUDA_ARCH (codec
#      only: -DGEARKV_BUILD_SERVICE=OFF; build type RelWithDebInfo, the project's default and
#      CI's, so the tests run on the flags that ship) and build the test and benchmark targets;
#   3. run the GPU tests (GEARKV_REQUIRE_GPU=1: a missing device fails instead of skipping) and
#      the CPU codec tests in the same build;
#   4. run compute-sanitizer memcheck, racecheck and synccheck over a subset of the GPU tests;
#   5. run the benchmark (32 MiB fp16 blocks: none / kivi4 / gear4 / gear2 next to a
#      device-to-device cudaMemcpy), writing gpu-<date>.json and .md.
# Every step's output goes to the console and to $OUT_DIR/gpu-run-<time>.log; the script goes
# on after a failing step and exits non-zero if any step failed.
#
# Usage (from anywhere):  bench/gpu/run.sh
# Environment: OUT (results folder; default bench/results), BUILD_DIR (default build-gpu),
#   CUDA_ARCH (default 90), JOBS (default 16), BUILD_TYPE (default RelWithDebInfo),
#   ITERS (benchmark iterations, default 50),
#   SANITIZER_TIMEOUT (seconds per sanitizer run, default 150).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
OUT_DIR=${OUT:-$ROOT/bench/results}
BUILD=${BUILD_DIR:-$ROOT/build-gpu}
ARCH=${CUDA_ARCH:-90}
JOBS=${JOBS:-16}
BUILD_TYPE=${BUILD_TYPE:-RelWithDebInfo}
ITERS=${ITERS:-50}
SAN_TIMEOUT=${SANITIZER_TIMEOUT:-150}
mkdir -p "$OUT_DIR"
LOG="$OUT_DIR/gpu-run-$(date -u +%Y%m%d-%H%M%S).log"
exec > >(tee -a "$LOG") 2>&1

declare -a SUMMARY=()
FAILED=0
step() { echo; echo "=== $* ($(date -u +%H:%M:%S))"; }
record() {  # record NAME EXIT_CODE
  if [ "$2" -eq 0 ]; then SUMMARY+=("PASS  $1"); else SUMMARY+=("FAIL  $1 (exit $2)"); FAILED=1; fi
}

NVCC=$(command -v nvcc || true)
[ -z "$NVCC" ] && [ -x /usr/local/cuda/bin/nvcc ] && NVCC=/usr/local/cuda/bin/nvcc
SANITIZER=$(command -v compute-sanitizer || true)
if [ -z "$SANITIZER" ] && [ -n "$NVCC" ]; then
  for s in "$(dirname "$NVCC")/compute-sanitizer" \
           "$(dirname "$NVCC")/../compute-sanitizer/compute-sanitizer"; do
    if [ -x "$s" ]; then SANITIZER=$s; break; fi
  done
fi

step "toolchain"
nvidia-smi || echo "nvidia-smi failed: is there a driver and a GPU?"
if [ -n "$NVCC" ]; then "$NVCC" --version; else echo "nvcc not found (PATH or /usr/local/cuda/bin)"; fi
cmake --version | head -1
"${CXX:-c++}" --version | head -1
echo "compute-sanitizer: ${SANITIZER:-not found}"
echo "repository: $(git rev-parse --short HEAD 2>/dev/null || echo '?') ; results: $OUT_DIR"

step "configure ($BUILD, sm_$ARCH, $BUILD_TYPE)"
GENERATOR=()
command -v ninja >/dev/null && GENERATOR=(-G Ninja)
cmake -S "$ROOT" -B "$BUILD" "${GENERATOR[@]}" -DCMAKE_BUILD_TYPE="$BUILD_TYPE" \
  -DGEARKV_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$ARCH" ${NVCC:+-DCMAKE_CUDA_COMPILER="$NVCC"} \
  -DGEARKV_BUILD_SERVICE=OFF
record configure $?

step "build (-j$JOBS)"
time cmake --build "$BUILD" -j "$JOBS" --target gearkv_cuda_codec_test gearkv_codec_test \
  gearkv_gpu_codec_bench
record build $?

TEST="$BUILD/kernels/cuda/gearkv_cuda_codec_test"
BENCH="$BUILD/bench/gpu/gearkv_gpu_codec_bench"
if [ ! -x "$TEST" ] || [ ! -x "$BENCH" ]; then
  echo "the build produced no test/benchmark binaries; stopping"
  printf '%s\n' "${SUMMARY[@]}"
  exit 1
fi

step "GPU tests"
GEARKV_REQUIRE_GPU=1 "$TEST" --gtest_output="json:$OUT_DIR/gpu-tests.json"
record "GPU tests" $?

step "CPU codec tests (same build)"
"$BUILD/kernels/gearkv_codec_test" --gtest_brief=1
record "CPU codec tests" $?

# Sanitizer runs: the tests that reach every kernel path, kept small enough for the budget.
SAN_FILTER='CudaCodecTest.EveryPresetAndDtypeCrossDecodes:CudaCodecTest.TiesAndLargeOutlierRatios:CudaCodecTest.LargeHeadsAndRanks:CudaCodecTest.RejectsAForgedOutlierOffset'
RACE_FILTER='CudaCodecTest.EveryPresetAndDtypeCrossDecodes:CudaCodecTest.TiesAndLargeOutlierRatios'
if [ -n "$SANITIZER" ]; then
  for tool in memcheck racecheck synccheck; do
    filter=$SAN_FILTER
    [ "$tool" != memcheck ] && filter=$RACE_FILTER
    step "compute-sanitizer --tool $tool"
    GEARKV_REQUIRE_GPU=1 timeout "$SAN_TIMEOUT" "$SANITIZER" --tool "$tool" --error-exitcode 99 \
      "$TEST" --gtest_filter="$filter" --gtest_brief=1
    rc=$?
    [ $rc -eq 124 ] && echo "($tool timed out after ${SAN_TIMEOUT}s)"
    record "compute-sanitizer $tool" $rc
  done
else
  record "compute-sanitizer (not found)" 1
fi

step "benchmark"
"$BENCH" --out_dir="$OUT_DIR" --iters="$ITERS"
record benchmark $?

step "summary"
printf '%s\n' "${SUMMARY[@]}"
echo "log: $LOG"
exit $FAILED
