// Round trips through a real gearkv-server: every preset within its error bound, COMPRESSED
// decompressed on the client equal to RAW bit for bit, layer ranges, dtypes.
#include "absl/strings/str_cat.h"
#include "e2e_util.h"
#include "gearkv/codec.h"
#include "gtest/gtest.h"

namespace gearkv::e2e {
namespace {

// Relative-error bounds on N(0, 1) data (the codec's own tests hold it to tighter ones).
double ErrorBound(std::string_view preset) {
  if (preset == "none") return 0;
  if (preset.ends_with("4")) return 0.15;
  return 0.6;  // 2-bit presets
}

TEST(RoundTripTest, EveryPresetWithinItsBoundAndCompressedEqualsRaw) {
  GEARKV_START_SERVER(server, {"--memory_budget=256MiB"});
  auto client = Connect(*server);
  ASSERT_NE(client, nullptr);
  const uint64_t seed = TestSeed();
  SCOPED_TRACE(absl::StrCat("seed ", seed));
  const TensorShape shape{2, 4, 256, 128};  // 1 MiB of fp16: the Put spans two chunks
  const Tensor input = Gaussian(shape, DType::kFloat16, seed);
  const TensorView view = *AsKvView(input);
  for (std::string_view preset : PresetNames()) {
    SCOPED_TRACE(absl::StrCat("preset ", std::string(preset)));
    const std::string key = absl::StrCat("rt-", std::string(preset));
    PutOptions put = WithPreset(std::string(preset));
    put.measure_error = true;
    auto stored = client->Put("e2e", key, view, put);
    ASSERT_TRUE(stored.ok()) << stored.status();
    EXPECT_EQ(stored->preset, preset);
    EXPECT_EQ(stored->cost.raw_bytes, view.SizeBytes());
    EXPECT_GT(stored->cost.stored_bytes, 0u);

    auto raw = client->Get("e2e", key, WithEncoding(GetEncoding::kRaw));
    ASSERT_TRUE(raw.ok()) << raw.status();
    auto compressed = client->Get("e2e", key, WithEncoding(GetEncoding::kCompressed));
    ASSERT_TRUE(compressed.ok()) << compressed.status();

    EXPECT_EQ(raw->shape, shape);
    EXPECT_EQ(raw->tensor.dtype, DType::kFloat16);
    EXPECT_EQ(raw->wire_bytes, view.SizeBytes());
    EXPECT_EQ(compressed->wire_bytes, stored->cost.stored_bytes);
    // The client's CPU decompression matches the server's byte for byte.
    EXPECT_TRUE(compressed->tensor.data == raw->tensor.data);
    EXPECT_EQ(compressed->tensor.dims, raw->tensor.dims);

    const double err = RelativeErrorOf(raw->tensor, input);
    if (preset == "none") {
      EXPECT_TRUE(raw->tensor.data == input.data) << "the none preset must be lossless";
      EXPECT_EQ(err, 0);
    } else {
      EXPECT_LT(err, ErrorBound(preset));
      EXPECT_GT(stored->cost.ratio, 2.0);
      ASSERT_TRUE(stored->cost.relative_error.has_value());
      EXPECT_NEAR(*stored->cost.relative_error, err, 1e-3);
    }
  }
}

TEST(RoundTripTest, OtherDTypesSpecOverridesAndLayerRanges) {
  GEARKV_START_SERVER(server, {"--memory_budget=256MiB"});
  auto client = Connect(*server);
  ASSERT_NE(client, nullptr);
  const uint64_t seed = TestSeed() + 1;
  SCOPED_TRACE(absl::StrCat("seed ", seed));
  const TensorShape shape{4, 2, 128, 64};
  for (DType dtype : {DType::kBFloat16, DType::kFloat32}) {
    SCOPED_TRACE(DTypeName(dtype));
    const Tensor input = Gaussian(shape, dtype, seed);
    PutOptions put = WithPreset("gear4");
    put.codec.rank = 2;  // an override: the resolved spec is no longer a preset
    auto stored = client->Put("e2e", "dt", *AsKvView(input), put);
    ASSERT_TRUE(stored.ok()) << stored.status();
    EXPECT_EQ(stored->spec.rank, 2);
    EXPECT_EQ(stored->preset, "");
    auto raw = client->Get("e2e", "dt", WithEncoding(GetEncoding::kRaw));
    ASSERT_TRUE(raw.ok()) << raw.status();
    EXPECT_EQ(raw->tensor.dtype, dtype);
    EXPECT_LT(RelativeErrorOf(raw->tensor, input), 0.15);

    // Layers [1, 3): the same bytes as the middle of the whole tensor, on both encodings.
    GetOptions range = WithEncoding(GetEncoding::kRaw);
    range.layers = std::make_pair(1u, 3u);
    auto raw_part = client->Get("e2e", "dt", range);
    ASSERT_TRUE(raw_part.ok()) << raw_part.status();
    range.encoding = GetEncoding::kCompressed;
    auto compressed_part = client->Get("e2e", "dt", range);
    ASSERT_TRUE(compressed_part.ok()) << compressed_part.status();
    EXPECT_EQ(raw_part->shape, (TensorShape{2, 2, 128, 64}));
    const size_t layer_bytes = raw->tensor.data.size() / shape.layers;
    EXPECT_TRUE(raw_part->tensor.data == raw->tensor.data.substr(layer_bytes, 2 * layer_bytes));
    EXPECT_TRUE(compressed_part->tensor.data == raw_part->tensor.data);
    EXPECT_LT(compressed_part->wire_bytes, raw_part->wire_bytes);

    // Client-side conversion to fp32 while decompressing.
    GetOptions as_f32 = WithEncoding(GetEncoding::kCompressed);
    as_f32.out_dtype = DType::kFloat32;
    auto f32 = client->Get("e2e", "dt", as_f32);
    ASSERT_TRUE(f32.ok()) << f32.status();
    EXPECT_EQ(f32->tensor.dtype, DType::kFloat32);
    EXPECT_LT(RelativeErrorOf(f32->tensor, raw->tensor), 1e-2);
  }
}

TEST(RoundTripTest, SamePutTwiceLeavesOneBlock) {
  GEARKV_START_SERVER(server, {"--memory_budget=64MiB"});
  auto client = Connect(*server);
  ASSERT_NE(client, nullptr);
  const Tensor a = Gaussian({1, 2, 64, 64}, DType::kFloat16, 1);
  const Tensor b = Gaussian({1, 2, 64, 64}, DType::kFloat16, 2);
  ASSERT_TRUE(client->Put("e2e", "k", *AsKvView(a), WithPreset("none")).ok());
  ASSERT_TRUE(client->Put("e2e", "k", *AsKvView(a), WithPreset("none")).ok());
  auto stats = client->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->tiers.at(0).blocks, 1u);
  ASSERT_TRUE(client->Put("e2e", "k", *AsKvView(b), WithPreset("none")).ok());
  auto got = client->Get("e2e", "k", WithEncoding(GetEncoding::kRaw));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(got->tensor.data == b.data);
  // Namespaces scope keys.
  auto other = client->Get("e2e-other", "k");
  EXPECT_EQ(other.status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace gearkv::e2e
