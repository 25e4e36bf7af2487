#include "put_reactor.h"

#include <grpcpp/server_context.h>

#include "gearkv/wire_status.h"

namespace gearkv::server {

using wire::ToGrpcStatus;

PutReactor::PutReactor(ServiceCore& core, grpc::CallbackServerContext* context,
                       v1::PutResponse* response)
    : core_(core), context_(context), response_(response), start_(absl::Now()), block_(core) {
  core_.observer->OnRpcStarted("Put");
  if (absl::Status serving = core_.CheckCall(*context_); !serving.ok()) {
    FinishWith(serving);
    return;
  }
  StartRead(&request_);
}

void PutReactor::OnReadDone(bool ok) {
  if (!ok) {
    // The client half-closed (sent everything) or the call broke (cancel, deadline).
    if (context_->IsCancelled()) {
      FinishWith(absl::CancelledError("Put cancelled before the tensor arrived; nothing stored"));
    } else {
      OnEndOfStream();
    }
    return;
  }
  absl::Status status;
  switch (request_.msg_case()) {
    case v1::PutRequest::kHeader:
      if (have_header_) {
        status = absl::InvalidArgumentError(
            "repeated header: a Put stream has exactly one header, first");
      } else {
        have_header_ = true;
        status = block_.AcceptHeader(request_.header());
      }
      break;
    case v1::PutRequest::kChunk:
      status = AcceptChunk(request_.chunk());
      break;
    case v1::PutRequest::MSG_NOT_SET:
      status = absl::InvalidArgumentError("PutRequest with neither header nor chunk");
      break;
  }
  if (!status.ok()) {
    FinishWith(status);
    return;
  }
  request_.Clear();
  StartRead(&request_);
}

absl::Status PutReactor::AcceptChunk(const std::string& chunk) {
  if (!have_header_) {
    return absl::InvalidArgumentError(
        "missing header: the first message of a Put must be a header");
  }
  return block_.AcceptChunk(chunk);
}

void PutReactor::OnEndOfStream() {
  if (!have_header_) {
    // gRPC ends the read stream the same way when a message does not parse as a PutRequest.
    FinishWith(absl::InvalidArgumentError(
        "missing header: the Put stream ended before a header arrived (it was empty, or its "
        "first message did not parse as a PutRequest)"));
    return;
  }
  if (absl::Status complete = block_.CheckComplete(); !complete.ok()) {
    FinishWith(complete);
    return;
  }
  absl::Status submitted = core_.Submit(*core_.codec_pool, [this] { CompressAndStore(); });
  if (!submitted.ok()) FinishWith(submitted);
}

void PutReactor::CompressAndStore() {
  FinishWith(block_.CompressAndStore(*context_, "Put", response_));
}

void PutReactor::FinishWith(const absl::Status& status) {
  code_ = status.code();
  Finish(ToGrpcStatus(status));
}

void PutReactor::OnDone() {
  RpcRecord record;
  record.method = "Put";
  // A call that broke without our answer (e.g. deadline) reports as cancelled.
  record.code = code_;
  record.latency = absl::Now() - start_;
  record.bytes_in = block_.received_bytes();
  record.raw_bytes = code_ == absl::StatusCode::kOk ? block_.expected_bytes() : 0;
  record.block_bytes = block_.block_bytes();
  record.preset = block_.preset();
  record.relative_error = block_.relative_error();
  core_.observer->OnRpcDone(record);
  block_.ReleaseTensor();
  delete this;
}

}  // namespace gearkv::server
