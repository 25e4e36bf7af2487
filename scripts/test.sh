#!/usr/bin/env bash
# Runs every gearkv test on a Debian 12 machine, set-up included (the README's test command and
# what CI runs):
#   1. system packages (scripts/install-deps.sh)
#   2. a check that the service name and the chunk limit are stated once, then a Release
#      build of everything (the CUDA backend too when nvcc works, one architecture)
#      and ctest: unit, end-to-end (real gearkv-server processes on loopback), GPU tests (they
#      skip, saying why, without a GPU)
#   3. ASan + UBSan build of the codec (thread pool included) and store unit tests
#   4. TSan build of the codec thread pool, store and service concurrency tests (label tsan)
#   5. the libFuzzer target over block parsing, 60 s
#   6. the Python client: its native module built by pip, its pytest suite against a live
#      gearkv-server
#   7. deploy checks (promtool, docker-compose config) and a real Prometheus scraping a real
#      server under load
#
# Stages 2-5 are the configure / build / test presets of CMakePresets.json (release, asan, tsan,
# fuzz; binary dirs build/<preset>), so that `cmake --preset asan && cmake --build --preset asan
# && ctest --preset asan` runs one of them by hand.
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
  step "the wire contract's facts stated once"
  scripts/check-single-source.sh
  step "release build"
  cmake --preset release "${cuda_args[@]}" >/dev/null
  cmake --build --preset release -j "$jobs"
fi
if has_stage unit; then
  step "ctest: unit, end-to-end and GPU tests"
  ctest --preset release -j "$jobs"
fi
if has_stage asan; then
  step "ASan + UBSan: codec and store unit tests"
  cmake --preset asan >/dev/null
  cmake --build --preset asan -j "$jobs"
  ctest --preset asan -j "$jobs"
fi
if has_stage tsan; then
  # The tsan-labelled tests: the codec's thread pool, the store's concurrency tests and the
  # service's concurrent pieces (worker pools, byte budget). The gRPC service itself is tested
  # concurrently without TSan: Debian's gRPC and abseil are not built with TSan, which then
  # reports races inside gRPC.
  step "TSan: codec thread pool, store and service concurrency tests"
  cmake --preset tsan >/dev/null
  cmake --build --preset tsan -j "$jobs"
  ctest --preset tsan -j "$jobs"
fi
if has_stage fuzz; then
  step "libFuzzer: block parsing and decompression"
  scripts/fuzz.sh "${GEARKV_FUZZ_SECONDS:-60}"
fi
if has_stage python; then
  step "Python client: the native module, then pytest against a live gearkv-server"
  python3 -m venv build/venv-client
  build/venv-client/bin/pip install -q --upgrade pip
  # The build backend in the venv itself (no build isolation): the CMake build folder
  # (build/python/, only the client + codec + proto targets, -j2, ccache when present) then
  # stays valid between runs and a rebuild is incremental. torch: the round trips through torch.
  build/venv-client/bin/pip install -q "scikit-build-core>=0.10" "nanobind>=2.4"
  build/venv-client/bin/pip install -q --no-build-isolation "./client/python[test,torch]"
  GEARKV_SERVER_BIN="$root/build/release/server/gearkv-server" \
    build/venv-client/bin/python -m pytest -q client/python/tests
fi
if has_stage deploy; then
  step "deploy: promtool, docker-compose config, Prometheus end-to-end"
  deploy/check.sh build/release/server/gearkv-server
  python3 tests/prometheus_e2e_test.py --build-dir build/release
fi
step "all stages passed: $stages"
