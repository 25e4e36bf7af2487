#include "get_reactor.h"

#include <grpcpp/impl/codegen/proto_utils.h>
#include <grpcpp/server_context.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "gearkv/get_messages.h"
#include "gearkv/wire_limits.h"
#include "gearkv/wire_status.h"

namespace gearkv::server {

namespace {

using wire::kMaxChunkBytes;
using wire::ToGrpcStatus;

v1::GetRequest ParseRequest(const grpc::ByteBuffer& request, absl::Status* status) {
  v1::GetRequest parsed;
  grpc::ByteBuffer copy(request);  // shares the slices; Deserialize consumes its argument
  grpc::Status st = grpc::SerializationTraits<v1::GetRequest>::Deserialize(&copy, &parsed);
  if (!st.ok()) {
    *status = absl::InvalidArgumentError(
        absl::StrCat("the GetRequest does not parse: ", st.error_message()));
  }
  return parsed;
}

}  // namespace

GetReactor::GetReactor(ServiceCore& core, grpc::CallbackServerContext* context,
                       const grpc::ByteBuffer& request)
    : core_(core),
      context_(context),
      start_(absl::Now()),
      request_(ParseRequest(request, &request_status_)) {
  core_.observer->OnRpcStarted("Get");
  absl::Status status = core_.CheckCall(*context_);
  if (status.ok()) status = request_status_;
  if (status.ok()) status = ValidateGetRequest(request_);
  // RAW needs the codec; a COMPRESSED get only touches the store.
  WorkerPool& pool = request_.encoding() == v1::ENCODING_RAW ? *core_.codec_pool : *core_.io_pool;
  if (status.ok()) status = core_.Submit(pool, [this] { Load(); });
  if (!status.ok()) FinishWith(status);
}

void GetReactor::Load() {
  absl::Status status = CheckCallWanted(*context_, "Get: block not read");
  if (status.ok()) {
    absl::StatusOr<GetPayload> payload = LoadGetPayload(core_, request_);
    status = payload.status();
    if (status.ok()) payload_ = *std::move(payload);
  }
  if (status.ok()) status = CheckCallWanted(*context_, "Get: block read, not sent");
  if (!status.ok()) {
    FinishWith(status);
    return;
  }
  WriteNext();
}

void GetReactor::WriteNext() {
  if (!header_sent_) {
    header_sent_ = true;
    message_ = wire::GetHeaderMessage(payload_.header);
    StartWrite(&message_);
    return;
  }
  const std::string_view payload = payload_.bytes;
  if (offset_ >= payload.size()) {  // only for an empty payload
    FinishWith(absl::OkStatus());
    return;
  }
  const size_t n = std::min<uint64_t>(kMaxChunkBytes, payload.size() - offset_);
  message_ = wire::GetChunkMessage(payload.substr(offset_, n), payload_.owner);
  offset_ += n;
  if (offset_ < payload.size()) {
    StartWrite(&message_);
    return;
  }
  // The last chunk and the status in one operation: no OnWriteDone, OnDone follows.
  code_ = absl::StatusCode::kOk;
  StartWriteAndFinish(&message_, grpc::WriteOptions(), grpc::Status::OK);
}

void GetReactor::OnWriteDone(bool ok) {
  if (!ok) {
    FinishWith(absl::CancelledError("Get stream broken (client gone or deadline passed)"));
    return;
  }
  WriteNext();
}

void GetReactor::FinishWith(const absl::Status& status) {
  code_ = status.code();
  Finish(ToGrpcStatus(status));
}

void GetReactor::OnDone() {
  // The last chunk and the OK status may still have failed to reach the client.
  if (code_ == absl::StatusCode::kOk && context_->IsCancelled()) {
    code_ = absl::StatusCode::kCancelled;
  }
  const bool ok = code_ == absl::StatusCode::kOk;
  RpcRecord record;
  record.method = "Get";
  record.code = code_;
  record.latency = absl::Now() - start_;
  record.bytes_out = offset_;
  record.raw_bytes = ok ? payload_.raw_equivalent_bytes : 0;
  record.block_bytes =
      ok && request_.encoding() == v1::ENCODING_COMPRESSED ? payload_.bytes.size() : 0;
  core_.observer->OnRpcDone(record);
  core_.tensor_budget->Release(payload_.budget_held);
  delete this;
}

}  // namespace gearkv::server
