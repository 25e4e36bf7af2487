// Helpers shared by the tensor_io tests.
#ifndef GEARKV_TENSOR_IO_TEST_UTIL_H_
#define GEARKV_TENSOR_IO_TEST_UTIL_H_

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gearkv/tensor_file.h"

namespace gearkv::tensor_io_testing {

inline absl::StatusCode Code(const absl::Status& s) { return s.code(); }

// A tensor of random bytes (seeded).
inline Tensor RandomTensor(DType dtype, std::vector<uint64_t> dims, uint32_t seed) {
  Tensor t;
  t.dtype = dtype;
  t.dims = std::move(dims);
  t.data.resize(t.NumElements() * DTypeSize(dtype));
  std::mt19937 rng(seed);
  for (char& c : t.data) c = static_cast<char>(rng() & 0xff);
  return t;
}

// A path for a scratch file of this test process, under $TEST_TMPDIR or /tmp.
inline std::string TempPath(std::string_view name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return absl::StrCat(dir ? dir : "/tmp", "/gearkv_tensor_file_test_", ::getpid(), "_",
                      absl::string_view(name.data(), name.size()));
}

}  // namespace gearkv::tensor_io_testing

#endif  // GEARKV_TENSOR_IO_TEST_UTIL_H_
