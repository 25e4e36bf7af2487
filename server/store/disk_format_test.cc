#include "disk_format.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gearkv::store::internal {
namespace {

using ::testing::HasSubstr;

TEST(DiskFormatTest, KeyBodiesAreUnambiguousAndRoundTrip) {
  const BlockKey a{"ab", "c"};
  const BlockKey b{"a", "bc"};
  EXPECT_NE(EncodeKeyBody(a), EncodeKeyBody(b));
  EXPECT_EQ(*DecodeKeyBody(EncodeKeyBody(a)), a);
  EXPECT_EQ(*DecodeKeyBody(EncodeKeyBody(b)), b);
  const BlockKey binary{std::string("\0x", 2), std::string("\xff\0", 2)};
  EXPECT_EQ(*DecodeKeyBody(EncodeKeyBody(binary)), binary);
  EXPECT_FALSE(DecodeKeyBody("abc").ok());
  EXPECT_FALSE(DecodeKeyBody(std::string("\x09\0\0\0abc", 7)).ok());
  EXPECT_NE(BlockRowKey("x"), MetaRowKey("x"));
}

std::string Row(const std::string& payload, RecordInfo info) {
  info.length = payload.size();
  info.checksum = PayloadChecksum(payload);
  return EncodeRecordHeader(info) + payload;
}

TEST(DiskFormatTest, BlockRowRoundTrips) {
  RecordInfo info;
  info.seq = 42;
  info.expires_at = absl::FromUnixMicros(1'700'000'000'123'456);
  const std::string row = Row("hello block", info);
  ASSERT_EQ(row.size(), kRecordHeaderSize + 11);
  std::string_view payload;
  absl::StatusOr<RecordInfo> decoded = DecodeAndVerifyBlockRow(row, payload);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(payload, "hello block");
  EXPECT_EQ(decoded->seq, 42u);
  EXPECT_EQ(decoded->expires_at, info.expires_at);

  info.expires_at = absl::InfiniteFuture();
  const std::string forever = Row("", info);
  decoded = DecodeAndVerifyBlockRow(forever, payload);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->expires_at, absl::InfiniteFuture());
  EXPECT_EQ(payload, "");
}

TEST(DiskFormatTest, CorruptRowsAreDataLoss) {
  const std::string row = Row("some payload bytes", RecordInfo{});
  std::string_view payload;

  std::string flipped = row;
  flipped[kRecordHeaderSize + 3] ^= 0x01;
  absl::StatusOr<RecordInfo> decoded = DecodeAndVerifyBlockRow(flipped, payload);
  EXPECT_TRUE(absl::IsDataLoss(decoded.status()));
  EXPECT_THAT(decoded.status().message(), HasSubstr("checksum"));

  decoded = DecodeAndVerifyBlockRow(row.substr(0, row.size() - 1), payload);
  EXPECT_TRUE(absl::IsDataLoss(decoded.status()));
  EXPECT_THAT(decoded.status().message(), HasSubstr("header says 18"));

  decoded = DecodeAndVerifyBlockRow(row.substr(0, 10), payload);
  EXPECT_TRUE(absl::IsDataLoss(decoded.status()));
  EXPECT_THAT(decoded.status().message(), HasSubstr("shorter than"));

  std::string bad_version = row;
  bad_version[4] = 7;
  decoded = DecodeAndVerifyBlockRow(bad_version, payload);
  EXPECT_TRUE(absl::IsDataLoss(decoded.status()));
  EXPECT_THAT(decoded.status().message(), HasSubstr("format version 7"));

  std::string bad_magic = row;
  bad_magic[0] = 'Z';
  EXPECT_TRUE(absl::IsDataLoss(DecodeAndVerifyBlockRow(bad_magic, payload).status()));
}

TEST(DiskFormatTest, MetaRecordRoundTrips) {
  RecordInfo info;
  info.seq = 7;
  info.length = 123;
  info.expires_at = absl::FromUnixSeconds(5);
  const std::string meta = EncodeMetaRecord(info);
  ASSERT_EQ(meta.size(), kMetaRecordSize);
  absl::StatusOr<RecordInfo> decoded = DecodeMetaRecord(meta);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->seq, 7u);
  EXPECT_EQ(decoded->length, 123u);
  EXPECT_EQ(decoded->expires_at, info.expires_at);
  EXPECT_FALSE(DecodeMetaRecord(meta.substr(1)).ok());
  // A block row's header is not a meta record.
  EXPECT_FALSE(DecodeMetaRecord(EncodeRecordHeader(info).substr(0, kMetaRecordSize)).ok());
}

}  // namespace
}  // namespace gearkv::store::internal
