// Debian's abseil (20220623) is built with ABSL_OPTION_USE_STD_STRING_VIEW=0: absl::string_view
// is its own type and absl::StrCat & co. do not take a std::string_view. These convert.
#ifndef GEARKV_SERVER_SRC_ABSL_COMPAT_H_
#define GEARKV_SERVER_SRC_ABSL_COMPAT_H_

#include <string_view>

#include "absl/strings/string_view.h"

namespace gearkv::server {

inline absl::string_view ToAbsl(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}
inline std::string_view ToStd(absl::string_view s) { return std::string_view(s.data(), s.size()); }

}  // namespace gearkv::server

#endif  // GEARKV_SERVER_SRC_ABSL_COMPAT_H_
