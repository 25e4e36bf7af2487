// The .safetensors format (tensor_file.h): ParseSafetensors and SerializeSafetensors.

#include <algorithm>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gearkv/base/strings.h"
#include "gearkv/status_macros.h"
#include "gearkv/tensor_file.h"
#include "internal.h"
#include "nlohmann/json.hpp"

namespace gearkv {
namespace {

using tensor_io_internal::AppendLe;
using tensor_io_internal::CheckDataSize;
using tensor_io_internal::CheckedElements;
using tensor_io_internal::ReadLe;

constexpr uint64_t kMaxSafetensorsHeaderBytes = 100 << 20;

absl::StatusOr<DType> SafetensorsDType(std::string_view name) {
  if (name == "F16") return DType::kFloat16;
  if (name == "BF16") return DType::kBFloat16;
  if (name == "F32") return DType::kFloat32;
  return absl::InvalidArgumentError(
      absl::StrCat("safetensors dtype '", ToAbsl(name), "' is not supported (F16, BF16, F32)"));
}

std::string_view SafetensorsDTypeName(DType dtype) {
  switch (dtype) {
    case DType::kFloat16:
      return "F16";
    case DType::kBFloat16:
      return "BF16";
    case DType::kFloat32:
      return "F32";
  }
  return "?";
}

absl::StatusOr<std::pair<std::string, Tensor>> ParseSafetensorsEntry(
    const std::string& name, const nlohmann::json& entry, std::string_view data,
    std::pair<uint64_t, uint64_t>* offsets) {
  auto bad = [&](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat("safetensors tensor '", name, "': ", what));
  };
  if (!entry.is_object()) return bad("entry is not an object");
  auto dtype_it = entry.find("dtype");
  auto shape_it = entry.find("shape");
  auto offsets_it = entry.find("data_offsets");
  if (dtype_it == entry.end() || !dtype_it->is_string()) return bad("missing string 'dtype'");
  if (shape_it == entry.end() || !shape_it->is_array()) return bad("missing array 'shape'");
  if (offsets_it == entry.end() || !offsets_it->is_array() || offsets_it->size() != 2) {
    return bad("missing 'data_offsets' [begin, end]");
  }
  Tensor tensor;
  auto dtype = SafetensorsDType(dtype_it->get<std::string>());
  if (!dtype.ok()) return bad(dtype.status().message());
  tensor.dtype = *dtype;
  for (const auto& d : *shape_it) {
    if (!d.is_number_unsigned()) return bad("shape entries must be non-negative integers");
    tensor.dims.push_back(d.get<uint64_t>());
  }
  const auto& off = *offsets_it;
  if (!off[0].is_number_unsigned() || !off[1].is_number_unsigned()) {
    return bad("data_offsets must be non-negative integers");
  }
  uint64_t begin = off[0].get<uint64_t>(), end = off[1].get<uint64_t>();
  if (begin > end || end > data.size()) {
    return bad(absl::StrCat("data_offsets [", begin, ", ", end, ") outside the data section of ",
                            data.size(), " bytes"));
  }
  auto n = CheckedElements(tensor.dims, DTypeSize(tensor.dtype));
  if (!n.ok()) return bad(n.status().message());
  if (end - begin != *n * DTypeSize(tensor.dtype)) {
    return bad(absl::StrCat("data_offsets span ", end - begin, " bytes but shape [",
                            absl::StrJoin(tensor.dims, ", "), "] needs ",
                            *n * DTypeSize(tensor.dtype)));
  }
  tensor.data.assign(data.substr(begin, end - begin));
  *offsets = {begin, end};
  return std::make_pair(name, std::move(tensor));
}

}  // namespace

absl::StatusOr<SafetensorsFile> ParseSafetensors(std::string_view file) {
  if (file.size() < 8) {
    return absl::InvalidArgumentError(absl::StrCat("safetensors: file of ", file.size(),
                                                   " bytes is shorter than its header size"));
  }
  const uint64_t header_len = ReadLe(file, 0, 8);
  if (header_len > kMaxSafetensorsHeaderBytes) {
    return absl::InvalidArgumentError(absl::StrCat("safetensors: header length ", header_len,
                                                   " exceeds the limit of ",
                                                   kMaxSafetensorsHeaderBytes));
  }
  if (file.size() - 8 < header_len) {
    return absl::InvalidArgumentError(absl::StrCat("safetensors: truncated header: declares ",
                                                   header_len, " bytes, file has ",
                                                   file.size() - 8));
  }
  const std::string_view header_text = file.substr(8, header_len);
  const std::string_view data = file.substr(8 + header_len);
  nlohmann::json header = nlohmann::json::parse(header_text, nullptr, /*allow_exceptions=*/false);
  if (header.is_discarded()) {
    return absl::InvalidArgumentError("safetensors: the header is not valid JSON");
  }
  if (!header.is_object()) {
    return absl::InvalidArgumentError("safetensors: the header is not a JSON object");
  }
  SafetensorsFile out;
  std::vector<std::pair<uint64_t, size_t>> order;  // (begin offset, index in out.tensors)
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) {
        return absl::InvalidArgumentError("safetensors: __metadata__ is not an object");
      }
      for (const auto& [k, v] : entry.items()) {
        if (!v.is_string()) {
          return absl::InvalidArgumentError(
              absl::StrCat("safetensors: __metadata__ value of '", k, "' is not a string"));
        }
        out.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    std::pair<uint64_t, uint64_t> offsets;
    GEARKV_ASSIGN_OR_RETURN(auto named, ParseSafetensorsEntry(name, entry, data, &offsets));
    order.emplace_back(offsets.first, out.tensors.size());
    out.tensors.push_back(std::move(named));
  }
  std::sort(order.begin(), order.end());
  std::vector<std::pair<std::string, Tensor>> sorted;
  sorted.reserve(order.size());
  for (const auto& [begin, index] : order) sorted.push_back(std::move(out.tensors[index]));
  out.tensors = std::move(sorted);
  return out;
}

absl::StatusOr<std::string> SerializeSafetensors(const SafetensorsFile& file) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!file.metadata.empty()) {
    nlohmann::ordered_json meta = nlohmann::ordered_json::object();
    for (const auto& [k, v] : file.metadata) meta[k] = v;
    header["__metadata__"] = std::move(meta);
  }
  std::set<std::string> names;
  uint64_t offset = 0;
  for (const auto& [name, tensor] : file.tensors) {
    if (name.empty() || name == "__metadata__" || !names.insert(name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("safetensors: tensor name '", name, "' is empty, reserved or repeated"));
    }
    GEARKV_RETURN_IF_ERROR(CheckDataSize(tensor));
    header[name] = {{"dtype", std::string(SafetensorsDTypeName(tensor.dtype))},
                    {"shape", tensor.dims},
                    {"data_offsets", {offset, offset + tensor.data.size()}}};
    offset += tensor.data.size();
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string out;
  out.reserve(8 + text.size() + offset);
  AppendLe(out, text.size(), 8);
  out += text;
  for (const auto& [name, tensor] : file.tensors) out += tensor.data;
  return out;
}

}  // namespace gearkv
