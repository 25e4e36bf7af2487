// Unit tests of the client's pieces that need no server: backoff, retry policy, the hand-coded
// health messages, wire conversions, and a Client against a port nobody listens on.
#include "gearkv/client.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "health_check.h"
#include "retry.h"
#include "wire.h"

namespace gearkv::client_internal {
namespace {

TEST(BackoffTest, GrowsWithJitterUpToTheCap) {
  ClientOptions options;
  options.initial_backoff = absl::Milliseconds(100);
  options.max_backoff = absl::Milliseconds(500);
  options.backoff_multiplier = 2;
  Backoff backoff(options, 7);
  const double caps[] = {100, 200, 400, 500, 500, 500};
  for (double cap : caps) {
    const double ms = absl::ToDoubleMilliseconds(backoff.Next());
    EXPECT_GE(ms, cap / 2);
    EXPECT_LE(ms, cap);
  }
}

TEST(RetryTest, RetriesOnlyUnavailable) {
  ClientOptions options;
  options.initial_backoff = absl::Milliseconds(1);
  options.max_attempts = 4;
  int calls = 0;
  auto s = RunWithRetry(options, absl::Now() + absl::Seconds(10), [&](absl::Time) {
    ++calls;
    return absl::UnavailableError("draining");
  });
  EXPECT_EQ(calls, 4);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("after 4 attempts"));

  calls = 0;
  auto r = RunWithRetry(options, absl::Now() + absl::Seconds(10),
                        [&](absl::Time) -> absl::StatusOr<int> {
                          ++calls;
                          return absl::ResourceExhaustedError("full");
                        });
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);

  options.retry_resource_exhausted = true;
  calls = 0;
  r = RunWithRetry(options, absl::Now() + absl::Seconds(10),
                   [&](absl::Time) -> absl::StatusOr<int> {
                     if (++calls < 3) return absl::ResourceExhaustedError("pool busy");
                     return 42;
                   });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 42);
  EXPECT_EQ(calls, 3);
}

TEST(RetryTest, StopsAtTheDeadline) {
  ClientOptions options;
  options.initial_backoff = absl::Milliseconds(200);
  options.max_attempts = 100;
  int calls = 0;
  const absl::Time start = absl::Now();
  auto s = RunWithRetry(options, start + absl::Milliseconds(500), [&](absl::Time) {
    ++calls;
    return absl::UnavailableError("down");
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  EXPECT_LT(calls, 10);
}

TEST(HealthCheckTest, EncodesAndDecodes) {
  EXPECT_EQ(EncodeHealthCheckRequest(""), "");
  EXPECT_EQ(EncodeHealthCheckRequest("gearkv.v1.KVCache"),
            std::string("\x0a\x11") + "gearkv.v1.KVCache");
  EXPECT_EQ(*DecodeHealthCheckResponse(""), HealthState::kUnknown);
  EXPECT_EQ(*DecodeHealthCheckResponse(std::string("\x08\x01", 2)), HealthState::kServing);
  EXPECT_EQ(*DecodeHealthCheckResponse(std::string("\x08\x02", 2)), HealthState::kNotServing);
  EXPECT_EQ(*DecodeHealthCheckResponse(std::string("\x08\x03", 2)), HealthState::kServiceUnknown);
  // Unknown fields are skipped.
  EXPECT_EQ(*DecodeHealthCheckResponse(std::string("\x12\x02xy\x08\x01", 6)),
            HealthState::kServing);
  EXPECT_FALSE(DecodeHealthCheckResponse(std::string("\x08", 1)).ok());
  EXPECT_FALSE(DecodeHealthCheckResponse(std::string("\x12\x05xy", 4)).ok());
  EXPECT_FALSE(DecodeHealthCheckResponse(std::string("\x0f", 1)).ok());
}

TEST(WireTest, CodecRequestAndSpec) {
  CodecRequest request;
  request.preset = "gear4";
  request.bits = 2;
  request.rank = 0;
  v1::CodecSpec wire;
  CodecRequestToWire(request, &wire);
  EXPECT_EQ(wire.preset(), "gear4");
  EXPECT_EQ(wire.bits(), 2u);
  EXPECT_TRUE(wire.has_rank());
  EXPECT_FALSE(wire.has_group_size());
  wire.set_preset("none");
  EXPECT_EQ(SpecFromWire(wire).method, Method::kNone);
  EXPECT_EQ(*DTypeFromWire(DTypeToWire(DType::kBFloat16)), DType::kBFloat16);
  EXPECT_FALSE(DTypeFromWire(0).ok());
  const TensorShape shape{2, 8, 256, 128};
  EXPECT_EQ(ShapeFromWire(ShapeToWire(shape)), shape);
}

// A loopback port that refuses connections (bound, never listened on, then closed).
int UnusedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

TEST(ClientTest, UnreachableServerIsUnavailableWithinTheDeadline) {
  ClientOptions options;
  options.target = absl::StrCat("127.0.0.1:", UnusedPort());
  options.initial_backoff = absl::Milliseconds(10);
  options.max_attempts = 3;
  auto client = Client::Create(options);
  ASSERT_TRUE(client.ok()) << client.status();
  const absl::Time start = absl::Now();
  CallOptions call;
  call.deadline = absl::Seconds(3);
  auto stats = (*client)->Stats(call);
  EXPECT_EQ(stats.status().code(), absl::StatusCode::kUnavailable) << stats.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

TEST(ClientTest, RejectsBadOptions) {
  ClientOptions no_target;
  no_target.target = "";
  EXPECT_FALSE(Client::Create(no_target).ok());
  ClientOptions no_attempts;
  no_attempts.max_attempts = 0;
  EXPECT_FALSE(Client::Create(no_attempts).ok());
  ClientOptions big_chunks;
  big_chunks.chunk_bytes = 2 << 20;
  EXPECT_FALSE(Client::Create(big_chunks).ok());
}

}  // namespace
}  // namespace gearkv::client_internal
