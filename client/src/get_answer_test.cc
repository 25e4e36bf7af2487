// The steps of a Get's answer without a server: messages made with gearkv/get_messages.h go
// into a GetAnswer as a stream would deliver them.
#include "get_answer.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gearkv/codec.h"
#include "gearkv/get_messages.h"
#include "gearkv/wire.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gearkv::client_internal {
namespace {

using ::testing::HasSubstr;

constexpr TensorShape kShape{2, 2, 16, 64};
constexpr uint64_t kRawBytes = uint64_t{2} * 2 * 2 * 16 * 64 * 2;  // kShape in fp16: 16 KiB

v1::GetHeader Header(v1::Encoding encoding, uint64_t payload_bytes) {
  v1::GetHeader h;
  *h.mutable_shape() = wire::ShapeToWire(kShape);
  h.set_dtype(v1::DTYPE_FLOAT16);
  h.set_encoding(encoding);
  h.set_payload_bytes(payload_bytes);
  *h.mutable_codec() = wire::SpecToWire(*PresetSpec("kivi4"));
  *h.mutable_stats() = wire::MakeBlockStats(kRawBytes, payload_bytes, kShape.NumElements());
  return h;
}

grpc::ByteBuffer Chunk(const std::string& bytes) {
  auto owner = std::make_shared<std::string>(bytes);
  return wire::GetChunkMessage(*owner, owner);
}

std::string Pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(i * 7 + 1);
  return s;
}

GetOptions Raw() {
  GetOptions options;
  options.encoding = GetEncoding::kRaw;
  return options;
}

std::unique_ptr<Codec> CpuCodec() {
  auto codec = MakeCodec(Backend::kCpu);
  EXPECT_TRUE(codec.ok()) << codec.status();
  return std::move(*codec);
}

TEST(InspectGetHeaderTest, FillsTheResultAndReturnsThePayloadSize) {
  const GetOptions options = Raw();
  GetResult result;
  auto announced = InspectGetHeader(Header(v1::ENCODING_RAW, kRawBytes), options,
                                    TensorDestination::Allocated(options), &result);
  ASSERT_TRUE(announced.ok()) << announced.status();
  EXPECT_EQ(*announced, kRawBytes);
  EXPECT_EQ(result.shape, kShape);
  EXPECT_EQ(result.stored_dtype, DType::kFloat16);
  EXPECT_EQ(result.preset, "kivi4");
  EXPECT_EQ(result.spec, *PresetSpec("kivi4"));
  EXPECT_EQ(result.cost.raw_bytes, kRawBytes);
}

TEST(InspectGetHeaderTest, ABadHeaderIsTheServersFault) {
  const GetOptions raw = Raw();
  const GetOptions compressed;
  struct Case {
    v1::GetHeader header;
    const GetOptions* options;
    const char* message;
  };
  std::vector<Case> cases;
  cases.push_back({Header(v1::ENCODING_RAW, kRawBytes), &raw, "bad dtype"});
  cases.back().header.set_dtype(v1::DTYPE_UNSPECIFIED);
  cases.push_back({Header(v1::ENCODING_RAW, kRawBytes), &raw, "bad shape"});
  cases.back().header.mutable_shape()->set_head_dim(7);
  cases.push_back({Header(v1::ENCODING_RAW, kRawBytes + 2), &raw, "RAW bytes"});
  cases.push_back({Header(v1::ENCODING_COMPRESSED, kRawBytes + kBlockSlackBytes + 1), &compressed,
                   "-byte block for a"});
  for (const Case& c : cases) {
    GetResult result;
    auto announced =
        InspectGetHeader(c.header, *c.options, TensorDestination::Allocated(*c.options), &result);
    EXPECT_EQ(announced.status().code(), absl::StatusCode::kInternal) << announced.status();
    EXPECT_THAT(std::string(announced.status().message()), HasSubstr(c.message));
  }
}

TEST(InspectGetHeaderTest, ABlockThatCannotGoToTheDestinationIsTheCallersError) {
  const GetOptions options = Raw();
  std::string memory(kRawBytes, '\0');
  const MutableTensorView out{kShape, DType::kFloat32, memory.data()};
  GetResult result;
  auto announced = InspectGetHeader(Header(v1::ENCODING_RAW, kRawBytes), options,
                                    TensorDestination::Caller(options, out), &result);
  EXPECT_EQ(announced.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(announced.status().message()), HasSubstr("kRaw cannot convert"));
}

// Feeds `answer` a RAW header for `bytes` and the bytes as two chunks split at `split`.
void AddRawAnswer(GetAnswer& answer, const std::string& bytes, size_t split) {
  ASSERT_TRUE(answer.Add(wire::GetHeaderMessage(Header(v1::ENCODING_RAW, bytes.size()))).ok());
  ASSERT_TRUE(answer.Add(Chunk(bytes.substr(0, split))).ok());
  ASSERT_TRUE(answer.Add(Chunk(bytes.substr(split))).ok());
}

TEST(GetAnswerTest, RawChunksBecomeTheTensor) {
  const GetOptions options = Raw();
  const auto destination = TensorDestination::Allocated(options);
  GetAnswer answer(options, destination);
  const std::string bytes = Pattern(kRawBytes);
  ASSERT_NO_FATAL_FAILURE(AddRawAnswer(answer, bytes, 1000));
  auto codec = CpuCodec();
  auto result = answer.Finish(*codec, 1);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->tensor.data == bytes);
  EXPECT_EQ(result->tensor.dtype, DType::kFloat16);
  EXPECT_EQ(result->tensor.dims, (std::vector<uint64_t>{2, 2, 2, 16, 64}));
  EXPECT_EQ(result->wire_bytes, kRawBytes);
  EXPECT_EQ(result->encoding, GetEncoding::kRaw);
}

TEST(GetAnswerTest, ProgressIsReportedAfterEachChunk) {
  GetOptions options = Raw();
  std::vector<std::pair<uint64_t, uint64_t>> calls;
  options.progress = [&](uint64_t done, uint64_t total) { calls.emplace_back(done, total); };
  const auto destination = TensorDestination::Allocated(options);
  GetAnswer answer(options, destination);
  ASSERT_NO_FATAL_FAILURE(AddRawAnswer(answer, Pattern(kRawBytes), 4096));
  EXPECT_EQ(calls, (std::vector<std::pair<uint64_t, uint64_t>>{{4096, kRawBytes},
                                                               {kRawBytes, kRawBytes}}));
}

TEST(GetAnswerTest, OutOfOrderOrOversizedStreamsAreRefused) {
  const GetOptions options = Raw();
  const auto destination = TensorDestination::Allocated(options);
  const grpc::ByteBuffer header = wire::GetHeaderMessage(Header(v1::ENCODING_RAW, kRawBytes));
  {
    GetAnswer answer(options, destination);
    const absl::Status s = answer.Add(Chunk("x"));
    EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
    EXPECT_THAT(std::string(s.message()), HasSubstr("chunk before the header"));
  }
  {
    GetAnswer answer(options, destination);
    const absl::Status s = answer.Add(Chunk(""));
    EXPECT_THAT(std::string(s.message()), HasSubstr("chunk before the header"));
  }
  {
    GetAnswer answer(options, destination);
    ASSERT_TRUE(answer.Add(header).ok());
    const absl::Status s = answer.Add(header);
    EXPECT_THAT(std::string(s.message()), HasSubstr("second Get header"));
  }
  {
    GetAnswer answer(options, destination);
    ASSERT_TRUE(answer.Add(header).ok());
    const absl::Status s = answer.Add(Chunk(Pattern(kRawBytes + 1)));
    EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
    EXPECT_THAT(std::string(s.message()),
                HasSubstr(absl::StrCat("more than the ", kRawBytes, " payload bytes")));
  }
  {
    GetAnswer answer(options, destination);
    const std::string garbage = "\xff\xff\xff";
    grpc::Slice slice(garbage);
    const absl::Status s = answer.Add(grpc::ByteBuffer(&slice, 1));
    EXPECT_THAT(std::string(s.message()), HasSubstr("bad Get message"));
  }
}

TEST(GetAnswerTest, AStreamThatEndsEarlyIsRefused) {
  const GetOptions options = Raw();
  const auto destination = TensorDestination::Allocated(options);
  auto codec = CpuCodec();
  {
    GetAnswer answer(options, destination);
    EXPECT_THAT(std::string(answer.Finish(*codec, 1).status().message()),
                HasSubstr("without a header"));
  }
  {
    GetAnswer answer(options, destination);
    ASSERT_TRUE(answer.Add(wire::GetHeaderMessage(Header(v1::ENCODING_RAW, kRawBytes))).ok());
    ASSERT_TRUE(answer.Add(Chunk(Pattern(100))).ok());
    auto result = answer.Finish(*codec, 1);
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInternal);
    EXPECT_THAT(std::string(result.status().message()),
                HasSubstr(absl::StrCat("sent 100 of the ", kRawBytes)));
  }
}

TEST(GetAnswerTest, ACompressedBlockIsDecompressedIntoTheCallersMemory) {
  auto codec = CpuCodec();
  std::string tensor(kRawBytes, '\0');
  for (size_t i = 0; i < tensor.size(); i += 2) tensor[i + 1] = static_cast<char>(0x30 + i % 5);
  auto block = codec->Compress({kShape, DType::kFloat16, tensor.data()}, *PresetSpec("kivi4"));
  ASSERT_TRUE(block.ok()) << block.status();
  std::string expected(kRawBytes * 2, '\0');
  ASSERT_TRUE(codec->Decompress(block->bytes, {kShape, DType::kFloat32, expected.data()}).ok());

  const GetOptions options;  // COMPRESSED, decompressed here
  std::string memory(kRawBytes * 2, '\0');
  const MutableTensorView out{kShape, DType::kFloat32, memory.data()};
  const auto destination = TensorDestination::Caller(options, out);
  GetAnswer answer(options, destination);
  ASSERT_TRUE(
      answer.Add(wire::GetHeaderMessage(Header(v1::ENCODING_COMPRESSED, block->bytes.size())))
          .ok());
  ASSERT_TRUE(answer.Add(Chunk(block->bytes)).ok());
  auto result = answer.Finish(*codec, 1);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(memory == expected);
  EXPECT_TRUE(result->block.empty());
  EXPECT_TRUE(result->tensor.data.empty());
}

TEST(GetAnswerTest, ACompressedBlockIsDecompressedIntoTheAskedLayout) {
  auto codec = CpuCodec();
  std::string tensor(kRawBytes, '\0');
  for (size_t i = 0; i < tensor.size(); i += 2) tensor[i + 1] = static_cast<char>(0x30 + i % 7);
  auto block = codec->Compress({kShape, DType::kFloat16, tensor.data()}, *PresetSpec("kivi4"));
  ASSERT_TRUE(block.ok()) << block.status();
  for (Layout layout : {Layout::kKv2LTD, Layout::kPageFirst}) {
    std::string expected(kRawBytes, '\0');
    ASSERT_TRUE(
        codec->Decompress(block->bytes, {kShape, DType::kFloat16, expected.data(), layout}).ok());
    GetOptions options;
    options.layout = layout;
    const auto destination = TensorDestination::Allocated(options);
    GetAnswer answer(options, destination);
    ASSERT_TRUE(
        answer.Add(wire::GetHeaderMessage(Header(v1::ENCODING_COMPRESSED, block->bytes.size())))
            .ok());
    ASSERT_TRUE(answer.Add(Chunk(block->bytes)).ok());
    auto result = answer.Finish(*codec, 1);
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->layout, layout);
    EXPECT_TRUE(result->tensor.data == expected) << LayoutName(layout);
    EXPECT_EQ(result->tensor.dims, (std::vector<uint64_t>{2, 2, 2, 16, 64}));
  }
}

TEST(InspectGetHeaderTest, AHeaderInAnotherLayoutThanAskedIsTheServersFault) {
  GetOptions raw = Raw();
  raw.layout = Layout::kPageFirst;
  GetResult result;
  // A server that knows no layouts answers canonical (the field unset).
  auto st = InspectGetHeader(Header(v1::ENCODING_RAW, kRawBytes), raw,
                             TensorDestination::Allocated(raw), &result);
  EXPECT_EQ(st.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(st.status().message()), HasSubstr("layout"));
  v1::GetHeader header = Header(v1::ENCODING_RAW, kRawBytes);
  header.set_layout(v1::LAYOUT_PAGE_FIRST);
  EXPECT_TRUE(InspectGetHeader(header, raw, TensorDestination::Allocated(raw), &result).ok());
  // COMPRESSED blocks are canonical, whatever layout the client decodes into.
  GetOptions compressed;
  compressed.layout = Layout::kKv2LTD;
  header = Header(v1::ENCODING_COMPRESSED, 100);
  EXPECT_TRUE(
      InspectGetHeader(header, compressed, TensorDestination::Allocated(compressed), &result).ok());
  header.set_layout(v1::LAYOUT_KV_2LTD);
  EXPECT_EQ(InspectGetHeader(header, compressed, TensorDestination::Allocated(compressed), &result)
                .status()
                .code(),
            absl::StatusCode::kInternal);
}

TEST(GetAnswerTest, WithoutDecompressTheBlockIsReturned) {
  GetOptions options;
  options.decompress = false;
  const auto destination = TensorDestination::Allocated(options);
  GetAnswer answer(options, destination);
  ASSERT_TRUE(answer.Add(wire::GetHeaderMessage(Header(v1::ENCODING_COMPRESSED, 10))).ok());
  ASSERT_TRUE(answer.Add(Chunk("0123456789")).ok());
  auto codec = CpuCodec();
  auto result = answer.Finish(*codec, 1);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->block, "0123456789");
  EXPECT_TRUE(result->tensor.data.empty());
}

TEST(DecompressBlockTest, ACorruptBlockSaysItCameFromTheServer) {
  auto codec = CpuCodec();
  std::string memory(kRawBytes, '\0');
  const absl::Status s =
      DecompressBlock(*codec, "not a block", {kShape, DType::kFloat16, memory.data()}, 1);
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr("decompressing the block the server sent: "));
}

TEST(BorrowedBlockBufferTest, OneBorrowerAtATimePerThread) {
  BorrowedBlockBuffer first(true);
  ASSERT_NE(first.get(), nullptr);
  {
    BorrowedBlockBuffer second(true);
    EXPECT_EQ(second.get(), nullptr);
  }
  EXPECT_EQ(BorrowedBlockBuffer(false).get(), nullptr);
}

}  // namespace
}  // namespace gearkv::client_internal
