// Unit tests of the client's pieces: backoff, retry policy, request messages, a Client against a
// port nobody listens on, and Gets against an in-process fake server (the steps of a Get's
// answer without a server are in get_answer_test.cc).
#include "gearkv/client.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gearkv/codec.h"
#include "gearkv/v1/kv_cache.grpc.pb.h"
#include "gearkv/wire.h"
#include "gearkv/wire_limits.h"
#include "gmock/gmock.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "requests.h"
#include "retry.h"

namespace gearkv::client_internal {
namespace {

TEST(BackoffTest, GrowsWithJitterUpToTheCap) {
  ClientOptions options;
  options.initial_backoff = absl::Milliseconds(100);
  options.max_backoff = absl::Milliseconds(500);
  options.backoff_multiplier = 2;
  Backoff backoff(options, 7);
  const double caps[] = {100, 200, 400, 500, 500, 500};
  for (double cap : caps) {
    const double ms = absl::ToDoubleMilliseconds(backoff.Next());
    EXPECT_GE(ms, cap / 2);
    EXPECT_LE(ms, cap);
  }
}

TEST(RetryTest, RetriesOnlyUnavailable) {
  ClientOptions options;
  options.initial_backoff = absl::Milliseconds(1);
  options.max_attempts = 4;
  int calls = 0;
  auto s = RunWithRetry(options, absl::Now() + absl::Seconds(10), [&](absl::Time) {
    ++calls;
    return absl::UnavailableError("draining");
  });
  EXPECT_EQ(calls, 4);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("after 4 attempts"));

  calls = 0;
  auto r = RunWithRetry(options, absl::Now() + absl::Seconds(10),
                        [&](absl::Time) -> absl::StatusOr<int> {
                          ++calls;
                          return absl::ResourceExhaustedError("full");
                        });
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);

  options.retry_resource_exhausted = true;
  calls = 0;
  r = RunWithRetry(options, absl::Now() + absl::Seconds(10),
                   [&](absl::Time) -> absl::StatusOr<int> {
                     if (++calls < 3) return absl::ResourceExhaustedError("pool busy");
                     return 42;
                   });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 42);
  EXPECT_EQ(calls, 3);
}

TEST(RetryTest, StopsAtTheDeadline) {
  ClientOptions options;
  options.initial_backoff = absl::Milliseconds(200);
  options.max_attempts = 100;
  int calls = 0;
  const absl::Time start = absl::Now();
  auto s = RunWithRetry(options, start + absl::Milliseconds(500), [&](absl::Time) {
    ++calls;
    return absl::UnavailableError("down");
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  EXPECT_LT(calls, 10);
}

TEST(RequestsTest, CodecRequestSetsOnlyTheOverridesGiven) {
  CodecRequest request;
  request.preset = "gear4";
  request.bits = 2;
  request.rank = 0;
  v1::CodecSpec wire;
  CodecRequestToWire(request, &wire);
  EXPECT_EQ(wire.preset(), "gear4");
  EXPECT_EQ(wire.bits(), 2u);
  EXPECT_TRUE(wire.has_rank());
  EXPECT_FALSE(wire.has_group_size());
}

TEST(RequestsTest, PutHeaderRoundsTheTtlUp) {
  const TensorShape shape{2, 8, 256, 128};
  PutOptions options;
  options.codec.preset = "kivi4";
  options.measure_error = true;
  options.ttl = absl::Milliseconds(1500);
  const v1::PutRequest request =
      PutHeaderRequest("ns", "key", TensorView{shape, DType::kBFloat16, nullptr}, options);
  ASSERT_TRUE(request.has_header());
  const v1::PutHeader& h = request.header();
  EXPECT_EQ(h.namespace_(), "ns");
  EXPECT_EQ(h.key(), "key");
  EXPECT_EQ(wire::ShapeFromWire(h.shape()), shape);
  EXPECT_EQ(h.dtype(), v1::DTYPE_BFLOAT16);
  EXPECT_EQ(h.codec().preset(), "kivi4");
  EXPECT_EQ(h.ttl_seconds(), 2u);
  EXPECT_TRUE(h.measure_error());
  options.ttl = absl::ZeroDuration();
  EXPECT_EQ(PutHeaderRequest("ns", "key", {shape, DType::kFloat16, nullptr}, options)
                .header()
                .ttl_seconds(),
            0u);
}

TEST(RequestsTest, GetRequestCarriesEncodingAndLayers) {
  GetOptions options;
  v1::GetRequest request = GetRequestFor("ns", "key", options);
  EXPECT_EQ(request.encoding(), v1::ENCODING_COMPRESSED);
  EXPECT_FALSE(request.has_layers());
  options.encoding = GetEncoding::kRaw;
  options.layers = std::make_pair(1u, 3u);
  request = GetRequestFor("ns", "key", options);
  EXPECT_EQ(request.encoding(), v1::ENCODING_RAW);
  EXPECT_EQ(request.layers().begin(), 1u);
  EXPECT_EQ(request.layers().end(), 3u);
}

TEST(RequestsTest, PutAndGetCarryTheLayout) {
  const TensorShape shape{2, 8, 256, 128};
  const TensorView view{shape, DType::kFloat16, nullptr, Layout::kKv2LTD};
  EXPECT_EQ(PutHeaderRequest("ns", "key", view, {}).header().layout(), v1::LAYOUT_KV_2LTD);
  EXPECT_EQ(PutHeaderRequest("ns", "key", {shape, DType::kFloat16, nullptr}, {}).header().layout(),
            v1::LAYOUT_CANONICAL);
  GetOptions options;
  options.layout = Layout::kPageFirst;
  // COMPRESSED: the block is canonical and decoded here, so the server is not asked for it.
  EXPECT_EQ(GetRequestFor("ns", "key", options).layout(), v1::LAYOUT_CANONICAL);
  options.encoding = GetEncoding::kRaw;
  EXPECT_EQ(GetRequestFor("ns", "key", options).layout(), v1::LAYOUT_PAGE_FIRST);
}

// A loopback port that refuses connections (bound, never listened on, then closed).
int UnusedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

TEST(ClientTest, UnreachableServerIsUnavailableWithinTheDeadline) {
  ClientOptions options;
  options.target = absl::StrCat("127.0.0.1:", UnusedPort());
  options.initial_backoff = absl::Milliseconds(10);
  options.max_attempts = 3;
  auto client = Client::Create(options);
  ASSERT_TRUE(client.ok()) << client.status();
  const absl::Time start = absl::Now();
  CallOptions call;
  call.deadline = absl::Seconds(3);
  auto stats = (*client)->Stats(call);
  EXPECT_EQ(stats.status().code(), absl::StatusCode::kUnavailable) << stats.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

// A KVCache server in this process whose Get answers as the test scripts it, per attempt.
class FakeGetServer {
 public:
  // Attempt number (0, 1, ...), the request, the stream.
  using Script =
      std::function<grpc::Status(int, const v1::GetRequest&, grpc::ServerWriter<v1::GetResponse>*)>;
  explicit FakeGetServer(Script script) : service_(std::move(script)) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
  }
  ~FakeGetServer() { server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(1))); }

  std::string target() const { return absl::StrCat("127.0.0.1:", port_); }
  std::unique_ptr<Client> Connect() const {
    ClientOptions options;
    options.target = target();
    options.initial_backoff = absl::Milliseconds(5);
    options.default_deadline = absl::Seconds(20);
    auto client = Client::Create(options);
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? std::move(*client) : nullptr;
  }
  int attempts() const { return service_.attempts; }

 private:
  struct Service : v1::KVCache::Service {
    explicit Service(Script s) : script(std::move(s)) {}
    grpc::Status Get(grpc::ServerContext*, const v1::GetRequest* request,
                     grpc::ServerWriter<v1::GetResponse>* writer) override {
      return script(attempts++, *request, writer);
    }
    Script script;
    std::atomic<int> attempts{0};
  };
  Service service_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

constexpr TensorShape kFakeShape{2, 2, 64, 64};  // 64 KiB of fp16

void WriteHeader(grpc::ServerWriter<v1::GetResponse>* writer, v1::Encoding encoding,
                 uint64_t payload_bytes) {
  v1::GetResponse header;
  v1::GetHeader* h = header.mutable_header();
  *h->mutable_shape() = wire::ShapeToWire(kFakeShape);
  h->set_dtype(wire::DTypeToWire(DType::kFloat16));
  h->set_encoding(encoding);
  h->set_payload_bytes(payload_bytes);
  writer->Write(header);
}

// `bytes` in chunks of `chunk` bytes.
void WriteChunks(grpc::ServerWriter<v1::GetResponse>* writer, std::string_view bytes,
                 size_t chunk) {
  for (size_t i = 0; i < bytes.size(); i += chunk) {
    v1::GetResponse message;
    message.set_chunk(std::string(bytes.substr(i, chunk)));
    writer->Write(message);
  }
}

std::string Pattern(size_t n, int seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(i * 131 + seed);
  return s;
}

TEST(ClientGetIntoTest, RawRetryStartsAgainFromTheFront) {
  const uint64_t size = kFakeShape.NumElements() * 2;
  const std::string good = Pattern(size, 7);
  // The first attempt sends half of other bytes, then the server is "draining".
  FakeGetServer server(
      [&](int attempt, const v1::GetRequest& request, grpc::ServerWriter<v1::GetResponse>* writer) {
        EXPECT_EQ(request.encoding(), v1::ENCODING_RAW);
        WriteHeader(writer, v1::ENCODING_RAW, size);
        if (attempt == 0) {
          WriteChunks(writer, Pattern(size / 2, 99), 10000);
          return grpc::Status(grpc::StatusCode::UNAVAILABLE, "draining");
        }
        WriteChunks(writer, good, 10000);
        return grpc::Status::OK;
      });
  auto client = server.Connect();
  ASSERT_NE(client, nullptr);
  std::string memory(size, '\0');
  const MutableTensorView out{kFakeShape, DType::kFloat16, memory.data()};
  GetOptions raw;
  raw.encoding = GetEncoding::kRaw;
  auto got = client->GetInto("ns", "k", out, raw);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(server.attempts(), 2);
  EXPECT_TRUE(memory == good);
  EXPECT_EQ(got->wire_bytes, size);
  EXPECT_TRUE(got->tensor.data.empty());
}

TEST(ClientGetIntoTest, CompressedRetryDecompressesTheWholeBlock) {
  std::string tensor(kFakeShape.NumElements() * 2, '\0');
  for (size_t i = 0; i < tensor.size(); i += 2) tensor[i + 1] = static_cast<char>(0x30 + i % 7);
  auto codec = MakeCodec(Backend::kCpu);
  ASSERT_TRUE(codec.ok()) << codec.status();
  auto block = (*codec)->Compress({kFakeShape, DType::kFloat16, tensor.data()}, CodecSpec{});
  ASSERT_TRUE(block.ok()) << block.status();
  const std::string& bytes = block->bytes;
  FakeGetServer server(
      [&](int attempt, const v1::GetRequest& request, grpc::ServerWriter<v1::GetResponse>* writer) {
        EXPECT_EQ(request.encoding(), v1::ENCODING_COMPRESSED);
        WriteHeader(writer, v1::ENCODING_COMPRESSED, bytes.size());
        if (attempt == 0) {
          WriteChunks(writer, std::string_view(bytes).substr(0, bytes.size() / 2), 1000);
          return grpc::Status(grpc::StatusCode::UNAVAILABLE, "draining");
        }
        WriteChunks(writer, bytes, 1000);
        return grpc::Status::OK;
      });
  auto client = server.Connect();
  ASSERT_NE(client, nullptr);
  std::string expected(tensor.size(), '\0');
  ASSERT_TRUE((*codec)->Decompress(bytes, {kFakeShape, DType::kFloat16, expected.data()}).ok());
  std::string memory(tensor.size(), '\0');
  auto got = client->GetInto("ns", "k", {kFakeShape, DType::kFloat16, memory.data()});
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(server.attempts(), 2);
  EXPECT_TRUE(memory == expected);
  EXPECT_EQ(got->wire_bytes, bytes.size());
  EXPECT_TRUE(got->block.empty());
}

// The retry policy against a real server that stays UNAVAILABLE: attempts go on until the call's
// one deadline, not a deadline per attempt.
TEST(ClientRetryTest, AServerThatStaysUnavailableGetsRetriedUntilTheCallsDeadline) {
  FakeGetServer server([](int, const v1::GetRequest&, grpc::ServerWriter<v1::GetResponse>*) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "draining");
  });
  ClientOptions options;
  options.target = server.target();
  options.max_attempts = 1000;
  options.initial_backoff = absl::Milliseconds(20);
  options.max_backoff = absl::Milliseconds(40);
  auto client = Client::Create(options);
  ASSERT_TRUE(client.ok()) << client.status();
  GetOptions get;
  get.deadline = absl::Milliseconds(800);
  const absl::Time start = absl::Now();
  auto got = (*client)->Get("ns", "k", get);
  const absl::Duration took = absl::Now() - start;
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnavailable) << got.status();
  EXPECT_THAT(std::string(got.status().message()), ::testing::HasSubstr("attempts)"));
  EXPECT_LE(took, absl::Milliseconds(800) + absl::Milliseconds(300));
  // Backoff of 10..40 ms: many attempts fit in the deadline, far fewer than max_attempts.
  EXPECT_GE(server.attempts(), 5);
  EXPECT_LT(server.attempts(), 1000);
}

TEST(ClientRetryTest, MaxAttemptsBoundsTheAttempts) {
  FakeGetServer server([](int, const v1::GetRequest&, grpc::ServerWriter<v1::GetResponse>*) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "draining");
  });
  auto client = server.Connect();
  ASSERT_NE(client, nullptr);
  auto got = client->Get("ns", "k");
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnavailable) << got.status();
  EXPECT_THAT(std::string(got.status().message()), ::testing::HasSubstr("(after 5 attempts)"));
  EXPECT_EQ(server.attempts(), ClientOptions().max_attempts);
}

TEST(ClientGetIntoTest, RawNeverWritesPastOut) {
  const uint64_t size = kFakeShape.NumElements() * 2;
  // The header is right, but more bytes follow than it announced.
  FakeGetServer server(
      [&](int, const v1::GetRequest&, grpc::ServerWriter<v1::GetResponse>* writer) {
        WriteHeader(writer, v1::ENCODING_RAW, size);
        WriteChunks(writer, Pattern(size + 100, 3), 4096);
        return grpc::Status::OK;
      });
  auto client = server.Connect();
  ASSERT_NE(client, nullptr);
  std::string memory(size + 4096, '#');  // out is the front; the rest must stay as it is
  GetOptions raw;
  raw.encoding = GetEncoding::kRaw;
  auto got = client->GetInto("ns", "k", {kFakeShape, DType::kFloat16, memory.data()}, raw);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kInternal) << got.status();
  EXPECT_THAT(std::string(got.status().message()), ::testing::HasSubstr("more than the"));
  EXPECT_EQ(server.attempts(), 1);
  EXPECT_TRUE(memory.substr(size) == std::string(4096, '#')) << "written past out";
}

TEST(ClientGetIntoTest, ArgumentsAreCheckedBeforeAnyRpc) {
  // Nobody listens: an RPC would be UNAVAILABLE.
  ClientOptions options;
  options.target = absl::StrCat("127.0.0.1:", UnusedPort());
  options.max_attempts = 1;
  auto client = Client::Create(options);
  ASSERT_TRUE(client.ok()) << client.status();
  std::string memory(kFakeShape.NumElements() * 2, '\0');
  const MutableTensorView out{kFakeShape, DType::kFloat16, memory.data()};
  MutableTensorView null = out;
  null.data = nullptr;
  GetOptions no_decompress;
  no_decompress.decompress = false;
  GetOptions contradicts;
  contradicts.out_dtype = DType::kBFloat16;
  MutableTensorView bad_shape = out;
  bad_shape.shape.tokens = 0;
  MutableTensorView bad_layout = out;
  bad_layout.layout = static_cast<Layout>(4);
  GetOptions page_first;
  page_first.layout = Layout::kPageFirst;
  const GetOptions defaults;
  struct Case {
    const MutableTensorView* out;
    const GetOptions* options;
    const char* message;
  };
  for (const Case& c :
       {Case{&null, &defaults, "out.data is null"},
        Case{&out, &no_decompress, "decompress must be true"},
        Case{&out, &contradicts, "out_dtype bfloat16 contradicts out.dtype float16"},
        Case{&bad_shape, &defaults, "out.shape"},
        Case{&bad_layout, &defaults, "layout 4 is not one of"},
        Case{&out, &page_first, "options.layout page_first contradicts out.layout canonical"}}) {
    auto got = (*client)->GetInto("ns", "k", *c.out, *c.options);
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument) << got.status();
    EXPECT_THAT(std::string(got.status().message()), ::testing::HasSubstr(c.message));
  }
}

TEST(ClientTest, RejectsBadOptions) {
  ClientOptions no_target;
  no_target.target = "";
  EXPECT_FALSE(Client::Create(no_target).ok());
  ClientOptions no_attempts;
  no_attempts.max_attempts = 0;
  EXPECT_FALSE(Client::Create(no_attempts).ok());
  ClientOptions big_chunks;
  big_chunks.chunk_bytes = wire::kMaxChunkBytes + 1;
  EXPECT_FALSE(Client::Create(big_chunks).ok());
  ClientOptions largest_chunks;
  largest_chunks.chunk_bytes = wire::kMaxChunkBytes;
  EXPECT_TRUE(Client::Create(largest_chunks).ok());
}

}  // namespace
}  // namespace gearkv::client_internal
