#include "gearkv/tensor_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gearkv/status_macros.h"
#include "nlohmann/json.hpp"

namespace gearkv {
namespace {

// Debian's abseil keeps its own string_view type (ABSL_OPTION_USE_STD_STRING_VIEW is 0).
absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

constexpr std::string_view kNpyMagic = "\x93NUMPY";
// Refuse headers larger than this (NumPy itself refuses > 10 KB without allow_pickle; we allow
// more but not unbounded).
constexpr uint64_t kMaxNpyHeaderBytes = 1 << 20;
constexpr uint64_t kMaxSafetensorsHeaderBytes = 100 << 20;
constexpr size_t kMaxRank = 16;

uint64_t ReadLe(std::string_view bytes, size_t offset, size_t width) {
  uint64_t value = 0;
  for (size_t i = 0; i < width; ++i) {
    value |= uint64_t{static_cast<uint8_t>(bytes[offset + i])} << (8 * i);
  }
  return value;
}

void AppendLe(std::string& out, uint64_t value, size_t width) {
  for (size_t i = 0; i < width; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

// Element count of `dims`, refusing overflow and absurd sizes.
absl::StatusOr<uint64_t> CheckedElements(const std::vector<uint64_t>& dims, size_t elem_size) {
  if (dims.size() > kMaxRank) {
    return absl::InvalidArgumentError(
        absl::StrCat("rank ", dims.size(), " exceeds the limit of ", kMaxRank));
  }
  uint64_t n = 1;
  const uint64_t limit = std::numeric_limits<uint64_t>::max() / elem_size;
  for (uint64_t d : dims) {
    if (d != 0 && n > limit / d) {
      return absl::InvalidArgumentError(
          absl::StrCat("shape [", absl::StrJoin(dims, ", "), "] overflows 64-bit byte counts"));
    }
    n *= d;
  }
  return n;
}

absl::Status CheckDataSize(const Tensor& tensor) {
  GEARKV_ASSIGN_OR_RETURN(uint64_t n, CheckedElements(tensor.dims, DTypeSize(tensor.dtype)));
  if (tensor.data.size() != n * DTypeSize(tensor.dtype)) {
    return absl::InvalidArgumentError(absl::StrCat("tensor ", tensor.DebugString(), " needs ",
                                                   n * DTypeSize(tensor.dtype), " bytes, has ",
                                                   tensor.data.size()));
  }
  return absl::OkStatus();
}

// ---- .npy header dict: {'descr': '<f2', 'fortran_order': False, 'shape': (2, 3), } ---------

class NpyHeaderParser {
 public:
  explicit NpyHeaderParser(std::string_view text) : text_(text) {}

  absl::Status Parse() {
    SkipSpace();
    GEARKV_RETURN_IF_ERROR(Expect('{'));
    while (true) {
      SkipSpace();
      if (Peek() == '}') break;
      GEARKV_ASSIGN_OR_RETURN(std::string key, ParseString());
      SkipSpace();
      GEARKV_RETURN_IF_ERROR(Expect(':'));
      SkipSpace();
      if (key == "descr") {
        GEARKV_ASSIGN_OR_RETURN(descr, ParseString());
        has_descr = true;
      } else if (key == "fortran_order") {
        GEARKV_ASSIGN_OR_RETURN(fortran_order, ParseBool());
      } else if (key == "shape") {
        GEARKV_ASSIGN_OR_RETURN(shape, ParseTuple());
        has_shape = true;
      } else {
        return Error(absl::StrCat("unknown key '", key, "'"));
      }
      SkipSpace();
      if (Peek() == ',') {
        ++pos_;
      } else if (Peek() != '}') {
        return Error("expected ',' or '}' after a value");
      }
    }
    if (!has_descr) return Error("missing 'descr'");
    if (!has_shape) return Error("missing 'shape'");
    return absl::OkStatus();
  }

  std::string descr;
  bool has_descr = false;
  bool fortran_order = false;
  std::vector<uint64_t> shape;
  bool has_shape = false;

 private:
  char Peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  void SkipSpace() {
    while (pos_ < text_.size() && absl::ascii_isspace(static_cast<unsigned char>(text_[pos_]))) {
      ++pos_;
    }
  }
  absl::Status Error(std::string_view what) const {
    return absl::InvalidArgumentError(
        absl::StrCat("npy header: ", Sv(what), " at offset ", pos_, " of '", Sv(text_), "'"));
  }
  absl::Status Expect(char c) {
    if (Peek() != c) return Error(absl::StrCat("expected '", std::string(1, c), "'"));
    ++pos_;
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> ParseString() {
    char quote = Peek();
    if (quote != '\'' && quote != '"') return Error("expected a quoted string");
    size_t end = text_.find(quote, pos_ + 1);
    if (end == std::string_view::npos) return Error("unterminated string");
    std::string s(text_.substr(pos_ + 1, end - pos_ - 1));
    pos_ = end + 1;
    return s;
  }
  absl::StatusOr<bool> ParseBool() {
    if (text_.substr(pos_, 4) == "True") {
      pos_ += 4;
      return true;
    }
    if (text_.substr(pos_, 5) == "False") {
      pos_ += 5;
      return false;
    }
    return Error("expected True or False");
  }
  absl::StatusOr<std::vector<uint64_t>> ParseTuple() {
    GEARKV_RETURN_IF_ERROR(Expect('('));
    std::vector<uint64_t> dims;
    while (true) {
      SkipSpace();
      if (Peek() == ')') {
        ++pos_;
        return dims;
      }
      size_t start = pos_;
      while (pos_ < text_.size() && absl::ascii_isdigit(static_cast<unsigned char>(text_[pos_]))) {
        ++pos_;
      }
      // A trailing 'L' (Python 2 longs) is accepted for old files.
      uint64_t d = 0;
      if (start == pos_ || !absl::SimpleAtoi(Sv(text_.substr(start, pos_ - start)), &d)) {
        return Error("expected a non-negative dimension");
      }
      if (Peek() == 'L') ++pos_;
      dims.push_back(d);
      if (dims.size() > kMaxRank) return Error("too many dimensions");
      SkipSpace();
      if (Peek() == ',') {
        ++pos_;
      } else if (Peek() != ')') {
        return Error("expected ',' or ')' in shape");
      }
    }
  }

  std::string_view text_;
  size_t pos_ = 0;
};

absl::StatusOr<DType> NpyDescrToDType(std::string_view descr) {
  if (descr.size() == 3 && (descr[0] == '<' || descr[0] == '=')) {
    if (descr.substr(1) == "f2") return DType::kFloat16;
    if (descr.substr(1) == "f4") return DType::kFloat32;
  }
  if (!descr.empty() && descr[0] == '>') {
    return absl::InvalidArgumentError(
        absl::StrCat("npy dtype '", Sv(descr), "' is big-endian; only little-endian is supported"));
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "npy dtype '", Sv(descr), "' is not supported (expected '<f2' float16 or '<f4' float32)"));
}

// ---- safetensors -----------------------------------------------------------------------------

absl::StatusOr<DType> SafetensorsDType(std::string_view name) {
  if (name == "F16") return DType::kFloat16;
  if (name == "BF16") return DType::kBFloat16;
  if (name == "F32") return DType::kFloat32;
  return absl::InvalidArgumentError(
      absl::StrCat("safetensors dtype '", Sv(name), "' is not supported (F16, BF16, F32)"));
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

// ---- Tensor ----------------------------------------------------------------------------------

uint64_t Tensor::NumElements() const {
  uint64_t n = 1;
  for (uint64_t d : dims) n *= d;
  return n;
}

std::string Tensor::DebugString() const {
  return absl::StrCat(Sv(DTypeName(dtype)), "[", absl::StrJoin(dims, ", "), "]");
}

Tensor MakeKvTensor(const TensorShape& shape, DType dtype) {
  Tensor t;
  t.dtype = dtype;
  t.dims = {shape.layers, 2, shape.kv_heads, shape.tokens, shape.head_dim};
  t.data.assign(shape.NumElements() * DTypeSize(dtype), '\0');
  return t;
}

Tensor TensorFromView(const TensorView& view) {
  Tensor t;
  t.dtype = view.dtype;
  t.dims = {view.shape.layers, 2, view.shape.kv_heads, view.shape.tokens, view.shape.head_dim};
  t.data.assign(static_cast<const char*>(view.data), view.SizeBytes());
  return t;
}

absl::StatusOr<TensorShape> KvShapeOf(const Tensor& tensor) {
  const auto& d = tensor.dims;
  if (d.size() != 4 && d.size() != 5) {
    return absl::InvalidArgumentError(
        absl::StrCat("tensor ", tensor.DebugString(),
                     " is not a KV block: expected [layers, 2, kv_heads, tokens, head_dim] or "
                     "[2, kv_heads, tokens, head_dim]"));
  }
  const size_t o = d.size() - 4;  // offset of the K|V axis
  if (d[o] != 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tensor ", tensor.DebugString(), ": the K|V axis (dim ", o, ") must be 2, is ", d[o]));
  }
  for (uint64_t v : d) {
    if (v > std::numeric_limits<uint32_t>::max()) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor ", tensor.DebugString(), ": dimension ", v, " exceeds 2^32-1"));
    }
  }
  TensorShape shape;
  shape.layers = o == 1 ? static_cast<uint32_t>(d[0]) : 1;
  shape.kv_heads = static_cast<uint32_t>(d[o + 1]);
  shape.tokens = static_cast<uint32_t>(d[o + 2]);
  shape.head_dim = static_cast<uint32_t>(d[o + 3]);
  GEARKV_RETURN_IF_ERROR(ValidateShape(shape));
  if (tensor.data.size() != shape.NumElements() * DTypeSize(tensor.dtype)) {
    return absl::InvalidArgumentError(absl::StrCat("tensor ", tensor.DebugString(), " holds ",
                                                   tensor.data.size(), " bytes, its shape needs ",
                                                   shape.NumElements() * DTypeSize(tensor.dtype)));
  }
  return shape;
}

absl::StatusOr<TensorView> AsKvView(const Tensor& tensor) {
  GEARKV_ASSIGN_OR_RETURN(TensorShape shape, KvShapeOf(tensor));
  return TensorView{shape, tensor.dtype, tensor.data.data()};
}

absl::StatusOr<MutableTensorView> AsMutableKvView(Tensor& tensor) {
  GEARKV_ASSIGN_OR_RETURN(TensorShape shape, KvShapeOf(tensor));
  return MutableTensorView{shape, tensor.dtype, tensor.data.data()};
}

// ---- .npy ------------------------------------------------------------------------------------

absl::StatusOr<Tensor> ParseNpy(std::string_view file) {
  if (file.size() < 10 || file.substr(0, kNpyMagic.size()) != kNpyMagic) {
    return absl::InvalidArgumentError("npy: missing the \\x93NUMPY magic (not a .npy file?)");
  }
  const uint8_t major = static_cast<uint8_t>(file[6]);
  size_t len_width;
  if (major == 1) {
    len_width = 2;
  } else if (major == 2 || major == 3) {
    len_width = 4;
  } else {
    return absl::InvalidArgumentError(absl::StrCat("npy: format version ", major, ".",
                                                   static_cast<uint8_t>(file[7]),
                                                   " is not supported (1.0, 2.0, 3.0)"));
  }
  const size_t prefix = 8 + len_width;
  if (file.size() < prefix) return absl::InvalidArgumentError("npy: truncated header length");
  const uint64_t header_len = ReadLe(file, 8, len_width);
  if (header_len > kMaxNpyHeaderBytes) {
    return absl::InvalidArgumentError(absl::StrCat("npy: header length ", header_len,
                                                   " exceeds the limit of ", kMaxNpyHeaderBytes));
  }
  if (file.size() - prefix < header_len) {
    return absl::InvalidArgumentError(absl::StrCat("npy: truncated header: declares ", header_len,
                                                   " bytes, file has ", file.size() - prefix));
  }
  NpyHeaderParser header(file.substr(prefix, header_len));
  GEARKV_RETURN_IF_ERROR(header.Parse());
  if (header.fortran_order) {
    return absl::InvalidArgumentError(
        "npy: fortran_order=True is not supported (save a C-contiguous array)");
  }
  Tensor tensor;
  GEARKV_ASSIGN_OR_RETURN(tensor.dtype, NpyDescrToDType(header.descr));
  tensor.dims = std::move(header.shape);
  GEARKV_ASSIGN_OR_RETURN(uint64_t n, CheckedElements(tensor.dims, DTypeSize(tensor.dtype)));
  const uint64_t need = n * DTypeSize(tensor.dtype);
  const std::string_view data = file.substr(prefix + header_len);
  if (data.size() < need) {
    return absl::InvalidArgumentError(absl::StrCat("npy: truncated data: shape [",
                                                   absl::StrJoin(tensor.dims, ", "), "] needs ",
                                                   need, " bytes, file has ", data.size()));
  }
  if (data.size() > need) {
    return absl::InvalidArgumentError(
        absl::StrCat("npy: ", data.size() - need, " unexpected bytes after the data"));
  }
  tensor.data.assign(data);
  return tensor;
}

absl::StatusOr<std::string> SerializeNpy(const Tensor& tensor) {
  std::string_view descr;
  switch (tensor.dtype) {
    case DType::kFloat16:
      descr = "<f2";
      break;
    case DType::kFloat32:
      descr = "<f4";
      break;
    case DType::kBFloat16:
      return absl::InvalidArgumentError(
          "npy has no bfloat16 dtype: write .safetensors or convert to float32");
  }
  GEARKV_RETURN_IF_ERROR(CheckDataSize(tensor));
  std::string shape = absl::StrJoin(tensor.dims, ", ");
  if (tensor.dims.size() == 1) shape += ",";
  std::string dict = absl::StrCat("{'descr': '", Sv(descr), "', 'fortran_order': False, 'shape': (",
                                  shape, "), }");
  // Pad with spaces so that magic + version + length + dict + '\n' is a multiple of 64.
  size_t len_width = 2;
  size_t total = 8 + len_width + dict.size() + 1;
  if ((total + 63) / 64 * 64 - 8 - len_width > 0xffff) {
    len_width = 4;
    total = 8 + len_width + dict.size() + 1;
  }
  dict.append((64 - total % 64) % 64, ' ');
  dict.push_back('\n');
  std::string out(kNpyMagic);
  out.push_back(len_width == 2 ? 1 : 2);
  out.push_back(0);
  AppendLe(out, dict.size(), len_width);
  out += dict;
  out += tensor.data;
  return out;
}

// ---- .safetensors ----------------------------------------------------------------------------

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

// ---- files -----------------------------------------------------------------------------------

absl::StatusOr<TensorFileFormat> TensorFileFormatOf(std::string_view path) {
  if (path.ends_with(".npy")) return TensorFileFormat::kNpy;
  if (path.ends_with(".safetensors")) return TensorFileFormat::kSafetensors;
  return absl::InvalidArgumentError(absl::StrCat(
      "'", Sv(path), "': unknown tensor file extension (expected .npy or .safetensors)"));
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
    return absl::InvalidArgumentError(absl::StrCat(path, ": a tensor name ('", Sv(tensor_name),
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
  return absl::InvalidArgumentError(absl::StrCat(path, ": no tensor '", Sv(tensor_name),
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
