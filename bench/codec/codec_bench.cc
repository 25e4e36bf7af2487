// Codec throughput on the CPU, in GB/s of fp16 input (bytes_per_second), next to memcpy of the
// same bytes in the same run. A block is one service chunk: 4 layers x 8 KV heads x 256 tokens
// x 128 head_dim, K and V, fp16 (4 MiB). Arguments: threads per call (1 and 2), and whether the
// AVX-512 kernels may be used (1, the default where the CPU has them) or the x86-64-v3 ones are
// forced (0), to show both in one run.
//
// The layout rows (BM_Layout*): gear4 on a Llama-3-8B-shaped block (32 layers x 8 KV heads x 256
// tokens x 128 head_dim, fp16, 32 MiB), one thread, compressed from and decompressed into
// canonical (argument 0) or KV_2LTD (argument 1) memory: the same tensor, the same block.
//
//   bench/codec/run.sh         # builds, runs with repetitions, writes
//   bench/results/codec.{json,md} bench/codec/run_layout.sh  # the layout rows only:
//   bench/results/codec_layout.{json,md}
#include <benchmark/benchmark.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "cpu/cpu_features.h"
#include "gearkv/codec.h"
#include "tensor_layout.h"

namespace gearkv {
namespace {

constexpr TensorShape kShape{4, 8, 256, 128};

const std::string& InputBytes() {
  static const std::string bytes = [] {
    std::string b(kShape.NumElements() * 2, '\0');
    std::mt19937 rng(42);
    std::normal_distribution<float> normal;
    auto* h = reinterpret_cast<_Float16*>(b.data());
    for (uint64_t i = 0; i < kShape.NumElements(); ++i) {
      // Keys get a few large channels, as real keys have.
      const bool keys = (i / kShape.MatrixElements()) % 2 == 0;
      h[i] = static_cast<_Float16>(normal(rng) * (keys && i % 128 == 3 ? 10.0f : 1.0f));
    }
    return b;
  }();
  return bytes;
}

TensorView Input() { return {kShape, DType::kFloat16, InputBytes().data()}; }

void BM_Memcpy(benchmark::State& state) {
  const std::string& in = InputBytes();
  std::string out(in.size(), '\0');
  for (auto _ : state) {
    std::memcpy(out.data(), in.data(), in.size());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * in.size());
}

// Applies the benchmark's second argument for its lifetime.
class KernelChoice {
 public:
  explicit KernelChoice(benchmark::State& state) {
    internal::SetAvx512ForTesting(state.range(1) != 0);
    state.counters["avx512"] = internal::UseAvx512() ? 1 : 0;
  }
  ~KernelChoice() { internal::SetAvx512ForTesting(true); }
};

void BM_Compress(benchmark::State& state, const char* preset) {
  const KernelChoice kernels(state);
  auto codec = *MakeCodec(Backend::kCpu);
  const CodecSpec spec = *PresetSpec(preset);
  const CompressOptions options{.threads = static_cast<int>(state.range(0))};
  double bits = 0;
  for (auto _ : state) {
    auto block = codec->Compress(Input(), spec, options);
    if (!block.ok()) state.SkipWithError(std::string(block.status().message()).c_str());
    bits = block->stats.bits_per_element;
    benchmark::DoNotOptimize(block->bytes.data());
  }
  state.SetBytesProcessed(state.iterations() * Input().SizeBytes());
  state.counters["bits_per_element"] = bits;
}

void BM_Decompress(benchmark::State& state, const char* preset) {
  const KernelChoice kernels(state);
  auto codec = *MakeCodec(Backend::kCpu);
  const std::string block = codec->Compress(Input(), *PresetSpec(preset))->bytes;
  std::string out(Input().SizeBytes(), '\0');
  const MutableTensorView view{kShape, DType::kFloat16, out.data()};
  const DecompressOptions options{.threads = static_cast<int>(state.range(0))};
  for (auto _ : state) {
    const absl::Status st = codec->Decompress(block, view, options);
    if (!st.ok()) state.SkipWithError(std::string(st.message()).c_str());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * Input().SizeBytes());
}

constexpr TensorShape kLlamaShape{32, 8, 256, 128};

// The Llama-shaped input in canonical order (index 0) and in KV_2LTD order (index 1).
const std::string& LlamaBytes(Layout layout) {
  static const std::string canonical = [] {
    std::string b(kLlamaShape.NumElements() * 2, '\0');
    std::mt19937 rng(7);
    std::normal_distribution<float> normal;
    auto* h = reinterpret_cast<_Float16*>(b.data());
    for (uint64_t i = 0; i < kLlamaShape.NumElements(); ++i) {
      const bool keys = (i / kLlamaShape.MatrixElements()) % 2 == 0;
      h[i] = static_cast<_Float16>(normal(rng) * (keys && i % 128 == 3 ? 10.0f : 1.0f));
    }
    return b;
  }();
  static const std::string kv_2ltd = [] {
    const TensorShape& s = kLlamaShape;
    const internal::TensorPlacement place{Layout::kKv2LTD, s.layers, s.kv_heads, s.tokens,
                                          s.head_dim};
    std::string b(canonical.size(), '\0');
    const uint64_t row_bytes = uint64_t{s.head_dim} * 2;
    for (uint64_t h = 0; h < uint64_t{s.layers} * 2 * s.kv_heads; ++h) {
      const internal::HeadPlacement p = place.Head(h);
      for (uint64_t t = 0; t < s.tokens; ++t) {
        std::memcpy(b.data() + p.At(t, 0) * 2, canonical.data() + (h * s.tokens + t) * row_bytes,
                    row_bytes);
      }
    }
    return b;
  }();
  return layout == Layout::kCanonical ? canonical : kv_2ltd;
}

Layout LayoutArg(const benchmark::State& state) {
  return state.range(0) ? Layout::kKv2LTD : Layout::kCanonical;
}

void BM_LayoutCompress(benchmark::State& state) {
  const Layout layout = LayoutArg(state);
  auto codec = *MakeCodec(Backend::kCpu);
  const CodecSpec spec = *PresetSpec("gear4");
  const TensorView in{kLlamaShape, DType::kFloat16, LlamaBytes(layout).data(), layout};
  for (auto _ : state) {
    auto block = codec->Compress(in, spec, {.threads = 1});
    if (!block.ok()) state.SkipWithError(std::string(block.status().message()).c_str());
    benchmark::DoNotOptimize(block->bytes.data());
  }
  state.SetBytesProcessed(state.iterations() * in.SizeBytes());
}

void BM_LayoutDecompress(benchmark::State& state) {
  const Layout layout = LayoutArg(state);
  auto codec = *MakeCodec(Backend::kCpu);
  const TensorView canonical{kLlamaShape, DType::kFloat16, LlamaBytes(Layout::kCanonical).data()};
  const std::string block = codec->Compress(canonical, *PresetSpec("gear4"))->bytes;
  std::string out(canonical.SizeBytes(), '\0');
  const MutableTensorView view{kLlamaShape, DType::kFloat16, out.data(), layout};
  for (auto _ : state) {
    const absl::Status st = codec->Decompress(block, view, {.threads = 1});
    if (!st.ok()) state.SkipWithError(std::string(st.message()).c_str());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * canonical.SizeBytes());
}

BENCHMARK(BM_Memcpy)->UseRealTime();
BENCHMARK(BM_LayoutCompress)->Arg(0)->Arg(1)->UseRealTime();
BENCHMARK(BM_LayoutDecompress)->Arg(0)->Arg(1)->UseRealTime();
#define GEARKV_CODEC_BENCH(preset)                  \
  BENCHMARK_CAPTURE(BM_Compress, preset, #preset)   \
      ->Args({1, 1})                                \
      ->Args({2, 1})                                \
      ->Args({1, 0})                                \
      ->UseRealTime();                              \
  BENCHMARK_CAPTURE(BM_Decompress, preset, #preset) \
      ->Args({1, 1})                                \
      ->Args({2, 1})                                \
      ->Args({1, 0})                                \
      ->UseRealTime()
GEARKV_CODEC_BENCH(none);
GEARKV_CODEC_BENCH(kivi4);
GEARKV_CODEC_BENCH(kivi2);
GEARKV_CODEC_BENCH(gear4);
GEARKV_CODEC_BENCH(gear2);
GEARKV_CODEC_BENCH(gearl4);

}  // namespace
}  // namespace gearkv

BENCHMARK_MAIN();
