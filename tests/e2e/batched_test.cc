// The batched calls through a real gearkv-server: GetMany / GetManyInto / PutMany of
// gearkv::Client with hits and misses in one batch, RAW and COMPRESSED, equal to the single-key
// calls bit for bit; and through raw stubs, what the client never sends: a batch over the
// limits, a PutMany cancelled half-way, a GetMany whose deadline passes between blocks.
#include <grpcpp/grpcpp.h>

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "e2e_util.h"
#include "gearkv/tensor_file.h"
#include "gearkv/v1/kv_cache.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "process.h"

namespace gearkv::e2e {
namespace {

using ::testing::HasSubstr;

class BatchedTest : public ::testing::Test {
 protected:
  static constexpr TensorShape kShape{2, 4, 256, 128};  // 1 MiB of fp16

  void SetUp() override {
    auto server = ServerProcess::Start({"--memory_budget=512MiB"});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    client_ = Connect(*server_);
    ASSERT_NE(client_, nullptr);
    stub_ = v1::KVCache::NewStub(
        grpc::CreateChannel(server_->target(), grpc::InsecureChannelCredentials()));
  }

  // Stores `n` blocks k0.. under "b" with PutMany; their tensors.
  std::vector<Tensor> PutBlocks(int n, const std::string& preset) {
    std::vector<Tensor> tensors;
    std::vector<TensorView> views;
    std::vector<std::string> keys;
    for (int i = 0; i < n; ++i) {
      tensors.push_back(Gaussian(kShape, DType::kFloat16, TestSeed() + i));
      keys.push_back(absl::StrCat("k", i));
    }
    for (const Tensor& t : tensors) views.push_back(*AsKvView(t));
    auto put = client_->PutMany("b", keys, views, WithPreset(preset));
    EXPECT_TRUE(put.ok()) << put.status();
    if (put.ok()) {
      for (const auto& r : *put) {
        EXPECT_TRUE(r.ok()) << r.status();
        if (r.ok()) EXPECT_EQ(r->preset, preset);
      }
    }
    return tensors;
  }

  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<Client> client_;
  std::unique_ptr<v1::KVCache::Stub> stub_;
};

TEST_F(BatchedTest, HitsAndMissesInOneBatchEqualTheSingleGets) {
  const std::vector<Tensor> tensors = PutBlocks(4, "gear4");
  const std::vector<std::string> keys = {"k0", "nope", "k1", "k2", "also-nope", "k3"};
  for (GetEncoding encoding : {GetEncoding::kCompressed, GetEncoding::kRaw}) {
    SCOPED_TRACE(encoding == GetEncoding::kRaw ? "raw" : "compressed");
    auto many = client_->GetMany("b", keys, WithEncoding(encoding));
    ASSERT_TRUE(many.ok()) << many.status();
    ASSERT_EQ(many->size(), keys.size());
    for (size_t i = 0; i < keys.size(); ++i) {
      auto single = client_->Get("b", keys[i], WithEncoding(encoding));
      if (!single.ok()) {
        EXPECT_TRUE(absl::IsNotFound(single.status()));
        EXPECT_EQ((*many)[i].status().code(), absl::StatusCode::kNotFound) << keys[i];
        continue;
      }
      ASSERT_TRUE((*many)[i].ok()) << (*many)[i].status();
      EXPECT_TRUE((*many)[i]->tensor.data == single->tensor.data) << keys[i];
      EXPECT_EQ((*many)[i]->cost.stored_bytes, single->cost.stored_bytes);
      EXPECT_EQ((*many)[i]->wire_bytes, single->wire_bytes);
    }
    EXPECT_LT(RelativeErrorOf((*many)[0]->tensor, tensors[0]), 0.2);

    // Into caller-owned memory: the same bytes; a miss leaves its buffer untouched.
    std::vector<std::string> memory(keys.size(), std::string(kShape.NumElements() * 2, '\xab'));
    std::vector<MutableTensorView> outs;
    for (std::string& m : memory) outs.push_back({kShape, DType::kFloat16, m.data()});
    auto into = client_->GetManyInto("b", keys, outs, WithEncoding(encoding));
    ASSERT_TRUE(into.ok()) << into.status();
    for (size_t i = 0; i < keys.size(); ++i) {
      if ((*many)[i].ok()) {
        ASSERT_TRUE((*into)[i].ok()) << (*into)[i].status();
        EXPECT_TRUE(memory[i] == (*many)[i]->tensor.data) << keys[i];
      } else {
        EXPECT_TRUE(absl::IsNotFound((*into)[i].status()));
        EXPECT_EQ(memory[i], std::string(memory[i].size(), '\xab'));
      }
    }
  }
}

TEST_F(BatchedTest, ABlockRefusedInAPutManyDoesNotStopTheOthers) {
  const Tensor good = Gaussian(kShape, DType::kFloat16, TestSeed());
  const Tensor odd = Gaussian({1, 1, 4, 8}, DType::kFloat16, TestSeed());
  const std::vector<std::string> keys = {"good", "odd-but-fine", "good2"};
  const std::vector<TensorView> views = {*AsKvView(good), *AsKvView(odd), *AsKvView(good)};
  PutOptions options = WithPreset("gear4");
  options.codec.bits = 5;  // not 2, 3, 4 or 8: every block is refused
  auto refused = client_->PutMany("b", keys, views, options);
  ASSERT_TRUE(refused.ok()) << refused.status();
  for (const auto& r : *refused) EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  auto put = client_->PutMany("b", keys, views, WithPreset("none"));
  ASSERT_TRUE(put.ok()) << put.status();
  for (const auto& r : *put) EXPECT_TRUE(r.ok()) << r.status();
  auto got = client_->GetMany("b", keys, WithEncoding(GetEncoding::kRaw));
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE((*got)[1]->tensor.data == odd.data);
  EXPECT_TRUE((*got)[2]->tensor.data == good.data);
}

TEST_F(BatchedTest, BatchesOverTheLimitsAreRefusedByTheServer) {
  v1::GetManyRequest request;
  request.set_namespace_("b");
  for (int i = 0; i <= v1::LIMIT_MAX_BATCH_KEYS; ++i) request.add_keys("k");
  grpc::ClientContext context;
  auto reader = stub_->GetMany(&context, request);
  v1::GetManyResponse message;
  EXPECT_FALSE(reader->Read(&message));
  grpc::Status status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("LIMIT_MAX_BATCH_KEYS"));
}

TEST_F(BatchedTest, APutManyCancelledHalfWayKeepsTheFinishedBlocksOnly) {
  const Tensor t = Gaussian(kShape, DType::kFloat16, TestSeed());
  grpc::ClientContext context;
  v1::PutManyResponse response;
  auto writer = stub_->PutMany(&context, &response);
  auto block = [&](const std::string& key, size_t bytes) {
    v1::PutManyRequest header;
    v1::PutHeader* h = header.mutable_header();
    h->set_namespace_("b");
    h->set_key(key);
    h->mutable_shape()->set_layers(kShape.layers);
    h->mutable_shape()->set_kv_heads(kShape.kv_heads);
    h->mutable_shape()->set_tokens(kShape.tokens);
    h->mutable_shape()->set_head_dim(kShape.head_dim);
    h->set_dtype(v1::DTYPE_FLOAT16);
    h->mutable_codec()->set_preset("gear4");
    ASSERT_TRUE(writer->Write(header));
    for (size_t offset = 0; offset < bytes; offset += 256 << 10) {
      v1::PutManyRequest chunk;
      chunk.set_chunk(t.data.substr(offset, std::min<size_t>(256 << 10, bytes - offset)));
      ASSERT_TRUE(writer->Write(chunk));
    }
  };
  block("whole0", t.data.size());
  block("whole1", t.data.size());
  block("half", t.data.size() / 2);
  const std::vector<std::string> keys = {"whole0", "whole1", "half"};
  for (int i = 0; i < 500; ++i) {
    auto lookup = client_->Lookup("b", keys);
    if (lookup.ok() && lookup->prefix_hits >= 2) break;
    absl::SleepFor(absl::Milliseconds(10));
  }
  context.TryCancel();
  EXPECT_EQ(writer->Finish().error_code(), grpc::StatusCode::CANCELLED);
  absl::SleepFor(absl::Milliseconds(200));
  auto lookup = client_->Lookup("b", keys);
  ASSERT_TRUE(lookup.ok()) << lookup.status();
  EXPECT_EQ(lookup->exists, (std::vector<bool>{true, true, false}));
}

TEST_F(BatchedTest, AGetManyWhoseDeadlinePassesBetweenBlocksEndsThere) {
  PutBlocks(24, "none");
  v1::GetManyRequest request;
  request.set_namespace_("b");
  for (int i = 0; i < 24; ++i) request.add_keys(absl::StrCat("k", i));
  request.set_encoding(v1::ENCODING_RAW);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(300));
  auto reader = stub_->GetMany(&context, request);
  v1::GetManyResponse message;
  uint32_t last_index = 0;
  bool first = true;
  while (reader->Read(&message)) {
    if (first) absl::SleepFor(absl::Milliseconds(600));  // past the deadline
    first = false;
    last_index = message.index();
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_LT(last_index, 23u);
  // The server is fine afterwards.
  auto after = client_->GetMany("b", {"k0", "k23"}, WithEncoding(GetEncoding::kRaw));
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_TRUE((*after)[1].ok());
}

TEST_F(BatchedTest, CliPutsAndGetsSeveralKeysInOneCall) {
  TempDir dir;
  const std::string target = "--target=" + server_->target();
  const Tensor a = Gaussian(kShape, DType::kFloat16, TestSeed() + 1);
  const Tensor b = Gaussian(kShape, DType::kFloat16, TestSeed() + 2);
  const std::string a_in = dir.path() + "/a.npy", b_in = dir.path() + "/b.npy";
  ASSERT_TRUE(WriteTensorFile(a_in, a).ok());
  ASSERT_TRUE(WriteTensorFile(b_in, b).ok());
  CliResult r =
      RunCli({"put", a_in, b_in, "-n", "cli", "-k", "a", "-k", "b", "--preset", "none", target});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("stored cli/a"));
  EXPECT_THAT(r.out, HasSubstr("stored cli/b"));

  const std::string a_out = dir.path() + "/a_out.npy", x_out = dir.path() + "/x_out.npy",
                    b_out = dir.path() + "/b_out.npy";
  r = RunCli({"get", "-n", "cli", "-k", "a", "-k", "x", "-k", "b", "-o", a_out, "-o", x_out, "-o",
              b_out, target});
  EXPECT_EQ(r.exit_code, 1) << "a missing key fails the command";
  EXPECT_THAT(r.err, HasSubstr("NOT_FOUND"));
  auto a_got = ReadTensorFile(a_out);
  auto b_got = ReadTensorFile(b_out);
  ASSERT_TRUE(a_got.ok()) << a_got.status();
  ASSERT_TRUE(b_got.ok()) << b_got.status();
  EXPECT_TRUE(a_got->data == a.data);
  EXPECT_TRUE(b_got->data == b.data);
  EXPECT_FALSE(ReadTensorFile(x_out).ok());

  r = RunCli({"put", a_in, b_in, "-n", "cli", "-k", "a", target});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("2 files and 1 keys"));
}

}  // namespace
}  // namespace gearkv::e2e
