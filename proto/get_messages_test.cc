#include "gearkv/get_messages.h"

#include <grpcpp/support/slice.h>

#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gearkv::wire {
namespace {

std::string Flatten(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  EXPECT_TRUE(buffer.Dump(&slices).ok());
  std::string out;
  for (const grpc::Slice& s : slices)
    out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

// `bytes` as a ByteBuffer cut into slices of `piece` bytes, as gRPC may deliver a message.
grpc::ByteBuffer Pieces(const std::string& bytes, size_t piece) {
  std::vector<grpc::Slice> slices;
  for (size_t i = 0; i < bytes.size(); i += piece) {
    slices.emplace_back(bytes.data() + i, std::min(piece, bytes.size() - i));
  }
  return grpc::ByteBuffer(slices.data(), slices.size());
}

std::string Pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(i * 131 + 7);
  return s;
}

TEST(GetMessages, ChunkIsTheSameBytesAsProtobufAndDoesNotCopy) {
  for (size_t n :
       {size_t{0}, size_t{1}, size_t{127}, size_t{128}, size_t{16384}, size_t{1} << 20}) {
    auto owner = std::make_shared<const std::string>(Pattern(n));
    std::weak_ptr<const std::string> watch = owner;
    {
      grpc::ByteBuffer message = GetChunkMessage(*owner, owner);
      owner.reset();
      if (n > 0) EXPECT_FALSE(watch.expired()) << "the message must keep its bytes alive";
      v1::GetResponse expected;
      expected.set_chunk(Pattern(n));
      EXPECT_EQ(Flatten(message), expected.SerializeAsString()) << n;
    }
    EXPECT_TRUE(watch.expired()) << "the bytes must be released with the message";
  }
}

TEST(GetMessages, DecodesChunksWhateverTheSlicing) {
  for (size_t n : {size_t{0}, size_t{5}, size_t{300}, size_t{70000}}) {
    v1::GetResponse chunk;
    chunk.set_chunk(Pattern(n));
    for (size_t piece : {size_t{1}, size_t{2}, size_t{7}, size_t{4096}, size_t{1} << 20}) {
      std::string payload = "prefix";
      v1::GetHeader header;
      absl::StatusOr<GetMessageKind> kind =
          DecodeGetMessage(Pieces(chunk.SerializeAsString(), piece), &header, &payload, n);
      ASSERT_TRUE(kind.ok()) << kind.status();
      EXPECT_EQ(*kind, GetMessageKind::kChunk);
      EXPECT_EQ(payload, "prefix" + Pattern(n)) << n << " in pieces of " << piece;
    }
  }
}

TEST(GetMessages, DecodesChunksIntoASpanWhateverTheSlicing) {
  for (size_t n : {size_t{0}, size_t{5}, size_t{300}, size_t{70000}}) {
    v1::GetResponse chunk;
    chunk.set_chunk(Pattern(n));
    for (size_t piece : {size_t{1}, size_t{7}, size_t{4096}, size_t{1} << 20}) {
      for (size_t room : {n, n + 3}) {
        std::string out(room, '#');
        size_t written = 99;
        v1::GetHeader header;
        absl::StatusOr<GetMessageKind> kind = DecodeGetMessage(
            Pieces(chunk.SerializeAsString(), piece), &header, absl::MakeSpan(out), &written);
        ASSERT_TRUE(kind.ok()) << kind.status();
        EXPECT_EQ(*kind, GetMessageKind::kChunk);
        EXPECT_EQ(written, n);
        EXPECT_EQ(out, Pattern(n) + std::string(room - n, '#')) << n << " in pieces of " << piece;
      }
    }
  }
  // Another encoding of a chunk (protobuf's path) and a header.
  v1::GetResponse chunk;
  chunk.set_chunk("abc");
  std::string out(4, '#');
  size_t written = 99;
  v1::GetHeader header;
  absl::StatusOr<GetMessageKind> kind =
      DecodeGetMessage(Pieces(chunk.SerializeAsString() + std::string("\x78\x01", 2), 3), &header,
                       absl::MakeSpan(out), &written);
  ASSERT_TRUE(kind.ok()) << kind.status();
  EXPECT_EQ(written, 3u);
  EXPECT_EQ(out, "abc#");
  v1::GetHeader sent;
  sent.set_payload_bytes(7);
  kind = DecodeGetMessage(GetHeaderMessage(sent), &header, absl::MakeSpan(out), &written);
  ASSERT_TRUE(kind.ok()) << kind.status();
  EXPECT_EQ(*kind, GetMessageKind::kHeader);
  EXPECT_EQ(header.payload_bytes(), 7u);
  EXPECT_EQ(written, 0u);
  EXPECT_EQ(out, "abc#");
}

TEST(GetMessages, RefusesAChunkLongerThanTheSpan) {
  v1::GetResponse chunk;
  chunk.set_chunk(Pattern(100));
  std::string out(99, '#');
  size_t written = 99;
  v1::GetHeader header;
  // The server's encoding and protobuf's other one.
  for (const std::string& bytes :
       {chunk.SerializeAsString(), chunk.SerializeAsString() + std::string("\x78\x01", 2)}) {
    absl::StatusOr<GetMessageKind> kind =
        DecodeGetMessage(Pieces(bytes, 64), &header, absl::MakeSpan(out), &written);
    EXPECT_EQ(kind.status().code(), absl::StatusCode::kOutOfRange);
    EXPECT_THAT(std::string(kind.status().message()), testing::HasSubstr("100 bytes"));
    EXPECT_THAT(std::string(kind.status().message()), testing::HasSubstr("99 allowed"));
    EXPECT_EQ(written, 0u);
    EXPECT_EQ(out, std::string(99, '#')) << "nothing may be written";
  }
  // No room at all: only an empty chunk fits.
  chunk.set_chunk("");
  absl::StatusOr<GetMessageKind> kind = DecodeGetMessage(Pieces(chunk.SerializeAsString(), 64),
                                                         &header, absl::Span<char>(), &written);
  ASSERT_TRUE(kind.ok()) << kind.status();
  EXPECT_EQ(written, 0u);
}

TEST(GetMessages, HeaderRoundTrips) {
  v1::GetHeader header;
  header.mutable_shape()->set_layers(3);
  header.set_payload_bytes(12345);
  header.set_encoding(v1::ENCODING_COMPRESSED);
  v1::GetHeader decoded;
  std::string payload;
  absl::StatusOr<GetMessageKind> kind =
      DecodeGetMessage(GetHeaderMessage(header), &decoded, &payload, 1 << 20);
  ASSERT_TRUE(kind.ok()) << kind.status();
  EXPECT_EQ(*kind, GetMessageKind::kHeader);
  EXPECT_EQ(decoded.SerializeAsString(), header.SerializeAsString());
  EXPECT_TRUE(payload.empty());
}

TEST(GetMessages, OtherEncodingsOfAChunkGoThroughProtobuf) {
  // The chunk field followed by an unknown field: still a chunk.
  v1::GetResponse chunk;
  chunk.set_chunk("abc");
  std::string bytes = chunk.SerializeAsString() + std::string("\x78\x01", 2);  // field 15 = 1
  std::string payload;
  v1::GetHeader header;
  absl::StatusOr<GetMessageKind> kind = DecodeGetMessage(Pieces(bytes, 3), &header, &payload, 10);
  ASSERT_TRUE(kind.ok()) << kind.status();
  EXPECT_EQ(*kind, GetMessageKind::kChunk);
  EXPECT_EQ(payload, "abc");
  // An empty message is an empty chunk.
  kind = DecodeGetMessage(grpc::ByteBuffer(), &header, &payload, 10);
  ASSERT_TRUE(kind.ok()) << kind.status();
  EXPECT_EQ(*kind, GetMessageKind::kChunk);
  EXPECT_EQ(payload, "abc");
}

TEST(GetMessages, RefusesLongChunksAndGarbage) {
  v1::GetResponse chunk;
  chunk.set_chunk(Pattern(100));
  std::string payload;
  v1::GetHeader header;
  absl::StatusOr<GetMessageKind> kind =
      DecodeGetMessage(Pieces(chunk.SerializeAsString(), 64), &header, &payload, 99);
  EXPECT_EQ(kind.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(std::string(kind.status().message()), testing::HasSubstr("100 bytes"));
  EXPECT_TRUE(payload.empty());

  kind = DecodeGetMessage(Pieces(std::string("\x12\x05"
                                             "ab",
                                             4),
                                 4),
                          &header, &payload, 99);
  EXPECT_EQ(kind.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(payload.empty());
}

}  // namespace
}  // namespace gearkv::wire
