// The CPU backend of the codec: the reference implementation, always built. Work is spread over
// (layer, K|V, head) on a bounded number of threads.
#ifndef GEARKV_KERNELS_CPU_CPU_CODEC_H_
#define GEARKV_KERNELS_CPU_CPU_CODEC_H_

#include "gearkv/codec.h"

namespace gearkv::internal {

class CpuCodec final : public Codec {
 public:
  absl::StatusOr<Block> Compress(const TensorView& tensor, const CodecSpec& spec,
                                 const CompressOptions& options) const override;
  absl::Status Decompress(std::string_view block, const MutableTensorView& out,
                          const DecompressOptions& options) const override;
  Backend backend() const override { return Backend::kCpu; }
};

}  // namespace gearkv::internal

#endif  // GEARKV_KERNELS_CPU_CPU_CODEC_H_
