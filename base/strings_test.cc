#include "gearkv/base/strings.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace gearkv {
namespace {

TEST(StringsTest, ViewsReferToTheSameBytes) {
  const std::string text("key\0with nul", 12);
  const absl::string_view absl_view = ToAbsl(text);
  EXPECT_EQ(absl_view.data(), text.data());
  EXPECT_EQ(absl_view.size(), 12u);
  const std::string_view back = ToStd(absl_view);
  EXPECT_EQ(back.data(), text.data());
  EXPECT_EQ(back, std::string_view(text));
  EXPECT_EQ(absl::StrCat(ToAbsl("a"), ToAbsl(std::string_view("bc"))), "abc");
}

}  // namespace
}  // namespace gearkv
