// Unit tests of the client's pieces that need no server: backoff, retry policy, the hand-coded
// health messages, wire conversions, and a Client against a port nobody listens on.
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
#include "gmock/gmock.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "health_check.h"
#include "retry.h"
#include "wire.h"

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

TEST(HealthCheckTest, EncodesAndDecodes) {
  EXPECT_EQ(EncodeHealthCheckRequest(""), "");
  EXPECT_EQ(EncodeHealthCheckRequest("gearkv.v1.KVCache"),
            std::string("\x0a\x11") + "gearkv.v1.KVCache");
  EXPECT_EQ(*DecodeHealthCheckResponse(""), HealthState::kUnknown);
  EXPECT_EQ(*DecodeHealthCheckResponse(std::string("\x08\x01", 2)), HealthState::kServing);
  EXPECT_EQ(*DecodeHealthCheckResponse(std::string("\x08\x02", 2)), HealthState::kNotServing);
  EXPECT_EQ(*DecodeHealthCheckResponse(std::string("\x08\x03", 2)), HealthState::kServiceUnknown);
  // Unknown fields are skipped.
  EXPECT_EQ(*DecodeHealthCheckResponse(std::string("\x12\x02xy\x08\x01", 6)),
            HealthState::kServing);
  EXPECT_FALSE(DecodeHealthCheckResponse(std::string("\x08", 1)).ok());
  EXPECT_FALSE(DecodeHealthCheckResponse(std::string("\x12\x05xy", 4)).ok());
  EXPECT_FALSE(DecodeHealthCheckResponse(std::string("\x0f", 1)).ok());
}

TEST(WireTest, CodecRequestAndSpec) {
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
  wire.set_preset("none");
  EXPECT_EQ(SpecFromWire(wire).method, Method::kNone);
  EXPECT_EQ(*DTypeFromWire(DTypeToWire(DType::kBFloat16)), DType::kBFloat16);
  EXPECT_FALSE(DTypeFromWire(0).ok());
  const TensorShape shape{2, 8, 256, 128};
  EXPECT_EQ(ShapeFromWire(ShapeToWire(shape)), shape);
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

  std::unique_ptr<Client> Connect() const {
    ClientOptions options;
    options.target = absl::StrCat("127.0.0.1:", port_);
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
  *h->mutable_shape() = ShapeToWire(kFakeShape);
  h->set_dtype(DTypeToWire(DType::kFloat16));
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
        Case{&bad_shape, &defaults, "out.shape"}}) {
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
  big_chunks.chunk_bytes = 2 << 20;
  EXPECT_FALSE(Client::Create(big_chunks).ok());
}

}  // namespace
}  // namespace gearkv::client_internal
