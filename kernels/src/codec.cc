#include "gearkv/codec.h"

#include <cmath>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cpu/cpu_codec.h"
#include "cpu/dtype_convert.h"
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
  constexpr uint64_t kChunk = 4096;
  std::vector<float> a(kChunk), b(kChunk);
  const uint64_t n = exact.shape.NumElements();
  double diff2 = 0, norm2 = 0;
  for (uint64_t i = 0; i < n; i += kChunk) {
    const uint64_t m = std::min(kChunk, n - i);
    internal::LoadAsFloat(static_cast<const char*>(approx.data) + i * DTypeSize(approx.dtype),
                          approx.dtype, m, a.data());
    internal::LoadAsFloat(static_cast<const char*>(exact.data) + i * DTypeSize(exact.dtype),
                          exact.dtype, m, b.data());
    for (uint64_t j = 0; j < m; ++j) {
      const double d = double{a[j]} - b[j];
      diff2 += d * d;
      norm2 += double{b[j]} * b[j];
    }
  }
  if (norm2 == 0) return diff2 == 0 ? 0.0 : std::numeric_limits<double>::infinity();
  return std::sqrt(diff2 / norm2);
}

}  // namespace gearkv
