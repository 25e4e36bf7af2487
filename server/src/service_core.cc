#include "service_core.h"

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "gearkv/base/strings.h"
#include "gearkv/wire_status.h"

namespace gearkv::server {

namespace {

using wire::ToGrpcStatus;

// Compares without an early exit, so the time taken does not reveal the matching prefix.
bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace

absl::Status ServiceCore::CheckCall(const grpc::CallbackServerContext& context) const {
  if (draining.load(std::memory_order_acquire)) {
    return absl::UnavailableError("server is draining (shutting down); retry on another server");
  }
  if (auth_token.empty()) return absl::OkStatus();
  const auto& metadata = context.client_metadata();
  const auto it = metadata.find("authorization");
  if (it == metadata.end()) {
    return absl::UnauthenticatedError(
        "this server requires a token: send metadata \"authorization: Bearer <token>\"");
  }
  const std::string_view value(it->second.data(), it->second.size());
  constexpr std::string_view kBearer = "Bearer ";
  if (value.substr(0, kBearer.size()) != kBearer ||
      !ConstantTimeEquals(value.substr(kBearer.size()), auth_token)) {
    return absl::UnauthenticatedError("wrong token in the authorization metadata");
  }
  return absl::OkStatus();
}

absl::Status CheckCallWanted(const grpc::CallbackServerContext& context, std::string_view what) {
  if (std::chrono::system_clock::now() >= context.deadline()) {
    return absl::DeadlineExceededError(absl::StrCat(ToAbsl(what), ": the call's deadline passed"));
  }
  if (context.IsCancelled())
    return absl::CancelledError(absl::StrCat(ToAbsl(what), ": call cancelled"));
  return absl::OkStatus();
}

absl::Status ServiceCore::Submit(WorkerPool& pool, std::function<void()> task) const {
  absl::Status status = pool.TrySubmit(std::move(task));
  if (absl::IsResourceExhausted(status)) observer->OnPoolRejected(pool.name());
  return status;
}

absl::Status ServiceCore::AcquireTensorBytes(uint64_t bytes) const {
  if (tensor_budget->TryAcquire(bytes)) return absl::OkStatus();
  return absl::ResourceExhaustedError(
      absl::StrCat("server busy: ", tensor_budget->used(), " bytes of tensors in flight, and ",
                   bytes, " more would pass the limit of ", tensor_budget->limit(),
                   " (--max_inflight_bytes); retry later"));
}

void FinishUnary(const ServiceCore& core, grpc::ServerUnaryReactor* reactor,
                 std::string_view method, absl::Time start, const absl::Status& status) {
  RpcRecord record;
  record.method = method;
  record.code = status.code();
  record.latency = absl::Now() - start;
  core.observer->OnRpcDone(record);
  reactor->Finish(ToGrpcStatus(status));
}

}  // namespace gearkv::server
