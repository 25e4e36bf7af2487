// Tests of the CUDA backend against the CPU backend (the reference).
//
// GPU tests (fixture CudaCodecTest) skip with the reason when no CUDA device is usable (fail
// instead when GEARKV_REQUIRE_GPU is set, as bench/gpu/run.sh does). They
// check, for every preset, dtype and a set of odd shapes:
//   - the GPU block equals the CPU block byte for byte except the low-rank factors U and Vt and
//     their scales (header, codes, scales, zeros, outlier offsets and values; float sums run in
//     another order only inside the subspace iteration);
//   - both blocks decode (on the CPU) to reconstructions of the same quality: the GPU's error is
//     within 2% (relative) + 1e-5 of the CPU's, and the two differ by at most 20% of it;
//   - a block decodes to the same values on either backend (up to fp32 rounding of fused
//     multiply-adds), format version 1 blocks (fp16 factors) too;
//   - compression and decompression on the GPU are deterministic, also under concurrent calls.
// Host tests (no device needed) cover the shared helpers: FastDiv16, the outlier prefix counts,
// the workspace layout, and the "no device" fallback of MakeCodec.
#include "cuda_codec.h"

#include <cuda_runtime_api.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "block_format.h"
#include "device_gear.h"
#include "gear_launch.h"
#include "gearkv/codec.h"
#include "gtest/gtest.h"
#include "test_util.h"

namespace gearkv {
namespace {

using internal::Kind;
using testing::OwnedTensor;
using testing::RandomKv;
using testing::ZeroTensor;

constexpr DType kDTypes[] = {DType::kFloat16, DType::kBFloat16, DType::kFloat32};

// ---- host tests -------------------------------------------------------------------------------

TEST(FastDiv16, ExactForEveryNumeratorBelow2To16) {
  std::vector<uint32_t> divisors;
  for (uint32_t d = 1; d <= 300; ++d) divisors.push_back(d);
  for (uint32_t d : {511u, 512u, 1000u, 4095u, 4096u, 12345u, 32767u, 32768u, 65534u, 65535u}) {
    divisors.push_back(d);
  }
  for (uint32_t d : divisors) {
    const auto f = internal::cuda::FastDiv16::Make(d);
    for (uint32_t n = 0; n < 65536; ++n) {
      ASSERT_EQ(f.Div(n), n / d) << "n=" << n << " d=" << d;
    }
  }
}

TEST(OutlierPoolBases, AddUpToTheLayoutsOutlierCount) {
  for (Kind kind : {Kind::kKeys, Kind::kValues}) {
    for (uint32_t tokens : {1u, 7u, 8u, 65u, 256u, 1000u}) {
      for (uint32_t head_dim : {8u, 64u, 136u}) {
        for (double ratio : {0.0, 0.02, 0.1, 0.5}) {
          const internal::HeadLayout l =
              internal::MakeHeadLayout(kind, tokens, head_dim, 4, 64, 4, ratio, 2);
          const std::vector<uint32_t> bases = internal::cuda::OutlierPoolBases(l);
          ASSERT_EQ(bases.size(), l.pools + 1);
          EXPECT_EQ(bases.back(), l.outliers);
          for (uint32_t p = 0; p < l.pools; ++p) {
            const uint32_t k = (bases[p + 1] - bases[p]) / 2;
            EXPECT_EQ(bases[p + 1] - bases[p], 2 * k);
            EXPECT_LE(2 * k, internal::PoolSize(kind, tokens, head_dim, p));
          }
        }
      }
    }
  }
}

TEST(CompressWorkspace, ArraysAreAlignedAndDisjoint) {
  for (uint32_t tokens : {1u, 9u, 256u, 4096u}) {
    for (uint32_t head_dim : {8u, 128u, 256u, 2048u}) {
      for (uint32_t rank : {0u, 1u, 4u, 7u, 64u}) {
        for (bool shared : {false, true}) {
          const auto w = internal::cuda::MakeCompressWorkspace(tokens, head_dim, rank, shared);
          const uint64_t starts[] = {w.x, w.p, w.q, w.part, w.gram, w.cbuf, w.coef, w.bytes};
          const uint64_t sizes[] = {uint64_t{tokens} * w.ld * 4,
                                    rank ? uint64_t{head_dim} * w.r4 * 4 : 0,
                                    rank ? uint64_t{tokens} * w.r4 * 4 : 0,
                                    0,
                                    (uint64_t{rank} * rank + rank) * 8,
                                    uint64_t{rank} * rank * 8,
                                    uint64_t{rank} * rank * 4};
          EXPECT_EQ(w.ld, shared ? head_dim + 1 : head_dim);
          EXPECT_EQ(w.r4 % 4, 0u);
          EXPECT_GE(w.r4, rank);
          EXPECT_EQ(w.bytes % 256, 0u);
          for (int i = 0; i < 7; ++i) {
            EXPECT_EQ(starts[i] % 16, 0u);
            EXPECT_LE(starts[i] + sizes[i], starts[i + 1]) << "array " << i;
          }
          const uint64_t part_floats = (w.gram - w.part) / 4;
          if (w.rp_splits > 1) {
            EXPECT_GE(part_floats, uint64_t{w.rp_splits} * tokens * w.r4);
          }
          if (w.rtq_splits > 1) {
            EXPECT_GE(part_floats, uint64_t{w.rtq_splits} * head_dim * w.r4);
          }
        }
      }
    }
  }
  // The benchmark shape (256 tokens, head_dim 128, rank 4) fits an H100/H200 CTA (227 KiB).
  EXPECT_LE(internal::cuda::MakeCompressWorkspace(256, 128, 4, true).bytes, 232448u);
}

TEST(CudaAvailability, MakeCodecFallsBackToTheCpuWithoutADevice) {
  auto cuda = MakeCodec(Backend::kCuda);
  auto any = MakeCodec(Backend::kAuto);
  ASSERT_TRUE(any.ok()) << any.status();
  if (cuda.ok()) {
    EXPECT_EQ((*cuda)->backend(), Backend::kCuda);
    EXPECT_EQ((*any)->backend(), Backend::kCuda);
  } else {
    std::cout << "kCuda: " << cuda.status() << "\n";
    EXPECT_EQ(cuda.status().code(), absl::StatusCode::kUnavailable);
    EXPECT_NE(cuda.status().message().find("CUDA"), std::string::npos);
    EXPECT_EQ((*any)->backend(), Backend::kCpu);
  }
}

// ---- GPU tests --------------------------------------------------------------------------------

class CudaCodecTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto gpu = MakeCodec(Backend::kCuda);
    if (!gpu.ok()) {
      // bench/gpu/run.sh sets GEARKV_REQUIRE_GPU=1: there a missing device is a failure.
      if (std::getenv("GEARKV_REQUIRE_GPU") != nullptr) FAIL() << gpu.status().message();
      GTEST_SKIP() << gpu.status().message();
    }
    gpu_ = *std::move(gpu);
    cpu_ = *MakeCodec(Backend::kCpu);
  }

  Block CompressOk(const Codec& codec, const OwnedTensor& in, const CodecSpec& spec) {
    auto block = codec.Compress(in.view(), spec);
    EXPECT_TRUE(block.ok()) << BackendName(codec.backend()) << ": " << block.status();
    return block.ok() ? *std::move(block) : Block{};
  }

  OwnedTensor DecompressOk(const Codec& codec, const std::string& block, const TensorShape& shape,
                           DType dtype) {
    OwnedTensor out = ZeroTensor(shape, dtype);
    const absl::Status st = codec.Decompress(block, out.mutable_view());
    EXPECT_TRUE(st.ok()) << BackendName(codec.backend()) << ": " << st;
    return out;
  }

  // The whole cross check of one input and spec (see the file comment).
  void ExpectCrossCompatible(const OwnedTensor& in, const CodecSpec& spec) {
    SCOPED_TRACE(spec.DebugString() + " " + in.shape.DebugString() + " " +
                 std::string(DTypeName(in.dtype)));
    const Block cpu_block = CompressOk(*cpu_, in, spec);
    const Block gpu_block = CompressOk(*gpu_, in, spec);
    if (cpu_block.bytes.empty() || gpu_block.bytes.empty()) return;
    ASSERT_EQ(gpu_block.bytes.size(), cpu_block.bytes.size());
    ExpectSameExceptFactors(cpu_block.bytes, gpu_block.bytes);
    EXPECT_EQ(gpu_block.stats.block_bytes, cpu_block.stats.block_bytes);

    const OwnedTensor cpu_on_cpu = DecompressOk(*cpu_, cpu_block.bytes, in.shape, DType::kFloat32);
    const OwnedTensor gpu_on_cpu = DecompressOk(*cpu_, gpu_block.bytes, in.shape, DType::kFloat32);
    const OwnedTensor cpu_on_gpu = DecompressOk(*gpu_, cpu_block.bytes, in.shape, DType::kFloat32);
    const OwnedTensor gpu_on_gpu = DecompressOk(*gpu_, gpu_block.bytes, in.shape, DType::kFloat32);
    const double e_cpu = *RelativeError(cpu_on_cpu.view(), in.view());
    const double e_gpu = *RelativeError(gpu_on_cpu.view(), in.view());
    if (spec.method == Method::kNone) {
      EXPECT_EQ(gpu_block.bytes, cpu_block.bytes);
      EXPECT_EQ(e_cpu, 0.0);
      EXPECT_EQ(e_gpu, 0.0);
    }
    EXPECT_LE(e_gpu, e_cpu * 1.02 + 1e-5) << "cpu error " << e_cpu;
    const double norm_ratio = e_cpu > 0 ? e_cpu : 1.0;
    EXPECT_LE(*RelativeError(gpu_on_cpu.view(), cpu_on_cpu.view()), 0.2 * norm_ratio + 1e-6);
    EXPECT_LE(*RelativeError(cpu_on_gpu.view(), cpu_on_cpu.view()), 1e-5);
    EXPECT_LE(*RelativeError(gpu_on_gpu.view(), gpu_on_cpu.view()), 1e-5);

    // Into the block's own dtype: outliers must come back bit-exact on both backends.
    const OwnedTensor native_cpu = DecompressOk(*cpu_, gpu_block.bytes, in.shape, in.dtype);
    const OwnedTensor native_gpu = DecompressOk(*gpu_, gpu_block.bytes, in.shape, in.dtype);
    EXPECT_LE(*RelativeError(native_gpu.view(), native_cpu.view()), 1e-3);
  }

  // Every byte of the two blocks agrees except inside the U and Vt arrays of each head.
  static void ExpectSameExceptFactors(const std::string& cpu, const std::string& gpu) {
    auto parsed = internal::ParseBlock(cpu);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    ASSERT_TRUE(internal::ParseBlock(gpu).ok());
    const internal::BlockGeometry& g = parsed->geometry;
    std::vector<bool> factor(cpu.size(), false);
    if (g.info.spec.method == Method::kGear) {
      for (uint32_t layer = 0; layer < g.info.shape.layers; ++layer) {
        for (int k = 0; k < 2; ++k) {
          const internal::HeadLayout& l = g.heads[k];
          for (uint32_t head = 0; head < g.info.shape.kv_heads; ++head) {
            const uint64_t at = g.SectionOffset(layer, static_cast<Kind>(k)) + head * l.head_bytes;
            for (uint64_t i = at + l.u_offset; i < at + l.head_bytes; ++i) factor[i] = true;
          }
        }
      }
    }
    for (uint64_t i = g.checksum_offset; i < cpu.size(); ++i) factor[i] = true;  // checksum
    uint64_t differ = 0, first = 0;
    for (uint64_t i = 0; i < cpu.size(); ++i) {
      if (!factor[i] && cpu[i] != gpu[i] && differ++ == 0) first = i;
    }
    EXPECT_EQ(differ, 0u) << "first differing byte at " << first << " (data starts at "
                          << g.data_offset << ", sections of " << g.section_bytes[0] << " / "
                          << g.section_bytes[1] << " bytes)";
  }

  std::unique_ptr<Codec> gpu_, cpu_;
};

TEST_F(CudaCodecTest, EveryPresetAndDtypeCrossDecodes) {
  const TensorShape shape{2, 2, 200, 64};  // 200 tokens: the last key group is partial
  for (DType dtype : kDTypes) {
    const uint64_t seed = 2000 + static_cast<int>(dtype);
    std::cout << "seed " << seed << "\n";
    const OwnedTensor in = RandomKv(shape, dtype, seed);
    for (std::string_view name : PresetNames()) ExpectCrossCompatible(in, *PresetSpec(name));
  }
}

TEST_F(CudaCodecTest, OddShapesBitWidthsAndGroupSizes) {
  const TensorShape shapes[] = {
      {1, 1, 1, 64},     // one token
      {1, 2, 65, 128},   // one token past a group
      {1, 1, 37, 256},   // partial value pools and groups
      {3, 1, 9, 8},      // head_dim 8
      {1, 2, 256, 128},  // the benchmark's head
      {1, 1, 40, 40},    // head_dim not a multiple of 32
  };
  uint64_t seed = 70;
  for (const TensorShape& shape : shapes) {
    for (uint8_t bits : {2, 3, 4, 8}) {
      for (uint16_t group : {64, 5, 200}) {
        CodecSpec spec = *PresetSpec("gear4");
        spec.bits = bits;
        spec.group_size = group;
        std::cout << "seed " << seed << "\n";
        ExpectCrossCompatible(RandomKv(shape, DType::kFloat32, seed++), spec);
      }
    }
  }
  for (DType dtype : kDTypes) {  // 1 layer, head_dim 64 / 128 / 256, every dtype
    for (uint32_t head_dim : {64u, 128u, 256u}) {
      std::cout << "seed " << seed << "\n";
      ExpectCrossCompatible(RandomKv({1, 4, 100, head_dim}, dtype, seed++), *PresetSpec("gear2"));
    }
  }
}

TEST_F(CudaCodecTest, LargeHeadsAndRanks) {
  // 1024 x 256 does not fit in shared memory: the kernel's global workspace path.
  ExpectCrossCompatible(RandomKv({1, 1, 1024, 256}, DType::kFloat16, 91), *PresetSpec("gear4"));
  // head_dim 2048: more element pairs per row than threads.
  ExpectCrossCompatible(RandomKv({1, 1, 16, 2048}, DType::kFloat16, 92), *PresetSpec("gear4"));
  // Rank 16 on head_dim 1024: Vt does not fit the decompress kernel's shared memory.
  CodecSpec spec = *PresetSpec("gear4");
  spec.rank = 16;
  ExpectCrossCompatible(RandomKv({1, 1, 64, 1024}, DType::kFloat32, 93), spec);
  spec.rank = 7;  // not a multiple of 4
  spec.power_iterations = 1;
  ExpectCrossCompatible(RandomKv({2, 1, 50, 64}, DType::kFloat32, 94), spec);
}

// Pools full of equal values and outlier ratios whose k exceeds the per-lane lists: the tie
// rule (larger value first, lower offset among equals) and the bisection path, checked through
// the outlier arrays being byte-equal to the CPU's.
TEST_F(CudaCodecTest, TiesAndLargeOutlierRatios) {
  OwnedTensor ties = RandomKv({1, 2, 96, 64}, DType::kFloat32, 95);
  auto* f = reinterpret_cast<float*>(ties.bytes.data());
  // -3..3, no -0 (whose sign the CPU's vectorised group minimum may pick differently).
  for (uint64_t i = 0; i < ties.shape.NumElements(); ++i) f[i] = std::round(f[i]) + 0.0f;
  OwnedTensor constant = ZeroTensor({1, 1, 64, 32}, DType::kFloat16);
  OwnedTensor negative_zero = ZeroTensor({1, 1, 16, 16}, DType::kFloat32);
  for (uint64_t i = 0; i < negative_zero.shape.NumElements(); i += 3) {
    reinterpret_cast<float*>(negative_zero.bytes.data())[i] = -0.0f;
  }
  for (float ratio : {0.02f, 0.1f, 0.3f, 0.5f}) {
    CodecSpec spec = *PresetSpec("gear2");
    spec.outlier_ratio = ratio;
    ExpectCrossCompatible(ties, spec);
    ExpectCrossCompatible(RandomKv({1, 1, 300, 64}, DType::kBFloat16, 96), spec);
    // Zero tensors: equal everywhere, and a zero residual for the low-rank part.
    const Block block = CompressOk(*gpu_, constant, spec);
    EXPECT_EQ(DecompressOk(*cpu_, block.bytes, constant.shape, DType::kFloat16).bytes,
              constant.bytes);
    // -0 and +0 compare equal: the same selection, the same (zero) reconstruction.
    const OwnedTensor a = DecompressOk(*cpu_, CompressOk(*gpu_, negative_zero, spec).bytes,
                                       negative_zero.shape, DType::kFloat32);
    const OwnedTensor b = DecompressOk(*cpu_, CompressOk(*cpu_, negative_zero, spec).bytes,
                                       negative_zero.shape, DType::kFloat32);
    EXPECT_EQ(*RelativeError(a.view(), b.view()), 0.0);
  }
}

TEST_F(CudaCodecTest, OutliersAreKeptExactly) {
  OwnedTensor in = RandomKv({1, 1, 64, 64}, DType::kFloat16, 5);
  auto* h = reinterpret_cast<uint16_t*>(in.bytes.data());
  h[10 * 64 + 7] = 0x64d2;            // 1234.0
  h[64 * 64 + 20 * 64 + 9] = 0xe212;  // -777.0
  const Block block = CompressOk(*gpu_, in, *PresetSpec("gear2"));
  for (Codec* codec : {gpu_.get(), cpu_.get()}) {
    const OwnedTensor out = DecompressOk(*codec, block.bytes, in.shape, DType::kFloat16);
    const auto* o = reinterpret_cast<const uint16_t*>(out.bytes.data());
    EXPECT_EQ(o[10 * 64 + 7], h[10 * 64 + 7]);
    EXPECT_EQ(o[64 * 64 + 20 * 64 + 9], h[64 * 64 + 20 * 64 + 9]);
  }
}

TEST_F(CudaCodecTest, DeterministicAlsoUnderConcurrentCalls) {
  const OwnedTensor in = RandomKv({2, 4, 130, 64}, DType::kFloat16, 21);
  for (std::string_view name : {"gear4", "gear2", "kivi4", "none"}) {
    const CodecSpec spec = *PresetSpec(name);
    const Block first = CompressOk(*gpu_, in, spec);
    const OwnedTensor decoded = DecompressOk(*gpu_, first.bytes, in.shape, DType::kFloat16);
    std::vector<std::string> blocks(4), outputs(4);
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i) {
      threads.emplace_back([&, i] {
        auto b = gpu_->Compress(in.view(), spec);
        if (!b.ok()) return;
        blocks[i] = b->bytes;
        OwnedTensor out = ZeroTensor(in.shape, DType::kFloat16);
        if (gpu_->Decompress(b->bytes, out.mutable_view()).ok()) outputs[i] = out.bytes;
      });
    }
    for (std::thread& t : threads) t.join();
    for (int i = 0; i < 4; ++i) {
      EXPECT_EQ(blocks[i], first.bytes) << name << " thread " << i;
      EXPECT_EQ(outputs[i], decoded.bytes) << name << " thread " << i;
    }
  }
}

TEST_F(CudaCodecTest, RejectsBadInputLikeTheCpu) {
  OwnedTensor in = RandomKv({2, 3, 16, 16}, DType::kFloat32, 1);
  const CodecSpec gear4 = *PresetSpec("gear4");
  reinterpret_cast<float*>(in.bytes.data())[4 * 256 + 5] = NAN;  // layer 0, V, head 1
  auto gpu = gpu_->Compress(in.view(), gear4);
  auto cpu = cpu_->Compress(in.view(), gear4);
  EXPECT_EQ(gpu.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(gpu.status(), cpu.status());
  reinterpret_cast<float*>(in.bytes.data())[4 * 256 + 5] = 1e6f;  // beyond fp16
  EXPECT_EQ(gpu_->Compress(in.view(), gear4).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(gpu_->Compress(in.view(), *PresetSpec("none")).ok());
  TensorView null_data = in.view();
  null_data.data = nullptr;
  EXPECT_EQ(gpu_->Compress(null_data, gear4).status().code(), absl::StatusCode::kInvalidArgument);
  // The codec still works after an error.
  ExpectCrossCompatible(RandomKv({1, 1, 16, 16}, DType::kFloat32, 2), gear4);
}

// Blocks of format version 1 (fp16 low-rank factors, kernels/testdata/v1/) decode on the GPU as
// on the CPU, into every dtype.
TEST_F(CudaCodecTest, DecodesVersionOneBlocksLikeTheCpu) {
  for (const char* path :
       {"kernels/testdata/v1/gear4_f16.gkvb", "kernels/testdata/v1/b3_g32_r3_f32.gkvb"}) {
    std::ifstream file(path, std::ios::binary);
    ASSERT_TRUE(file) << path << " (run from the repository root)";
    const std::string block((std::istreambuf_iterator<char>(file)),
                            std::istreambuf_iterator<char>());
    auto info = InspectBlock(block);
    ASSERT_TRUE(info.ok()) << path << ": " << info.status();
    ASSERT_EQ(info->format_version, 1);
    for (DType dtype : kDTypes) {
      const OwnedTensor cpu = DecompressOk(*cpu_, block, info->shape, dtype);
      const OwnedTensor gpu = DecompressOk(*gpu_, block, info->shape, dtype);
      EXPECT_LE(*RelativeError(gpu.view(), cpu.view()), dtype == DType::kFloat32 ? 1e-5 : 1e-3)
          << path << " " << DTypeName(dtype);
    }
  }
}

TEST_F(CudaCodecTest, RejectsAForgedOutlierOffset) {
  const OwnedTensor in = RandomKv({1, 1, 64, 64}, DType::kFloat16, 12);
  Block block = CompressOk(*gpu_, in, *PresetSpec("gear4"));
  auto parsed = internal::ParseBlock(block.bytes);
  ASSERT_TRUE(parsed.ok());
  const internal::BlockGeometry g = parsed->geometry;
  const internal::HeadLayout& l = g.heads[0];
  ASSERT_GT(l.outliers, 0u);
  char* offsets = block.bytes.data() + g.SectionOffset(0, Kind::kKeys) + l.outlier_offsets_offset;
  const uint16_t forged = 0xffff;
  std::memcpy(offsets, &forged, 2);
  internal::WriteChecksum(g, block.bytes.data());
  OwnedTensor out = ZeroTensor(in.shape, DType::kFloat16);
  const absl::Status st = gpu_->Decompress(block.bytes, out.mutable_view());
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
  EXPECT_EQ(cpu_->Decompress(block.bytes, out.mutable_view()).code(),
            absl::StatusCode::kInvalidArgument);
  block.bytes[g.data_offset] ^= 1;  // checksum mismatch
  EXPECT_EQ(gpu_->Decompress(block.bytes, out.mutable_view()).code(), absl::StatusCode::kDataLoss);
}

TEST_F(CudaCodecTest, DeviceMemoryInAndOut) {
  const OwnedTensor in = RandomKv({2, 2, 64, 128}, DType::kBFloat16, 31);
  void* d_in = nullptr;
  void* d_out = nullptr;
  ASSERT_EQ(cudaMalloc(&d_in, in.bytes.size()), cudaSuccess);
  ASSERT_EQ(cudaMalloc(&d_out, in.shape.NumElements() * 4), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(d_in, in.bytes.data(), in.bytes.size(), cudaMemcpyHostToDevice),
            cudaSuccess);
  for (std::string_view name : {"gear4", "none"}) {
    const CodecSpec spec = *PresetSpec(name);
    const Block from_host = CompressOk(*gpu_, in, spec);
    auto from_device = gpu_->Compress({in.shape, in.dtype, d_in}, spec, {.measure_error = true});
    ASSERT_TRUE(from_device.ok()) << from_device.status();
    EXPECT_EQ(from_device->bytes, from_host.bytes) << name;
    ASSERT_TRUE(from_device->stats.relative_error.has_value());
    ASSERT_TRUE(gpu_->Decompress(from_host.bytes, {in.shape, DType::kFloat32, d_out}).ok());
    OwnedTensor out = ZeroTensor(in.shape, DType::kFloat32);
    ASSERT_EQ(cudaMemcpy(out.bytes.data(), d_out, out.bytes.size(), cudaMemcpyDeviceToHost),
              cudaSuccess);
    EXPECT_EQ(out.bytes, DecompressOk(*gpu_, from_host.bytes, in.shape, DType::kFloat32).bytes);
    EXPECT_DOUBLE_EQ(*from_device->stats.relative_error, *RelativeError(out.view(), in.view()));
  }
  cudaFree(d_in);
  cudaFree(d_out);
}

TEST_F(CudaCodecTest, ReportsStatsAndMeasuredError) {
  const OwnedTensor in = RandomKv({2, 2, 128, 128}, DType::kFloat16, 8);
  auto block = gpu_->Compress(in.view(), *PresetSpec("gear4"), {.measure_error = true});
  ASSERT_TRUE(block.ok()) << block.status();
  const CompressStats& st = block->stats;
  EXPECT_EQ(st.raw_bytes, in.bytes.size());
  EXPECT_EQ(st.block_bytes, block->bytes.size());
  ASSERT_TRUE(st.relative_error.has_value());
  const OwnedTensor out = DecompressOk(*cpu_, block->bytes, in.shape, DType::kFloat32);
  EXPECT_NEAR(*st.relative_error, *RelativeError(out.view(), in.view()), 1e-6);
  EXPECT_LT(*st.relative_error, 0.12);
}

}  // namespace
}  // namespace gearkv
