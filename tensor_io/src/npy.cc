// The NumPy .npy format (tensor_file.h): ParseNpy and SerializeNpy.

#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gearkv/base/strings.h"
#include "gearkv/status_macros.h"
#include "gearkv/tensor_file.h"
#include "internal.h"

namespace gearkv {
namespace {

using tensor_io_internal::AppendLe;
using tensor_io_internal::CheckDataSize;
using tensor_io_internal::CheckedElements;
using tensor_io_internal::kMaxRank;
using tensor_io_internal::ReadLe;

constexpr std::string_view kNpyMagic = "\x93NUMPY";
// Refuse headers larger than this (NumPy itself refuses > 10 KB without allow_pickle; we allow
// more but not unbounded).
constexpr uint64_t kMaxNpyHeaderBytes = 1 << 20;

// The header dict: {'descr': '<f2', 'fortran_order': False, 'shape': (2, 3), }
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
    return absl::InvalidArgumentError(absl::StrCat("npy header: ", ToAbsl(what), " at offset ",
                                                   pos_, " of '", ToAbsl(text_), "'"));
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
      if (start == pos_ || !absl::SimpleAtoi(ToAbsl(text_.substr(start, pos_ - start)), &d)) {
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
    return absl::InvalidArgumentError(absl::StrCat(
        "npy dtype '", ToAbsl(descr), "' is big-endian; only little-endian is supported"));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("npy dtype '", ToAbsl(descr),
                   "' is not supported (expected '<f2' float16 or '<f4' float32)"));
}

}  // namespace

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
  std::string dict = absl::StrCat("{'descr': '", ToAbsl(descr),
                                  "', 'fortran_order': False, 'shape': (", shape, "), }");
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

}  // namespace gearkv
