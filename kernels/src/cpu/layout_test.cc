// Layouts on the CPU backend: a tensor compressed from any layout gives the block of the same
// tensor in canonical order, byte for byte, and a block decompresses into any layout (and dtype)
// with the values of the canonical decode, placed as the layout says. The expected placements
// come from test_util.h's ElementOffset (the layouts' definitions), not from the codec's own
// tensor_layout.h.
#include <string>
#include <vector>

#include "gearkv/codec.h"
#include "gtest/gtest.h"
#include "tensor_layout.h"
#include "test_util.h"

namespace gearkv {
namespace {

using testing::OwnedTensor;
using testing::RandomKv;
using testing::Relayout;
using testing::ZeroTensor;

constexpr DType kDTypes[] = {DType::kFloat16, DType::kBFloat16, DType::kFloat32};
constexpr Layout kLayouts[] = {Layout::kCanonical, Layout::kKv2LTD, Layout::kPageFirst};

std::unique_ptr<Codec> Cpu() { return *MakeCodec(Backend::kCpu); }

// Decodes `block` (of `shape`) into a zeroed tensor of `dtype` in `layout`.
std::string DecodeInto(const Codec& codec, const std::string& block, const TensorShape& shape,
                       DType dtype, Layout layout) {
  OwnedTensor out = ZeroTensor(shape, dtype);
  const absl::Status st =
      codec.Decompress(block, MutableTensorView{shape, dtype, out.bytes.data(), layout});
  EXPECT_TRUE(st.ok()) << LayoutName(layout) << ": " << st;
  return out.bytes;
}

// For every preset: the tensor put in each layout compresses to the canonical block (also its
// measured error), and the canonical block decodes into each layout, in the block's dtype and in
// fp32, to the canonical decode rearranged; `none` decodes to the input exactly.
void ExpectLayoutsAgree(const OwnedTensor& in) {
  const auto codec = Cpu();
  for (std::string_view preset : PresetNames()) {
    const CodecSpec spec = *PresetSpec(preset);
    SCOPED_TRACE(std::string(preset) + " " + in.shape.DebugString() + " " +
                 std::string(DTypeName(in.dtype)));
    auto canonical = codec->Compress(in.view(), spec, {.measure_error = true});
    ASSERT_TRUE(canonical.ok()) << canonical.status();
    const std::string& block = canonical->bytes;
    for (Layout layout : kLayouts) {
      SCOPED_TRACE(LayoutName(layout));
      const std::string laid_out =
          Relayout(in.shape, in.dtype, in.bytes, Layout::kCanonical, layout);
      auto put = codec->Compress(TensorView{in.shape, in.dtype, laid_out.data(), layout}, spec,
                                 {.measure_error = true});
      ASSERT_TRUE(put.ok()) << put.status();
      EXPECT_TRUE(put->bytes == block) << "the block depends on the put layout";
      // The same errors, summed in another order.
      ASSERT_TRUE(put->stats.relative_error.has_value());
      EXPECT_NEAR(*put->stats.relative_error, *canonical->stats.relative_error, 1e-9);
    }
    for (DType out_dtype : {in.dtype, DType::kFloat32}) {
      const std::string reference =
          DecodeInto(*codec, block, in.shape, out_dtype, Layout::kCanonical);
      if (spec.method == Method::kNone && out_dtype == in.dtype) EXPECT_TRUE(reference == in.bytes);
      for (Layout layout : {Layout::kKv2LTD, Layout::kPageFirst}) {
        SCOPED_TRACE(std::string(LayoutName(layout)) + " into " +
                     std::string(DTypeName(out_dtype)));
        const std::string got = DecodeInto(*codec, block, in.shape, out_dtype, layout);
        EXPECT_TRUE(got == Relayout(in.shape, out_dtype, reference, Layout::kCanonical, layout));
      }
    }
  }
}

TEST(Layouts, HeadPlacementsMatchTheDefinitions) {
  for (const TensorShape& s :
       {TensorShape{3, 2, 5, 8}, TensorShape{1, 1, 4, 16}, TensorShape{2, 4, 3, 8}}) {
    for (Layout layout : kLayouts) {
      const internal::TensorPlacement place{layout, s.layers, s.kv_heads, s.tokens, s.head_dim};
      for (uint64_t l = 0; l < s.layers; ++l) {
        for (uint64_t k = 0; k < 2; ++k) {
          for (uint64_t h = 0; h < s.kv_heads; ++h) {
            const internal::HeadPlacement p = place.Head((l * 2 + k) * s.kv_heads + h);
            EXPECT_EQ(p.row_stride, place.RowStride());
            for (uint64_t t = 0; t < s.tokens; ++t) {
              for (uint64_t d = 0; d < s.head_dim; ++d) {
                ASSERT_EQ(p.At(t, d), testing::ElementOffset(s, layout, l, k, h, t, d))
                    << LayoutName(layout) << " " << s.DebugString();
              }
            }
          }
        }
      }
    }
  }
}

TEST(Layouts, EveryPresetAndDtypeMatchesTheCanonicalPath) {
  const TensorShape shape{3, 2, 72, 64};  // 72 tokens: the last key group is partial
  for (DType dtype : kDTypes) ExpectLayoutsAgree(RandomKv(shape, dtype, 700 + int(dtype)));
}

TEST(Layouts, OddShapes) {
  const TensorShape shapes[] = {
      {1, 1, 100, 8},  // one layer, one head (kv_2ltd's rows are then contiguous), head_dim 8
      {1, 3, 65, 8},   // tokens past a group
      {2, 1, 17, 16},  // fewer tokens than a group, a partial value pool
      {4, 5, 9, 24},
  };
  for (const TensorShape& shape : shapes) {
    for (DType dtype : kDTypes) ExpectLayoutsAgree(RandomKv(shape, dtype, 31 + shape.tokens));
  }
}

TEST(Layouts, LayerSliceDecodesIntoEveryLayoutOfTheSlicedShape) {
  const OwnedTensor in = RandomKv({4, 2, 40, 32}, DType::kFloat16, 5);
  const auto codec = Cpu();
  for (std::string_view preset : {"none", "gear4"}) {
    SCOPED_TRACE(preset);
    const std::string kv =
        Relayout(in.shape, in.dtype, in.bytes, Layout::kCanonical, Layout::kKv2LTD);
    auto block =
        codec->Compress({in.shape, in.dtype, kv.data(), Layout::kKv2LTD}, *PresetSpec(preset));
    ASSERT_TRUE(block.ok()) << block.status();
    auto slice = SliceBlockLayers(block->bytes, 1, 3);
    ASSERT_TRUE(slice.ok()) << slice.status();
    TensorShape sliced = in.shape;
    sliced.layers = 2;
    // Layers 1 and 2 of the whole block's canonical decode are the slice's canonical decode.
    const std::string whole =
        DecodeInto(*codec, block->bytes, in.shape, DType::kFloat32, Layout::kCanonical);
    const uint64_t layer_bytes = 2 * in.shape.MatrixElements() * 4;
    const std::string reference = whole.substr(layer_bytes, 2 * layer_bytes);
    for (Layout layout : kLayouts) {
      EXPECT_TRUE(DecodeInto(*codec, *slice, sliced, DType::kFloat32, layout) ==
                  Relayout(sliced, DType::kFloat32, reference, Layout::kCanonical, layout))
          << LayoutName(layout);
    }
  }
}

TEST(Layouts, RelativeErrorMatchesElementsByPosition) {
  const OwnedTensor in = RandomKv({2, 3, 16, 8}, DType::kFloat32, 9);
  const std::string page =
      Relayout(in.shape, in.dtype, in.bytes, Layout::kCanonical, Layout::kPageFirst);
  const TensorView page_view{in.shape, in.dtype, page.data(), Layout::kPageFirst};
  EXPECT_EQ(*RelativeError(page_view, in.view()), 0.0);
  // The same bytes read as canonical are a different tensor.
  EXPECT_GT(*RelativeError({in.shape, in.dtype, page.data()}, in.view()), 0.1);
}

TEST(Layouts, AValueOutsideTheEnumIsRefused) {
  const OwnedTensor in = RandomKv({1, 1, 16, 8}, DType::kFloat16, 3);
  const auto codec = Cpu();
  const auto bad = static_cast<Layout>(3);
  for (std::string_view preset : {"none", "gear4"}) {
    auto st = codec->Compress({in.shape, in.dtype, in.bytes.data(), bad}, *PresetSpec(preset));
    EXPECT_EQ(st.status().code(), absl::StatusCode::kInvalidArgument) << st.status();
    EXPECT_NE(st.status().message().find("page_first"), std::string::npos) << st.status();
    auto block = codec->Compress(in.view(), *PresetSpec(preset));
    ASSERT_TRUE(block.ok());
    OwnedTensor out = ZeroTensor(in.shape, in.dtype);
    const absl::Status d =
        codec->Decompress(block->bytes, {in.shape, in.dtype, out.bytes.data(), bad});
    EXPECT_EQ(d.code(), absl::StatusCode::kInvalidArgument) << d;
  }
  EXPECT_EQ(RelativeError({in.shape, in.dtype, in.bytes.data(), bad}, in.view()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(Layouts, NamesParseAndValidate) {
  EXPECT_EQ(*ParseLayout("KV_2LTD"), Layout::kKv2LTD);
  EXPECT_EQ(*ParseLayout("layer_first"), Layout::kLayerFirst);
  EXPECT_EQ(*ParseLayout("page_first"), Layout::kPageFirst);
  EXPECT_EQ(*ParseLayout("canonical"), Layout::kCanonical);
  EXPECT_EQ(ParseLayout("nhd").status().code(), absl::StatusCode::kInvalidArgument);
  for (Layout l : kLayouts) EXPECT_EQ(*ParseLayout(LayoutName(l)), l);
  EXPECT_TRUE(ValidateLayout(Layout::kPageFirst).ok());
  EXPECT_FALSE(IsValidLayout(3));
}

}  // namespace
}  // namespace gearkv
