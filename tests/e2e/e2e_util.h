// Helpers shared by the end-to-end tests.
#ifndef GEARKV_TESTS_E2E_E2E_UTIL_H_
#define GEARKV_TESTS_E2E_E2E_UTIL_H_

#include <memory>
#include <string>

#include "gearkv/client.h"
#include "gearkv/tensor_file.h"
#include "gtest/gtest.h"
#include "process.h"

namespace gearkv::e2e {

// Starts a server with `flags` or fails the test (the macro returns from the test body).
#define GEARKV_START_SERVER(var, ...)                               \
  auto var##_or = ::gearkv::e2e::ServerProcess::Start(__VA_ARGS__); \
  ASSERT_TRUE(var##_or.ok()) << var##_or.status();                  \
  std::unique_ptr<::gearkv::e2e::ServerProcess> var = std::move(*var##_or)

// A client of `server` with short retry backoff; nullptr (and a test failure) on error.
std::unique_ptr<Client> Connect(const ServerProcess& server);

// A seeded N(0, 1) KV tensor; the seed is printed by SCOPED_TRACE in the callers.
Tensor Gaussian(const TensorShape& shape, DType dtype, uint64_t seed);

PutOptions WithPreset(const std::string& preset);
GetOptions WithEncoding(GetEncoding encoding);

// ||approx - exact|| / ||exact||; fails the test and returns +inf on a shape mismatch.
double RelativeErrorOf(const Tensor& approx, const Tensor& exact);

// Every test's seed: $GEARKV_TEST_SEED when set, else fixed.
uint64_t TestSeed();

}  // namespace gearkv::e2e

#endif  // GEARKV_TESTS_E2E_E2E_UTIL_H_
