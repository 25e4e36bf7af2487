#include "e2e_util.h"

#include <cstdlib>
#include <limits>

#include "gearkv/codec.h"
#include "random_tensor.h"

namespace gearkv::e2e {

std::unique_ptr<Client> Connect(const ServerProcess& server) {
  ClientOptions options;
  options.target = server.target();
  options.default_deadline = absl::Seconds(30);
  options.initial_backoff = absl::Milliseconds(20);
  auto client = Client::Create(options);
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? std::move(*client) : nullptr;
}

Tensor Gaussian(const TensorShape& shape, DType dtype, uint64_t seed) {
  return cli::GaussianKvTensor(shape, dtype, seed);
}

PutOptions WithPreset(const std::string& preset) {
  PutOptions options;
  options.codec.preset = preset;
  return options;
}

GetOptions WithEncoding(GetEncoding encoding) {
  GetOptions options;
  options.encoding = encoding;
  return options;
}

double RelativeErrorOf(const Tensor& approx, const Tensor& exact) {
  auto a = AsKvView(approx);
  auto e = AsKvView(exact);
  EXPECT_TRUE(a.ok() && e.ok());
  if (!a.ok() || !e.ok()) return std::numeric_limits<double>::infinity();
  auto err = RelativeError(*a, *e);
  EXPECT_TRUE(err.ok()) << err.status();
  return err.ok() ? *err : std::numeric_limits<double>::infinity();
}

uint64_t TestSeed() {
  const char* s = std::getenv("GEARKV_TEST_SEED");
  return s != nullptr ? std::strtoull(s, nullptr, 10) : 20240611;
}

}  // namespace gearkv::e2e
