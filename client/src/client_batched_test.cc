// The client's batched calls against a KVCache server in this process whose GetMany and
// PutMany answer as each test scripts them: retries, per-key results, argument checks.
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gearkv/client.h"
#include "gearkv/codec.h"
#include "gearkv/v1/kv_cache.grpc.pb.h"
#include "gearkv/wire.h"
#include "gmock/gmock.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"

namespace gearkv {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr TensorShape kShape{2, 2, 64, 64};  // 64 KiB of fp16
constexpr uint64_t kBytes = uint64_t{2} * 2 * 2 * 64 * 64 * 2;

std::string Pattern(size_t n, int seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(i * 131 + seed);
  return s;
}

// Key k's RAW tensor, as the fake server serves it.
std::string Tensor(const std::string& key) { return Pattern(kBytes, key[0]); }

class FakeBatchServer {
 public:
  using GetScript = std::function<grpc::Status(int, const v1::GetManyRequest&,
                                               grpc::ServerWriter<v1::GetManyResponse>*)>;
  explicit FakeBatchServer(GetScript script) : service_(std::move(script)) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
  }
  ~FakeBatchServer() { server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(1))); }

  std::unique_ptr<Client> Connect() const {
    ClientOptions options;
    options.target = absl::StrCat("127.0.0.1:", port_);
    options.initial_backoff = absl::Milliseconds(5);
    options.default_deadline = absl::Seconds(20);
    auto client = Client::Create(options);
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? std::move(*client) : nullptr;
  }
  // The keys each GetMany attempt asked for.
  std::vector<std::vector<std::string>> asked() const { return service_.asked; }

 private:
  struct Service : v1::KVCache::Service {
    explicit Service(GetScript s) : script(std::move(s)) {}
    grpc::Status GetMany(grpc::ServerContext*, const v1::GetManyRequest* request,
                         grpc::ServerWriter<v1::GetManyResponse>* writer) override {
      asked.emplace_back(request->keys().begin(), request->keys().end());
      return script(attempts++, *request, writer);
    }
    GetScript script;
    std::atomic<int> attempts{0};
    std::vector<std::vector<std::string>> asked;  // one attempt at a time
  };
  Service service_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

// Answers request key `index` as a RAW block of Tensor(key) in two chunks, or only the first
// `chunks` of them.
void WriteBlock(grpc::ServerWriter<v1::GetManyResponse>* writer, uint32_t index,
                const std::string& key, int chunks = 2) {
  v1::GetManyResponse m;
  m.set_index(index);
  v1::GetHeader* h = m.mutable_header();
  *h->mutable_shape() = wire::ShapeToWire(kShape);
  h->set_dtype(wire::DTypeToWire(DType::kFloat16));
  h->set_encoding(v1::ENCODING_RAW);
  h->set_payload_bytes(kBytes);
  writer->Write(m);
  const std::string bytes = Tensor(key);
  for (size_t offset = 0; offset < static_cast<size_t>(chunks) * kBytes / 2; offset += kBytes / 2) {
    v1::GetManyResponse chunk;
    chunk.set_index(index);
    chunk.set_chunk(bytes.substr(offset, kBytes / 2));
    writer->Write(chunk);
  }
}

TEST(ClientGetManyTest, ARetryAsksOnlyForTheKeysNotAnswered) {
  FakeBatchServer server([](int attempt, const v1::GetManyRequest& request,
                            grpc::ServerWriter<v1::GetManyResponse>* writer) {
    if (attempt == 0) {
      WriteBlock(writer, 0, request.keys(0));
      v1::GetManyResponse missing;
      missing.set_index(1);
      missing.mutable_status()->set_code(static_cast<int>(absl::StatusCode::kNotFound));
      missing.mutable_status()->set_message("no block");
      writer->Write(missing);
      WriteBlock(writer, 2, request.keys(2), /*chunks=*/1);  // cut off by the failure
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "draining");
    }
    for (int i = 0; i < request.keys_size(); ++i) WriteBlock(writer, i, request.keys(i));
    return grpc::Status::OK;
  });
  auto client = server.Connect();
  GetOptions options;
  options.encoding = GetEncoding::kRaw;
  const std::vector<std::string> keys = {"a", "b", "c", "d"};
  auto got = client->GetMany("ns", keys, options);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 4u);
  EXPECT_TRUE((*got)[0]->tensor.data == Tensor("a"));
  EXPECT_TRUE(absl::IsNotFound((*got)[1].status()));
  EXPECT_TRUE((*got)[2]->tensor.data == Tensor("c"));
  EXPECT_TRUE((*got)[3]->tensor.data == Tensor("d"));
  EXPECT_THAT(server.asked(), ElementsAre(ElementsAre("a", "b", "c", "d"), ElementsAre("c", "d")));
}

TEST(ClientGetManyTest, GetManyIntoWritesEachKeyIntoItsOut) {
  FakeBatchServer server(
      [](int, const v1::GetManyRequest& request, grpc::ServerWriter<v1::GetManyResponse>* writer) {
        for (int i = 0; i < request.keys_size(); ++i) WriteBlock(writer, i, request.keys(i));
        return grpc::Status::OK;
      });
  auto client = server.Connect();
  std::string m0(kBytes, '\0'), m1(kBytes, '\0'), wrong(kBytes * 2, '\0');
  const std::vector<MutableTensorView> outs = {
      {kShape, DType::kFloat16, m0.data()},
      {{2, 2, 128, 64}, DType::kFloat16, wrong.data()},  // not the stored shape
      {kShape, DType::kFloat16, m1.data()}};
  GetOptions options;
  options.encoding = GetEncoding::kRaw;
  const std::vector<std::string> keys = {"x", "y", "z"};
  auto got = client->GetManyInto("ns", keys, outs, options);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_TRUE((*got)[0].ok()) << (*got)[0].status();
  EXPECT_EQ(m0, Tensor("x"));
  EXPECT_EQ((*got)[1].status().code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE((*got)[2].ok()) << (*got)[2].status();
  EXPECT_EQ(m1, Tensor("z"));
}

TEST(ClientBatchedTest, ArgumentsAreCheckedBeforeAnyRpc) {
  ClientOptions options;
  options.target = "127.0.0.1:1";  // nobody listens: an RPC would be UNAVAILABLE
  options.max_attempts = 1;
  auto client = Client::Create(options);
  ASSERT_TRUE(client.ok());
  const std::vector<std::string> keys = {"a", "b"};
  std::string memory(kBytes, '\0');
  const std::vector<MutableTensorView> one_out = {{kShape, DType::kFloat16, memory.data()}};
  auto into = (*client)->GetManyInto("ns", keys, one_out);
  EXPECT_EQ(into.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(into.status().message()), HasSubstr("2 keys and 1 outs"));
  const std::vector<TensorView> one_tensor = {{kShape, DType::kFloat16, memory.data()}};
  auto put = (*client)->PutMany("ns", keys, one_tensor);
  EXPECT_EQ(put.status().code(), absl::StatusCode::kInvalidArgument);
  const std::vector<std::string> too_many(v1::LIMIT_MAX_BATCH_KEYS + 1, "k");
  auto many = (*client)->GetMany("ns", too_many);
  EXPECT_EQ(many.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(many.status().message()), HasSubstr("LIMIT_MAX_BATCH_KEYS"));
}

}  // namespace
}  // namespace gearkv
