// Unit tests of the CLI's helpers: float16/bfloat16 conversion, synthetic tensors, latency
// percentiles, key decoding.
#include <cmath>
#include <cstring>

#include "cli_common.h"
#include "gtest/gtest.h"
#include "latency.h"
#include "random_tensor.h"

namespace gearkv::cli {
namespace {

TEST(HalfTest, KnownValues) {
  EXPECT_EQ(FloatToHalfBits(0.0f), 0x0000);
  EXPECT_EQ(FloatToHalfBits(-0.0f), 0x8000);
  EXPECT_EQ(FloatToHalfBits(1.0f), 0x3c00);
  EXPECT_EQ(FloatToHalfBits(-2.0f), 0xc000);
  EXPECT_EQ(FloatToHalfBits(65504.0f), 0x7bff);
  EXPECT_EQ(FloatToHalfBits(65520.0f), 0x7c00);                      // rounds to infinity
  EXPECT_EQ(FloatToHalfBits(std::ldexp(1.0f, -24)), 0x0001);         // smallest subnormal
  EXPECT_EQ(FloatToHalfBits(std::ldexp(1.0f, -14)), 0x0400);         // smallest normal
  EXPECT_EQ(FloatToHalfBits(1.0f + std::ldexp(1.0f, -11)), 0x3c00);  // tie -> even
  EXPECT_EQ(FloatToHalfBits(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);
  EXPECT_TRUE(std::isnan(HalfBitsToFloat(FloatToHalfBits(NAN))));
  EXPECT_EQ(FloatToBFloat16Bits(1.0f), 0x3f80);
  EXPECT_EQ(BFloat16BitsToFloat(0xc000), -2.0f);
}

TEST(HalfTest, EveryHalfRoundTrips) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = HalfBitsToFloat(static_cast<uint16_t>(h));
    if (std::isnan(f)) continue;
    EXPECT_EQ(FloatToHalfBits(f), h) << std::hex << h;
  }
}

TEST(GaussianTest, DeterministicWithUnitVariance) {
  const TensorShape shape{2, 2, 64, 64};
  Tensor a = GaussianKvTensor(shape, DType::kFloat16, 5);
  Tensor b = GaussianKvTensor(shape, DType::kFloat16, 5);
  Tensor c = GaussianKvTensor(shape, DType::kFloat16, 6);
  EXPECT_EQ(a.data, b.data);
  EXPECT_NE(a.data, c.data);
  double sum = 0, sq = 0;
  const uint64_t n = shape.NumElements();
  for (uint64_t i = 0; i < n; ++i) {
    const double v = ElementAsFloat(a, i);
    sum += v;
    sq += v * v;
  }
  EXPECT_NEAR(sum / n, 0.0, 0.05);
  EXPECT_NEAR(sq / n, 1.0, 0.05);
  Tensor f = GaussianKvTensor(shape, DType::kFloat32, 5);
  EXPECT_NEAR(ElementAsFloat(f, 3), ElementAsFloat(a, 3), 1e-2);
}

TEST(LatencyTest, NearestRankPercentiles) {
  std::vector<double> samples;
  for (int i = 100; i >= 1; --i) samples.push_back(i);
  LatencySummary s = Summarize(samples);
  EXPECT_EQ(s.p50_ms, 50);
  EXPECT_EQ(s.p99_ms, 99);
  EXPECT_EQ(s.max_ms, 100);
  EXPECT_DOUBLE_EQ(s.mean_ms, 50.5);
  std::vector<double> empty;
  EXPECT_EQ(Summarize(empty).p99_ms, 0);
}

TEST(KeyTest, DecodeAndDisplay) {
  EXPECT_EQ(*DecodeKey("abc", false), "abc");
  EXPECT_EQ(*DecodeKey("00ff", true), std::string("\x00\xff", 2));
  EXPECT_FALSE(DecodeKey("0g", true).ok());
  EXPECT_FALSE(DecodeKey("abc", true).ok());
  EXPECT_EQ(DisplayKey("chunk-1"), "chunk-1");
  EXPECT_EQ(DisplayKey(std::string("\x00\xff", 2)), "hex:00ff");
  EXPECT_EQ(FormatBytes(512), "512 B");
  EXPECT_EQ(FormatBytes(3 << 20), "3.00 MiB");
}

}  // namespace
}  // namespace gearkv::cli
