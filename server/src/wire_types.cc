#include "wire_types.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl_compat.h"

namespace gearkv::server {

absl::Status ValidateBlockKey(std::string_view ns, std::string_view key) {
  if (key.empty()) return absl::InvalidArgumentError("key is empty (1 to 1024 bytes)");
  if (key.size() > kMaxKeyBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("key of ", key.size(), " bytes is too long (at most ", kMaxKeyBytes, ")"));
  }
  if (ns.size() > kMaxNamespaceBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "namespace of ", ns.size(), " bytes is too long (at most ", kMaxNamespaceBytes, ")"));
  }
  return absl::OkStatus();
}

std::string DescribeKey(std::string_view ns, std::string_view key) {
  constexpr size_t kShown = 32;
  const std::string_view shown = key.substr(0, kShown);
  const bool printable = std::all_of(shown.begin(), shown.end(), [](char c) {
    return absl::ascii_isprint(static_cast<unsigned char>(c));
  });
  std::string out =
      absl::StrCat("namespace \"", absl::CHexEscape(ToAbsl(ns.substr(0, kShown))), "\" key ");
  if (printable) {
    absl::StrAppend(&out, "\"", absl::CHexEscape(ToAbsl(shown)), "\"");
  } else {
    absl::StrAppend(&out, "0x", absl::BytesToHexString(ToAbsl(shown)));
  }
  if (key.size() > kShown) absl::StrAppend(&out, "... (", key.size(), " bytes)");
  return out;
}

v1::BlockStats MakeBlockStats(uint64_t raw_bytes, uint64_t block_bytes, uint64_t elements) {
  v1::BlockStats stats;
  stats.set_raw_bytes(raw_bytes);
  stats.set_stored_bytes(block_bytes);
  stats.set_bits_per_element(
      elements == 0 ? 0.0 : 8.0 * static_cast<double>(block_bytes) / static_cast<double>(elements));
  stats.set_ratio(
      block_bytes == 0 ? 0.0 : static_cast<double>(raw_bytes) / static_cast<double>(block_bytes));
  return stats;
}

}  // namespace gearkv::server
