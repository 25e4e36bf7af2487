// Tensor files on disk (tensor_file.h): the format by extension, whole-file reads and atomic
// writes.

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gearkv/base/strings.h"
#include "gearkv/status_macros.h"
#include "gearkv/tensor_file.h"
#include "internal.h"

namespace gearkv {

absl::StatusOr<TensorFileFormat> TensorFileFormatOf(std::string_view path) {
  if (path.ends_with(".npy")) return TensorFileFormat::kNpy;
  if (path.ends_with(".safetensors")) return TensorFileFormat::kSafetensors;
  return absl::InvalidArgumentError(absl::StrCat(
      "'", ToAbsl(path), "': unknown tensor file extension (expected .npy or .safetensors)"));
}

absl::StatusOr<std::string> ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    const std::string msg = absl::StrCat("cannot open '", path, "': ", std::strerror(err));
    if (err == ENOENT) return absl::NotFoundError(msg);
    if (err == EACCES) return absl::PermissionDeniedError(msg);
    return absl::InternalError(msg);
  }
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return absl::InternalError(absl::StrCat("error reading '", path, "'"));
  return bytes;
}

absl::Status WriteFileBytesAtomically(const std::string& path, std::string_view bytes) {
  const std::string tmp = absl::StrCat(path, ".tmp.", ::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) {
      return absl::InternalError(absl::StrCat("cannot create '", tmp, "': ", std::strerror(errno)));
    }
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) {
      std::remove(tmp.c_str());
      return absl::InternalError(absl::StrCat("error writing '", tmp, "'"));
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string msg =
        absl::StrCat("cannot rename '", tmp, "' to '", path, "': ", std::strerror(errno));
    std::remove(tmp.c_str());
    return absl::InternalError(msg);
  }
  return absl::OkStatus();
}

absl::StatusOr<Tensor> ReadTensorFile(const std::string& path, std::string_view tensor_name) {
  GEARKV_ASSIGN_OR_RETURN(TensorFileFormat format, TensorFileFormatOf(path));
  if (format == TensorFileFormat::kNpy && !tensor_name.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": a tensor name ('", ToAbsl(tensor_name),
                                                   "') applies to .safetensors only"));
  }
  GEARKV_ASSIGN_OR_RETURN(std::string bytes, ReadFileBytes(path));
  auto with_path = [&](const absl::Status& s) {
    return absl::Status(s.code(), absl::StrCat(path, ": ", s.message()));
  };
  if (format == TensorFileFormat::kNpy) {
    auto tensor = ParseNpy(bytes);
    if (!tensor.ok()) return with_path(tensor.status());
    return tensor;
  }
  auto file = ParseSafetensors(bytes);
  if (!file.ok()) return with_path(file.status());
  std::vector<std::string> names;
  for (auto& [name, tensor] : file->tensors) {
    if (name == tensor_name || (tensor_name.empty() && file->tensors.size() == 1)) {
      return std::move(tensor);
    }
    names.push_back(name);
  }
  if (tensor_name.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": holds ", names.size(),
                                                   " tensors; pick one of [",
                                                   absl::StrJoin(names, ", "), "]"));
  }
  return absl::InvalidArgumentError(absl::StrCat(path, ": no tensor '", ToAbsl(tensor_name),
                                                 "'; it holds [", absl::StrJoin(names, ", "), "]"));
}

absl::Status WriteTensorFile(const std::string& path, const Tensor& tensor,
                             std::string_view tensor_name,
                             const std::map<std::string, std::string>& metadata) {
  GEARKV_ASSIGN_OR_RETURN(TensorFileFormat format, TensorFileFormatOf(path));
  std::string bytes;
  if (format == TensorFileFormat::kNpy) {
    GEARKV_ASSIGN_OR_RETURN(bytes, SerializeNpy(tensor));
  } else {
    SafetensorsFile file;
    file.tensors.emplace_back(tensor_name.empty() ? "kv" : std::string(tensor_name), tensor);
    file.metadata = metadata;
    GEARKV_ASSIGN_OR_RETURN(bytes, SerializeSafetensors(file));
  }
  return WriteFileBytesAtomically(path, bytes);
}

}  // namespace gearkv
