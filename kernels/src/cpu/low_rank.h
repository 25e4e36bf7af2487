// Low-rank approximation of a quantization residual (the L of GEAR) for the CPU backend.
#ifndef GEARKV_KERNELS_CPU_LOW_RANK_H_
#define GEARKV_KERNELS_CPU_LOW_RANK_H_

#include <cstdint>

namespace gearkv::internal {

// Fits L = U * Vt to the residual r (tokens x head_dim, row-major) by `iterations` rounds of
// subspace iteration started from StartMatrixEntry(seed, head_index, ...): each round
// orthonormalises P (head_dim x rank), sets Q = orth(r P) and P = r^T Q. In the last round Q is
// quantized to int8 per column (FactorScale, QuantizeFactor) and replaced by its dequantized
// value before the last product, so that Vt = P^T is the least-squares fit to the stored U.
// Writes the factors as the current format version stores them (block_format.md: the u, u
// scales and vt arrays of a head record). A zero residual gives zero factors and scales.
void FitLowRank(const float* r, uint32_t tokens, uint32_t head_dim, uint32_t rank,
                uint32_t iterations, uint32_t seed, uint64_t head_index, int8_t* u,
                uint16_t* u_scales, uint16_t* vt);

}  // namespace gearkv::internal

#endif  // GEARKV_KERNELS_CPU_LOW_RANK_H_
