#include "health_check.h"

#include <future>
#include <vector>

#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/support/byte_buffer.h"
#include "wire.h"

namespace gearkv::client_internal {
namespace {

void AppendVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

// Reads a varint at `pos`; false when truncated or longer than 10 bytes.
bool ReadVarint(std::string_view bytes, size_t& pos, uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 70 && pos < bytes.size(); shift += 7) {
    const uint8_t b = static_cast<uint8_t>(bytes[pos++]);
    v |= uint64_t{b & 0x7fu} << shift;
    if ((b & 0x80) == 0) return true;
  }
  return false;
}

}  // namespace

std::string EncodeHealthCheckRequest(std::string_view service) {
  std::string out;
  if (service.empty()) return out;
  out.push_back(0x0a);  // field 1, length-delimited
  AppendVarint(out, service.size());
  out.append(service);
  return out;
}

absl::StatusOr<HealthState> DecodeHealthCheckResponse(std::string_view bytes) {
  const absl::Status malformed = absl::InternalError("malformed grpc.health.v1 response");
  uint64_t status = 0;  // proto3 default: UNKNOWN
  size_t pos = 0;
  while (pos < bytes.size()) {
    uint64_t tag = 0, v = 0;
    if (!ReadVarint(bytes, pos, tag)) return malformed;
    const uint64_t field = tag >> 3, wire_type = tag & 7;
    if (wire_type == 0) {
      if (!ReadVarint(bytes, pos, v)) return malformed;
      if (field == 1) status = v;
    } else if (wire_type == 2) {
      if (!ReadVarint(bytes, pos, v) || v > bytes.size() - pos) return malformed;
      pos += v;
    } else if (wire_type == 1 || wire_type == 5) {
      const size_t width = wire_type == 1 ? 8 : 4;
      if (width > bytes.size() - pos) return malformed;
      pos += width;
    } else {
      return malformed;
    }
  }
  switch (status) {
    case 1:
      return HealthState::kServing;
    case 2:
      return HealthState::kNotServing;
    case 3:
      return HealthState::kServiceUnknown;
    default:
      return HealthState::kUnknown;
  }
}

absl::StatusOr<HealthState> CheckHealth(const std::shared_ptr<grpc::Channel>& channel,
                                        grpc::ClientContext* context, std::string_view service) {
  grpc::GenericStub stub(channel);
  const std::string request_bytes = EncodeHealthCheckRequest(service);
  grpc::Slice slice(request_bytes);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                 [&done](grpc::Status s) { done.set_value(std::move(s)); });
  const grpc::Status status = done.get_future().get();
  if (!status.ok()) return FromGrpc(status);
  std::vector<grpc::Slice> slices;
  if (!response.Dump(&slices).ok()) return absl::InternalError("unreadable health response");
  std::string bytes;
  for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return DecodeHealthCheckResponse(bytes);
}

}  // namespace gearkv::client_internal
