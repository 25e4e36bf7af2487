// Sparse outlier selection of one head (the S of GEAR) for the CPU backend.
#ifndef GEARKV_KERNELS_CPU_OUTLIERS_H_
#define GEARKV_KERNELS_CPU_OUTLIERS_H_

#include <cstdint>

#include "gear_math.h"

namespace gearkv::internal {

// Chooses the outliers of a head x (layout.tokens x layout.head_dim, row-major fp32): in every
// pool p, the OutliersPerSide(layout.outlier_ratio, pool size, p) largest and as many smallest
// entries (ties go to the lower position; an entry is never both). Writes layout.outliers
// pool-relative offsets to `offsets` (pools in order, ascending inside a pool) and the matching
// row-major element indices (token * head_dim + channel) to `indices`, then sets those entries
// of x to NaN so that quantization ignores them.
void SelectOutliers(const HeadLayout& layout, float* x, uint16_t* offsets, uint32_t* indices);

// OutliersPerSide(layout.outlier_ratio, pool size, p) for every pool p of a head with this
// layout: computed once per thread and kind for a given geometry (its double arithmetic costs
// more than a pool's share of decoding) and valid until the next call with another geometry of
// that kind.
const uint32_t* OutliersPerSideOfPools(const HeadLayout& layout);

}  // namespace gearkv::internal

#endif  // GEARKV_KERNELS_CPU_OUTLIERS_H_
