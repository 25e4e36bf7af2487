#include "requests.h"

#include <algorithm>
#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "gearkv/base/strings.h"
#include "gearkv/wire.h"

namespace gearkv::client_internal {

void CodecRequestToWire(const CodecRequest& request, v1::CodecSpec* wire) {
  wire->set_preset(request.preset);
  if (request.bits) wire->set_bits(*request.bits);
  if (request.group_size) wire->set_group_size(*request.group_size);
  if (request.rank) wire->set_rank(*request.rank);
  if (request.outlier_ratio) wire->set_outlier_ratio(*request.outlier_ratio);
  if (request.power_iterations) wire->set_power_iterations(*request.power_iterations);
  if (request.seed) wire->set_seed(*request.seed);
}

v1::PutRequest PutHeaderRequest(std::string_view ns, std::string_view key, const TensorView& tensor,
                                const PutOptions& options) {
  v1::PutRequest request;
  v1::PutHeader* h = request.mutable_header();
  h->set_namespace_(std::string(ns));
  h->set_key(std::string(key));
  *h->mutable_shape() = wire::ShapeToWire(tensor.shape);
  h->set_dtype(wire::DTypeToWire(tensor.dtype));
  h->set_layout(wire::LayoutToWire(tensor.layout));
  CodecRequestToWire(options.codec, h->mutable_codec());
  if (options.ttl > absl::ZeroDuration()) {
    h->set_ttl_seconds(static_cast<uint32_t>(std::min<int64_t>(
        absl::ToInt64Seconds(absl::Ceil(options.ttl, absl::Seconds(1))), UINT32_MAX)));
  }
  h->set_measure_error(options.measure_error);
  return request;
}

absl::Status CheckGetIntoOut(std::string_view call, const MutableTensorView& out) {
  if (out.data == nullptr && out.SizeBytes() > 0) {
    return absl::InvalidArgumentError(absl::StrCat(ToAbsl(call), ": out.data is null"));
  }
  if (absl::Status s = ValidateShape(out.shape); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(ToAbsl(call), ": out.shape: ", s.message()));
  }
  return absl::OkStatus();
}

absl::Status CheckGetIntoOptions(std::string_view call, const GetOptions& options) {
  if (options.decompress) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(ToAbsl(call),
                   ": options.decompress must be true (it always writes the tensor "
                   "into memory the caller owns)"));
}

v1::GetRequest GetRequestFor(std::string_view ns, std::string_view key, const GetOptions& options) {
  v1::GetRequest request;
  request.set_namespace_(std::string(ns));
  request.set_key(std::string(key));
  request.set_encoding(options.encoding == GetEncoding::kRaw ? v1::ENCODING_RAW
                                                             : v1::ENCODING_COMPRESSED);
  // RAW: the server decodes into it; COMPRESSED: the client does (the block is canonical).
  if (options.encoding == GetEncoding::kRaw) request.set_layout(wire::LayoutToWire(options.layout));
  if (options.layers) {
    request.mutable_layers()->set_begin(options.layers->first);
    request.mutable_layers()->set_end(options.layers->second);
  }
  return request;
}

}  // namespace gearkv::client_internal
