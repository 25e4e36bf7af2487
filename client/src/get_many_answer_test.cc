// A GetMany's answer without a server: messages made with gearkv/get_many_messages.h go into a
// GetManyAnswer as the streams of its attempts would deliver them.
#include "get_many_answer.h"

#include <memory>
#include <string>
#include <vector>

#include "gearkv/codec.h"
#include "gearkv/get_many_messages.h"
#include "gearkv/get_messages.h"
#include "gearkv/wire.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gearkv::client_internal {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr TensorShape kShape{2, 2, 16, 64};
constexpr uint64_t kRawBytes = uint64_t{2} * 2 * 2 * 16 * 64 * 2;  // kShape in fp16

grpc::ByteBuffer Header(uint32_t index) {
  v1::GetHeader h;
  *h.mutable_shape() = wire::ShapeToWire(kShape);
  h.set_dtype(v1::DTYPE_FLOAT16);
  h.set_encoding(v1::ENCODING_RAW);
  h.set_payload_bytes(kRawBytes);
  *h.mutable_codec() = wire::SpecToWire(*PresetSpec("kivi4"));
  *h.mutable_stats() = wire::MakeBlockStats(kRawBytes, kRawBytes / 3, kShape.NumElements());
  return wire::GetManyMessage(index, wire::GetHeaderMessage(h));
}

grpc::ByteBuffer Chunk(uint32_t index, const std::string& bytes) {
  auto owner = std::make_shared<std::string>(bytes);
  return wire::GetManyMessage(index, wire::GetChunkMessage(*owner, owner));
}

std::string Pattern(size_t n, int seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(i * 7 + seed);
  return s;
}

// Key `index`'s whole RAW answer, in two chunks.
void AddBlock(GetManyAnswer& answer, uint32_t index, const std::string& bytes) {
  ASSERT_TRUE(answer.Add(Header(index)).ok());
  ASSERT_TRUE(answer.Add(Chunk(index, bytes.substr(0, 5000))).ok());
  ASSERT_TRUE(answer.Add(Chunk(index, bytes.substr(5000))).ok());
}

class GetManyAnswerTest : public ::testing::Test {
 protected:
  GetManyAnswerTest() {
    options_.encoding = GetEncoding::kRaw;
    auto codec = MakeCodec(Backend::kCpu);
    EXPECT_TRUE(codec.ok());
    codec_ = std::move(*codec);
  }
  void Allocate(int n) {
    destinations_.reserve(n);
    for (int i = 0; i < n; ++i) destinations_.push_back(TensorDestination::Allocated(options_));
  }

  GetOptions options_;
  std::unique_ptr<Codec> codec_;
  std::vector<TensorDestination> destinations_;
};

TEST_F(GetManyAnswerTest, HitsAndMissesEachGetTheirOwnResult) {
  Allocate(3);
  GetManyAnswer answer(options_, destinations_, *codec_, 1);
  answer.StartAttempt();
  const std::string a = Pattern(kRawBytes, 1), c = Pattern(kRawBytes, 3);
  ASSERT_NO_FATAL_FAILURE(AddBlock(answer, 0, a));
  ASSERT_TRUE(answer.Add(wire::GetManyStatusMessage(1, absl::NotFoundError("no block"))).ok());
  ASSERT_NO_FATAL_FAILURE(AddBlock(answer, 2, c));
  ASSERT_TRUE(answer.EndAttempt().ok());
  EXPECT_TRUE(answer.done());
  std::vector<absl::StatusOr<GetResult>> results = answer.TakeResults();
  ASSERT_EQ(results.size(), 3u);
  ASSERT_TRUE(results[0].ok()) << results[0].status();
  EXPECT_TRUE(results[0]->tensor.data == a);
  EXPECT_EQ(results[1].status(), absl::NotFoundError("no block"));
  ASSERT_TRUE(results[2].ok()) << results[2].status();
  EXPECT_TRUE(results[2]->tensor.data == c);
  EXPECT_EQ(results[2]->cost.stored_bytes, kRawBytes / 3);
}

TEST_F(GetManyAnswerTest, ARetryAsksOnlyForTheKeysNotAnswered) {
  Allocate(4);
  GetManyAnswer answer(options_, destinations_, *codec_, 1);
  answer.StartAttempt();
  const std::string b0 = Pattern(kRawBytes, 0), b1 = Pattern(kRawBytes, 1);
  ASSERT_NO_FATAL_FAILURE(AddBlock(answer, 0, b0));
  ASSERT_TRUE(answer.Add(Header(1)).ok());  // key 1 cut off part way
  ASSERT_TRUE(answer.Add(Chunk(1, b1.substr(0, 100))).ok());
  answer.AbortAttempt();
  EXPECT_THAT(answer.pending(), ElementsAre(1, 2, 3));

  // The second attempt's indices are into the keys it asked for: 1, 2, 3.
  answer.StartAttempt();
  ASSERT_NO_FATAL_FAILURE(AddBlock(answer, 0, b1));
  ASSERT_TRUE(answer.Add(wire::GetManyStatusMessage(1, absl::DataLossError("bad"))).ok());
  ASSERT_NO_FATAL_FAILURE(AddBlock(answer, 2, b0));
  ASSERT_TRUE(answer.EndAttempt().ok());
  std::vector<absl::StatusOr<GetResult>> results = answer.TakeResults();
  EXPECT_TRUE(results[0]->tensor.data == b0);
  EXPECT_TRUE(results[1]->tensor.data == b1);
  EXPECT_TRUE(absl::IsDataLoss(results[2].status()));
  EXPECT_TRUE(results[3]->tensor.data == b0);
}

TEST_F(GetManyAnswerTest, ABlockThatDoesNotFitItsOutFailsThatKeyOnly) {
  std::string small(kRawBytes, '\0'), right(kRawBytes, '\0');
  const MutableTensorView wrong_dtype{kShape, DType::kFloat32, small.data()};
  const MutableTensorView fits{kShape, DType::kFloat16, right.data()};
  destinations_.push_back(TensorDestination::Caller(options_, wrong_dtype));
  destinations_.push_back(TensorDestination::Caller(options_, fits));
  GetManyAnswer answer(options_, destinations_, *codec_, 1);
  answer.StartAttempt();
  const std::string bytes = Pattern(kRawBytes, 5);
  ASSERT_NO_FATAL_FAILURE(AddBlock(answer, 0, bytes));  // its chunks are skipped
  ASSERT_NO_FATAL_FAILURE(AddBlock(answer, 1, bytes));
  ASSERT_TRUE(answer.EndAttempt().ok());
  std::vector<absl::StatusOr<GetResult>> results = answer.TakeResults();
  EXPECT_TRUE(absl::IsInvalidArgument(results[0].status())) << results[0].status();
  ASSERT_TRUE(results[1].ok()) << results[1].status();
  EXPECT_EQ(right, bytes);
  EXPECT_TRUE(results[1]->tensor.data.empty());  // written into the caller's memory
}

TEST_F(GetManyAnswerTest, ProtocolErrorsAreTheCalls) {
  Allocate(3);
  {
    GetManyAnswer answer(options_, destinations_, *codec_, 1);
    answer.StartAttempt();
    absl::Status skipped = answer.Add(Header(1));  // key 0 never answered
    EXPECT_EQ(skipped.code(), absl::StatusCode::kInternal);
    EXPECT_THAT(std::string(skipped.message()), HasSubstr("answered in order"));
  }
  {
    GetManyAnswer answer(options_, destinations_, *codec_, 1);
    answer.StartAttempt();
    ASSERT_NO_FATAL_FAILURE(AddBlock(answer, 0, Pattern(kRawBytes, 0)));
    absl::Status ended = answer.EndAttempt();
    EXPECT_EQ(ended.code(), absl::StatusCode::kInternal);
    EXPECT_THAT(std::string(ended.message()), HasSubstr("answering 1 of the 3 keys"));
  }
  {
    GetManyAnswer answer(options_, destinations_, *codec_, 1);
    answer.StartAttempt();
    EXPECT_EQ(answer.Add(wire::GetManyStatusMessage(0, absl::OkStatus())).code(),
              absl::StatusCode::kInternal);
  }
}

}  // namespace
}  // namespace gearkv::client_internal
