// SelectOutliers against the reference's full-sort selection, entry for entry: Gaussian data,
// data with heavy ties (few distinct values, where the tie rules decide), constant pools and
// spikes, for keys and values and pool sizes from tiny to long.
#include "cpu/outliers.h"

#include <cmath>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "reference_gear.h"

namespace gearkv::internal {
namespace {

enum class Data { kGaussian, kFewValues, kConstant, kSpikes };

std::vector<float> MakeHead(Data data, uint32_t T, uint32_t D, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::uniform_int_distribution<int> small(-2, 2);
  std::vector<float> x(size_t{T} * D);
  for (size_t i = 0; i < x.size(); ++i) {
    switch (data) {
      case Data::kGaussian:
        x[i] = normal(rng);
        break;
      case Data::kFewValues:
        x[i] = static_cast<float>(small(rng));
        break;
      case Data::kConstant:
        x[i] = 0.5f;
        break;
      case Data::kSpikes:
        x[i] = i % 97 == 3 ? 100.0f : (i % 89 == 5 ? -100.0f : 0.0f);
        break;
    }
  }
  return x;
}

void ExpectMatchesReference(Kind kind, uint32_t T, uint32_t D, double ratio, Data data,
                            uint32_t seed) {
  SCOPED_TRACE(::testing::Message()
               << "kind " << static_cast<int>(kind) << " T " << T << " D " << D << " ratio "
               << ratio << " data " << static_cast<int>(data) << " seed " << seed);
  const HeadLayout l = MakeHeadLayout(kind, T, D, 4, 64, 0, ratio, 2);
  std::vector<float> x = MakeHead(data, T, D, seed);
  const std::vector<double> xd(x.begin(), x.end());
  const std::vector<bool> want = ReferenceOutlierMask(xd, kind, T, D, ratio);
  std::vector<uint16_t> offsets(l.outliers);
  std::vector<uint32_t> indices(l.outliers);
  SelectOutliers(l, x.data(), offsets.data(), indices.data());

  std::vector<bool> got(x.size(), false);
  for (uint32_t i : indices) {
    ASSERT_LT(i, x.size());
    EXPECT_FALSE(got[i]) << "chosen twice: " << i;
    got[i] = true;
  }
  EXPECT_EQ(got, want);
  for (size_t i = 0; i < x.size(); ++i) {
    EXPECT_EQ(std::isnan(x[i]), static_cast<bool>(want[i])) << i;
  }
  // Offsets ascend inside each pool and map to the indices.
  uint64_t at = 0;
  for (uint32_t p = 0; p < l.pools; ++p) {
    const uint32_t n = 2 * OutliersPerSide(ratio, PoolSize(kind, T, D, p), p);
    for (uint32_t i = 0; i < n; ++i, ++at) {
      if (i > 0) {
        EXPECT_LT(offsets[at - 1], offsets[at]) << "pool " << p;
      }
      const uint64_t e = kind == Kind::kKeys ? uint64_t{offsets[at]} * D + p
                                             : uint64_t{p} * kValuePoolTokens * D + offsets[at];
      EXPECT_EQ(e, indices[at]);
    }
  }
}

TEST(SelectOutliers, MatchesTheReferenceSelection) {
  const Data kData[] = {Data::kGaussian, Data::kFewValues, Data::kConstant, Data::kSpikes};
  for (Kind kind : {Kind::kKeys, Kind::kValues}) {
    for (uint32_t T : {1u, 3u, 8u, 77u, 256u, 1024u}) {
      for (uint32_t D : {8u, 64u, 128u}) {
        for (double ratio : {0.02, 0.1, 0.5}) {
          for (Data data : kData) {
            ExpectMatchesReference(kind, T, D, ratio, data, T * 131 + D);
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace gearkv::internal
