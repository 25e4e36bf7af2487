// Conversions between std::string_view and absl::string_view.
//
// Debian's abseil (20220623) is built with ABSL_OPTION_USE_STD_STRING_VIEW=0: absl::string_view
// is its own type, and absl::StrCat, StrSplit & co. do not take a std::string_view. gearkv's
// interfaces use std::string_view; these convert at the abseil call. Both are free (a pointer and
// a size); the view refers to the same bytes, which must outlive it.
#ifndef GEARKV_BASE_STRINGS_H_
#define GEARKV_BASE_STRINGS_H_

#include <string_view>

#include "absl/strings/string_view.h"

namespace gearkv {

inline absl::string_view ToAbsl(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}
inline std::string_view ToStd(absl::string_view s) { return std::string_view(s.data(), s.size()); }

}  // namespace gearkv

#endif  // GEARKV_BASE_STRINGS_H_
