#include "gearkv/codec.h"

#include <cmath>
#include <vector>

#include "absl/strings/str_cat.h"
#include "block_format.h"
#include "cpu/cpu_codec.h"
#include "cpu/dtype_convert.h"
#include "gearkv/status_macros.h"
#if GEARKV_WITH_CUDA
#include "cuda_codec.h"  // kernels/cuda/
#endif

namespace gearkv {

std::string_view BackendName(Backend backend) {
  switch (backend) {
    case Backend::kAuto:
      return "auto";
    case Backend::kCpu:
      return "cpu";
    case Backend::kCuda:
      return "cuda";
  }
  return "invalid";
}

absl::StatusOr<std::unique_ptr<Codec>> MakeCodec(Backend backend) {
  if (backend == Backend::kCpu) return std::make_unique<internal::CpuCodec>();
#if GEARKV_WITH_CUDA
  auto cuda = internal::MakeCudaCodec();
  if (cuda.ok() || backend == Backend::kCuda) return cuda;
  return std::make_unique<internal::CpuCodec>();
#else
  if (backend == Backend::kCuda) {
    return absl::UnavailableError("gearkv was built without the CUDA backend (GEARKV_CUDA=OFF)");
  }
  return std::make_unique<internal::CpuCodec>();
#endif
}

absl::StatusOr<double> RelativeError(const TensorView& approx, const TensorView& exact) {
  if (approx.shape != exact.shape) {
    return absl::InvalidArgumentError(absl::StrCat("shapes differ: ", approx.shape.DebugString(),
                                                   " vs ", exact.shape.DebugString()));
  }
  if (approx.data == nullptr || exact.data == nullptr) {
    return absl::InvalidArgumentError("tensor data pointer is null");
  }
  GEARKV_RETURN_IF_ERROR(ValidateLayout(approx.layout));
  GEARKV_RETURN_IF_ERROR(ValidateLayout(exact.layout));
  constexpr uint64_t kChunk = 4096;
  std::vector<float> a(kChunk), b(kChunk);
  double diff2 = 0, norm2 = 0;
  // Adds n elements from element a_at of approx and b_at of exact.
  auto add_run = [&](uint64_t a_at, uint64_t b_at, uint64_t n) {
    for (uint64_t i = 0; i < n; i += kChunk) {
      const uint64_t m = std::min(kChunk, n - i);
      internal::LoadAsFloat(
          static_cast<const char*>(approx.data) + (a_at + i) * DTypeSize(approx.dtype),
          approx.dtype, m, a.data());
      internal::LoadAsFloat(
          static_cast<const char*>(exact.data) + (b_at + i) * DTypeSize(exact.dtype), exact.dtype,
          m, b.data());
      for (uint64_t j = 0; j < m; ++j) {
        const double d = double{a[j]} - b[j];
        diff2 += d * d;
        norm2 += double{b[j]} * b[j];
      }
    }
  };
  const TensorShape& s = exact.shape;
  if (approx.layout == exact.layout) {  // the same order: one run
    add_run(0, 0, s.NumElements());
  } else {  // row by row, each head placed in its tensor's layout
    const internal::TensorPlacement pa = internal::PlacementOf(s, approx.layout);
    const internal::TensorPlacement pb = internal::PlacementOf(s, exact.layout);
    for (uint64_t h = 0; h < uint64_t{s.layers} * 2 * s.kv_heads; ++h) {
      const internal::HeadPlacement ha = pa.Head(h), hb = pb.Head(h);
      for (uint32_t t = 0; t < s.tokens; ++t) add_run(ha.At(t, 0), hb.At(t, 0), s.head_dim);
    }
  }
  if (norm2 == 0) return diff2 == 0 ? 0.0 : std::numeric_limits<double>::infinity();
  return std::sqrt(diff2 / norm2);
}

}  // namespace gearkv
