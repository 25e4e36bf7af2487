// Low-rank approximation of a quantization residual (the L of GEAR) for the CPU backend.
#ifndef GEARKV_KERNELS_CPU_LOW_RANK_H_
#define GEARKV_KERNELS_CPU_LOW_RANK_H_

#include <cstdint>

namespace gearkv::internal {

// Fits L = U * Vt to the residual r (tokens x head_dim, row-major) by `iterations` rounds of
// subspace iteration started from StartMatrixEntry(seed, head_index, ...): each round
// orthonormalises P (head_dim x rank), sets Q = orth(r P) and P = r^T Q, with Q rounded to
// fp16 before the last product so that Vt is the least-squares fit to the stored U. Writes
// U (tokens x rank) and Vt (rank x head_dim) as fp16 bit patterns. A zero residual gives zero
// factors.
void FitLowRank(const float* r, uint32_t tokens, uint32_t head_dim, uint32_t rank,
                uint32_t iterations, uint32_t seed, uint64_t head_index, uint16_t* u, uint16_t* vt);

}  // namespace gearkv::internal

#endif  // GEARKV_KERNELS_CPU_LOW_RANK_H_
