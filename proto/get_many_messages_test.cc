#include "gearkv/get_many_messages.h"

#include <grpcpp/support/slice.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "gearkv/get_messages.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gearkv::wire {
namespace {

std::string Flatten(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  EXPECT_TRUE(buffer.Dump(&slices).ok());
  std::string out;
  for (const grpc::Slice& s : slices) {
    out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return out;
}

grpc::ByteBuffer Pieces(const std::string& bytes, size_t piece) {
  std::vector<grpc::Slice> slices;
  for (size_t i = 0; i < bytes.size(); i += piece) {
    slices.emplace_back(bytes.data() + i, std::min(piece, bytes.size() - i));
  }
  return grpc::ByteBuffer(slices.data(), slices.size());
}

TEST(GetManyMessages, ChunkParsesAsGetManyResponseAndSharesThePayload) {
  auto payload = std::make_shared<std::string>(5000, 'x');
  for (size_t i = 0; i < payload->size(); ++i) (*payload)[i] = static_cast<char>(i * 7);
  const grpc::ByteBuffer message =
      GetManyMessage(300, GetChunkMessage(*payload, std::shared_ptr<const void>(payload)));
  v1::GetManyResponse parsed;
  ASSERT_TRUE(parsed.ParseFromString(Flatten(message)));
  EXPECT_EQ(parsed.index(), 300u);
  EXPECT_EQ(parsed.chunk(), *payload);
  // The payload's slice is the payload itself.
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(message.Dump(&slices).ok());
  bool shared = false;
  for (const grpc::Slice& s : slices) {
    shared = shared || reinterpret_cast<const char*>(s.begin()) == payload->data();
  }
  EXPECT_TRUE(shared);
}

TEST(GetManyMessages, SplitsHeaderAndChunkWhateverTheSlicing) {
  v1::GetHeader header;
  header.set_payload_bytes(1234);
  header.mutable_shape()->set_layers(3);
  const std::string chunk(777, 'c');
  const std::string header_bytes = Flatten(GetManyMessage(0, GetHeaderMessage(header)));
  const std::string chunk_bytes =
      Flatten(GetManyMessage(70000, GetChunkMessage(chunk, std::make_shared<int>(0))));
  for (size_t piece : {1, 2, 3, 7, 100, 100000}) {
    absl::StatusOr<GetManyPart> h = SplitGetManyMessage(Pieces(header_bytes, piece));
    ASSERT_TRUE(h.ok()) << h.status();
    EXPECT_EQ(h->index, 0u);
    EXPECT_FALSE(h->status.has_value());
    v1::GetHeader decoded;
    std::string sink;
    absl::StatusOr<GetMessageKind> kind = DecodeGetMessage(h->get, &decoded, &sink, 1 << 20);
    ASSERT_TRUE(kind.ok()) << kind.status();
    EXPECT_EQ(*kind, GetMessageKind::kHeader);
    EXPECT_EQ(decoded.payload_bytes(), 1234u);
    EXPECT_EQ(decoded.shape().layers(), 3u);

    absl::StatusOr<GetManyPart> c = SplitGetManyMessage(Pieces(chunk_bytes, piece));
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_EQ(c->index, 70000u);
    sink.clear();
    kind = DecodeGetMessage(c->get, &decoded, &sink, 1 << 20);
    ASSERT_TRUE(kind.ok()) << kind.status();
    EXPECT_EQ(*kind, GetMessageKind::kChunk);
    EXPECT_EQ(sink, chunk);
  }
}

TEST(GetManyMessages, StatusRoundTrips) {
  const grpc::ByteBuffer message = GetManyStatusMessage(5, absl::DataLossError("bad checksum"));
  v1::GetManyResponse parsed;
  ASSERT_TRUE(parsed.ParseFromString(Flatten(message)));
  EXPECT_EQ(parsed.index(), 5u);
  EXPECT_EQ(parsed.status().code(), static_cast<int>(absl::StatusCode::kDataLoss));
  absl::StatusOr<GetManyPart> part = SplitGetManyMessage(message);
  ASSERT_TRUE(part.ok()) << part.status();
  EXPECT_EQ(part->index, 5u);
  ASSERT_TRUE(part->status.has_value());
  EXPECT_EQ(*part->status, absl::DataLossError("bad checksum"));
  EXPECT_TRUE(KeyStatusFromWire(KeyStatusToWire(absl::OkStatus())).ok());
}

TEST(GetManyMessages, OtherEncodingsGoThroughProtobuf) {
  // What another server's protobuf writes: index 0 left out, or fields in number order.
  v1::GetManyResponse response;
  response.set_chunk("abc");
  absl::StatusOr<GetManyPart> part = SplitGetManyMessage(Pieces(response.SerializeAsString(), 2));
  ASSERT_TRUE(part.ok()) << part.status();
  EXPECT_EQ(part->index, 0u);
  std::string sink;
  v1::GetHeader header;
  ASSERT_TRUE(DecodeGetMessage(part->get, &header, &sink, 1 << 20).ok());
  EXPECT_EQ(sink, "abc");

  response.set_index(9);
  response.mutable_status()->set_code(5);
  part = SplitGetManyMessage(Pieces(response.SerializeAsString(), 3));
  ASSERT_TRUE(part.ok()) << part.status();
  EXPECT_EQ(part->index, 9u);
  ASSERT_TRUE(part->status.has_value());
  EXPECT_TRUE(absl::IsNotFound(*part->status));
}

TEST(GetManyMessages, RefusesGarbage) {
  EXPECT_TRUE(absl::IsInvalidArgument(SplitGetManyMessage(Pieces("\xff\xff\xff", 1)).status()));
}

TEST(GetManyMessages, TruncatedAndMutatedMessagesNeverCrash) {
  v1::GetHeader header;
  header.set_payload_bytes(99);
  const std::string chunk(300, 'q');
  const std::vector<std::string> valid = {
      Flatten(GetManyMessage(7, GetHeaderMessage(header))),
      Flatten(GetManyMessage(128, GetChunkMessage(chunk, std::make_shared<int>(0)))),
      Flatten(GetManyStatusMessage(3, absl::NotFoundError("gone")))};
  std::mt19937 rng(42);
  for (int trial = 0; trial < 20000; ++trial) {
    std::string bytes = valid[trial % valid.size()];
    if (trial % 2 == 0) {
      bytes.resize(rng() % (bytes.size() + 1));  // truncated
    } else {
      for (int flips = 1 + rng() % 3; flips > 0; --flips) bytes[rng() % bytes.size()] ^= rng();
    }
    absl::StatusOr<GetManyPart> part = SplitGetManyMessage(Pieces(bytes, 1 + rng() % 7));
    if (!part.ok()) {
      EXPECT_TRUE(absl::IsInvalidArgument(part.status())) << part.status();
      continue;
    }
    if (part->status.has_value()) continue;
    // The rest goes to the Get decoder, which must judge it without crashing either.
    v1::GetHeader decoded;
    std::string sink;
    (void)DecodeGetMessage(part->get, &decoded, &sink, 1 << 20);
  }
}

}  // namespace
}  // namespace gearkv::wire
