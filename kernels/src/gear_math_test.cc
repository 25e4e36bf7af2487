// The shared per-element math of gear_math.h: fp16 rounding without the hardware conversion and
// the int8 low-rank factor quantizer (format version 2).
#include "gear_math.h"

#include <cmath>

#include "gtest/gtest.h"
#include "half.h"

namespace gearkv::internal {
namespace {

TEST(GearMath, RoundToHalfValueAgreesWithTheConversion) {
  // Every finite fp16 value, the floats next to it and the midpoints to its neighbours.
  for (uint32_t h = 0; h < 0x7c00; ++h) {
    const float f = HalfToFloat(static_cast<uint16_t>(h));
    const float next = HalfToFloat(static_cast<uint16_t>(h + 1));
    const float mid = f + (next - f) / 2;  // exact: fp16 values have 11 significant bits
    for (float v : {f, std::nextafter(f, INFINITY), std::nextafter(f, -INFINITY), mid,
                    std::nextafter(mid, INFINITY), std::nextafter(mid, -INFINITY)}) {
      if (!(v <= 65504.0f)) continue;
      EXPECT_EQ(RoundToHalfValue(v), RoundToHalf(v)) << v;
      EXPECT_EQ(RoundToHalfValue(-v), RoundToHalf(-v)) << -v;
    }
  }
  EXPECT_EQ(RoundToHalfValue(1e-30f), 0.0f);
  EXPECT_EQ(RoundToHalfValue(65504.0f), 65504.0f);
}

TEST(GearMath, FactorScale) {
  EXPECT_EQ(FactorScale(0.0f), 0.0f);
  EXPECT_EQ(FactorScale(NAN), 0.0f);
  EXPECT_EQ(FactorScale(127.0f), 1.0f);
  EXPECT_EQ(FactorScale(1.0f), RoundToHalf(1.0f / 127));
  EXPECT_EQ(FactorScale(1e9f), 65504.0f);  // saturates instead of becoming infinite
  EXPECT_EQ(FactorInvScale(0.0f), 0.0f);
  EXPECT_EQ(FactorInvScale(0.5f), 2.0f);
}

TEST(GearMath, QuantizeFactorRoundsHalfEvenAndClamps) {
  EXPECT_EQ(QuantizeFactor(2.5f, 1.0f), 2);
  EXPECT_EQ(QuantizeFactor(3.5f, 1.0f), 4);
  EXPECT_EQ(QuantizeFactor(-2.5f, 1.0f), -2);
  EXPECT_EQ(QuantizeFactor(200.0f, 1.0f), 127);
  EXPECT_EQ(QuantizeFactor(-200.0f, 1.0f), -127);  // symmetric: never -128
  EXPECT_EQ(QuantizeFactor(5.0f, 0.0f), 0);        // zero scale
  EXPECT_EQ(QuantizeFactor(NAN, 1.0f), 0);
  EXPECT_EQ(DequantizeFactor(-3, 0.25f), -0.75f);
  // The largest magnitude of a vector maps to +-127 or just below (the scale is rounded to
  // fp16), every entry comes back within half a step.
  for (float max_abs : {1e-3f, 0.0625f, 0.3f, 1.0f, 7.77f, 1234.5f}) {
    const float scale = FactorScale(max_abs), inv = FactorInvScale(scale);
    EXPECT_GE(std::abs(QuantizeFactor(max_abs, inv)), 126) << max_abs;
    for (float x : {max_abs, -max_abs, 0.37f * max_abs, -0.011f * max_abs}) {
      EXPECT_LE(std::abs(DequantizeFactor(QuantizeFactor(x, inv), scale) - x), scale * 0.5001f)
          << x;
    }
  }
}

TEST(GearMath, HeadLayoutFactorArrays) {
  // Version 1: fp16 factors, no scales; version 2: int8 u with an fp16 scale per column, fp16 vt.
  const HeadLayout v1 =
      MakeHeadLayout(Kind::kKeys, 256, 128, 4, 64, 4, 0.02, 2, FactorPrecision::kFp16);
  const HeadLayout v2 =
      MakeHeadLayout(Kind::kKeys, 256, 128, 4, 64, 4, 0.02, 2, FactorPrecision::kInt8);
  EXPECT_EQ(v1.u_offset, v2.u_offset);
  EXPECT_EQ(v1.u_scales_offset, v1.vt_offset);  // empty
  EXPECT_EQ(v1.vt_offset, v1.u_offset + 256 * 4 * 2);
  EXPECT_EQ(v1.head_bytes, v1.vt_offset + 4 * 128 * 2);
  EXPECT_EQ(v2.u_scales_offset, v2.u_offset + 256 * 4);
  EXPECT_EQ(v2.vt_offset, v2.u_scales_offset + 16);
  EXPECT_EQ(v2.head_bytes, v2.vt_offset + 4 * 128 * 2);
  for (const HeadLayout& l : {v1, v2}) {
    for (uint64_t offset :
         {l.codes_offset, l.scales_offset, l.zeros_offset, l.outlier_offsets_offset,
          l.outlier_values_offset, l.u_offset, l.u_scales_offset, l.vt_offset, l.head_bytes}) {
      EXPECT_EQ(offset % kArrayAlignment, 0u);
    }
  }
}

}  // namespace
}  // namespace gearkv::internal
