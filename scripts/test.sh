#!/usr/bin/env bash
# Runs every gearkv test on a Debian 12 machine, set-up included (the README's test command and
# what CI runs):
#   1. system packages (scripts/install-deps.sh)
#   2. Release build of everything (the CUDA backend too when nvcc works, one architecture)
#      and ctest: unit, end-to-end (real gearkv-server processes on loopback), GPU tests (they
#      skip, saying why, without a GPU)
#   3. ASan + UBSan build of the codec (thread pool included) and store unit tests
#   4. TSan build of the codec thread pool, store and service concurrency tests (label tsan)
#   5. the libFuzzer target over block parsing, 60 s
#   6. the Python client's pytest suite against a live gearkv-server
#   7. deploy checks (promtool, docker-compose config) and a real Prometheus scraping a real
#      server under load
#
#   scripts/test.sh            # everything
#   GEARKV_TEST_STAGES="build unit" scripts/test.sh   # a subset: build unit asan tsan fuzz python deploy
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
stages=${GEARKV_TEST_STAGES:-"build unit asan tsan fuzz python deploy"}
jobs=${GEARKV_JOBS:-2}
has_stage() { [[ " $stages " == *" $1 "* ]]; }
step() { echo; echo "==== $* ($(date +%T))"; }

step "install dependencies"
if [ "$(id -u)" = 0 ]; then scripts/install-deps.sh; else sudo scripts/install-deps.sh; fi

cuda_args=()
if command -v nvcc >/dev/null 2>&1 || [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH=$PATH:/usr/local/cuda/bin
  cuda_args=(-DGEARKV_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=${GEARKV_CUDA_ARCH:-90})
fi

if has_stage build || has_stage unit; then
  step "release build"
  cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release "${cuda_args[@]}" >/dev/null
  ninja -C build/release -j"$jobs"
fi
if has_stage unit; then
  step "ctest: unit, end-to-end and GPU tests"
  ctest --test-dir build/release --output-on-failure -j"$jobs" --timeout 600
fi
if has_stage asan; then
  step "ASan + UBSan: codec and store unit tests"
  cmake -S . -B build/asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGEARKV_CUDA=OFF \
    -DGEARKV_BUILD_SERVICE=OFF -DGEARKV_SANITIZE=address,undefined >/dev/null
  ninja -C build/asan -j"$jobs" gearkv_codec_test gearkv_parallel_test gearkv_tensor_io_test \
    gearkv_store_test gearkv_store_concurrency_test
  ctest --test-dir build/asan --output-on-failure -j"$jobs" -L unit
fi
if has_stage tsan; then
  # The tsan-labelled tests: the codec's thread pool, the store's concurrency tests and the
  # service's concurrent pieces (worker pools, byte budget). The gRPC service itself is tested
  # concurrently without TSan: Debian's gRPC and abseil are not built with TSan, which then
  # reports races inside gRPC.
  step "TSan: codec thread pool, store and service concurrency tests"
  cmake -S . -B build/tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGEARKV_CUDA=OFF \
    -DGEARKV_SANITIZE=thread >/dev/null
  ninja -C build/tsan -j"$jobs" gearkv_store_concurrency_test gearkv_server_test \
    gearkv_parallel_test
  TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
    ctest --test-dir build/tsan --output-on-failure -j"$jobs" -L tsan
fi
if has_stage fuzz; then
  step "libFuzzer: block parsing and decompression"
  scripts/fuzz.sh "${GEARKV_FUZZ_SECONDS:-60}"
fi
if has_stage python; then
  step "Python client: pytest against a live gearkv-server"
  python3 -m venv build/venv-client
  build/venv-client/bin/pip install -q --upgrade pip
  build/venv-client/bin/pip install -q "./client/python[test]"
  GEARKV_SERVER_BIN="$root/build/release/server/gearkv-server" \
    build/venv-client/bin/python -m pytest -q client/python/tests
fi
if has_stage deploy; then
  step "deploy: promtool, docker-compose config, Prometheus end-to-end"
  deploy/check.sh build/release/server/gearkv-server
  python3 tests/prometheus_e2e_test.py --build-dir build/release
fi
step "all stages passed: $stages"
