// The block format refuses corrupted, truncated and forged blocks with a clear error, never a
// crash (the fuzz target tests/fuzz/block_fuzzer.cc explores further).
#include "block_format.h"

#include <cstring>
#include <fstream>
#include <iterator>
#include <random>

#include "gearkv/codec.h"
#include "gtest/gtest.h"
#include "test_util.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace gearkv {
namespace {

std::string GoodBlock(const char* preset = "gear4") {
  const auto in = testing::RandomKv({2, 2, 40, 16}, DType::kFloat16, 4);
  return (*MakeCodec(Backend::kCpu))->Compress(in.view(), *PresetSpec(preset))->bytes;
}

// Rewrites the trailing checksum so that a deliberate change passes it (a forged block).
void Reseal(std::string& block) {
  const uint64_t sum = XXH3_64bits(block.data(), block.size() - 8);
  std::memcpy(block.data() + block.size() - 8, &sum, 8);
}

TEST(BlockFormat, InspectReadsTheHeader) {
  const std::string block = GoodBlock();
  auto info = InspectBlock(block);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->shape, (TensorShape{2, 2, 40, 16}));
  EXPECT_EQ(info->dtype, DType::kFloat16);
  EXPECT_EQ(info->spec, *PresetSpec("gear4"));
  EXPECT_EQ(info->block_bytes, block.size());
  EXPECT_EQ(info->raw_bytes, 2u * 2 * 2 * 40 * 16 * 2);
}

TEST(BlockFormat, EveryFlippedByteIsDetected) {
  const std::string good = GoodBlock();
  for (size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] ^= 0x5a;
    auto info = InspectBlock(bad);
    ASSERT_FALSE(info.ok()) << "byte " << i;
    EXPECT_TRUE(info.status().code() == absl::StatusCode::kDataLoss ||
                info.status().code() == absl::StatusCode::kInvalidArgument)
        << info.status();
  }
}

TEST(BlockFormat, TruncatedAndEmptyBlocksAreRefused) {
  const std::string good = GoodBlock();
  for (size_t n : {size_t{0}, size_t{10}, size_t{71}, good.size() / 2, good.size() - 1}) {
    auto info = InspectBlock(std::string_view(good.data(), n));
    EXPECT_EQ(info.status().code(), absl::StatusCode::kInvalidArgument) << n;
  }
  EXPECT_NE(InspectBlock(good.substr(0, good.size() - 1)).status().message().find("truncated"),
            std::string::npos);
  EXPECT_EQ(InspectBlock(std::string(200, 'x')).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(BlockFormat, ForgedHeadersWithValidChecksumsAreRefused) {
  const std::string good = GoodBlock();
  struct Forgery {
    size_t offset;
    uint32_t value;
    int width;
  };
  const Forgery forgeries[] = {
      {4, 3, 2},       // version (unknown)
      {4, 0, 2},       // version (unknown)
      {4, 1, 2},       // version 1: fp16 factors, the size no longer matches
      {6, 9, 1},       // dtype
      {7, 7, 1},       // method
      {8, 3, 4},       // layers (size no longer matches)
      {20, 12, 4},     // head_dim not a multiple of 8
      {24, 5, 1},      // bits
      {26, 0, 2},      // group size 0
      {40, 99, 4},     // section count
      {64, 12345, 4},  // first section's offset
  };
  for (const Forgery& f : forgeries) {
    std::string bad = good;
    std::memcpy(bad.data() + f.offset, &f.value, f.width);
    Reseal(bad);
    auto info = InspectBlock(bad);
    EXPECT_EQ(info.status().code(), absl::StatusCode::kInvalidArgument) << "offset " << f.offset;
  }
}

TEST(BlockFormat, WritesVersionTwoAndNamesTheVersionsItReads) {
  std::string block = GoodBlock();
  EXPECT_EQ(InspectBlock(block)->format_version, 2);
  const uint16_t future = 3;
  std::memcpy(block.data() + 4, &future, 2);
  Reseal(block);
  const absl::Status st = InspectBlock(block).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("version 3 (this build reads 1 to 2)"), std::string::npos) << st;
}

// Blocks of format version 1 (fp16 low-rank factors), written by the codec before version 2
// (kernels/testdata/v1/README.md): they still parse, slice and decode, into every dtype, to the
// same bytes as that codec decoded them to (XXH3-64 of its decodes into float32, float16,
// bfloat16).
TEST(BlockFormat, DecodesVersionOneFixtures) {
  struct Fixture {
    const char* file;
    TensorShape shape;
    DType dtype;
    uint64_t seed;
    uint64_t decoded[3];
  };
  const Fixture fixtures[] = {
      {"kernels/testdata/v1/gear4_f16.gkvb",
       {1, 2, 72, 24},
       DType::kFloat16,
       11,
       {0x0d7bfdb2df5491d8, 0x03889aa37f8e3450, 0x1eca75261d23f73c}},
      {"kernels/testdata/v1/b3_g32_r3_f32.gkvb",
       {1, 1, 20, 40},
       DType::kFloat32,
       12,
       {0x4512f4d4479ab7d7, 0x156450ad38e28c91, 0xdcb36b33c73e5d3c}},
  };
  auto codec = *MakeCodec(Backend::kCpu);
  for (const Fixture& f : fixtures) {
    std::ifstream file(f.file, std::ios::binary);
    ASSERT_TRUE(file) << f.file << " (run from the repository root)";
    const std::string block((std::istreambuf_iterator<char>(file)),
                            std::istreambuf_iterator<char>());
    auto info = InspectBlock(block);
    ASSERT_TRUE(info.ok()) << f.file << ": " << info.status();
    EXPECT_EQ(info->format_version, 1);
    EXPECT_EQ(info->shape, f.shape);
    EXPECT_EQ(info->dtype, f.dtype);
    auto sliced = SliceBlockLayers(block, 0, 1);  // keeps the version of the sections it copies
    ASSERT_TRUE(sliced.ok()) << sliced.status();
    EXPECT_EQ(*sliced, block);
    const DType outs[3] = {DType::kFloat32, DType::kFloat16, DType::kBFloat16};
    for (int i = 0; i < 3; ++i) {
      auto out = testing::ZeroTensor(f.shape, outs[i]);
      ASSERT_TRUE(codec->Decompress(block, out.mutable_view()).ok());
      EXPECT_EQ(XXH3_64bits(out.bytes.data(), out.bytes.size()), f.decoded[i])
          << f.file << " into " << DTypeName(outs[i]);
    }
    // The same tensor and spec compressed now: a version-2 block, smaller, as close.
    const auto in = testing::RandomKv(f.shape, f.dtype, f.seed);
    auto v2 = codec->Compress(in.view(), info->spec, {.measure_error = true});
    ASSERT_TRUE(v2.ok()) << v2.status();
    EXPECT_EQ(InspectBlock(v2->bytes)->format_version, 2);
    EXPECT_LT(v2->bytes.size(), block.size());
    auto v1_out = testing::ZeroTensor(f.shape, DType::kFloat32);
    ASSERT_TRUE(codec->Decompress(block, v1_out.mutable_view()).ok());
    const double v1_error = *RelativeError(v1_out.view(), in.view());
    std::cout << f.file << ": error v1 " << v1_error << ", v2 " << *v2->stats.relative_error
              << "; bytes " << block.size() << " -> " << v2->bytes.size() << "\n";
    EXPECT_LT(*v2->stats.relative_error, v1_error * 1.02 + 1e-6);
  }
}

TEST(BlockFormat, ForgedOutlierOffsetsAreRefusedAtDecompression) {
  std::string bad = GoodBlock("gear2");
  auto parsed = internal::ParseBlock(bad);
  ASSERT_TRUE(parsed.ok());
  const internal::HeadLayout& keys = parsed->geometry.heads[0];
  ASSERT_GT(keys.outliers, 0u);
  const uint64_t at =
      parsed->geometry.SectionOffset(0, internal::Kind::kKeys) + keys.outlier_offsets_offset;
  const uint16_t beyond = 40;  // keys pools hold 40 tokens: offsets must be < 40
  std::memcpy(bad.data() + at, &beyond, 2);
  Reseal(bad);
  auto out = testing::ZeroTensor({2, 2, 40, 16}, DType::kFloat16);
  const absl::Status st = (*MakeCodec(Backend::kCpu))->Decompress(bad, out.mutable_view());
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
}

TEST(BlockFormat, RandomGarbageNeverCrashes) {
  const uint64_t seed = std::random_device{}();
  std::cout << "seed " << seed << "\n";
  std::mt19937_64 rng(seed);
  std::string good = GoodBlock();
  auto codec = *MakeCodec(Backend::kCpu);
  auto out = testing::ZeroTensor({2, 2, 40, 16}, DType::kFloat32);
  for (int i = 0; i < 500; ++i) {
    std::string bad = good;
    const int flips = 1 + rng() % 8;
    for (int j = 0; j < flips; ++j) bad[rng() % bad.size()] = static_cast<char>(rng());
    if (rng() % 2) Reseal(bad);
    (void)codec->Decompress(bad, out.mutable_view());  // any status, no crash
  }
}

}  // namespace
}  // namespace gearkv
