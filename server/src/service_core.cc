#include "service_core.h"

#include <utility>

#include "status_util.h"

namespace gearkv::server {

absl::Status ServiceCore::CheckServing() const {
  if (draining.load(std::memory_order_acquire)) {
    return absl::UnavailableError("server is draining (shutting down); retry on another server");
  }
  return absl::OkStatus();
}

absl::Status ServiceCore::Submit(WorkerPool& pool, std::function<void()> task) const {
  absl::Status status = pool.TrySubmit(std::move(task));
  if (absl::IsResourceExhausted(status)) observer->OnPoolRejected(pool.name());
  return status;
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
