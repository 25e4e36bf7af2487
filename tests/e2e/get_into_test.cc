// Client::GetInto through a real gearkv-server: the block written into memory the caller owns
// equals what Get returns bit for bit (COMPRESSED decompressed on the client, with and without
// conversion; RAW; layer ranges), and every way of asking wrongly is refused with a message
// naming the problem.
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "e2e_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gearkv::e2e {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

// Caller-owned memory for a tensor, filled with a marker byte so that what was not written
// shows.
struct Buffer {
  Buffer(const TensorShape& shape, DType dtype)
      : bytes(shape.NumElements() * DTypeSize(dtype), '\xab'), view{shape, dtype, bytes.data()} {}
  std::string bytes;
  MutableTensorView view;
  bool Untouched() const { return bytes == std::string(bytes.size(), '\xab'); }
};

// What GetInto fills must be what Get says; the tensor and the block stay empty.
void ExpectSameMetadata(const GetResult& into, const GetResult& got) {
  EXPECT_TRUE(into.tensor.data.empty());
  EXPECT_TRUE(into.tensor.dims.empty());
  EXPECT_TRUE(into.block.empty());
  EXPECT_EQ(into.shape, got.shape);
  EXPECT_EQ(into.stored_dtype, got.stored_dtype);
  EXPECT_EQ(into.spec, got.spec);
  EXPECT_EQ(into.preset, got.preset);
  EXPECT_EQ(into.cost.raw_bytes, got.cost.raw_bytes);
  EXPECT_EQ(into.cost.stored_bytes, got.cost.stored_bytes);
  EXPECT_EQ(into.encoding, got.encoding);
  EXPECT_EQ(into.wire_bytes, got.wire_bytes);
  EXPECT_GT(into.wire_bytes, 0u);
}

class GetIntoTest : public ::testing::Test {
 protected:
  // 2 MiB of fp16: RAW answers span several chunks.
  static constexpr TensorShape kShape{4, 4, 256, 128};

  void SetUp() override {
    auto server = ServerProcess::Start({"--memory_budget=256MiB"});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    client_ = Connect(*server_);
    ASSERT_NE(client_, nullptr);
    input_ = Gaussian(kShape, DType::kFloat16, TestSeed() + 7);
    auto stored = client_->Put("into", "gear4", *AsKvView(input_), WithPreset("gear4"));
    ASSERT_TRUE(stored.ok()) << stored.status();
  }

  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<Client> client_;
  Tensor input_;
};

TEST_F(GetIntoTest, CompressedEqualsGetBitForBit) {
  for (DType dtype : {DType::kFloat16, DType::kFloat32}) {
    SCOPED_TRACE(DTypeName(dtype));
    GetOptions get = WithEncoding(GetEncoding::kCompressed);
    get.out_dtype = dtype;
    auto got = client_->Get("into", "gear4", get);
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_EQ(got->tensor.dtype, dtype);

    Buffer out(kShape, dtype);
    auto into = client_->GetInto("into", "gear4", out.view, WithEncoding(GetEncoding::kCompressed));
    ASSERT_TRUE(into.ok()) << into.status();
    EXPECT_TRUE(out.bytes == got->tensor.data) << "GetInto differs from Get";
    ExpectSameMetadata(*into, *got);
    EXPECT_EQ(into->stored_dtype, DType::kFloat16);
    EXPECT_EQ(into->wire_bytes, into->cost.stored_bytes);

    // out_dtype equal to out.dtype is allowed; the buffer is reused from call to call.
    std::memset(out.bytes.data(), 0, out.bytes.size());
    into = client_->GetInto("into", "gear4", out.view, get);
    ASSERT_TRUE(into.ok()) << into.status();
    EXPECT_TRUE(out.bytes == got->tensor.data);
  }
}

TEST_F(GetIntoTest, RawEqualsGetRaw) {
  auto got = client_->Get("into", "gear4", WithEncoding(GetEncoding::kRaw));
  ASSERT_TRUE(got.ok()) << got.status();
  Buffer out(kShape, DType::kFloat16);
  GetOptions raw = WithEncoding(GetEncoding::kRaw);
  uint64_t last_done = 0, last_total = 0;
  int calls = 0;
  raw.progress = [&](uint64_t done, uint64_t total) {
    EXPECT_GE(done, last_done);
    last_done = done;
    last_total = total;
    ++calls;
  };
  auto into = client_->GetInto("into", "gear4", out.view, raw);
  ASSERT_TRUE(into.ok()) << into.status();
  EXPECT_TRUE(out.bytes == got->tensor.data) << "GetInto differs from Get";
  ExpectSameMetadata(*into, *got);
  EXPECT_EQ(into->wire_bytes, out.bytes.size());
  EXPECT_GT(calls, 1) << "a 2 MiB RAW answer comes in several chunks";
  EXPECT_EQ(last_done, out.bytes.size());
  EXPECT_EQ(last_total, out.bytes.size());
}

TEST_F(GetIntoTest, LayerRange) {
  const TensorShape part{2, kShape.kv_heads, kShape.tokens, kShape.head_dim};
  for (GetEncoding encoding : {GetEncoding::kCompressed, GetEncoding::kRaw}) {
    SCOPED_TRACE(encoding == GetEncoding::kRaw ? "raw" : "compressed");
    GetOptions range = WithEncoding(encoding);
    range.layers = std::make_pair(1u, 3u);
    auto got = client_->Get("into", "gear4", range);
    ASSERT_TRUE(got.ok()) << got.status();
    Buffer out(part, DType::kFloat16);
    auto into = client_->GetInto("into", "gear4", out.view, range);
    ASSERT_TRUE(into.ok()) << into.status();
    EXPECT_EQ(into->shape, part);
    EXPECT_TRUE(out.bytes == got->tensor.data) << "GetInto differs from Get";
    ExpectSameMetadata(*into, *got);
  }
}

TEST_F(GetIntoTest, WrongShapeIsRefusedWhenTheHeaderArrives) {
  const std::string block_shape = kShape.DebugString();
  for (GetEncoding encoding : {GetEncoding::kCompressed, GetEncoding::kRaw}) {
    SCOPED_TRACE(encoding == GetEncoding::kRaw ? "raw" : "compressed");
    const TensorShape fewer_tokens{kShape.layers, kShape.kv_heads, 128, kShape.head_dim};
    Buffer out(fewer_tokens, DType::kFloat16);
    auto into = client_->GetInto("into", "gear4", out.view, WithEncoding(encoding));
    EXPECT_EQ(into.status().code(), absl::StatusCode::kInvalidArgument) << into.status();
    EXPECT_THAT(std::string(into.status().message()),
                AllOf(HasSubstr("out.shape"), HasSubstr(fewer_tokens.DebugString()),
                      HasSubstr(block_shape)));
    EXPECT_TRUE(out.Untouched()) << "nothing may be written before the shape is checked";

    // The whole block's shape for a layer range: the message says the range was applied.
    GetOptions range = WithEncoding(encoding);
    range.layers = std::make_pair(1u, 3u);
    Buffer whole(kShape, DType::kFloat16);
    into = client_->GetInto("into", "gear4", whole.view, range);
    EXPECT_EQ(into.status().code(), absl::StatusCode::kInvalidArgument) << into.status();
    EXPECT_THAT(
        std::string(into.status().message()),
        AllOf(HasSubstr(block_shape),
              HasSubstr(
                  TensorShape{2, kShape.kv_heads, kShape.tokens, kShape.head_dim}.DebugString()),
              HasSubstr("layers [1, 3)")));
    EXPECT_TRUE(whole.Untouched());
  }
  // The client still works after the cancelled calls.
  Buffer out(kShape, DType::kFloat16);
  EXPECT_TRUE(client_->GetInto("into", "gear4", out.view).ok());
}

TEST_F(GetIntoTest, RawNeedsTheStoredDType) {
  Buffer out(kShape, DType::kFloat32);
  auto into = client_->GetInto("into", "gear4", out.view, WithEncoding(GetEncoding::kRaw));
  EXPECT_EQ(into.status().code(), absl::StatusCode::kInvalidArgument) << into.status();
  EXPECT_THAT(std::string(into.status().message()),
              AllOf(HasSubstr("out.dtype float32"), HasSubstr("stored dtype float16")));
  EXPECT_TRUE(out.Untouched());
  // Get refuses the same (out_dtype with RAW) as soon as the header arrives too.
  GetOptions raw_f32 = WithEncoding(GetEncoding::kRaw);
  raw_f32.out_dtype = DType::kFloat32;
  auto got = client_->Get("into", "gear4", raw_f32);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument) << got.status();
  EXPECT_THAT(std::string(got.status().message()),
              AllOf(HasSubstr("out_dtype differs from the stored dtype"), HasSubstr("float32"),
                    HasSubstr("float16")));
}

TEST_F(GetIntoTest, BadArguments) {
  Buffer out(kShape, DType::kFloat16);
  GetOptions contradicts;
  contradicts.out_dtype = DType::kFloat32;
  auto into = client_->GetInto("into", "gear4", out.view, contradicts);
  EXPECT_EQ(into.status().code(), absl::StatusCode::kInvalidArgument) << into.status();
  EXPECT_THAT(std::string(into.status().message()),
              AllOf(HasSubstr("out_dtype float32"), HasSubstr("out.dtype float16")));

  GetOptions no_decompress;
  no_decompress.decompress = false;
  into = client_->GetInto("into", "gear4", out.view, no_decompress);
  EXPECT_EQ(into.status().code(), absl::StatusCode::kInvalidArgument) << into.status();
  EXPECT_THAT(std::string(into.status().message()), HasSubstr("decompress must be true"));

  MutableTensorView null = out.view;
  null.data = nullptr;
  for (GetEncoding encoding : {GetEncoding::kCompressed, GetEncoding::kRaw}) {
    into = client_->GetInto("into", "gear4", null, WithEncoding(encoding));
    EXPECT_EQ(into.status().code(), absl::StatusCode::kInvalidArgument) << into.status();
    EXPECT_THAT(std::string(into.status().message()), HasSubstr("out.data is null"));
  }

  MutableTensorView bad_shape = out.view;
  bad_shape.shape.head_dim = 12;  // not a multiple of 8
  into = client_->GetInto("into", "gear4", bad_shape);
  EXPECT_EQ(into.status().code(), absl::StatusCode::kInvalidArgument) << into.status();
  EXPECT_THAT(std::string(into.status().message()), HasSubstr("out.shape"));
  EXPECT_TRUE(out.Untouched());
}

TEST_F(GetIntoTest, MissingKeyIsNotFound) {
  Buffer out(kShape, DType::kFloat16);
  for (GetEncoding encoding : {GetEncoding::kCompressed, GetEncoding::kRaw}) {
    auto into = client_->GetInto("into", "missing", out.view, WithEncoding(encoding));
    EXPECT_EQ(into.status().code(), absl::StatusCode::kNotFound) << into.status();
    EXPECT_THAT(std::string(into.status().message()),
                AllOf(HasSubstr("no block under"), HasSubstr("missing")));
  }
  EXPECT_TRUE(out.Untouched());
}

}  // namespace
}  // namespace gearkv::e2e
