#include "disk_format.h"

#include <bit>
#include <cstring>
#include <limits>

#include "absl/strings/str_cat.h"
#include "xxhash.h"

namespace gearkv::store::internal {
namespace {

static_assert(std::endian::native == std::endian::little,
              "the disk format is little-endian; add byte swaps for big-endian hosts");

constexpr uint32_t kBlockMagic = 0x42564B47;  // "GKVB" read as little-endian
constexpr uint32_t kMetaMagic = 0x4D564B47;   // "GKVM"

template <typename T>
void Append(std::string& out, T value) {
  char buf[sizeof(T)];
  std::memcpy(buf, &value, sizeof(T));
  out.append(buf, sizeof(T));
}

template <typename T>
T Read(std::string_view in, size_t offset) {
  T value;
  std::memcpy(&value, in.data() + offset, sizeof(T));
  return value;
}

int64_t EncodeTime(absl::Time t) {
  if (t == absl::InfiniteFuture()) return std::numeric_limits<int64_t>::max();
  return absl::ToUnixMicros(t);
}

absl::Time DecodeTime(int64_t micros) {
  if (micros == std::numeric_limits<int64_t>::max()) return absl::InfiniteFuture();
  return absl::FromUnixMicros(micros);
}

// The fields shared by both records: magic, version, reserved, seq, expiry, length (32 bytes).
std::string EncodeCommon(uint32_t magic, const RecordInfo& info) {
  std::string out;
  out.reserve(kRecordHeaderSize);
  Append<uint32_t>(out, magic);
  Append<uint16_t>(out, kDiskFormatVersion);
  Append<uint16_t>(out, 0);
  Append<uint64_t>(out, info.seq);
  Append<int64_t>(out, EncodeTime(info.expires_at));
  Append<uint64_t>(out, info.length);
  return out;
}

absl::StatusOr<RecordInfo> DecodeCommon(std::string_view in, uint32_t magic, const char* what) {
  if (in.size() < kMetaRecordSize) {
    return absl::DataLossError(
        absl::StrCat("disk tier: ", what, " of ", in.size(), " bytes is shorter than its header"));
  }
  if (Read<uint32_t>(in, 0) != magic) {
    return absl::DataLossError(absl::StrCat("disk tier: ", what, " has a bad magic number"));
  }
  if (const uint16_t version = Read<uint16_t>(in, 4); version != kDiskFormatVersion) {
    return absl::DataLossError(absl::StrCat("disk tier: ", what, " has format version ", version,
                                            ", this build reads ", kDiskFormatVersion));
  }
  RecordInfo info;
  info.seq = Read<uint64_t>(in, 8);
  info.expires_at = DecodeTime(Read<int64_t>(in, 16));
  info.length = Read<uint64_t>(in, 24);
  return info;
}

}  // namespace

std::string EncodeKeyBody(const BlockKey& key) {
  std::string out;
  out.reserve(4 + key.ns.size() + key.key.size());
  Append<uint32_t>(out, static_cast<uint32_t>(key.ns.size()));
  out.append(key.ns);
  out.append(key.key);
  return out;
}

absl::StatusOr<BlockKey> DecodeKeyBody(std::string_view body) {
  if (body.size() < 4) return absl::InvalidArgumentError("disk tier: key shorter than 4 bytes");
  const uint32_t ns_size = Read<uint32_t>(body, 0);
  if (ns_size > body.size() - 4) {
    return absl::InvalidArgumentError("disk tier: key's namespace length runs past its end");
  }
  return BlockKey{std::string(body.substr(4, ns_size)), std::string(body.substr(4 + ns_size))};
}

std::string BlockRowKey(std::string_view key_body) {
  std::string row_key(1, kBlockRowPrefix);
  row_key.append(key_body);
  return row_key;
}

std::string MetaRowKey(std::string_view key_body) {
  std::string row_key(1, kMetaRowPrefix);
  row_key.append(key_body);
  return row_key;
}

uint64_t PayloadChecksum(std::string_view payload) {
  return XXH3_64bits(payload.data(), payload.size());
}

std::string EncodeRecordHeader(const RecordInfo& info) {
  std::string out = EncodeCommon(kBlockMagic, info);
  Append<uint64_t>(out, info.checksum);
  return out;
}

std::string EncodeMetaRecord(const RecordInfo& info) { return EncodeCommon(kMetaMagic, info); }

absl::StatusOr<RecordInfo> DecodeMetaRecord(std::string_view meta) {
  if (meta.size() != kMetaRecordSize) {
    return absl::DataLossError(absl::StrCat("disk tier: meta record of ", meta.size(),
                                            " bytes, expected ", kMetaRecordSize));
  }
  return DecodeCommon(meta, kMetaMagic, "meta record");
}

absl::StatusOr<RecordInfo> DecodeAndVerifyBlockRow(std::string_view row,
                                                   std::string_view& payload) {
  if (row.size() < kRecordHeaderSize) {
    return absl::DataLossError(absl::StrCat("disk tier: stored block of ", row.size(),
                                            " bytes is shorter than its ", kRecordHeaderSize,
                                            "-byte header"));
  }
  absl::StatusOr<RecordInfo> info = DecodeCommon(row, kBlockMagic, "stored block");
  if (!info.ok()) return info.status();
  info->checksum = Read<uint64_t>(row, 32);
  payload = row.substr(kRecordHeaderSize);
  if (payload.size() != info->length) {
    return absl::DataLossError(absl::StrCat("disk tier: stored block has ", payload.size(),
                                            " payload bytes, its header says ", info->length));
  }
  if (const uint64_t actual = PayloadChecksum(payload); actual != info->checksum) {
    return absl::DataLossError(absl::StrCat("disk tier: stored block fails its checksum (XXH3 ",
                                            absl::Hex(actual), ", header says ",
                                            absl::Hex(info->checksum), ")"));
  }
  return info;
}

}  // namespace gearkv::store::internal
