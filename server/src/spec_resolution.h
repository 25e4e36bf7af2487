// Resolving a request's CodecSpec (a preset name plus optional overrides) into a checked
// gearkv::CodecSpec. Writing a spec onto the wire is gearkv/wire.h's SpecToWire.
#ifndef GEARKV_SERVER_SRC_SPEC_RESOLUTION_H_
#define GEARKV_SERVER_SRC_SPEC_RESOLUTION_H_

#include <string_view>

#include "absl/status/statusor.h"
#include "gearkv/codec.h"
#include "gearkv/v1/kv_cache.pb.h"

namespace gearkv::server {

// The spec of `wire.preset` (empty: `default_preset`) with every set override applied, then
// validated (ValidateSpec). INVALID_ARGUMENT, naming the problem, for an unknown preset (the
// message lists the known ones), an override outside its range, or an override of the `none`
// preset (which stores blocks as sent and has no parameters).
absl::StatusOr<CodecSpec> ResolveSpec(const v1::CodecSpec& wire, std::string_view default_preset);

}  // namespace gearkv::server

#endif  // GEARKV_SERVER_SRC_SPEC_RESOLUTION_H_
