// Layouts on the CUDA backend (GPU tests; they skip without a usable device, fail instead when
// GEARKV_REQUIRE_GPU is set, as bench/gpu/run.sh does). For every preset, dtype and a set of odd
// shapes, from host and from device memory:
//   - a tensor compressed from any layout gives the GPU block of the same tensor in canonical
//     order, byte for byte (the kernels read each head at its row stride);
//   - a block decompresses into any layout, in its dtype and in fp32, to the GPU's canonical
//     decode rearranged (test_util.h's Relayout), and the CPU's decode of the same block into that
//     layout agrees with it (to fp32 rounding of fused multiply-adds);
//   - a layout outside the enum is INVALID_ARGUMENT.
#include <cuda_runtime_api.h>

#include <cstdlib>
#include <string>

#include "gearkv/codec.h"
#include "gtest/gtest.h"
#include "test_util.h"

namespace gearkv {
namespace {

using testing::OwnedTensor;
using testing::RandomKv;
using testing::Relayout;
using testing::ZeroTensor;

constexpr DType kDTypes[] = {DType::kFloat16, DType::kBFloat16, DType::kFloat32};
constexpr Layout kLayouts[] = {Layout::kCanonical, Layout::kKv2LTD, Layout::kPageFirst};

class CudaLayoutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto gpu = MakeCodec(Backend::kCuda);
    if (!gpu.ok()) {
      if (std::getenv("GEARKV_REQUIRE_GPU") != nullptr) FAIL() << gpu.status().message();
      GTEST_SKIP() << gpu.status().message();
    }
    gpu_ = *std::move(gpu);
    cpu_ = *MakeCodec(Backend::kCpu);
  }

  static std::string DecodeInto(const Codec& codec, const std::string& block,
                                const TensorShape& shape, DType dtype, Layout layout) {
    OwnedTensor out = ZeroTensor(shape, dtype);
    const absl::Status st =
        codec.Decompress(block, MutableTensorView{shape, dtype, out.bytes.data(), layout});
    EXPECT_TRUE(st.ok()) << BackendName(codec.backend()) << " " << LayoutName(layout) << ": " << st;
    return out.bytes;
  }

  void ExpectLayoutsAgree(const OwnedTensor& in) {
    for (std::string_view preset : PresetNames()) {
      const CodecSpec spec = *PresetSpec(preset);
      SCOPED_TRACE(std::string(preset) + " " + in.shape.DebugString() + " " +
                   std::string(DTypeName(in.dtype)));
      auto canonical = gpu_->Compress(in.view(), spec);
      ASSERT_TRUE(canonical.ok()) << canonical.status();
      const std::string& block = canonical->bytes;
      for (Layout layout : kLayouts) {
        const std::string laid_out =
            Relayout(in.shape, in.dtype, in.bytes, Layout::kCanonical, layout);
        auto put = gpu_->Compress({in.shape, in.dtype, laid_out.data(), layout}, spec);
        ASSERT_TRUE(put.ok()) << LayoutName(layout) << ": " << put.status();
        EXPECT_TRUE(put->bytes == block) << LayoutName(layout) << ": the block depends on it";
      }
      for (DType out_dtype : {in.dtype, DType::kFloat32}) {
        const std::string reference =
            DecodeInto(*gpu_, block, in.shape, out_dtype, Layout::kCanonical);
        for (Layout layout : {Layout::kKv2LTD, Layout::kPageFirst}) {
          SCOPED_TRACE(std::string(LayoutName(layout)) + " into " +
                       std::string(DTypeName(out_dtype)));
          const std::string expected =
              Relayout(in.shape, out_dtype, reference, Layout::kCanonical, layout);
          const std::string got = DecodeInto(*gpu_, block, in.shape, out_dtype, layout);
          EXPECT_TRUE(got == expected);
          const std::string on_cpu = DecodeInto(*cpu_, block, in.shape, out_dtype, layout);
          const TensorView a{in.shape, out_dtype, on_cpu.data(), layout};
          const TensorView b{in.shape, out_dtype, got.data(), layout};
          EXPECT_LE(*RelativeError(a, b), 1e-3);
        }
      }
    }
  }

  std::unique_ptr<Codec> gpu_, cpu_;
};

TEST_F(CudaLayoutTest, EveryPresetAndDtypeMatchesTheCanonicalPath) {
  for (DType dtype : kDTypes) {
    ExpectLayoutsAgree(RandomKv({3, 2, 200, 64}, dtype, 800 + static_cast<int>(dtype)));
  }
}

TEST_F(CudaLayoutTest, OddShapes) {
  for (const TensorShape& shape : {TensorShape{1, 1, 100, 8}, TensorShape{1, 3, 65, 8},
                                   TensorShape{2, 1, 17, 16}, TensorShape{4, 5, 9, 24}}) {
    for (DType dtype : kDTypes) ExpectLayoutsAgree(RandomKv(shape, dtype, 41 + shape.tokens));
  }
}

TEST_F(CudaLayoutTest, DeviceMemoryInAndOut) {
  const OwnedTensor in = RandomKv({2, 4, 64, 128}, DType::kFloat16, 77);
  const uint64_t bytes = in.bytes.size();
  void* d_in = nullptr;
  void* d_out = nullptr;
  ASSERT_EQ(cudaMalloc(&d_in, bytes), cudaSuccess);
  ASSERT_EQ(cudaMalloc(&d_out, bytes), cudaSuccess);
  for (std::string_view preset : {"gear4", "none"}) {
    const Block canonical = *gpu_->Compress(in.view(), *PresetSpec(preset));
    for (Layout layout : kLayouts) {
      SCOPED_TRACE(std::string(preset) + " " + std::string(LayoutName(layout)));
      const std::string laid_out =
          Relayout(in.shape, in.dtype, in.bytes, Layout::kCanonical, layout);
      ASSERT_EQ(cudaMemcpy(d_in, laid_out.data(), bytes, cudaMemcpyHostToDevice), cudaSuccess);
      auto put = gpu_->Compress({in.shape, in.dtype, d_in, layout}, *PresetSpec(preset));
      ASSERT_TRUE(put.ok()) << put.status();
      EXPECT_TRUE(put->bytes == canonical.bytes);
      ASSERT_TRUE(gpu_->Decompress(canonical.bytes, {in.shape, in.dtype, d_out, layout}).ok());
      std::string got(bytes, '\0');
      ASSERT_EQ(cudaMemcpy(got.data(), d_out, bytes, cudaMemcpyDeviceToHost), cudaSuccess);
      EXPECT_TRUE(got == DecodeInto(*gpu_, canonical.bytes, in.shape, in.dtype, layout));
    }
  }
  cudaFree(d_in);
  cudaFree(d_out);
}

TEST_F(CudaLayoutTest, AValueOutsideTheEnumIsRefused) {
  const OwnedTensor in = RandomKv({1, 1, 16, 8}, DType::kFloat16, 3);
  const auto bad = static_cast<Layout>(3);
  for (std::string_view preset : {"none", "gear4"}) {
    auto st = gpu_->Compress({in.shape, in.dtype, in.bytes.data(), bad}, *PresetSpec(preset));
    EXPECT_EQ(st.status().code(), absl::StatusCode::kInvalidArgument) << st.status();
    const Block block = *gpu_->Compress(in.view(), *PresetSpec(preset));
    OwnedTensor out = ZeroTensor(in.shape, in.dtype);
    EXPECT_EQ(gpu_->Decompress(block.bytes, {in.shape, in.dtype, out.bytes.data(), bad}).code(),
              absl::StatusCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace gearkv
