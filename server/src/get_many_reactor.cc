#include "get_many_reactor.h"

#include <grpcpp/impl/codegen/proto_utils.h>
#include <grpcpp/server_context.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "gearkv/get_many_messages.h"
#include "gearkv/get_messages.h"
#include "gearkv/status_macros.h"
#include "gearkv/wire_limits.h"
#include "gearkv/wire_status.h"

namespace gearkv::server {
namespace {

using wire::kMaxBatchKeys;
using wire::kMaxChunkBytes;
using wire::kMaxNamespaceBytes;
using wire::ToGrpcStatus;

constexpr std::string_view kMethod = "GetMany";

}  // namespace

absl::Status ValidateGetManyRequest(const v1::GetManyRequest& request) {
  if (request.namespace_().size() > kMaxNamespaceBytes) {
    return absl::InvalidArgumentError(absl::StrCat("namespace of ", request.namespace_().size(),
                                                   " bytes is too long (at most ",
                                                   kMaxNamespaceBytes, ")"));
  }
  if (request.keys_size() > kMaxBatchKeys) {
    return absl::InvalidArgumentError(absl::StrCat("GetMany of ", request.keys_size(),
                                                   " keys is over the limit of ", kMaxBatchKeys,
                                                   " (LIMIT_MAX_BATCH_KEYS)"));
  }
  for (int i = 0; i < request.keys_size(); ++i) {
    absl::Status status = ValidateGetRequest(GetRequestForKey(request, i));
    if (!status.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("keys[", i, "]: ", status.message()));
    }
  }
  return absl::OkStatus();
}

v1::GetRequest GetRequestForKey(const v1::GetManyRequest& request, int index) {
  v1::GetRequest get;
  get.set_namespace_(request.namespace_());
  get.set_key(request.keys(index));
  get.set_encoding(request.encoding());
  if (request.has_layers()) *get.mutable_layers() = request.layers();
  get.set_layout(request.layout());
  return get;
}

GetManyReactor::GetManyReactor(ServiceCore& core, grpc::CallbackServerContext* context,
                               const grpc::ByteBuffer& request)
    : core_(core), context_(context), start_(absl::Now()) {
  core_.observer->OnRpcStarted(kMethod);
  absl::Status status = core_.CheckCall(*context_);
  if (status.ok()) {
    grpc::ByteBuffer copy(request);  // shares the slices; Deserialize consumes its argument
    grpc::Status parsed =
        grpc::SerializationTraits<v1::GetManyRequest>::Deserialize(&copy, &request_);
    if (!parsed.ok()) {
      status = absl::InvalidArgumentError(
          absl::StrCat("the GetManyRequest does not parse: ", parsed.error_message()));
    }
  }
  if (status.ok()) status = ValidateGetManyRequest(request_);
  if (!status.ok()) {
    FinishWith(status);
    return;
  }
  StartKey();
}

void GetManyReactor::StartKey() {
  if (index_ >= request_.keys_size()) {
    FinishWith(absl::OkStatus());
    return;
  }
  // RAW needs the codec; a COMPRESSED get only touches the store.
  WorkerPool& pool = request_.encoding() == v1::ENCODING_RAW ? *core_.codec_pool : *core_.io_pool;
  absl::Status submitted = core_.Submit(pool, [this] { Load(); });
  if (!submitted.ok()) FinishWith(submitted);
}

void GetManyReactor::Load() {
  if (absl::Status wanted = CheckCallWanted(
          *context_, absl::StrCat("GetMany: keys from index ", index_, " on not read"));
      !wanted.ok()) {
    FinishWith(wanted);
    return;
  }
  absl::StatusOr<GetPayload> payload = LoadGetPayload(core_, GetRequestForKey(request_, index_));
  header_sent_ = false;
  offset_ = 0;
  key_done_ = false;
  if (payload.ok()) {
    payload_ = *std::move(payload);
    key_status_.reset();
  } else {
    payload_ = GetPayload();
    key_status_ = payload.status();
  }
  WriteNext();
}

void GetManyReactor::WriteNext() {
  const auto index = static_cast<uint32_t>(index_);
  if (key_status_.has_value()) {
    key_done_ = true;
    message_ = wire::GetManyStatusMessage(index, *key_status_);
  } else if (!header_sent_) {
    header_sent_ = true;
    key_done_ = payload_.bytes.empty();
    message_ = wire::GetManyMessage(index, wire::GetHeaderMessage(payload_.header));
  } else {
    const std::string_view payload = payload_.bytes;
    const size_t n = std::min<uint64_t>(kMaxChunkBytes, payload.size() - offset_);
    message_ = wire::GetManyMessage(
        index, wire::GetChunkMessage(payload.substr(offset_, n), payload_.owner));
    offset_ += n;
    bytes_out_ += n;
    key_done_ = offset_ == payload.size();
  }
  StartWrite(&message_);
}

void GetManyReactor::OnWriteDone(bool ok) {
  if (!ok) {
    FinishWith(absl::CancelledError("GetMany stream broken (client gone or deadline passed)"));
    return;
  }
  if (!key_done_) {
    WriteNext();
    return;
  }
  EndKey();
  ++index_;
  StartKey();
}

void GetManyReactor::EndKey() {
  BatchKeyRecord record;
  record.method = kMethod;
  if (key_status_.has_value()) {
    record.code = key_status_->code();
  } else {
    const bool compressed = request_.encoding() == v1::ENCODING_COMPRESSED;
    record.code = absl::StatusCode::kOk;
    record.bytes_out = offset_;
    record.raw_bytes = payload_.raw_equivalent_bytes;
    record.block_bytes = compressed ? payload_.bytes.size() : 0;
    raw_bytes_ += record.raw_bytes;
    block_bytes_ += record.block_bytes;
  }
  core_.observer->OnBatchKeyDone(record);
  core_.tensor_budget->Release(payload_.budget_held);
  payload_ = GetPayload();
  key_status_.reset();
}

void GetManyReactor::FinishWith(const absl::Status& status) {
  code_ = status.code();
  Finish(ToGrpcStatus(status));
}

void GetManyReactor::OnDone() {
  if (code_ == absl::StatusCode::kOk && context_->IsCancelled()) {
    code_ = absl::StatusCode::kCancelled;
  }
  RpcRecord record;
  record.method = kMethod;
  record.code = code_;
  record.latency = absl::Now() - start_;
  record.bytes_out = bytes_out_;
  record.raw_bytes = raw_bytes_;
  record.block_bytes = block_bytes_;
  record.batch_blocks = static_cast<uint32_t>(request_.keys_size());
  core_.observer->OnRpcDone(record);
  core_.tensor_budget->Release(payload_.budget_held);  // a key cut off by the call's end
  delete this;
}

}  // namespace gearkv::server
