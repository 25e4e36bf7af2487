// Which vector instruction sets the CPU backend may use beyond its x86-64-v3 baseline.
//
// The library is compiled for x86-64-v3 (AVX2, FMA, F16C). Where GCC builds it for x86-64, two
// kernels also have an AVX-512 variant that is picked at run time on a CPU that has AVX-512
// F/BW/DQ/VL: the decoding kernel (DecodeHead; 512-bit vectors) and the products of the
// subspace iteration (FitLowRank; the same 256-bit instructions with AVX-512VL's 32 registers,
// which hold twice the accumulators). Both variants give the same bits, so a block's bytes and
// a tensor's decoding never depend on the machine.
#ifndef GEARKV_KERNELS_CPU_CPU_FEATURES_H_
#define GEARKV_KERNELS_CPU_CPU_FEATURES_H_

// Defined where the AVX-512 variants are compiled (GCC's `#pragma GCC target`; clang builds,
// such as the fuzzer's, use the x86-64-v3 code only).
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__AVX2__) && \
    defined(__F16C__) && defined(__FMA__)
#define GEARKV_HAVE_AVX512 1
#endif

namespace gearkv::internal {

// True when the AVX-512 variants are compiled in, this CPU has AVX-512 F/BW/DQ/VL, and they
// have not been turned off: by GEARKV_CPU_AVX512=0 in the environment (read once) or by
// SetAvx512ForTesting(false).
bool UseAvx512();

// Tests compare the two variants: false forces the x86-64-v3 code, true restores the default.
void SetAvx512ForTesting(bool allowed);

}  // namespace gearkv::internal

#endif  // GEARKV_KERNELS_CPU_CPU_FEATURES_H_
