// The batched calls (GetMany, PutMany) of the KVCache service in-process, through the generated
// stubs: per-key outcomes, the limits, cancellation and deadlines between blocks, metrics.
#include <grpcpp/grpcpp.h>

#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gated_codec.h"
#include "gearkv/codec.h"
#include "gearkv/server/server.h"
#include "gearkv/store/memory_store.h"
#include "gearkv/v1/kv_cache.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "metrics_scrape.h"

namespace gearkv::server {
namespace {

using ::testing::HasSubstr;

constexpr TensorShape kShape{2, 2, 64, 64};  // fp32: 128 KiB

std::string RandomTensor(uint32_t seed, const TensorShape& shape = kShape) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> values(shape.NumElements());
  for (float& v : values) v = normal(rng);
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
}

v1::PutManyRequest Header(const std::string& key, const std::string& preset = "none",
                          const TensorShape& shape = kShape) {
  v1::PutManyRequest message;
  v1::PutHeader* h = message.mutable_header();
  h->set_namespace_("m");
  h->set_key(key);
  h->mutable_shape()->set_layers(shape.layers);
  h->mutable_shape()->set_kv_heads(shape.kv_heads);
  h->mutable_shape()->set_tokens(shape.tokens);
  h->mutable_shape()->set_head_dim(shape.head_dim);
  h->set_dtype(v1::DTYPE_FLOAT32);
  h->mutable_codec()->set_preset(preset);
  return message;
}

v1::PutManyRequest Chunk(std::string_view bytes) {
  v1::PutManyRequest message;
  message.set_chunk(std::string(bytes));
  return message;
}

// A block's messages: its header and chunks of 64 KiB.
void AppendBlock(std::vector<v1::PutManyRequest>& messages, const std::string& key,
                 const std::string& data, const std::string& preset = "none") {
  messages.push_back(Header(key, preset));
  for (size_t offset = 0; offset < data.size(); offset += 64 << 10) {
    messages.push_back(Chunk(std::string_view(data).substr(offset, 64 << 10)));
  }
}

// What one key of a GetMany received.
struct KeyAnswer {
  std::optional<v1::GetHeader> header;
  std::string payload;
  std::optional<v1::KeyStatus> status;
};

struct GetManyAnswer {
  grpc::Status status;
  std::vector<KeyAnswer> keys;  // by index; as many as were answered (in part)
};

class BatchedServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(/*metrics=*/false); }

  void Start(bool metrics, int workers = 2, uint64_t max_inflight_bytes = uint64_t{2} << 30) {
    auto memory = std::make_unique<store::MemoryStore>(store::MemoryStoreOptions{});
    store_ = memory.get();
    server_.reset();
    ServerConfig config;
    config.listen_address = "127.0.0.1:0";
    config.metrics_port = metrics ? metrics::testutil::FreeLoopbackPort() : 0;
    config.memory_budget_bytes = 64 << 20;
    config.max_block_bytes = 4 << 20;
    config.worker_threads = workers;
    config.worker_queue_depth = 8;
    config.max_inflight_bytes = max_inflight_bytes;
    config.backend = Backend::kCpu;
    auto codec = std::make_unique<GatedCodec>(*MakeCodec(Backend::kCpu));
    codec_ = codec.get();
    ServerDeps deps;
    deps.codec = std::move(codec);
    deps.store = std::move(memory);
    absl::StatusOr<std::unique_ptr<Server>> server = Server::Start(config, std::move(deps));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    stub_ = v1::KVCache::NewStub(server_->InProcessChannel());
  }

  grpc::Status PutMany(const std::vector<v1::PutManyRequest>& messages,
                       v1::PutManyResponse* response, grpc::ClientContext* context = nullptr) {
    grpc::ClientContext local;
    if (context == nullptr) context = &local;
    auto writer = stub_->PutMany(context, response);
    for (const v1::PutManyRequest& message : messages) {
      if (!writer->Write(message)) break;  // the server answered early
    }
    writer->WritesDone();
    return writer->Finish();
  }

  GetManyAnswer GetMany(const std::vector<std::string>& keys, v1::Encoding encoding,
                        grpc::ClientContext* context = nullptr,
                        absl::Duration pause_after_first = absl::ZeroDuration()) {
    grpc::ClientContext local;
    if (context == nullptr) context = &local;
    v1::GetManyRequest request;
    request.set_namespace_("m");
    for (const std::string& k : keys) request.add_keys(k);
    request.set_encoding(encoding);
    GetManyAnswer answer;
    auto reader = stub_->GetMany(context, request);
    v1::GetManyResponse message;
    bool first = true;
    while (reader->Read(&message)) {
      if (first && pause_after_first > absl::ZeroDuration()) absl::SleepFor(pause_after_first);
      first = false;
      EXPECT_GE(message.index(), answer.keys.empty() ? 0u : answer.keys.size() - 1);
      if (message.index() >= answer.keys.size()) answer.keys.resize(message.index() + 1);
      KeyAnswer& key = answer.keys[message.index()];
      if (message.has_header()) key.header = message.header();
      if (message.has_status()) key.status = message.status();
      if (message.msg_case() == v1::GetManyResponse::kChunk) key.payload += message.chunk();
    }
    answer.status = reader->Finish();
    return answer;
  }

  bool Exists(const std::string& key) { return store_->Contains({"m", key}); }

  std::unique_ptr<Server> server_;
  store::MemoryStore* store_ = nullptr;
  GatedCodec* codec_ = nullptr;
  std::unique_ptr<v1::KVCache::Stub> stub_;
};

TEST_F(BatchedServiceTest, PutManyThenGetManyMixedHitsAndMisses) {
  const std::string a = RandomTensor(1), b = RandomTensor(2), c = RandomTensor(3);
  std::vector<v1::PutManyRequest> messages;
  AppendBlock(messages, "a", a);
  AppendBlock(messages, "b", b, "gear4");
  AppendBlock(messages, "c", c);
  v1::PutManyResponse put;
  ASSERT_TRUE(PutMany(messages, &put).ok());
  ASSERT_EQ(put.results_size(), 3);
  for (const v1::PutManyResult& r : put.results()) {
    EXPECT_EQ(r.status().code(), 0) << r.status().message();
    EXPECT_EQ(r.stored().stats().raw_bytes(), a.size());
  }
  EXPECT_EQ(put.results(1).stored().codec().preset(), "gear4");
  EXPECT_LT(put.results(1).stored().stats().stored_bytes(), a.size() / 4);

  // RAW: the exact tensors for "none", NOT_FOUND for the missing keys, in the order asked.
  GetManyAnswer raw = GetMany({"a", "missing", "c", "a", "gone"}, v1::ENCODING_RAW);
  ASSERT_TRUE(raw.status.ok()) << raw.status.error_message();
  ASSERT_EQ(raw.keys.size(), 5u);
  EXPECT_EQ(raw.keys[0].payload, a);
  EXPECT_EQ(raw.keys[0].header->encoding(), v1::ENCODING_RAW);
  ASSERT_TRUE(raw.keys[1].status.has_value());
  EXPECT_EQ(raw.keys[1].status->code(), static_cast<int>(absl::StatusCode::kNotFound));
  EXPECT_THAT(raw.keys[1].status->message(), HasSubstr("no block"));
  EXPECT_FALSE(raw.keys[1].header.has_value());
  EXPECT_EQ(raw.keys[2].payload, c);
  EXPECT_EQ(raw.keys[3].payload, a);  // a repeated key is answered again
  EXPECT_EQ(raw.keys[4].status->code(), static_cast<int>(absl::StatusCode::kNotFound));

  // COMPRESSED: the stored blocks' bytes, which decompress to what RAW sends.
  GetManyAnswer compressed = GetMany({"b", "missing", "a"}, v1::ENCODING_COMPRESSED);
  ASSERT_TRUE(compressed.status.ok());
  ASSERT_EQ(compressed.keys.size(), 3u);
  EXPECT_EQ(compressed.keys[0].payload, **store_->Get({"m", "b"}));
  EXPECT_EQ(compressed.keys[0].header->payload_bytes(), compressed.keys[0].payload.size());
  EXPECT_EQ(compressed.keys[1].status->code(), static_cast<int>(absl::StatusCode::kNotFound));
  EXPECT_EQ(compressed.keys[2].payload, **store_->Get({"m", "a"}));
  GetManyAnswer b_raw = GetMany({"b"}, v1::ENCODING_RAW);
  std::string decoded(b.size(), '\0');
  auto codec = *MakeCodec(Backend::kCpu);
  ASSERT_TRUE(
      codec->Decompress(compressed.keys[0].payload, {kShape, DType::kFloat32, decoded.data()}, {})
          .ok());
  EXPECT_EQ(decoded, b_raw.keys[0].payload);

  // An empty batch is an empty stream.
  GetManyAnswer none = GetMany({}, v1::ENCODING_RAW);
  EXPECT_TRUE(none.status.ok());
  EXPECT_TRUE(none.keys.empty());
}

TEST_F(BatchedServiceTest, ACorruptBlockIsDataLossForItsIndexOnly) {
  std::vector<v1::PutManyRequest> messages;
  for (int i = 0; i < 4; ++i)
    AppendBlock(messages, "k" + std::to_string(i), RandomTensor(i), "gear4");
  v1::PutManyResponse put;
  ASSERT_TRUE(PutMany(messages, &put).ok());
  std::string corrupt = **store_->Get({"m", "k2"});
  corrupt[corrupt.size() / 2] ^= 0x5a;
  for (v1::Encoding encoding : {v1::ENCODING_COMPRESSED, v1::ENCODING_RAW}) {
    ASSERT_TRUE(
        store_
            ->Put({"m", "k2"}, std::make_shared<const std::string>(corrupt), absl::InfiniteFuture())
            .ok());
    GetManyAnswer got = GetMany({"k0", "k1", "k2", "k3"}, encoding);
    ASSERT_TRUE(got.status.ok()) << got.status.error_message();
    ASSERT_EQ(got.keys.size(), 4u);
    for (int i : {0, 1, 3}) {
      EXPECT_FALSE(got.keys[i].status.has_value()) << i;
      EXPECT_EQ(got.keys[i].payload.size(), got.keys[i].header->payload_bytes());
      EXPECT_GT(got.keys[i].payload.size(), 0u);
    }
    ASSERT_TRUE(got.keys[2].status.has_value());
    EXPECT_EQ(got.keys[2].status->code(), static_cast<int>(absl::StatusCode::kDataLoss));
    EXPECT_THAT(got.keys[2].status->message(), HasSubstr("dropped"));
    EXPECT_FALSE(Exists("k2"));
  }
}

TEST_F(BatchedServiceTest, ARefusedBlockGetsItsOwnStatusAndTheOthersAreStored) {
  std::vector<v1::PutManyRequest> messages;
  AppendBlock(messages, "ok1", RandomTensor(1));
  messages.push_back(Header("bad", "no-such-preset"));
  messages.push_back(Chunk(RandomTensor(2)));  // skipped with its header
  AppendBlock(messages, "ok2", RandomTensor(3));
  v1::PutManyRequest huge = Header("huge", "none", {64, 8, 256, 128});  // 128 MiB > 4 MiB
  messages.push_back(huge);
  v1::PutManyResponse put;
  grpc::Status status = PutMany(messages, &put);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(put.results_size(), 4);
  EXPECT_EQ(put.results(0).status().code(), 0);
  EXPECT_EQ(put.results(1).status().code(), static_cast<int>(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(put.results(1).status().message(), HasSubstr("no-such-preset"));
  EXPECT_EQ(put.results(2).status().code(), 0);
  EXPECT_EQ(put.results(3).status().code(), static_cast<int>(absl::StatusCode::kResourceExhausted));
  EXPECT_TRUE(Exists("ok1"));
  EXPECT_FALSE(Exists("bad"));
  EXPECT_TRUE(Exists("ok2"));
  EXPECT_FALSE(Exists("huge"));
}

TEST_F(BatchedServiceTest, ProtocolErrorsEndTheCallAndKeepWhatWasStored) {
  const std::string data = RandomTensor(1);
  {
    v1::PutManyResponse put;
    grpc::Status status = PutMany({Chunk("abc")}, &put);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(), HasSubstr("missing header"));
  }
  {
    std::vector<v1::PutManyRequest> messages;
    AppendBlock(messages, "first", data);
    messages.push_back(Header("short"));
    messages.push_back(Chunk(std::string_view(data).substr(0, 1000)));
    messages.push_back(Header("next"));
    v1::PutManyResponse put;
    grpc::Status status = PutMany(messages, &put);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(), HasSubstr("block 1: the next header came after 1000"));
    EXPECT_FALSE(Exists("short"));
  }
  {
    std::vector<v1::PutManyRequest> messages;
    AppendBlock(messages, "extra", data);
    messages.push_back(Chunk("x"));
    v1::PutManyResponse put;
    grpc::Status status = PutMany(messages, &put);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(), HasSubstr("more bytes than the header declares"));
  }
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_TRUE(Exists("first"));  // a whole block before the error is stored
}

TEST_F(BatchedServiceTest, BatchesOverTheKeyLimitAreInvalid) {
  std::vector<std::string> keys(v1::LIMIT_MAX_BATCH_KEYS + 1, "k");
  GetManyAnswer got = GetMany(keys, v1::ENCODING_COMPRESSED);
  EXPECT_EQ(got.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(got.status.error_message(), HasSubstr("LIMIT_MAX_BATCH_KEYS"));
  EXPECT_TRUE(got.keys.empty());
  GetManyAnswer bad_key = GetMany({"k", ""}, v1::ENCODING_COMPRESSED);
  EXPECT_EQ(bad_key.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(bad_key.status.error_message(), HasSubstr("keys[1]"));

  // PutMany: refused headers are cheap blocks; the one past the limit ends the call.
  std::vector<v1::PutManyRequest> messages;
  v1::PutManyRequest bad = Header("k");
  bad.mutable_header()->set_dtype(v1::DTYPE_UNSPECIFIED);
  messages.assign(v1::LIMIT_MAX_BATCH_KEYS + 1, bad);
  v1::PutManyResponse put;
  grpc::Status status = PutMany(messages, &put);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("LIMIT_MAX_BATCH_KEYS"));
}

TEST_F(BatchedServiceTest, CancelledPutManyKeepsFinishedBlocksAndDropsTheUnfinished) {
  grpc::ClientContext context;
  v1::PutManyResponse response;
  auto writer = stub_->PutMany(&context, &response);
  std::vector<v1::PutManyRequest> messages;
  AppendBlock(messages, "done0", RandomTensor(1));
  AppendBlock(messages, "done1", RandomTensor(2));
  messages.push_back(Header("half"));
  messages.push_back(Chunk(RandomTensor(3).substr(0, 64 << 10)));
  for (const v1::PutManyRequest& m : messages) ASSERT_TRUE(writer->Write(m));
  // The finished blocks are stored while the stream is still open.
  for (int i = 0; i < 500 && !(Exists("done0") && Exists("done1")); ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_TRUE(Exists("done0"));
  EXPECT_TRUE(Exists("done1"));
  context.TryCancel();
  EXPECT_EQ(writer->Finish().error_code(), grpc::StatusCode::CANCELLED);
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_FALSE(Exists("half"));
}

TEST_F(BatchedServiceTest, PutManyDeadlinePassingBetweenBlocksStoresNoLaterBlock) {
  absl::Notification entered, gate;
  std::vector<v1::PutManyRequest> messages;
  AppendBlock(messages, "early", RandomTensor(1));
  v1::PutManyResponse put;
  ASSERT_TRUE(PutMany(messages, &put).ok());
  codec_->entered = &entered;
  codec_->gate = &gate;
  messages.clear();
  AppendBlock(messages, "late", RandomTensor(2));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
  std::thread release([&] {
    entered.WaitForNotification();
    absl::SleepFor(absl::Milliseconds(400));  // past the deadline
    gate.Notify();
  });
  grpc::Status status = PutMany(messages, &put, &context);
  release.join();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_TRUE(Exists("early"));
  EXPECT_FALSE(Exists("late"));
  codec_->entered = nullptr;
  codec_->gate = nullptr;
}

TEST_F(BatchedServiceTest, GetManyDeadlinePassingBetweenBlocksEndsTheCall) {
  const TensorShape big{4, 8, 256, 64};  // 2 MiB of fp32 per block
  std::vector<std::string> keys;
  for (int i = 0; i < 16; ++i) {
    std::vector<v1::PutManyRequest> messages;
    messages.push_back(Header("d" + std::to_string(i), "none", big));
    const std::string data = RandomTensor(i, big);
    for (size_t offset = 0; offset < data.size(); offset += 1 << 20) {
      messages.push_back(Chunk(std::string_view(data).substr(offset, 1 << 20)));
    }
    v1::PutManyResponse put;
    ASSERT_TRUE(PutMany(messages, &put).ok());
    keys.push_back("d" + std::to_string(i));
  }
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(300));
  // The client stops reading after the first message until the deadline has passed.
  GetManyAnswer got = GetMany(keys, v1::ENCODING_RAW, &context, absl::Milliseconds(600));
  EXPECT_EQ(got.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_LT(got.keys.size(), keys.size());
}

TEST_F(BatchedServiceTest, ARawGetManyHoldsOneBlockOfTheInflightBudgetAtATime) {
  // Room for two 2 MiB tensors (the budget may not be below --max_block_bytes, 4 MiB): a batch
  // held whole (16 MiB) could not be answered.
  ASSERT_NO_FATAL_FAILURE(Start(/*metrics=*/false, 2, uint64_t{5} << 20));
  const TensorShape big{4, 8, 256, 64};  // 2 MiB of fp32
  std::vector<std::string> keys, tensors;
  for (int i = 0; i < 8; ++i) {
    keys.push_back("r" + std::to_string(i));
    tensors.push_back(RandomTensor(i, big));
    std::vector<v1::PutManyRequest> messages;
    messages.push_back(Header(keys.back(), "none", big));
    for (size_t offset = 0; offset < tensors.back().size(); offset += 1 << 20) {
      messages.push_back(Chunk(std::string_view(tensors.back()).substr(offset, 1 << 20)));
    }
    v1::PutManyResponse put;
    ASSERT_TRUE(PutMany(messages, &put).ok());
    ASSERT_EQ(put.results(0).status().code(), 0) << put.results(0).status().message();
  }
  GetManyAnswer got = GetMany(keys, v1::ENCODING_RAW);
  ASSERT_TRUE(got.status.ok()) << got.status.error_message();
  ASSERT_EQ(got.keys.size(), keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    EXPECT_FALSE(got.keys[i].status.has_value()) << got.keys[i].status->message();
    EXPECT_TRUE(got.keys[i].payload == tensors[i]) << i;
  }
}

TEST_F(BatchedServiceTest, MetricsCountBlocksPerBatchAndPerKeyOutcomes) {
  ASSERT_NO_FATAL_FAILURE(Start(/*metrics=*/true));
  std::vector<v1::PutManyRequest> messages;
  AppendBlock(messages, "a", RandomTensor(1));
  AppendBlock(messages, "b", RandomTensor(2));
  v1::PutManyResponse put;
  ASSERT_TRUE(PutMany(messages, &put).ok());
  ASSERT_TRUE(GetMany({"a", "x", "b"}, v1::ENCODING_COMPRESSED).status.ok());
  const std::string text = metrics::testutil::ScrapeMetrics(server_->metrics_port());
  EXPECT_THAT(text, HasSubstr("gearkv_batch_blocks_sum{grpc_method=\"GetMany\""));
  EXPECT_THAT(text, HasSubstr("grpc_code=\"NotFound\",grpc_method=\"GetMany\""));
  EXPECT_THAT(text, HasSubstr("grpc_code=\"OK\",grpc_method=\"PutMany\""));
}

}  // namespace
}  // namespace gearkv::server
