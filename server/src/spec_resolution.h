// Turning the wire's CodecSpec (a preset name plus optional overrides) into a gearkv::CodecSpec
// and back.
#ifndef GEARKV_SERVER_SRC_SPEC_RESOLUTION_H_
#define GEARKV_SERVER_SRC_SPEC_RESOLUTION_H_

#include <string>
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

// The preset whose spec equals `spec` exactly, or "" when none does.
std::string MatchingPreset(const CodecSpec& spec);

// `spec` on the wire with every field set; `preset` is MatchingPreset(spec).
v1::CodecSpec SpecToWire(const CodecSpec& spec);

// "none, kivi4, kivi2, gear4, gear2, gearl4, gearl2".
std::string KnownPresetList();

}  // namespace gearkv::server

#endif  // GEARKV_SERVER_SRC_SPEC_RESOLUTION_H_
