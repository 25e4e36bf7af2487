#!/usr/bin/env bash
# Installs every system package gearkv needs to build, test, benchmark and run on Debian 12.
# Idempotent: packages already present are left alone. Used by the README's commands, .ci/run
# and the Dockerfile. Must run as root (or through sudo).
#
#   scripts/install-deps.sh            build + test + run dependencies
#   scripts/install-deps.sh --build    only what building gearkv needs (the Dockerfile's builder)
#   scripts/install-deps.sh --runtime  only what the gearkv-server binary needs at run time
set -euo pipefail

runtime_pkgs=(
  ca-certificates libgrpc++1.51 libprotobuf32 libabsl20220623 libprometheus-cpp-core1.0
  libprometheus-cpp-pull1.0 librocksdb7.8 libxxhash0 libhiredis0.14 libjemalloc2
)
build_pkgs=(
  build-essential cmake ninja-build pkg-config git
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev grpc-proto
  prometheus-cpp-dev libc-ares-dev librocksdb-dev libxxhash-dev libhiredis-dev libjemalloc-dev
  libgtest-dev libgmock-dev libbenchmark-dev nlohmann-json3-dev libcli11-dev
  python3-dev  # the headers the Python package's native module builds against
)
# Tools for tests, sanitizers, CI and deploy checks, not for building.
test_pkgs=(
  clang libclang-rt-14-dev clang-format
  redis-server prometheus docker-compose
  python3 python3-venv python3-pip
)

case "${1:-}" in
  "") pkgs=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
  --build) pkgs=("${build_pkgs[@]}") ;;
  --runtime) pkgs=("${runtime_pkgs[@]}") ;;
  *) echo "usage: $0 [--build|--runtime]" >&2; exit 2 ;;
esac

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#pkgs[@]} packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
