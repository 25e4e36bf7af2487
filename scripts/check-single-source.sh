#!/usr/bin/env bash
# Checks that the wire contract's facts are stated once (run by scripts/test.sh):
#   - the service name comes from proto/gearkv/v1/kv_cache.proto: no product code writes
#     "gearkv.v1.KVCache" out (C++ uses KVCache::service_full_name(), Python the descriptor);
#   - the 1 MiB chunk limit is LIMIT_MAX_CHUNK_BYTES in the proto: its number appears there only,
#     and C++ names it once (kMaxChunkBytes in proto/include/gearkv/wire_limits.h). (Other 1 MiB
#     sizes, e.g. tensor_io's .npy header cap, are other facts: kernels/ and tensor_io/ are not
#     searched.)
# Tests, docs and benchmarks' MiB arithmetic are not product code and are not checked.
set -euo pipefail
cd "$(dirname "$0")/.."
fail=0
product=(':(glob)**/*.cc' ':(glob)**/*.h' ':(glob)**/*.py' ':(glob)**/*.proto'
         ':!:**/*_test.cc' ':!:tests/**' ':!:**/tests/**' ':!:bench/**')

service=$(git grep --untracked -n '"gearkv\.v1\.KVCache\|/gearkv\.v1\.KVCache/' -- "${product[@]}" || true)
if [ -n "$service" ]; then
  echo "check-single-source: the service name is written out (use service_full_name()):"
  echo "$service"
  fail=1
fi

# Where a chunk size could be restated: the wire library, the server, the clients.
limit=$(git grep --untracked -nE '1048576|1 ?<< ?20|2 ?\*\* ?20' -- "${product[@]}" ':!:kernels/**' \
  ':!:tensor_io/**' ':!:client/cli/bench_*' || true)
if [ "$(echo "$limit" | grep -c .)" != 1 ] || ! echo "$limit" | grep -q 'kv_cache.proto:.*LIMIT_MAX_CHUNK_BYTES'; then
  echo "check-single-source: 1 MiB must appear once, as LIMIT_MAX_CHUNK_BYTES in kv_cache.proto; found:"
  echo "$limit"
  fail=1
fi
defs=$(git grep --untracked -nE 'kMaxChunkBytes\s*=' -- "${product[@]}" || true)
if [ "$(echo "$defs" | grep -c .)" != 1 ]; then
  echo "check-single-source: kMaxChunkBytes must be defined once; found:"
  echo "$defs"
  fail=1
fi
[ "$fail" = 0 ] && echo "check-single-source: service name and chunk limit stated once"
exit "$fail"
