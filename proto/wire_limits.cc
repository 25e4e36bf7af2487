#include "gearkv/wire_limits.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gearkv/base/strings.h"

namespace gearkv::wire {
namespace {

// Debian's abseil has its own absl::string_view (ABSL_OPTION_USE_STD_STRING_VIEW=0).

}  // namespace

absl::Status ValidateBlockKey(std::string_view ns, std::string_view key) {
  if (key.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("key is empty (1 to ", kMaxKeyBytes, " bytes)"));
  }
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

}  // namespace gearkv::wire
