// A plain float64 implementation of GEAR on one head, written for clarity, not speed: the
// yardstick the codec's tests compare the fast backends against. Same definition as the codec
// (pools, OutliersPerSide, seeded subspace iteration, and every part rounded as the current
// format version stores it: block_format.md), but full sorts, double arithmetic everywhere and
// Gram-Schmidt in double.
#ifndef GEARKV_KERNELS_REFERENCE_GEAR_H_
#define GEARKV_KERNELS_REFERENCE_GEAR_H_

#include <cstdint>
#include <vector>

#include "gear_math.h"
#include "gearkv/codec.h"

namespace gearkv::internal {

// The reconstruction D + L (+ S over the outliers) of head x (tokens x head_dim, row-major).
std::vector<double> ReferenceGearHead(const std::vector<double>& x, Kind kind, uint32_t tokens,
                                      uint32_t head_dim, const CodecSpec& spec,
                                      uint64_t head_index);

// The sparse part's mask of head x: in every pool, the OutliersPerSide largest entries (ties:
// lower offset) and then as many smallest of the rest (ties: lower offset), by full sorts.
std::vector<bool> ReferenceOutlierMask(const std::vector<double>& x, Kind kind, uint32_t tokens,
                                       uint32_t head_dim, double ratio);

}  // namespace gearkv::internal

#endif  // GEARKV_KERNELS_REFERENCE_GEAR_H_
