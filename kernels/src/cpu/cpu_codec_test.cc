// Round trips of the CPU backend against the float64 reference (reference_gear.h).
//
// Tolerance: for every lossy case the codec's relative error is within 2% (relative) of the
// reference's plus 1e-5, and the two reconstructions differ by at most 20% of the reference's
// error (they differ only where float32 rounding flips a quantization code or moves the
// low-rank factors).
#include <cmath>
#include <string>

#include "cpu/cpu_features.h"
#include "gearkv/codec.h"
#include "gearkv/tensor_file.h"
#include "gtest/gtest.h"
#include "reference_gear.h"
#include "test_util.h"

namespace gearkv {
namespace {

using testing::OwnedTensor;
using testing::RandomKv;
using testing::ZeroTensor;

constexpr DType kDTypes[] = {DType::kFloat16, DType::kBFloat16, DType::kFloat32};

std::unique_ptr<Codec> Cpu() { return *MakeCodec(Backend::kCpu); }

// Relative errors of the codec and of the reference, and between the two reconstructions.
struct Errors {
  double codec, reference, codec_vs_reference;
};

Errors CompareWithReference(const OwnedTensor& in, const CodecSpec& spec) {
  auto block = Cpu()->Compress(in.view(), spec);
  EXPECT_TRUE(block.ok()) << block.status();
  if (!block.ok()) return {};
  OwnedTensor out = ZeroTensor(in.shape, DType::kFloat32);
  EXPECT_TRUE(Cpu()->Decompress(block->bytes, out.mutable_view()).ok());
  const std::vector<double> x = testing::AsDoubles(in.view());
  const std::vector<double> y = testing::AsDoubles(out.view());
  const TensorShape& s = in.shape;
  const uint64_t head = uint64_t{s.tokens} * s.head_dim;
  double e_codec = 0, e_ref = 0, e_between = 0, norm = 0;
  for (uint64_t h = 0; h < uint64_t{s.layers} * 2 * s.kv_heads; ++h) {
    const std::vector<double> xh(x.begin() + h * head, x.begin() + (h + 1) * head);
    const auto kind = static_cast<internal::Kind>((h / s.kv_heads) % 2);
    const std::vector<double> ref =
        internal::ReferenceGearHead(xh, kind, s.tokens, s.head_dim, spec, h);
    for (uint64_t i = 0; i < head; ++i) {
      const double yi = y[h * head + i];
      e_codec += (yi - xh[i]) * (yi - xh[i]);
      e_ref += (ref[i] - xh[i]) * (ref[i] - xh[i]);
      e_between += (yi - ref[i]) * (yi - ref[i]);
      norm += xh[i] * xh[i];
    }
  }
  return {std::sqrt(e_codec / norm), std::sqrt(e_ref / norm), std::sqrt(e_between / norm)};
}

void ExpectCloseToReference(const OwnedTensor& in, const CodecSpec& spec, double max_error) {
  const Errors e = CompareWithReference(in, spec);
  SCOPED_TRACE(spec.DebugString() + " " + in.shape.DebugString() + " " +
               std::string(DTypeName(in.dtype)));
  EXPECT_LE(e.codec, e.reference * 1.02 + 1e-5) << "reference " << e.reference;
  EXPECT_LE(e.codec_vs_reference, 0.2 * e.reference + 1e-6);
  EXPECT_LE(e.codec, max_error);
  EXPECT_GT(e.codec, 0.0);  // lossy: a zero error would mean nothing was compressed
}

// Upper bounds on Gaussian data, far above the expected errors and far below a broken codec's.
double MaxErrorFor(const CodecSpec& spec) {
  switch (spec.bits) {
    case 2:
      return 0.5;
    case 3:
      return 0.25;
    case 4:
      return 0.12;
    default:
      return 0.01;
  }
}

TEST(CpuCodec, EveryPresetAndDtypeMatchesTheReference) {
  const TensorShape shape{2, 2, 200, 64};  // 200 tokens: the last key group is partial
  for (DType dtype : kDTypes) {
    const uint64_t seed = 1000 + static_cast<int>(dtype);
    std::cout << "seed " << seed << "\n";
    const OwnedTensor in = RandomKv(shape, dtype, seed);
    for (std::string_view name : PresetNames()) {
      if (name == "none") continue;
      const CodecSpec spec = *PresetSpec(name);
      ExpectCloseToReference(in, spec, MaxErrorFor(spec));
    }
  }
}

TEST(CpuCodec, OddShapesAndBitWidths) {
  const TensorShape shapes[] = {
      {1, 1, 1, 64},    // one token: every key group holds one value
      {1, 2, 65, 128},  // one token past a group
      {1, 1, 37, 256},  // values pools and groups partial
      {3, 1, 9, 8},     // head_dim 8: one value group narrower than G
  };
  uint64_t seed = 7;
  for (const TensorShape& shape : shapes) {
    for (uint8_t bits : {2, 3, 4, 8}) {
      CodecSpec spec = *PresetSpec("gear4");
      spec.bits = bits;
      std::cout << "seed " << seed << "\n";
      const OwnedTensor in = RandomKv(shape, DType::kFloat32, seed++);
      ExpectCloseToReference(in, spec, MaxErrorFor(spec) * (shape.tokens == 1 ? 0.1 : 1.0));
    }
  }
}

TEST(CpuCodec, AnyGroupSize) {
  uint64_t seed = 300;
  for (uint16_t group_size : {2, 5, 8, 24, 100}) {
    CodecSpec spec = *PresetSpec("gear4");
    spec.group_size = group_size;
    std::cout << "seed " << seed << "\n";
    const OwnedTensor in = RandomKv({1, 2, 40, 32}, DType::kFloat16, seed++);
    ExpectCloseToReference(in, spec, MaxErrorFor(spec));
  }
}

// With no more tokens than the rank, the low-rank part spans every residual row: the result is
// exact up to the int8 rounding of the factors (per-vector scales: about 0.5% of the 2-bit
// residual, itself about half of the block, so 0.2-0.3% of the block). (A dependent direction
// must be dropped, not normalised from rounding noise: that once doubled the correction on some
// data, an error of the residual's size.)
TEST(CpuCodec, LowRankIsExactWhenTheRankCoversTheTokens) {
  for (uint32_t tokens : {1u, 2u, 3u, 4u}) {
    for (uint64_t seed = 0; seed < 40; ++seed) {
      const OwnedTensor in = RandomKv({1, 2, tokens, 64}, DType::kFloat32, seed);
      auto block = Cpu()->Compress(in.view(), *PresetSpec("gearl2"), {.measure_error = true});
      ASSERT_TRUE(block.ok());
      EXPECT_LT(*block->stats.relative_error, 5e-3) << "tokens " << tokens << " seed " << seed;
    }
  }
}

TEST(CpuCodec, NoneIsExactInEveryDtype) {
  for (DType dtype : kDTypes) {
    const OwnedTensor in = RandomKv({2, 3, 17, 16}, dtype, 11);
    auto block = Cpu()->Compress(in.view(), *PresetSpec("none"));
    ASSERT_TRUE(block.ok()) << block.status();
    OwnedTensor out = ZeroTensor(in.shape, dtype);
    ASSERT_TRUE(Cpu()->Decompress(block->bytes, out.mutable_view()).ok());
    EXPECT_EQ(out.bytes, in.bytes);
  }
}

TEST(CpuCodec, SameInputSameBytesAtAnyThreadCount) {
  const OwnedTensor in = RandomKv({2, 4, 130, 64}, DType::kFloat16, 21);
  for (std::string_view name : {"gear4", "gear2", "kivi4", "none"}) {
    const CodecSpec spec = *PresetSpec(name);
    auto a = Cpu()->Compress(in.view(), spec, {.threads = 1});
    auto b = Cpu()->Compress(in.view(), spec, {.threads = 3});
    auto c = Cpu()->Compress(in.view(), spec, {.threads = 1});
    ASSERT_TRUE(a.ok() && b.ok() && c.ok());
    EXPECT_EQ(a->bytes, b->bytes) << name;
    EXPECT_EQ(a->bytes, c->bytes) << name;
  }
}

// The AVX-512 kernels (cpu_features.h) must give the bits of the x86-64-v3 ones: the same
// blocks from Compress and the same tensors from Decompress, for every bit width, rank, group
// size, output dtype and head width (including widths the sixteen-lane code leaves to the
// eight-lane code).
TEST(CpuCodec, Avx512AndX86V3KernelsGiveTheSameBits) {
  if (!internal::UseAvx512()) {
    GTEST_SKIP() << "this CPU (or this build) has no AVX-512 kernels: nothing to compare";
  }
  struct Case {
    const char* preset;
    uint8_t bits;
    uint16_t rank, group_size;
    TensorShape shape;
  };
  const Case cases[] = {
      {"gear4", 4, 4, 64, {2, 2, 130, 64}}, {"gear2", 2, 4, 64, {1, 2, 65, 128}},
      {"kivi4", 4, 0, 64, {1, 1, 37, 256}}, {"kivi2", 2, 0, 64, {2, 1, 64, 128}},
      {"gear4", 3, 4, 64, {1, 2, 33, 128}}, {"gear4", 8, 4, 64, {1, 1, 40, 64}},
      {"gear4", 4, 3, 64, {1, 1, 50, 96}},  {"gear2", 2, 6, 64, {1, 1, 70, 160}},
      {"gear4", 4, 4, 8, {1, 2, 40, 32}},   {"gear4", 4, 4, 24, {1, 1, 41, 48}},
      {"gearl4", 4, 4, 64, {1, 1, 20, 40}}, {"gear4", 4, 4, 64, {1, 1, 1, 16}},
      {"gear4", 4, 5, 64, {1, 1, 43, 56}},
  };
  uint64_t seed = 900;
  for (const Case& c : cases) {
    CodecSpec spec = *PresetSpec(c.preset);
    spec.bits = c.bits;
    spec.rank = c.rank;
    spec.group_size = c.group_size;
    const OwnedTensor in = RandomKv(c.shape, DType::kFloat32, seed++);
    internal::SetAvx512ForTesting(false);
    auto v3 = Cpu()->Compress(in.view(), spec);
    internal::SetAvx512ForTesting(true);
    auto v4 = Cpu()->Compress(in.view(), spec);
    ASSERT_TRUE(v3.ok() && v4.ok());
    EXPECT_TRUE(v3->bytes == v4->bytes) << c.preset << " seed " << seed - 1;  // (no byte dump)
    for (DType dtype : kDTypes) {
      OwnedTensor out_v3 = ZeroTensor(in.shape, dtype), out_v4 = ZeroTensor(in.shape, dtype);
      internal::SetAvx512ForTesting(false);
      ASSERT_TRUE(Cpu()->Decompress(v4->bytes, out_v3.mutable_view()).ok());
      internal::SetAvx512ForTesting(true);
      ASSERT_TRUE(Cpu()->Decompress(v4->bytes, out_v4.mutable_view()).ok());
      EXPECT_TRUE(out_v3.bytes == out_v4.bytes)
          << c.preset << " seed " << seed - 1 << " dtype " << DTypeName(dtype);
    }
  }
}

TEST(CpuCodec, OutliersAreKeptExactly) {
  OwnedTensor in = RandomKv({1, 1, 64, 64}, DType::kFloat16, 5);
  // Plant one huge value per matrix; it must come back bit-exact.
  auto* h = reinterpret_cast<uint16_t*>(in.bytes.data());
  h[10 * 64 + 7] = internal::FloatToHalf(1234.0f);
  h[64 * 64 + 20 * 64 + 9] = internal::FloatToHalf(-777.5f);
  auto block = Cpu()->Compress(in.view(), *PresetSpec("gear2"));
  ASSERT_TRUE(block.ok());
  OwnedTensor out = ZeroTensor(in.shape, DType::kFloat16);
  ASSERT_TRUE(Cpu()->Decompress(block->bytes, out.mutable_view()).ok());
  const auto* o = reinterpret_cast<const uint16_t*>(out.bytes.data());
  EXPECT_EQ(o[10 * 64 + 7], h[10 * 64 + 7]);
  EXPECT_EQ(o[64 * 64 + 20 * 64 + 9], h[64 * 64 + 20 * 64 + 9]);
}

TEST(CpuCodec, DecompressesIntoAnyDtype) {
  const OwnedTensor in = RandomKv({1, 2, 64, 64}, DType::kBFloat16, 3);
  auto block = Cpu()->Compress(in.view(), *PresetSpec("gear4"));
  ASSERT_TRUE(block.ok());
  OwnedTensor f32 = ZeroTensor(in.shape, DType::kFloat32);
  OwnedTensor f16 = ZeroTensor(in.shape, DType::kFloat16);
  ASSERT_TRUE(Cpu()->Decompress(block->bytes, f32.mutable_view()).ok());
  ASSERT_TRUE(Cpu()->Decompress(block->bytes, f16.mutable_view()).ok());
  EXPECT_LT(*RelativeError(f16.view(), f32.view()), 1e-3);
  EXPECT_LT(*RelativeError(f32.view(), in.view()), 0.12);
}

TEST(CpuCodec, ReportsStatsAndMeasuredError) {
  const OwnedTensor in = RandomKv({2, 2, 128, 128}, DType::kFloat16, 8);
  auto block = Cpu()->Compress(in.view(), *PresetSpec("gear4"), {.measure_error = true});
  ASSERT_TRUE(block.ok());
  const CompressStats& st = block->stats;
  EXPECT_EQ(st.raw_bytes, in.bytes.size());
  EXPECT_EQ(st.block_bytes, block->bytes.size());
  EXPECT_DOUBLE_EQ(st.bits_per_element, 8.0 * block->bytes.size() / in.shape.NumElements());
  ASSERT_TRUE(st.relative_error.has_value());
  OwnedTensor out = ZeroTensor(in.shape, DType::kFloat32);
  ASSERT_TRUE(Cpu()->Decompress(block->bytes, out.mutable_view()).ok());
  EXPECT_DOUBLE_EQ(*st.relative_error, *RelativeError(out.view(), in.view()));
}

TEST(CpuCodec, RejectsBadInput) {
  OwnedTensor in = RandomKv({1, 1, 16, 16}, DType::kFloat32, 1);
  const CodecSpec gear4 = *PresetSpec("gear4");
  reinterpret_cast<float*>(in.bytes.data())[5] = NAN;
  auto nan = Cpu()->Compress(in.view(), gear4);
  EXPECT_EQ(nan.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(nan.status().message().find("NaN"), std::string::npos) << nan.status();
  EXPECT_TRUE(Cpu()->Compress(in.view(), *PresetSpec("none")).ok());  // stored as sent

  reinterpret_cast<float*>(in.bytes.data())[5] = 1e6f;  // beyond fp16's range
  EXPECT_EQ(Cpu()->Compress(in.view(), gear4).status().code(), absl::StatusCode::kInvalidArgument);
  reinterpret_cast<float*>(in.bytes.data())[5] = 0.5f;
  ASSERT_TRUE(Cpu()->Compress(in.view(), gear4).ok());
  // Anywhere in the tensor, either sign, every lossy preset (kivi too).
  const size_t last = in.shape.NumElements() - 1;
  for (const size_t at : {size_t{0}, size_t{300}, last}) {
    for (const float bad : {-1e6f, INFINITY, -INFINITY, NAN}) {
      OwnedTensor t = in;
      reinterpret_cast<float*>(t.bytes.data())[at] = bad;
      for (const char* preset : {"gear4", "kivi2"}) {
        EXPECT_EQ(Cpu()->Compress(t.view(), *PresetSpec(preset)).status().code(),
                  absl::StatusCode::kInvalidArgument)
            << preset << " " << at << " " << bad;
      }
    }
  }

  // fp16 input is checked on its bits: inf and NaN have an all-ones exponent.
  const OwnedTensor half = RandomKv({1, 1, 16, 16}, DType::kFloat16, 2);
  ASSERT_TRUE(Cpu()->Compress(half.view(), gear4).ok());
  for (const size_t at : {size_t{0}, size_t{300}, half.shape.NumElements() - 1}) {
    for (const uint16_t bits : {uint16_t{0x7c00}, uint16_t{0xfc00}, uint16_t{0x7e01}}) {
      OwnedTensor t = half;
      reinterpret_cast<uint16_t*>(t.bytes.data())[at] = bits;
      EXPECT_EQ(Cpu()->Compress(t.view(), gear4).status().code(),
                absl::StatusCode::kInvalidArgument)
          << at << " " << bits;
    }
  }

  TensorView bad_shape = in.view();
  bad_shape.shape.head_dim = 12;
  EXPECT_EQ(Cpu()->Compress(bad_shape, gear4).status().code(), absl::StatusCode::kInvalidArgument);
  TensorView null_data = in.view();
  null_data.data = nullptr;
  EXPECT_EQ(Cpu()->Compress(null_data, gear4).status().code(), absl::StatusCode::kInvalidArgument);
  CodecSpec bad_bits = gear4;
  bad_bits.bits = 5;
  EXPECT_EQ(Cpu()
                ->Compress(RandomKv({1, 1, 16, 16}, DType::kFloat32, 1).view(), bad_bits)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(CpuCodec, DecompressChecksTheOutput) {
  const OwnedTensor in = RandomKv({1, 1, 16, 16}, DType::kFloat16, 2);
  auto block = Cpu()->Compress(in.view(), *PresetSpec("kivi4"));
  ASSERT_TRUE(block.ok());
  OwnedTensor wrong = ZeroTensor({1, 1, 17, 16}, DType::kFloat16);
  EXPECT_EQ(Cpu()->Decompress(block->bytes, wrong.mutable_view()).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(CpuCodec, LayerSliceDecompressesToThoseLayers) {
  const OwnedTensor in = RandomKv({4, 2, 32, 64}, DType::kFloat16, 9);
  for (std::string_view name : {"gear4", "none"}) {
    auto block = Cpu()->Compress(in.view(), *PresetSpec(name));
    ASSERT_TRUE(block.ok());
    OwnedTensor all = ZeroTensor(in.shape, DType::kFloat16);
    ASSERT_TRUE(Cpu()->Decompress(block->bytes, all.mutable_view()).ok());
    auto slice = SliceBlockLayers(block->bytes, 1, 3);
    ASSERT_TRUE(slice.ok()) << slice.status();
    OwnedTensor part = ZeroTensor({2, 2, 32, 64}, DType::kFloat16);
    ASSERT_TRUE(Cpu()->Decompress(*slice, part.mutable_view()).ok());
    const uint64_t layer_bytes = all.bytes.size() / 4;
    EXPECT_EQ(part.bytes, all.bytes.substr(layer_bytes, 2 * layer_bytes)) << name;
    EXPECT_EQ(SliceBlockLayers(block->bytes, 3, 5).status().code(),
              absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(SliceBlockLayers(block->bytes, 2, 2).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
}

// Real KV blocks of SmolLM2-135M (bench/quality dumps them: 2 x 3 heads x 256 tokens x 64,
// fp16, several layers): every lossy preset stays close to the reference on real data too.
TEST(CpuCodec, RealKvBlocksMatchTheReference) {
  const char* kLayers[] = {"00", "05", "11", "17", "23", "29"};
  for (const char* layer : kLayers) {
    const std::string path =
        std::string("kernels/testdata/real/smollm2-135m_gpl3_tok2048-2304_layer") + layer +
        "_f16.npy";
    auto file = ReadTensorFile(path);
    ASSERT_TRUE(file.ok()) << file.status() << " (run from the repository root)";
    auto view = AsKvView(*file);
    ASSERT_TRUE(view.ok()) << view.status();
    const OwnedTensor in{view->shape, view->dtype,
                         std::string(static_cast<const char*>(view->data), view->SizeBytes())};
    for (std::string_view name : {"kivi4", "kivi2", "gear4", "gear2"}) {
      const CodecSpec spec = *PresetSpec(name);
      ExpectCloseToReference(in, spec, MaxErrorFor(spec));
    }
  }
}

}  // namespace
}  // namespace gearkv
