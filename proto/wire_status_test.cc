#include "gearkv/wire_status.h"

#include "gtest/gtest.h"

namespace gearkv::wire {
namespace {

TEST(ToGrpcStatusTest, OkIsOk) { EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok()); }

TEST(ToGrpcStatusTest, EveryCanonicalCodeMapsOneToOneWithItsMessage) {
  const struct {
    absl::Status in;
    grpc::StatusCode want;
  } cases[] = {
      {absl::CancelledError("c"), grpc::StatusCode::CANCELLED},
      {absl::UnknownError("c"), grpc::StatusCode::UNKNOWN},
      {absl::InvalidArgumentError("c"), grpc::StatusCode::INVALID_ARGUMENT},
      {absl::DeadlineExceededError("c"), grpc::StatusCode::DEADLINE_EXCEEDED},
      {absl::NotFoundError("c"), grpc::StatusCode::NOT_FOUND},
      {absl::AlreadyExistsError("c"), grpc::StatusCode::ALREADY_EXISTS},
      {absl::PermissionDeniedError("c"), grpc::StatusCode::PERMISSION_DENIED},
      {absl::ResourceExhaustedError("c"), grpc::StatusCode::RESOURCE_EXHAUSTED},
      {absl::FailedPreconditionError("c"), grpc::StatusCode::FAILED_PRECONDITION},
      {absl::AbortedError("c"), grpc::StatusCode::ABORTED},
      {absl::OutOfRangeError("c"), grpc::StatusCode::OUT_OF_RANGE},
      {absl::UnimplementedError("c"), grpc::StatusCode::UNIMPLEMENTED},
      {absl::InternalError("c"), grpc::StatusCode::INTERNAL},
      {absl::UnavailableError("c"), grpc::StatusCode::UNAVAILABLE},
      {absl::DataLossError("c"), grpc::StatusCode::DATA_LOSS},
      {absl::UnauthenticatedError("c"), grpc::StatusCode::UNAUTHENTICATED},
  };
  for (const auto& c : cases) {
    const grpc::Status out = ToGrpcStatus(c.in);
    EXPECT_EQ(out.error_code(), c.want) << c.in;
    EXPECT_EQ(out.error_message(), "c");
  }
}

TEST(ToGrpcStatusTest, MessageIsKeptVerbatim) {
  const grpc::Status out =
      ToGrpcStatus(absl::InvalidArgumentError("chunk of 2097152 bytes over the 1 MiB limit"));
  EXPECT_EQ(out.error_message(), "chunk of 2097152 bytes over the 1 MiB limit");
}

TEST(FromGrpcStatusTest, EveryCodeAndMessageRoundTrips) {
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK).ok());
  for (int code = static_cast<int>(absl::StatusCode::kCancelled);
       code <= static_cast<int>(absl::StatusCode::kUnauthenticated); ++code) {
    const absl::Status in(static_cast<absl::StatusCode>(code), "why");
    EXPECT_EQ(FromGrpcStatus(ToGrpcStatus(in)), in);
  }
}

TEST(ToGrpcStatusTest, OutOfRangeCodeBecomesUnknown) {
  const grpc::Status out = ToGrpcStatus(absl::Status(static_cast<absl::StatusCode>(42), "odd"));
  EXPECT_EQ(out.error_code(), grpc::StatusCode::UNKNOWN);
  EXPECT_EQ(out.error_message(), "odd");
}

}  // namespace
}  // namespace gearkv::wire
