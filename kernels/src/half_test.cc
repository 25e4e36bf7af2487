// fp16 / bf16 conversions: the software fp16 path (used where the target lacks F16C) agrees
// bit for bit with the one in use on every fp16 value and on the floats between them.
#include "half.h"

#include <cmath>

#include "gtest/gtest.h"

namespace gearkv::internal {
namespace {

TEST(Half, EveryValueRoundTripsAndBothPathsAgree) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const auto bits = static_cast<uint16_t>(h);
    const float f = HalfToFloat(bits);
    if (std::isnan(f)) {  // NaN payloads may differ (hardware quiets them)
      EXPECT_TRUE(std::isnan(SoftwareHalfToFloat(bits)));
      continue;
    }
    EXPECT_EQ(std::bit_cast<uint32_t>(SoftwareHalfToFloat(bits)), std::bit_cast<uint32_t>(f)) << h;
    EXPECT_EQ(FloatToHalf(f), bits) << h;
    EXPECT_EQ(SoftwareFloatToHalf(f), bits) << h;
    // Just above and below: both paths must round the same way.
    for (float g :
         {std::nextafter(f, INFINITY), std::nextafter(f, -INFINITY), f * (1 + 1.0f / 4096)}) {
      EXPECT_EQ(SoftwareFloatToHalf(g), FloatToHalf(g)) << g;
    }
  }
}

TEST(Half, RoundsToNearestEven) {
  EXPECT_EQ(RoundToHalf(1.0f + 1.0f / 2048), 1.0f);                // tie: down to even
  EXPECT_EQ(RoundToHalf(1.0f + 3.0f / 2048), 1.0f + 2.0f / 1024);  // tie: up to even
  EXPECT_EQ(RoundToHalf(70000.0f), INFINITY);
  EXPECT_EQ(RoundToHalf(65504.0f), 65504.0f);
  EXPECT_EQ(BFloat16ToFloat(FloatToBFloat16(1.0f + 1.0f / 256)), 1.0f);
  EXPECT_EQ(BFloat16ToFloat(FloatToBFloat16(1.0f + 3.0f / 256)), 1.0f + 4.0f / 256);
}

}  // namespace
}  // namespace gearkv::internal
