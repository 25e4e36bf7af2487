#include "get_payload.h"

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "gearkv/store/memory_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gearkv::server {
namespace {

using ::testing::HasSubstr;

// Counts the codec calls it is told about.
class RecordingObserver final : public RpcObserver {
 public:
  void OnCodecDone(const CodecRecord& record) override { codec.push_back(record); }
  std::vector<CodecRecord> codec;
};

// fp32 values without a pattern that a lossy preset would store exactly.
std::string Float32Tensor(const TensorShape& shape) {
  std::string bytes(shape.NumElements() * sizeof(float), '\0');
  float* values = reinterpret_cast<float*>(bytes.data());
  for (uint64_t i = 0; i < shape.NumElements(); ++i) {
    values[i] = std::sin(0.37f * static_cast<float>(i)) + 0.01f * static_cast<float>(i % 11);
  }
  return bytes;
}

v1::GetRequest Request(const std::string& key, v1::Encoding encoding) {
  v1::GetRequest request;
  request.set_namespace_("model");
  request.set_key(key);
  request.set_encoding(encoding);
  return request;
}

class GetPayloadTest : public ::testing::Test {
 protected:
  GetPayloadTest() {
    auto codec = MakeCodec(Backend::kCpu);
    EXPECT_TRUE(codec.ok()) << codec.status();
    codec_ = *std::move(codec);
    core_.codec = codec_.get();
    core_.store = &store_;
    core_.observer = &observer_;
    core_.tensor_budget = &budget_;
    core_.tensor_buffers = buffers_.get();
  }

  // Compresses data_ with `preset` and stores it under `key`; returns the block.
  store::BlockBytes Store(const std::string& key, const std::string& preset) {
    absl::StatusOr<CodecSpec> spec = PresetSpec(preset);
    EXPECT_TRUE(spec.ok()) << spec.status();
    absl::StatusOr<Block> block =
        codec_->Compress(TensorView{shape_, DType::kFloat32, data_.data()}, *spec, {});
    EXPECT_TRUE(block.ok()) << block.status();
    auto bytes = std::make_shared<const std::string>(block->bytes);
    EXPECT_TRUE(store_.Put({"model", key}, bytes, absl::InfiniteFuture()).ok());
    return bytes;
  }

  // Stores a copy of the `preset` block with one byte of its payload changed.
  void StoreCorrupt(const std::string& key, const std::string& preset) {
    std::string corrupt = *Store(key, preset);
    corrupt[corrupt.size() / 2] ^= 0x5a;
    ASSERT_TRUE(store_
                    .Put({"model", key}, std::make_shared<const std::string>(corrupt),
                         absl::InfiniteFuture())
                    .ok());
  }

  const TensorShape shape_{2, 2, 64, 64};
  const std::string data_ = Float32Tensor(shape_);
  std::unique_ptr<Codec> codec_;
  store::MemoryStore store_{store::MemoryStoreOptions{}};
  RecordingObserver observer_;
  ByteBudget budget_{64 << 20};
  std::shared_ptr<BufferPool> buffers_ = BufferPool::Create(0);
  ServiceCore core_;
};

TEST_F(GetPayloadTest, ValidateGetRequestNamesTheProblem) {
  EXPECT_TRUE(ValidateGetRequest(Request("k", v1::ENCODING_RAW)).ok());
  EXPECT_THAT(ValidateGetRequest(Request("", v1::ENCODING_RAW)).message(), HasSubstr("empty"));
  const absl::Status encoding = ValidateGetRequest(Request("k", static_cast<v1::Encoding>(7)));
  EXPECT_EQ(encoding.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(encoding.message(), HasSubstr("is not ENCODING_RAW or ENCODING_COMPRESSED"));
  v1::GetRequest empty_range = Request("k", v1::ENCODING_RAW);
  empty_range.mutable_layers()->set_begin(1);
  empty_range.mutable_layers()->set_end(1);
  EXPECT_THAT(ValidateGetRequest(empty_range).message(), HasSubstr("layer range [1, 1) is empty"));
}

TEST_F(GetPayloadTest, ReadStoredBlockSaysWhichKeyIsMissing) {
  const store::BlockBytes stored = Store("k", "none");
  absl::StatusOr<store::BlockBytes> read = ReadStoredBlock(store_, {"model", "k"});
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, stored);
  absl::StatusOr<store::BlockBytes> missing = ReadStoredBlock(store_, {"model", "absent"});
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("no block under"));
  EXPECT_THAT(missing.status().message(), HasSubstr("absent"));
}

TEST_F(GetPayloadTest, InspectStoredBlockIsDataLossForGarbage) {
  EXPECT_EQ(InspectStoredBlock("not a block").status().code(), absl::StatusCode::kDataLoss);
  absl::StatusOr<BlockInfo> info = InspectStoredBlock(*Store("k", "gear4"));
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->shape.layers, 2u);
}

TEST_F(GetPayloadTest, SelectLayersSlicesOnlyAPartOfTheBlock) {
  const store::BlockBytes block = Store("k", "gear4");
  const BlockInfo info = *InspectStoredBlock(*block);

  for (std::optional<LayerRange> whole :
       {std::optional<LayerRange>(), std::optional(LayerRange{0, 2})}) {
    absl::StatusOr<SelectedBlock> selected = SelectLayers(block, info, whole);
    ASSERT_TRUE(selected.ok()) << selected.status();
    EXPECT_EQ(selected->bytes, block);  // the stored block itself, not a copy
    EXPECT_EQ(selected->shape, shape_);
    EXPECT_FALSE(selected->checksum_verified);
  }

  absl::StatusOr<SelectedBlock> second = SelectLayers(block, info, LayerRange{1, 2});
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE(second->checksum_verified);
  EXPECT_EQ(second->shape.layers, 1u);
  absl::StatusOr<BlockInfo> sliced = InspectBlock(*second->bytes);
  ASSERT_TRUE(sliced.ok()) << sliced.status();
  EXPECT_EQ(sliced->shape.layers, 1u);

  absl::StatusOr<SelectedBlock> outside = SelectLayers(block, info, LayerRange{1, 3});
  EXPECT_EQ(outside.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(outside.status().message(), HasSubstr("outside the block's 2 layers"));
}

TEST_F(GetPayloadTest, SelectLayersVerifiesTheSlicedBlock) {
  StoreCorrupt("rot", "gear4");
  const store::BlockBytes corrupt = *ReadStoredBlock(store_, {"model", "rot"});
  const BlockInfo info = *InspectStoredBlock(*corrupt);
  EXPECT_EQ(SelectLayers(corrupt, info, LayerRange{0, 1}).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_TRUE(SelectLayers(corrupt, info, std::nullopt).ok());  // not verified here
}

TEST_F(GetPayloadTest, DropIfCorruptDeletesOnlyForDataLoss) {
  Store("k", "none");
  const absl::Status other = absl::InvalidArgumentError("bad range");
  EXPECT_EQ(DropIfCorrupt(store_, {"model", "k"}, other, "slicing"), other);
  EXPECT_TRUE(store_.Contains({"model", "k"}));

  const absl::Status dropped =
      DropIfCorrupt(store_, {"model", "k"}, absl::DataLossError("checksum"), "slicing");
  EXPECT_EQ(dropped.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(dropped.message(), HasSubstr("slicing the block under"));
  EXPECT_THAT(dropped.message(), HasSubstr("has been dropped: checksum"));
  EXPECT_FALSE(store_.Contains({"model", "k"}));
}

TEST_F(GetPayloadTest, DecompressForGetReportsTheCodecCall) {
  const store::BlockBytes block = Store("k", "none");
  std::string out(data_.size(), '\0');
  ASSERT_TRUE(
      DecompressForGet(*codec_, *block, {shape_, DType::kFloat32, out.data()}, 1, observer_).ok());
  EXPECT_EQ(out, data_);
  ASSERT_EQ(observer_.codec.size(), 1u);
  EXPECT_EQ(observer_.codec[0].op, CodecOp::kDecompress);
  EXPECT_TRUE(observer_.codec[0].ok);
  EXPECT_EQ(observer_.codec[0].raw_bytes, data_.size());
  EXPECT_EQ(observer_.codec[0].block_bytes, block->size());
}

TEST_F(GetPayloadTest, RawPayloadIsTheTensorAndHoldsItsBudget) {
  Store("k", "none");
  absl::StatusOr<GetPayload> payload = LoadGetPayload(core_, Request("k", v1::ENCODING_RAW));
  ASSERT_TRUE(payload.ok()) << payload.status();
  EXPECT_EQ(payload->bytes, data_);
  EXPECT_EQ(payload->raw_equivalent_bytes, data_.size());
  EXPECT_EQ(payload->budget_held, data_.size());
  EXPECT_EQ(budget_.used(), data_.size());
  EXPECT_EQ(payload->header.encoding(), v1::ENCODING_RAW);
  EXPECT_EQ(payload->header.payload_bytes(), data_.size());
  EXPECT_EQ(payload->header.dtype(), v1::DTYPE_FLOAT32);
  EXPECT_EQ(payload->header.shape().layers(), 2u);
  EXPECT_EQ(payload->header.codec().preset(), "none");
  EXPECT_EQ(observer_.codec.size(), 1u);
}

TEST_F(GetPayloadTest, CompressedPayloadIsTheStoredBlock) {
  const store::BlockBytes block = Store("k", "gear4");
  absl::StatusOr<GetPayload> payload = LoadGetPayload(core_, Request("k", v1::ENCODING_COMPRESSED));
  ASSERT_TRUE(payload.ok()) << payload.status();
  EXPECT_EQ(payload->bytes.data(), block->data());  // not copied
  EXPECT_EQ(payload->bytes.size(), block->size());
  EXPECT_EQ(payload->raw_equivalent_bytes, data_.size());
  EXPECT_EQ(payload->budget_held, 0u);
  EXPECT_EQ(payload->header.stats().stored_bytes(), block->size());
  EXPECT_TRUE(observer_.codec.empty());
}

TEST_F(GetPayloadTest, LayerRangeHeaderHasTheRangeShapeAndTheWholeBlockStats) {
  Store("k", "gear4");
  v1::GetRequest request = Request("k", v1::ENCODING_COMPRESSED);
  request.mutable_layers()->set_begin(1);
  request.mutable_layers()->set_end(2);
  absl::StatusOr<GetPayload> payload = LoadGetPayload(core_, request);
  ASSERT_TRUE(payload.ok()) << payload.status();
  EXPECT_EQ(payload->header.shape().layers(), 1u);
  EXPECT_EQ(payload->raw_equivalent_bytes, data_.size() / 2);
  EXPECT_EQ(payload->header.stats().raw_bytes(), data_.size());
  EXPECT_EQ(payload->header.payload_bytes(), payload->bytes.size());
}

TEST_F(GetPayloadTest, RawPayloadOverTheBudgetIsResourceExhausted) {
  Store("k", "none");
  ASSERT_TRUE(budget_.TryAcquire((64 << 20) - 1024));
  absl::StatusOr<GetPayload> payload = LoadGetPayload(core_, Request("k", v1::ENCODING_RAW));
  EXPECT_EQ(payload.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(budget_.used(), uint64_t{64 << 20} - 1024);
  EXPECT_TRUE(observer_.codec.empty());
}

TEST_F(GetPayloadTest, CorruptBlockIsDataLossDroppedAndHoldsNothing) {
  for (v1::Encoding encoding : {v1::ENCODING_COMPRESSED, v1::ENCODING_RAW}) {
    StoreCorrupt("rot", "gear4");
    absl::StatusOr<GetPayload> payload = LoadGetPayload(core_, Request("rot", encoding));
    EXPECT_EQ(payload.status().code(), absl::StatusCode::kDataLoss) << payload.status();
    EXPECT_THAT(payload.status().message(), HasSubstr("has been dropped"));
    EXPECT_FALSE(store_.Contains({"model", "rot"}));
    EXPECT_EQ(budget_.used(), 0u);
  }
  ASSERT_EQ(observer_.codec.size(), 1u);  // the RAW get's decompression, which failed
  EXPECT_FALSE(observer_.codec[0].ok);
}

}  // namespace
}  // namespace gearkv::server
