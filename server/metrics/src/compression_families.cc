// The families of stored blocks (by preset) and of codec calls (by backend and operation).
#include <string>
#include <string_view>

#include "families.h"

namespace gearkv::metrics::internal {
namespace {

constexpr std::array<std::string_view, 2> kCodecOps = {"compress", "decompress"};

// 1 KiB .. 1 GiB in steps of 2x (one layer of a small model up to a whole long-context block).
Histogram::BucketBoundaries SizeBuckets() {
  Histogram::BucketBoundaries buckets;
  for (double b = 1024; b <= 1024.0 * 1024 * 1024; b *= 2) buckets.push_back(b);
  return buckets;
}

// raw / stored: just under 1 for `none` (the block header), up to 32 (2 bits with small groups),
// finer where presets land.
Histogram::BucketBoundaries RatioBuckets() {
  return {0.95, 1, 1.25, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5, 6, 7, 8, 10, 12, 16, 24, 32};
}

// ||X - X^|| / ||X||: 0 for lossless, 1e-3 .. 0.1 for 8 to 2 bits, above that is broken.
Histogram::BucketBoundaries RelativeErrorBuckets() {
  return {1e-6, 1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.5, 1};
}

}  // namespace

absl::flat_hash_map<std::string, PresetChildren> BuildPresetFamilies(
    Registry& registry, const std::vector<std::string>& presets) {
  auto& raw = CounterFamily(registry, "gearkv_put_raw_bytes_total",
                            "Raw tensor bytes of stored blocks, by codec preset.");
  auto& stored = CounterFamily(registry, "gearkv_put_stored_bytes_total",
                               "Stored (compressed) bytes of stored blocks, by codec preset.");
  auto& ratio =
      HistogramFamily(registry, "gearkv_compression_ratio",
                      "Raw bytes over stored bytes of each stored block, by codec preset.");
  auto& relative_error =
      HistogramFamily(registry, "gearkv_compression_relative_error",
                      "Relative Frobenius error ||X - X^|| / ||X|| of blocks measured at put.");
  auto& block_size = HistogramFamily(registry, "gearkv_block_raw_size_bytes",
                                     "Raw tensor size of each stored block, by codec preset.");
  std::vector<std::string> names = presets;
  names.emplace_back(kOtherPreset);
  absl::flat_hash_map<std::string, PresetChildren> children;
  for (const std::string& preset : names) {
    if (children.contains(preset)) continue;
    const prometheus::Labels labels = {{"preset", preset}};
    children[preset] = {&raw.Add(labels), &stored.Add(labels), &ratio.Add(labels, RatioBuckets()),
                        &relative_error.Add(labels, RelativeErrorBuckets()),
                        &block_size.Add(labels, SizeBuckets())};
  }
  return children;
}

absl::flat_hash_map<std::string, CodecChildrenByOp> BuildCodecFamilies(
    Registry& registry, const std::vector<std::string>& backends) {
  auto& seconds = HistogramFamily(registry, "gearkv_codec_seconds",
                                  "Duration of codec calls, by backend and operation.");
  auto& raw_bytes =
      CounterFamily(registry, "gearkv_codec_raw_bytes_total",
                    "Raw tensor bytes compressed or decompressed, by backend and operation.");
  absl::flat_hash_map<std::string, CodecChildrenByOp> children;
  for (const std::string& backend : backends) {
    CodecChildrenByOp by_op{};
    for (size_t op = 0; op < kCodecOps.size(); ++op) {
      const prometheus::Labels labels = {{"backend", backend},
                                         {"operation", std::string(kCodecOps[op])}};
      by_op[op] = {&seconds.Add(labels, LatencyBuckets()), &raw_bytes.Add(labels)};
    }
    children[backend] = by_op;
  }
  return children;
}

}  // namespace gearkv::metrics::internal
