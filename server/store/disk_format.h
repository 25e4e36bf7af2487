// The on-disk layout of DiskStore (internal). Each block is two RocksDB rows written in one
// batch:
//
//   'b' + KeyBody  ->  RecordHeader (40 bytes) + payload
//   'm' + KeyBody  ->  MetaRecord (32 bytes)
//
// KeyBody = fixed32le(ns.size()) + ns + key: length-prefixed, so ("ab","c") and ("a","bc")
// differ. Rows 'f' + fixed64be(n) (empty) are flush marks, written and checked by flush_marks.h.
// The 'm' rows are small and contiguous, so opening a store scans only them to rebuild the
// in-memory index; the 'b' rows are read only by Get.
//
// RecordHeader, little-endian: magic "GKVB" (u32), format version (u16), reserved (u16),
// insertion sequence (u64), expiry in Unix microseconds (i64, INT64_MAX = never), payload length
// (u64), XXH3-64 of the payload (u64). MetaRecord: magic "GKVM", version, reserved, sequence,
// expiry, payload length, with the same encodings.
#ifndef GEARKV_STORE_DISK_FORMAT_H_
#define GEARKV_STORE_DISK_FORMAT_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gearkv/store/block_store.h"

namespace gearkv::store::internal {

inline constexpr char kBlockRowPrefix = 'b';
inline constexpr char kMetaRowPrefix = 'm';
inline constexpr uint16_t kDiskFormatVersion = 1;
inline constexpr size_t kRecordHeaderSize = 40;
inline constexpr size_t kMetaRecordSize = 32;

// What both the header of a block row and its meta row say about the block.
struct RecordInfo {
  uint64_t seq = 0;
  absl::Time expires_at = absl::InfiniteFuture();
  uint64_t length = 0;    // payload bytes
  uint64_t checksum = 0;  // XXH3-64 of the payload; not in the meta row
};

std::string EncodeKeyBody(const BlockKey& key);
// Inverse of EncodeKeyBody; InvalidArgument when malformed.
absl::StatusOr<BlockKey> DecodeKeyBody(std::string_view body);
std::string BlockRowKey(std::string_view key_body);
std::string MetaRowKey(std::string_view key_body);

uint64_t PayloadChecksum(std::string_view payload);

std::string EncodeRecordHeader(const RecordInfo& info);
std::string EncodeMetaRecord(const RecordInfo& info);
absl::StatusOr<RecordInfo> DecodeMetaRecord(std::string_view meta);

// Parses a block row and verifies it: magic, version, length and checksum. DATA_LOSS with a
// message naming what is wrong otherwise. On success `payload` points into `row`.
absl::StatusOr<RecordInfo> DecodeAndVerifyBlockRow(std::string_view row, std::string_view& payload);

}  // namespace gearkv::store::internal

#endif  // GEARKV_STORE_DISK_FORMAT_H_
