// libFuzzer target over block parsing, layer slicing and decompression: any input must give a
// status, never a crash, a leak or an out-of-bounds access (built with ASan + UBSan).
//
// Input byte 0 picks a mode: bit 0 set = re-seal the rest with a valid checksum before parsing,
// so that the fuzzer reaches the header and section checks behind the checksum (a forged
// block); bits 1-2 pick the output dtype. The rest is the block.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "gearkv/codec.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace {

constexpr uint64_t kMaxDecodedBytes = uint64_t{64} << 20;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static const auto codec = *gearkv::MakeCodec(gearkv::Backend::kCpu);
  const uint8_t mode = data[0];
  std::string block(reinterpret_cast<const char*>(data + 1), size - 1);
  if ((mode & 1) && block.size() >= 8) {
    const uint64_t sum = XXH3_64bits(block.data(), block.size() - 8);
    std::memcpy(block.data() + block.size() - 8, &sum, 8);
  }
  auto info = gearkv::InspectBlock(block);
  if (!info.ok()) return 0;
  const auto dtype = static_cast<gearkv::DType>(1 + (mode >> 1) % 3);
  const uint64_t out_bytes = info->shape.NumElements() * gearkv::DTypeSize(dtype);
  if (out_bytes <= kMaxDecodedBytes) {
    std::vector<char> out(out_bytes);
    (void)codec->Decompress(block, {info->shape, dtype, out.data()}, {.threads = 1});
  }
  if (info->shape.layers > 1) {
    auto slice = gearkv::SliceBlockLayers(block, 1, info->shape.layers);
    if (slice.ok() && !gearkv::InspectBlock(*slice).ok()) __builtin_trap();  // must stay valid
  }
  return 0;
}
