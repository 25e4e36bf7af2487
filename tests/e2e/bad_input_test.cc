// Every malformed request answers its documented status code (proto/gearkv/v1/kv_cache.proto),
// leaves nothing partial visible, and leaves the server serving. Malformed streams are sent
// with the raw generated stub, which (unlike gearkv::Client) lets a test send anything.
#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "e2e_util.h"
#include "gearkv/v1/kv_cache.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

namespace gearkv::e2e {
namespace {

using ::grpc::StatusCode;

constexpr size_t kMiB = size_t{1} << 20;

class BadInputTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto server = ServerProcess::Start(
        {"--memory_budget=64MiB", "--max_block_bytes=4MiB", "--default_preset=gear4"});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = server->release();
  }
  static void TearDownTestSuite() {
    if (server_ != nullptr) {
      auto code = server_->Stop();
      EXPECT_TRUE(code.ok()) << code.status();
      if (code.ok()) {
        EXPECT_EQ(*code, 0) << server_->Output();
      }
    }
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(server_, nullptr);
    channel_ = grpc::CreateChannel(server_->target(), grpc::InsecureChannelCredentials());
    stub_ = v1::KVCache::NewStub(channel_);
    client_ = Connect(*server_);
    ASSERT_NE(client_, nullptr);
  }
  void TearDown() override {
    // Whatever the test sent, the server is still up and serving.
    auto health = client_->Health();
    ASSERT_TRUE(health.ok()) << health.status() << server_->Output();
    EXPECT_EQ(*health, HealthState::kServing);
  }

  static v1::PutRequest Header(const std::string& key, TensorShape shape = {1, 2, 64, 64},
                               v1::DType dtype = v1::DTYPE_FLOAT16) {
    v1::PutRequest r;
    v1::PutHeader* h = r.mutable_header();
    h->set_namespace_("bad");
    h->set_key(key);
    h->mutable_shape()->set_layers(shape.layers);
    h->mutable_shape()->set_kv_heads(shape.kv_heads);
    h->mutable_shape()->set_tokens(shape.tokens);
    h->mutable_shape()->set_head_dim(shape.head_dim);
    h->set_dtype(dtype);
    h->mutable_codec()->set_preset("none");
    return r;
  }
  static v1::PutRequest Chunk(size_t bytes, char fill = 0x11) {
    v1::PutRequest r;
    r.set_chunk(std::string(bytes, fill));
    return r;
  }
  // Sends `messages` as one Put stream and returns the server's answer.
  grpc::Status RawPut(const std::vector<v1::PutRequest>& messages,
                      std::chrono::milliseconds deadline = std::chrono::seconds(20)) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + deadline);
    v1::PutResponse response;
    auto writer = stub_->Put(&context, &response);
    for (const auto& m : messages) {
      if (!writer->Write(m)) break;
    }
    writer->WritesDone();
    return writer->Finish();
  }
  bool Exists(const std::string& key) {
    auto r = client_->Lookup("bad", {key});
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() && r->exists.at(0);
  }
  // Expects `status` to carry `code`, and the key never to have been stored.
  void ExpectRejected(const grpc::Status& status, StatusCode code, const std::string& key) {
    EXPECT_EQ(status.error_code(), code) << status.error_message();
    EXPECT_FALSE(status.error_message().empty());
    if (!key.empty()) {
      EXPECT_FALSE(Exists(key)) << "a rejected Put left a block under " << key;
    }
  }

  static ServerProcess* server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::KVCache::Stub> stub_;
  std::unique_ptr<Client> client_;
};

ServerProcess* BadInputTest::server_ = nullptr;

constexpr size_t kBlockBytes = 1 * 2 * 2 * 64 * 64 * 2;  // Header()'s default shape, fp16

TEST_F(BadInputTest, WellFormedPutIsAcceptedAsAControl) {
  EXPECT_TRUE(RawPut({Header("ok"), Chunk(kBlockBytes / 2), Chunk(kBlockBytes / 2)}).ok());
  EXPECT_TRUE(Exists("ok"));
}

TEST_F(BadInputTest, MissingHeader) {
  ExpectRejected(RawPut({Chunk(kBlockBytes)}), StatusCode::INVALID_ARGUMENT, "");
}

TEST_F(BadInputTest, EmptyStream) { ExpectRejected(RawPut({}), StatusCode::INVALID_ARGUMENT, ""); }

TEST_F(BadInputTest, RepeatedHeader) {
  ExpectRejected(
      RawPut({Header("rep"), Chunk(kBlockBytes / 2), Header("rep"), Chunk(kBlockBytes / 2)}),
      StatusCode::INVALID_ARGUMENT, "rep");
}

TEST_F(BadInputTest, MoreBytesThanDeclared) {
  ExpectRejected(RawPut({Header("more"), Chunk(kBlockBytes), Chunk(1)}),
                 StatusCode::INVALID_ARGUMENT, "more");
}

TEST_F(BadInputTest, FewerBytesThanDeclared) {
  ExpectRejected(RawPut({Header("fewer"), Chunk(kBlockBytes - 2)}), StatusCode::INVALID_ARGUMENT,
                 "fewer");
  ExpectRejected(RawPut({Header("none-sent")}), StatusCode::INVALID_ARGUMENT, "none-sent");
}

TEST_F(BadInputTest, ChunkOverOneMiB) {
  const TensorShape big{2, 4, 1024, 64};  // 2 MiB
  ExpectRejected(RawPut({Header("bigchunk", big), Chunk(kMiB + 1), Chunk(kMiB - 1)}),
                 StatusCode::INVALID_ARGUMENT, "bigchunk");
}

TEST_F(BadInputTest, BadShapesAndDTypes) {
  ExpectRejected(RawPut({Header("hd7", {1, 2, 64, 7}), Chunk(1 * 2 * 2 * 64 * 7 * 2)}),
                 StatusCode::INVALID_ARGUMENT, "hd7");
  ExpectRejected(RawPut({Header("zero", {0, 2, 64, 64})}), StatusCode::INVALID_ARGUMENT, "zero");
  ExpectRejected(
      RawPut({Header("nodtype", {1, 2, 64, 64}, v1::DTYPE_UNSPECIFIED), Chunk(kBlockBytes)}),
      StatusCode::INVALID_ARGUMENT, "nodtype");
  ExpectRejected(
      RawPut({Header("baddtype", {1, 2, 64, 64}, static_cast<v1::DType>(42)), Chunk(kBlockBytes)}),
      StatusCode::INVALID_ARGUMENT, "baddtype");
}

TEST_F(BadInputTest, UnknownPresetAndBadSpecs) {
  v1::PutRequest unknown = Header("preset");
  unknown.mutable_header()->mutable_codec()->set_preset("gear5");
  grpc::Status s = RawPut({unknown, Chunk(kBlockBytes)});
  ExpectRejected(s, StatusCode::INVALID_ARGUMENT, "preset");
  EXPECT_NE(s.error_message().find("gear4"), std::string::npos)
      << "the message should list the known presets: " << s.error_message();

  v1::PutRequest bits = Header("bits");
  bits.mutable_header()->mutable_codec()->set_preset("gear4");
  bits.mutable_header()->mutable_codec()->set_bits(5);
  ExpectRejected(RawPut({bits, Chunk(kBlockBytes)}), StatusCode::INVALID_ARGUMENT, "bits");

  v1::PutRequest ratio = Header("ratio");
  ratio.mutable_header()->mutable_codec()->set_preset("gear4");
  ratio.mutable_header()->mutable_codec()->set_outlier_ratio(0.9f);
  ExpectRejected(RawPut({ratio, Chunk(kBlockBytes)}), StatusCode::INVALID_ARGUMENT, "ratio");
}

TEST_F(BadInputTest, KeyEmptyOrTooLong) {
  ExpectRejected(RawPut({Header(""), Chunk(kBlockBytes)}), StatusCode::INVALID_ARGUMENT, "");
  const std::string long_key(1025, 'k');
  grpc::Status s = RawPut({Header(long_key), Chunk(kBlockBytes)});
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_TRUE(RawPut({Header(std::string(1024, 'k')), Chunk(kBlockBytes)}).ok())
      << "1024 bytes is the documented maximum";
  EXPECT_EQ(client_->Get("bad", long_key).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client_->Get("bad", "").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client_->Delete("bad", "").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(BadInputTest, BlockOverTheSizeLimit) {
  const TensorShape big{8, 4, 1024, 64};  // 8 MiB of fp16 > --max_block_bytes=4MiB
  ExpectRejected(RawPut({Header("huge", big), Chunk(kMiB)}), StatusCode::RESOURCE_EXHAUSTED,
                 "huge");
}

TEST_F(BadInputTest, ClientCancelStoresNothing) {
  grpc::ClientContext context;
  v1::PutResponse response;
  auto writer = stub_->Put(&context, &response);
  ASSERT_TRUE(writer->Write(Header("cancelled")));
  ASSERT_TRUE(writer->Write(Chunk(kBlockBytes / 2)));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  context.TryCancel();
  grpc::Status s = writer->Finish();
  EXPECT_EQ(s.error_code(), StatusCode::CANCELLED) << s.error_message();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(Exists("cancelled"));
}

TEST_F(BadInputTest, DeadlineExceededStoresNothing) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(300));
  v1::PutResponse response;
  auto writer = stub_->Put(&context, &response);
  writer->Write(Header("late"));
  writer->Write(Chunk(kBlockBytes / 2));
  std::this_thread::sleep_for(std::chrono::milliseconds(700));  // stall past the deadline
  writer->Write(Chunk(kBlockBytes / 2));
  writer->WritesDone();
  grpc::Status s = writer->Finish();
  EXPECT_EQ(s.error_code(), StatusCode::DEADLINE_EXCEEDED) << s.error_message();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(Exists("late"));
}

TEST_F(BadInputTest, FailedPutLeavesThePreviousBlockIntact) {
  const Tensor good = Gaussian({1, 2, 64, 64}, DType::kFloat16, 77);
  ASSERT_TRUE(client_->Put("bad", "keep", *AsKvView(good), WithPreset("none")).ok());
  grpc::Status s = RawPut({Header("keep"), Chunk(kBlockBytes / 2, 0x7f)});  // short
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  s = RawPut({Header("keep"), Chunk(kBlockBytes, 0x7f), Chunk(8, 0x7f)});  // long
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  auto got = client_->Get("bad", "keep", WithEncoding(GetEncoding::kRaw));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(got->tensor.data == good.data) << "a failed Put changed the stored block";
}

TEST_F(BadInputTest, GetErrors) {
  EXPECT_EQ(client_->Get("bad", "missing").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(client_->Get("other-ns", "ok").status().code(), absl::StatusCode::kNotFound);
  const Tensor t = Gaussian({2, 2, 64, 64}, DType::kFloat16, 78);
  ASSERT_TRUE(client_->Put("bad", "layers", *AsKvView(t), WithPreset("kivi4")).ok());
  for (auto range : std::vector<std::pair<uint32_t, uint32_t>>{{1, 1}, {2, 1}, {0, 3}, {5, 6}}) {
    for (GetEncoding e : {GetEncoding::kRaw, GetEncoding::kCompressed}) {
      GetOptions get = WithEncoding(e);
      get.layers = range;
      auto r = client_->Get("bad", "layers", get);
      EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument)
          << range.first << ":" << range.second << " " << r.status();
    }
  }
  // A raw stream reader sees the header first and then exactly payload_bytes.
  grpc::ClientContext context;
  v1::GetRequest request;
  request.set_namespace_("bad");
  request.set_key("layers");
  request.set_encoding(v1::ENCODING_RAW);
  auto reader = stub_->Get(&context, request);
  v1::GetResponse message;
  ASSERT_TRUE(reader->Read(&message));
  ASSERT_TRUE(message.has_header());
  const uint64_t payload = message.header().payload_bytes();
  EXPECT_EQ(payload, t.data.size());
  uint64_t received = 0;
  while (reader->Read(&message)) {
    ASSERT_FALSE(message.has_header());
    EXPECT_LE(message.chunk().size(), kMiB);
    received += message.chunk().size();
  }
  EXPECT_TRUE(reader->Finish().ok());
  EXPECT_EQ(received, payload);
}

TEST_F(BadInputTest, LookupErrors) {
  auto r = client_->Lookup("bad", {std::string(1025, 'k')});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
}

}  // namespace
}  // namespace gearkv::e2e
