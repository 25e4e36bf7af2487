// The KVCache service in-process (no network): round trips, every bad input of the contract,
// pool saturation, cancellation and deadlines. End-to-end tests through the real binary live in
// tests/.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstring>
#include <future>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gated_codec.h"
#include "gearkv/codec.h"
#include "gearkv/server/server.h"
#include "gearkv/store/memory_store.h"
#include "gearkv/v1/kv_cache.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "metrics_scrape.h"

namespace gearkv::server {
namespace {

using ::testing::HasSubstr;

struct PutResult {
  grpc::Status status;
  v1::PutResponse response;
};

struct GetResult {
  grpc::Status status;
  v1::GetHeader header;
  std::string payload;
  int messages = 0;
  size_t largest_chunk = 0;
};

v1::PutHeader MakeHeader(const std::string& key, const std::string& preset,
                         TensorShape shape = {2, 2, 64, 64}) {
  v1::PutHeader header;
  header.set_namespace_("test-model");
  header.set_key(key);
  header.mutable_shape()->set_layers(shape.layers);
  header.mutable_shape()->set_kv_heads(shape.kv_heads);
  header.mutable_shape()->set_tokens(shape.tokens);
  header.mutable_shape()->set_head_dim(shape.head_dim);
  header.set_dtype(v1::DTYPE_FLOAT32);
  header.mutable_codec()->set_preset(preset);
  return header;
}

std::string RandomTensor(const TensorShape& shape, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> values(shape.NumElements());
  for (float& v : values) v = normal(rng);
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
}

class ServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { StartServer(ServerConfig{}); }

  // A server without /metrics.
  void StartServer(ServerConfig config, int workers = 2, int queue = 8,
                   std::unique_ptr<store::BlockStore> store = nullptr) {
    config.metrics_port = 0;
    const absl::Status started = TryStartServer(config, workers, queue, std::move(store));
    ASSERT_TRUE(started.ok()) << started;
  }

  // A server with /metrics on a free port of 127.0.0.1.
  void StartServerWithMetrics(int workers, int queue) {
    absl::Status started;
    for (int attempt = 0; attempt < 5; ++attempt) {  // the port may be taken before we bind it
      ServerConfig config;
      config.metrics_port = metrics::testutil::FreeLoopbackPort();
      started = TryStartServer(config, workers, queue, nullptr);
      if (started.ok()) return;
    }
    FAIL() << started;
  }

  absl::Status TryStartServer(ServerConfig config, int workers, int queue,
                              std::unique_ptr<store::BlockStore> store) {
    server_.reset();
    config.listen_address = "127.0.0.1:0";
    config.memory_budget_bytes = 64 << 20;
    config.max_block_bytes = 4 << 20;
    config.worker_threads = workers;
    config.worker_queue_depth = queue;
    config.backend = Backend::kCpu;
    absl::StatusOr<std::unique_ptr<Codec>> cpu = MakeCodec(Backend::kCpu);
    if (!cpu.ok()) return cpu.status();
    auto codec = std::make_unique<GatedCodec>(*std::move(cpu));
    codec_ = codec.get();
    ServerDeps deps;
    deps.codec = std::move(codec);
    deps.store = std::move(store);
    absl::StatusOr<std::unique_ptr<Server>> server = Server::Start(config, std::move(deps));
    if (!server.ok()) return server.status();
    server_ = *std::move(server);
    stub_ = v1::KVCache::NewStub(server_->InProcessChannel());
    return absl::OkStatus();
  }

  // Sends `messages` as one Put stream.
  PutResult PutMessages(const std::vector<v1::PutRequest>& messages,
                        grpc::ClientContext* context = nullptr) {
    grpc::ClientContext local;
    if (context == nullptr) context = &local;
    PutResult result;
    auto writer = stub_->Put(context, &result.response);
    for (const v1::PutRequest& message : messages) {
      if (!writer->Write(message)) break;  // the server answered early
    }
    writer->WritesDone();
    result.status = writer->Finish();
    return result;
  }

  static std::vector<v1::PutRequest> Stream(const v1::PutHeader& header, const std::string& data,
                                            size_t chunk = 1 << 20) {
    std::vector<v1::PutRequest> messages(1);
    *messages[0].mutable_header() = header;
    for (size_t offset = 0; offset < data.size(); offset += chunk) {
      messages.emplace_back().set_chunk(data.substr(offset, chunk));
    }
    return messages;
  }

  PutResult Put(const std::string& key, const std::string& preset, const std::string& data,
                TensorShape shape = {2, 2, 64, 64}) {
    return PutMessages(Stream(MakeHeader(key, preset, shape), data));
  }

  GetResult Get(const std::string& key, v1::Encoding encoding,
                std::optional<std::pair<uint32_t, uint32_t>> layers = std::nullopt,
                int layout = v1::LAYOUT_CANONICAL) {
    v1::GetRequest request;
    request.set_namespace_("test-model");
    request.set_key(key);
    request.set_encoding(encoding);
    request.set_layout(static_cast<v1::Layout>(layout));
    if (layers.has_value()) {
      request.mutable_layers()->set_begin(layers->first);
      request.mutable_layers()->set_end(layers->second);
    }
    grpc::ClientContext context;
    GetResult result;
    auto reader = stub_->Get(&context, request);
    v1::GetResponse response;
    while (reader->Read(&response)) {
      ++result.messages;
      if (response.has_header()) {
        result.header = response.header();
      } else {
        result.largest_chunk = std::max(result.largest_chunk, response.chunk().size());
        result.payload += response.chunk();
      }
    }
    result.status = reader->Finish();
    return result;
  }

  bool Exists(const std::string& key) {
    v1::LookupRequest request;
    request.set_namespace_("test-model");
    request.add_keys(key);
    v1::LookupResponse response;
    grpc::ClientContext context;
    EXPECT_TRUE(stub_->Lookup(&context, request, &response).ok());
    return response.exists_size() == 1 && response.exists(0);
  }

  std::unique_ptr<Server> server_;
  GatedCodec* codec_ = nullptr;
  std::unique_ptr<v1::KVCache::Stub> stub_;
  const TensorShape shape_{2, 2, 64, 64};
};

TEST_F(ServiceTest, NonePresetRoundTripsExactly) {
  const std::string data = RandomTensor(shape_, 1);
  PutResult put = Put("k1", "none", data);
  ASSERT_TRUE(put.status.ok()) << put.status.error_message();
  EXPECT_EQ(put.response.codec().preset(), "none");
  EXPECT_EQ(put.response.stats().raw_bytes(), data.size());
  EXPECT_EQ(put.response.backend(), "cpu");

  GetResult get = Get("k1", v1::ENCODING_RAW);
  ASSERT_TRUE(get.status.ok()) << get.status.error_message();
  EXPECT_EQ(get.payload, data);
  EXPECT_EQ(get.header.payload_bytes(), data.size());
  EXPECT_EQ(get.header.dtype(), v1::DTYPE_FLOAT32);
  EXPECT_EQ(get.header.shape().tokens(), 64u);
}

TEST_F(ServiceTest, Gear4CompressedGetDecompressesToTheRawGet) {
  const std::string data = RandomTensor(shape_, 2);
  v1::PutHeader header = MakeHeader("k2", "");  // the server default, gear4
  header.set_measure_error(true);
  PutResult put = PutMessages(Stream(header, data, 4096));
  ASSERT_TRUE(put.status.ok()) << put.status.error_message();
  EXPECT_EQ(put.response.codec().preset(), "gear4");
  EXPECT_GT(put.response.stats().ratio(), 1.0);
  ASSERT_TRUE(put.response.stats().has_relative_error());
  EXPECT_LT(put.response.stats().relative_error(), 0.5);

  GetResult raw = Get("k2", v1::ENCODING_RAW);
  GetResult compressed = Get("k2", v1::ENCODING_COMPRESSED);
  ASSERT_TRUE(raw.status.ok() && compressed.status.ok());
  EXPECT_EQ(compressed.payload.size(), put.response.stats().stored_bytes());
  EXPECT_EQ(compressed.header.encoding(), v1::ENCODING_COMPRESSED);
  std::string decoded(data.size(), '\0');
  auto codec = MakeCodec(Backend::kCpu);
  ASSERT_TRUE((*codec)
                  ->Decompress(compressed.payload,
                               MutableTensorView{shape_, DType::kFloat32, decoded.data()})
                  .ok());
  EXPECT_EQ(decoded, raw.payload);
}

TEST_F(ServiceTest, LayerRangeReturnsThoseLayers) {
  const std::string data = RandomTensor(shape_, 3);
  ASSERT_TRUE(Put("k3", "none", data).status.ok());
  GetResult get = Get("k3", v1::ENCODING_RAW, std::make_pair(1u, 2u));
  ASSERT_TRUE(get.status.ok()) << get.status.error_message();
  EXPECT_EQ(get.header.shape().layers(), 1u);
  EXPECT_EQ(get.payload, data.substr(data.size() / 2));

  GetResult compressed = Get("k3", v1::ENCODING_COMPRESSED, std::make_pair(0u, 1u));
  ASSERT_TRUE(compressed.status.ok());
  absl::StatusOr<BlockInfo> info = InspectBlock(compressed.payload);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->shape.layers, 1u);

  EXPECT_EQ(Get("k3", v1::ENCODING_RAW, std::make_pair(1u, 3u)).status.error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Get("k3", v1::ENCODING_RAW, std::make_pair(1u, 1u)).status.error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

// fp32 `bytes` of `shape` from canonical order into `layout`, from the layouts' definitions.
std::string ToLayout(const TensorShape& s, const std::string& bytes, v1::Layout layout) {
  std::string out(bytes.size(), '\0');
  const uint64_t L = s.layers, H = s.kv_heads, T = s.tokens, D = s.head_dim;
  for (uint64_t l = 0; l < L; ++l) {
    for (uint64_t k = 0; k < 2; ++k) {
      for (uint64_t h = 0; h < H; ++h) {
        for (uint64_t t = 0; t < T; ++t) {
          const uint64_t from = (((l * 2 + k) * H + h) * T + t) * D;
          const uint64_t to = layout == v1::LAYOUT_KV_2LTD ? (((k * L + l) * T + t) * H + h) * D
                              : layout == v1::LAYOUT_PAGE_FIRST
                                  ? (((k * T + t) * L + l) * H + h) * D
                                  : from;
          std::memcpy(out.data() + to * 4, bytes.data() + from * 4, D * 4);
        }
      }
    }
  }
  return out;
}

TEST_F(ServiceTest, APutInKv2LtdIsGotInEveryLayoutLikeTheCanonicalPath) {
  const std::string data = RandomTensor(shape_, 11);
  for (const std::string preset : {"none", "gear4"}) {
    SCOPED_TRACE(preset);
    ASSERT_TRUE(Put("canonical", preset, data).status.ok());
    v1::PutHeader header = MakeHeader("kv2ltd", preset);
    header.set_layout(v1::LAYOUT_KV_2LTD);
    PutResult put = PutMessages(Stream(header, ToLayout(shape_, data, v1::LAYOUT_KV_2LTD)));
    ASSERT_TRUE(put.status.ok()) << put.status.error_message();

    // The stored blocks are the same bytes; COMPRESSED says canonical whatever was asked.
    const GetResult block = Get("canonical", v1::ENCODING_COMPRESSED);
    const GetResult other =
        Get("kv2ltd", v1::ENCODING_COMPRESSED, std::nullopt, v1::LAYOUT_PAGE_FIRST);
    ASSERT_TRUE(other.status.ok()) << other.status.error_message();
    EXPECT_TRUE(other.payload == block.payload);
    EXPECT_EQ(other.header.layout(), v1::LAYOUT_CANONICAL);

    const GetResult raw = Get("canonical", v1::ENCODING_RAW);
    ASSERT_TRUE(raw.status.ok());
    if (preset == "none") {
      EXPECT_TRUE(raw.payload == data);
    }
    TensorShape one_layer = shape_;
    one_layer.layers = 1;
    const std::string layer1 = raw.payload.substr(raw.payload.size() / 2);
    for (v1::Layout layout : {v1::LAYOUT_CANONICAL, v1::LAYOUT_KV_2LTD, v1::LAYOUT_PAGE_FIRST}) {
      SCOPED_TRACE(v1::Layout_Name(layout));
      const GetResult got = Get("kv2ltd", v1::ENCODING_RAW, std::nullopt, layout);
      ASSERT_TRUE(got.status.ok()) << got.status.error_message();
      EXPECT_EQ(got.header.layout(), layout);
      EXPECT_TRUE(got.payload == ToLayout(shape_, raw.payload, layout));
      // A layer range: the layout applies to the sliced shape.
      const GetResult sliced = Get("kv2ltd", v1::ENCODING_RAW, std::pair{1u, 2u}, layout);
      ASSERT_TRUE(sliced.status.ok()) << sliced.status.error_message();
      EXPECT_TRUE(sliced.payload == ToLayout(one_layer, layer1, layout));
    }
  }
}

TEST_F(ServiceTest, LayoutsOutsideTheEnumAreInvalid) {
  const std::string data = RandomTensor(shape_, 12);
  v1::PutHeader header = MakeHeader("bad-layout", "gear4");
  header.set_layout(static_cast<v1::Layout>(5));
  PutResult put = PutMessages(Stream(header, data));
  EXPECT_EQ(put.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(put.status.error_message(), HasSubstr("LAYOUT_PAGE_FIRST"));
  EXPECT_FALSE(Exists("bad-layout"));
  ASSERT_TRUE(Put("good", "gear4", data).status.ok());
  for (v1::Encoding encoding : {v1::ENCODING_RAW, v1::ENCODING_COMPRESSED}) {
    const GetResult got = Get("good", encoding, std::nullopt, 3);
    EXPECT_EQ(got.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(got.status.error_message(), HasSubstr("not a known Layout"));
  }
}

TEST_F(ServiceTest, GetChunksAreAtMostOneMiB) {
  const TensorShape shape{4, 2, 256, 128};  // 2 MiB of fp32
  const std::string data = RandomTensor(shape, 4);
  ASSERT_TRUE(Put("big", "none", data, shape).status.ok());
  GetResult get = Get("big", v1::ENCODING_RAW);
  ASSERT_TRUE(get.status.ok());
  EXPECT_EQ(get.payload, data);
  EXPECT_EQ(get.largest_chunk, size_t{1} << 20);
  EXPECT_EQ(get.messages, 1 + 2);
}

TEST_F(ServiceTest, PutTwiceLeavesOneBlock) {
  ASSERT_TRUE(Put("k", "none", RandomTensor(shape_, 5)).status.ok());
  const std::string second = RandomTensor(shape_, 6);
  ASSERT_TRUE(Put("k", "none", second).status.ok());
  EXPECT_EQ(Get("k", v1::ENCODING_RAW).payload, second);
}

TEST_F(ServiceTest, MissingBlockIsNotFound) {
  GetResult get = Get("absent", v1::ENCODING_RAW);
  EXPECT_EQ(get.status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(get.status.error_message(), HasSubstr("absent"));
}

TEST_F(ServiceTest, LookupReportsThePrefixRun) {
  const std::string data = RandomTensor(shape_, 7);
  ASSERT_TRUE(Put("a", "none", data).status.ok());
  ASSERT_TRUE(Put("b", "none", data).status.ok());
  ASSERT_TRUE(Put("d", "none", data).status.ok());
  v1::LookupRequest request;
  request.set_namespace_("test-model");
  for (const char* key : {"a", "b", "c", "d"}) request.add_keys(key);
  v1::LookupResponse response;
  grpc::ClientContext context;
  ASSERT_TRUE(stub_->Lookup(&context, request, &response).ok());
  ASSERT_EQ(response.exists_size(), 4);
  EXPECT_TRUE(response.exists(0) && response.exists(1) && !response.exists(2) &&
              response.exists(3));
  EXPECT_EQ(response.prefix_hits(), 2u);

  request.set_namespace_("other-model");  // namespaces scope keys
  grpc::ClientContext context2;
  ASSERT_TRUE(stub_->Lookup(&context2, request, &response).ok());
  EXPECT_EQ(response.prefix_hits(), 0u);
}

TEST_F(ServiceTest, DeleteRemoves) {
  ASSERT_TRUE(Put("gone", "none", RandomTensor(shape_, 8)).status.ok());
  v1::DeleteRequest request;
  request.set_namespace_("test-model");
  request.set_key("gone");
  v1::DeleteResponse response;
  grpc::ClientContext c1, c2;
  ASSERT_TRUE(stub_->Delete(&c1, request, &response).ok());
  EXPECT_TRUE(response.deleted());
  ASSERT_TRUE(stub_->Delete(&c2, request, &response).ok());
  EXPECT_FALSE(response.deleted());
  EXPECT_FALSE(Exists("gone"));
}

TEST_F(ServiceTest, StatsReportsTheMemoryTier) {
  ASSERT_TRUE(Put("s", "none", RandomTensor(shape_, 9)).status.ok());
  v1::StatsResponse response;
  grpc::ClientContext context;
  ASSERT_TRUE(stub_->Stats(&context, v1::StatsRequest(), &response).ok());
  ASSERT_GE(response.tiers_size(), 1);
  EXPECT_EQ(response.tiers(0).tier(), "memory");
  EXPECT_EQ(response.tiers(0).blocks(), 1u);
  EXPECT_EQ(response.tiers(0).capacity_bytes(), uint64_t{64} << 20);
  EXPECT_EQ(response.backend(), "cpu");
  EXPECT_FALSE(response.version().empty());
}

// ---- Every bad input answers its code, names the problem, and stores nothing. ----

struct BadPut {
  const char* name;
  std::vector<v1::PutRequest> messages;
  grpc::StatusCode code;
  const char* message;
};

TEST_F(ServiceTest, BadPutsAnswerTheirCodeAndStoreNothing) {
  const std::string data = RandomTensor(shape_, 10);
  const v1::PutHeader good = MakeHeader("bad", "none");
  std::vector<BadPut> cases;

  cases.push_back({"missing header", {}, grpc::StatusCode::INVALID_ARGUMENT, "missing header"});
  cases.back().messages.emplace_back().set_chunk(data.substr(0, 100));

  cases.push_back({"empty stream", {}, grpc::StatusCode::INVALID_ARGUMENT, "missing header"});

  cases.push_back({"repeated header", Stream(good, data), grpc::StatusCode::INVALID_ARGUMENT,
                   "repeated header"});
  *cases.back().messages.emplace_back().mutable_header() = good;

  cases.push_back({"chunk over 1 MiB", {}, grpc::StatusCode::INVALID_ARGUMENT, "1 MiB"});
  {
    v1::PutHeader header = MakeHeader("bad", "none", {4, 2, 256, 128});
    cases.back().messages = Stream(header, std::string((size_t{1} << 20) + 1, 'x'), 2 << 20);
  }

  cases.push_back({"more bytes", Stream(good, data + std::string(8, 'x')),
                   grpc::StatusCode::INVALID_ARGUMENT, "more bytes than the header declares"});
  cases.push_back({"fewer bytes", Stream(good, data.substr(0, data.size() - 4)),
                   grpc::StatusCode::INVALID_ARGUMENT, "fewer bytes than the header declares"});

  {
    v1::PutHeader header = good;
    header.mutable_codec()->set_preset("gear5");
    cases.push_back({"unknown preset", Stream(header, data), grpc::StatusCode::INVALID_ARGUMENT,
                     "known presets: none, "});
  }
  {
    v1::PutHeader header = good;
    header.set_key(std::string(1025, 'k'));
    cases.push_back(
        {"key too long", Stream(header, data), grpc::StatusCode::INVALID_ARGUMENT, "too long"});
  }
  {
    v1::PutHeader header = good;
    header.set_key("");
    cases.push_back(
        {"empty key", Stream(header, data), grpc::StatusCode::INVALID_ARGUMENT, "key is empty"});
  }
  {
    v1::PutHeader header = good;
    header.set_dtype(v1::DTYPE_UNSPECIFIED);
    cases.push_back(
        {"no dtype", Stream(header, data), grpc::StatusCode::INVALID_ARGUMENT, "dtype"});
  }
  {
    v1::PutHeader header = good;
    header.mutable_shape()->set_head_dim(60);  // not a multiple of 8
    cases.push_back(
        {"bad shape", Stream(header, data), grpc::StatusCode::INVALID_ARGUMENT, "shape"});
  }
  {
    v1::PutHeader header = good;
    header.mutable_shape()->set_layers(0);
    cases.push_back(
        {"zero layers", Stream(header, data), grpc::StatusCode::INVALID_ARGUMENT, "shape"});
  }
  {
    v1::PutHeader header = MakeHeader("bad", "gear4");
    header.mutable_codec()->set_bits(7);
    cases.push_back(
        {"bad spec", Stream(header, data), grpc::StatusCode::INVALID_ARGUMENT, "codec spec"});
  }
  {
    v1::PutHeader header = MakeHeader("bad", "none", {64, 8, 256, 128});  // 64 MiB of fp32
    cases.push_back({"over the block limit", Stream(header, ""),
                     grpc::StatusCode::RESOURCE_EXHAUSTED, "max_block_bytes"});
  }
  cases.push_back({"empty message", Stream(good, data), grpc::StatusCode::INVALID_ARGUMENT,
                   "neither header nor chunk"});
  cases.back().messages.insert(cases.back().messages.begin() + 1, v1::PutRequest());

  for (const BadPut& c : cases) {
    PutResult result = PutMessages(c.messages);
    EXPECT_EQ(result.status.error_code(), c.code)
        << c.name << ": " << result.status.error_message();
    EXPECT_THAT(result.status.error_message(), HasSubstr(c.message)) << c.name;
    EXPECT_FALSE(Exists("bad")) << c.name;
  }
}

TEST_F(ServiceTest, NonFiniteValuesWithALossyPresetAreInvalid) {
  std::string data = RandomTensor(shape_, 11);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::memcpy(data.data() + 64, &nan, sizeof(nan));
  PutResult put = Put("nan", "gear4", data);
  EXPECT_EQ(put.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
      << put.status.error_message();
  EXPECT_FALSE(Exists("nan"));
}

TEST_F(ServiceTest, BadGetRequests) {
  v1::GetRequest request;
  request.set_namespace_("test-model");
  request.set_key(std::string(2000, 'k'));
  grpc::ClientContext context;
  auto reader = stub_->Get(&context, request);
  v1::GetResponse response;
  while (reader->Read(&response)) {
  }
  grpc::Status status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("too long"));
}

TEST_F(ServiceTest, UnparsableGetRequestIsInvalidArgument) {
  // Get is served raw (serialized messages); a request that is not a GetRequest: field 1
  // (namespace) announced 100 bytes long, 2 there.
  grpc::Slice slice(std::string("\x0a\x64zz", 4));
  const grpc::ByteBuffer request(&slice, 1);
  std::shared_ptr<grpc::Channel> channel = server_->InProcessChannel();
  const grpc::internal::RpcMethod method("/gearkv.v1.KVCache/Get",
                                         grpc::internal::RpcMethod::SERVER_STREAMING);
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReader<grpc::ByteBuffer>> reader(
      grpc::internal::ClientReaderFactory<grpc::ByteBuffer>::Create(channel.get(), method, &context,
                                                                    request));
  grpc::ByteBuffer response;
  EXPECT_FALSE(reader->Read(&response));
  grpc::Status status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("does not parse"));
}

// Each refusal also reaches Prometheus: gearkv_worker_pool_rejected_total, for that pool.
TEST_F(ServiceTest, SaturatedPoolIsResourceExhausted) {
  StartServerWithMetrics(/*workers=*/1, /*queue=*/0);
  absl::Notification entered, gate;
  codec_->entered = &entered;
  codec_->gate = &gate;
  const std::string data = RandomTensor(shape_, 12);
  PutResult first;
  std::thread busy([&] { first = Put("first", "gear4", data); });
  entered.WaitForNotification();  // the only worker is compressing, nothing may queue

  PutResult refused = Put("second", "gear4", data);  // refused at the header
  EXPECT_EQ(refused.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(refused.status.error_message(), HasSubstr("saturated"));
  GetResult get = Get("whatever", v1::ENCODING_RAW);  // RAW needs the codec pool too
  EXPECT_EQ(get.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  ASSERT_GT(server_->metrics_port(), 0);
  const std::string metrics = metrics::testutil::ScrapeMetrics(server_->metrics_port());
  EXPECT_THAT(metrics, HasSubstr("gearkv_worker_pool_rejected_total{pool=\"codec\"} 2"));
  EXPECT_THAT(metrics, HasSubstr("gearkv_worker_pool_rejected_total{pool=\"io\"} 0"));

  gate.Notify();
  busy.join();
  EXPECT_TRUE(first.status.ok()) << first.status.error_message();
  EXPECT_TRUE(Exists("first"));
  EXPECT_FALSE(Exists("second"));
}

TEST_F(ServiceTest, DeadlineExceededDuringCompressionStoresNothing) {
  absl::Notification entered, gate;
  codec_->entered = &entered;
  codec_->gate = &gate;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(300));
  PutResult put;
  std::thread client([&] {
    put = PutMessages(Stream(MakeHeader("late", "gear4"), RandomTensor(shape_, 13)), &context);
  });
  entered.WaitForNotification();
  client.join();  // the deadline passes while the codec is held
  gate.Notify();
  EXPECT_EQ(put.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  // The compression finishes after the deadline; the reactor sees the deadline has passed (by
  // the clock, whether or not gRPC's deadline timer has run yet) and stores nothing. Wait for
  // the worker to be done before checking.
  for (int i = 0; i < 100 && server_->codec_queue_length() > 0; ++i)
    absl::SleepFor(absl::Milliseconds(10));
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_FALSE(Exists("late"));
}

TEST_F(ServiceTest, ClientCancelMidStreamStoresNothing) {
  grpc::ClientContext context;
  v1::PutResponse response;
  auto writer = stub_->Put(&context, &response);
  const std::string data = RandomTensor(shape_, 14);
  v1::PutRequest header;
  *header.mutable_header() = MakeHeader("cancelled", "none");
  ASSERT_TRUE(writer->Write(header));
  v1::PutRequest chunk;
  chunk.set_chunk(data.substr(0, data.size() / 2));
  ASSERT_TRUE(writer->Write(chunk));
  context.TryCancel();
  grpc::Status status = writer->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::CANCELLED);
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_FALSE(Exists("cancelled"));
}

TEST_F(ServiceTest, CorruptStoredBlockIsDataLossAndDropped) {
  auto memory = std::make_unique<store::MemoryStore>(store::MemoryStoreOptions{});
  store::MemoryStore* raw_store = memory.get();
  StartServer(ServerConfig{}, 2, 8, std::move(memory));
  const std::string data = RandomTensor(shape_, 16);
  ASSERT_TRUE(Put("rot", "gear4", data).status.ok());
  absl::StatusOr<store::BlockBytes> stored = raw_store->Get({"test-model", "rot"});
  ASSERT_TRUE(stored.ok());
  std::string corrupt = **stored;
  corrupt[corrupt.size() / 2] ^= 0x5a;  // one flipped bit pattern in the middle
  ASSERT_TRUE(raw_store
                  ->Put({"test-model", "rot"}, std::make_shared<const std::string>(corrupt),
                        absl::InfiniteFuture())
                  .ok());

  // Whole blocks and layer ranges (each path verifies the checksum at a different step).
  using Layers = std::optional<std::pair<uint32_t, uint32_t>>;
  for (v1::Encoding encoding : {v1::ENCODING_COMPRESSED, v1::ENCODING_RAW}) {
    for (Layers layers : {Layers{}, Layers{{0, 1}}, Layers{{1, 2}}, Layers{{0, 2}}}) {
      ASSERT_TRUE(raw_store
                      ->Put({"test-model", "rot"}, std::make_shared<const std::string>(corrupt),
                            absl::InfiniteFuture())
                      .ok());
      GetResult get = Get("rot", encoding, layers);
      EXPECT_EQ(get.status.error_code(), grpc::StatusCode::DATA_LOSS) << get.status.error_message();
      EXPECT_THAT(get.status.error_message(), HasSubstr("dropped"));
      EXPECT_FALSE(Exists("rot"));
    }
  }
}

TEST_F(ServiceTest, ConcurrentClientsMixingPutGetDelete) {
  constexpr int kClients = 8;
  constexpr int kRounds = 12;
  std::vector<std::thread> clients;
  std::atomic<int> failures{0};
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      for (int r = 0; r < kRounds; ++r) {
        const std::string key = "c" + std::to_string(c) + "-" + std::to_string(r % 3);
        const std::string data = RandomTensor(shape_, c * 1000 + r);
        const char* preset = (r % 2 == 0) ? "none" : "kivi4";
        PutResult put = Put(key, preset, data);
        if (!put.status.ok()) {
          // A saturated pool is a legitimate answer under load; anything else is a bug.
          if (put.status.error_code() != grpc::StatusCode::RESOURCE_EXHAUSTED) ++failures;
          continue;
        }
        GetResult get = Get(key, r % 3 == 0 ? v1::ENCODING_COMPRESSED : v1::ENCODING_RAW);
        if (!get.status.ok() && get.status.error_code() != grpc::StatusCode::RESOURCE_EXHAUSTED) {
          ++failures;
        }
        if (get.status.ok() && r % 2 == 0 && get.header.encoding() == v1::ENCODING_RAW &&
            get.payload != data) {
          ++failures;  // `none` must round-trip exactly (each client owns its keys)
        }
        if (r % 4 == 3) {
          v1::DeleteRequest request;
          request.set_namespace_("test-model");
          request.set_key(key);
          v1::DeleteResponse response;
          grpc::ClientContext context;
          if (!stub_->Delete(&context, request, &response).ok()) ++failures;
        }
      }
    });
  }
  for (std::thread& client : clients) client.join();
  EXPECT_EQ(failures.load(), 0);
}

// grpc.health.v1 is registered: the overall status and the KVCache service's are SERVING.
TEST_F(ServiceTest, HealthServiceReportsServing) {
  auto health = grpc::health::v1::Health::NewStub(server_->InProcessChannel());
  for (const std::string& service :
       {std::string(), std::string(v1::KVCache::service_full_name())}) {
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(service);
    grpc::health::v1::HealthCheckResponse response;
    grpc::ClientContext context;
    const grpc::Status status = health->Check(&context, request, &response);
    ASSERT_TRUE(status.ok()) << "service '" << service << "': " << status.error_message();
    EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING) << service;
  }
}

// ServerReflectionRequest{list_services=""} (field 7) on the bidi ServerReflectionInfo stream;
// the response lists the services by name.
TEST_F(ServiceTest, ReflectionListsTheService) {
  class Reflect : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
   public:
    void Start() {
      const std::string request("\x3a\x00", 2);
      grpc::Slice slice(request);
      out_ = grpc::ByteBuffer(&slice, 1);
      StartWrite(&out_);
      StartRead(&in_);
      StartCall();
    }
    void OnWriteDone(bool ok) override { StartWritesDone(); }
    void OnReadDone(bool ok) override {
      if (!ok) return;
      std::vector<grpc::Slice> slices;
      if (in_.Dump(&slices).ok()) {
        for (const grpc::Slice& s : slices) {
          body.append(reinterpret_cast<const char*>(s.begin()), s.size());
        }
      }
      StartRead(&in_);
    }
    void OnDone(const grpc::Status& status) override { done.set_value(status); }
    std::string body;
    std::promise<grpc::Status> done;

   private:
    grpc::ByteBuffer out_, in_;
  };
  grpc::GenericStub generic(server_->InProcessChannel());
  grpc::ClientContext context;
  Reflect reflect;
  generic.PrepareBidiStreamingCall(&context,
                                   "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                                   grpc::StubOptions(), &reflect);
  reflect.Start();
  grpc::Status status = reflect.done.get_future().get();
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(reflect.body, HasSubstr("gearkv.v1.KVCache"));
  EXPECT_THAT(reflect.body, HasSubstr("grpc.health.v1.Health"));
}

TEST_F(ServiceTest, TokenIsRequiredWhenConfigured) {
  ServerConfig config;
  config.auth_token = "s3cret";
  StartServer(config);
  v1::StatsResponse response;
  grpc::ClientContext none, wrong, right;
  grpc::Status status = stub_->Stats(&none, v1::StatsRequest(), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(status.error_message(), HasSubstr("requires a token"));
  wrong.AddMetadata("authorization", "Bearer s3cres");
  EXPECT_EQ(stub_->Stats(&wrong, v1::StatsRequest(), &response).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  right.AddMetadata("authorization", "Bearer s3cret");
  EXPECT_TRUE(stub_->Stats(&right, v1::StatsRequest(), &response).ok());

  PutResult put = Put("k", "none", RandomTensor(shape_, 17));  // no token
  EXPECT_EQ(put.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(ServiceTest, InflightTensorBudgetIsResourceExhausted) {
  ServerConfig config;
  config.max_inflight_bytes = 4 << 20;
  StartServer(config);
  absl::Notification entered, gate;
  codec_->entered = &entered;
  codec_->gate = &gate;
  const TensorShape shape{5, 2, 256, 128};  // 2.5 MiB of fp32: two do not fit in 4 MiB
  const std::string data = RandomTensor(shape, 18);
  PutResult first;
  std::thread busy([&] { first = Put("first", "gear4", data, shape); });
  entered.WaitForNotification();
  PutResult refused = Put("second", "gear4", data, shape);
  EXPECT_EQ(refused.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(refused.status.error_message(), HasSubstr("max_inflight_bytes"));
  gate.Notify();
  busy.join();
  ASSERT_TRUE(first.status.ok()) << first.status.error_message();
  codec_->gate = nullptr;
  // The budget was given back: the same Put fits now.
  EXPECT_TRUE(Put("second", "gear4", data, shape).status.ok());
}

TEST_F(ServiceTest, DrainFinishesInFlightCallsAndRefusesNewOnes) {
  // Over TCP: the in-process transport does not survive the server's shutdown.
  stub_ = v1::KVCache::NewStub(
      grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials()));
  absl::Notification entered, gate;
  codec_->entered = &entered;
  codec_->gate = &gate;
  PutResult in_flight;
  std::thread client([&] { in_flight = Put("in-flight", "gear4", RandomTensor(shape_, 15)); });
  entered.WaitForNotification();

  std::thread drain([&] { server_->Drain(absl::Seconds(10)); });
  // New calls are refused once the drain has begun, while the Put is still held in the codec.
  // Before that this Get is NOT_FOUND, and one that races the listener's shutdown is CANCELLED.
  GetResult refused = Get("in-flight", v1::ENCODING_RAW);
  for (const absl::Time give_up = absl::Now() + absl::Seconds(10);
       (refused.status.error_code() == grpc::StatusCode::NOT_FOUND ||
        refused.status.error_code() == grpc::StatusCode::CANCELLED) &&
       absl::Now() < give_up;) {
    absl::SleepFor(absl::Milliseconds(20));
    refused = Get("in-flight", v1::ENCODING_RAW);
  }
  EXPECT_EQ(refused.status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << refused.status.error_message();

  gate.Notify();
  client.join();
  drain.join();
  EXPECT_TRUE(in_flight.status.ok()) << in_flight.status.error_message();
}

}  // namespace
}  // namespace gearkv::server
