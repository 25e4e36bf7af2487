// `gearkv put` and `gearkv get`: tensors between .npy / .safetensors files and the server.
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "commands.h"
#include "gearkv/base/strings.h"
#include "gearkv/status_macros.h"
#include "gearkv/tensor_file.h"

namespace gearkv::cli {
namespace {

// The dims of a KV tensor of `shape` whose bytes are in `layout`: canonical [L, 2, H, T, D],
// kv_2ltd / layer_first [2, L, T, H, D], page_first [2, T, L, H, D].
std::vector<uint64_t> LayoutDims(const TensorShape& s, Layout layout) {
  switch (layout) {
    case Layout::kKv2LTD:
      return {2, s.layers, s.tokens, s.kv_heads, s.head_dim};
    case Layout::kPageFirst:
      return {2, s.tokens, s.layers, s.kv_heads, s.head_dim};
    default:
      return {s.layers, 2, s.kv_heads, s.tokens, s.head_dim};
  }
}

// A view of `tensor` as a KV block in `layout` (its dims as LayoutDims says; canonical also
// takes the 4-D one-layer form, see KvShapeOf).
absl::StatusOr<TensorView> AsKvViewInLayout(const Tensor& tensor, Layout layout) {
  if (layout == Layout::kCanonical) return AsKvView(tensor);
  const std::vector<uint64_t>& d = tensor.dims;
  if (d.size() != 5 || d[0] != 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("a ", std::string(LayoutName(layout)), " tensor has dims ",
                     layout == Layout::kKv2LTD ? "[2, layers, tokens, kv_heads, head_dim]"
                                               : "[2, tokens, layers, kv_heads, head_dim]",
                     ", this one has ", d.size(), " dims"));
  }
  const bool kv = layout == Layout::kKv2LTD;
  // (The casts below would wrap a dimension of 2^32 or more into one ValidateShape accepts.)
  for (uint64_t n : d) {
    if (n > UINT32_MAX) return absl::InvalidArgumentError("a dimension is over 2^32");
  }
  const TensorShape shape{static_cast<uint32_t>(kv ? d[1] : d[2]), static_cast<uint32_t>(d[3]),
                          static_cast<uint32_t>(kv ? d[2] : d[1]), static_cast<uint32_t>(d[4])};
  GEARKV_RETURN_IF_ERROR(ValidateShape(shape));
  const TensorView view{shape, tensor.dtype, tensor.data.data(), layout};
  if (tensor.data.size() != view.SizeBytes()) {
    return absl::InvalidArgumentError("the data size does not match the dims");
  }
  return view;
}

struct PutFlags {
  std::vector<std::string> files;
  std::string layout = "canonical";
  std::string tensor_name;
  std::string ns;
  std::vector<std::string> keys;
  bool key_hex = false;
  CodecRequest codec;
  uint32_t ttl_seconds = 0;
  bool measure_error = false;
  bool progress = false;
};

void PrintStored(const std::string& ns, const std::string& key, const TensorView& view,
                 const PutResult& result) {
  std::cout << absl::StrFormat(
      "stored %s/%s: %s %s, %s -> %s (ratio %.2fx, %.3f bits/element), %s, backend %s", ToAbsl(ns),
      ToAbsl(DisplayKey(key)), ToAbsl(DTypeName(view.dtype)), ToAbsl(view.shape.DebugString()),
      ToAbsl(FormatBytes(result.cost.raw_bytes)), ToAbsl(FormatBytes(result.cost.stored_bytes)),
      result.cost.ratio, result.cost.bits_per_element,
      result.preset.empty() ? ToAbsl(result.spec.DebugString()) : ToAbsl(result.preset),
      ToAbsl(result.backend));
  if (result.cost.relative_error) {
    std::cout << absl::StrFormat(", relative error %.4f", *result.cost.relative_error);
  }
  std::cout << "\n";
}

// One file per key; several go in one PutMany, each block reported on its own line (the first
// failure is the command's).
absl::Status RunPut(const GlobalFlags& global, const PutFlags& flags) {
  if (flags.files.size() != flags.keys.size()) {
    return absl::InvalidArgumentError(absl::StrCat(flags.files.size(), " files and ",
                                                   flags.keys.size(),
                                                   " keys: give one key per "
                                                   "file (-k KEY for each, in the same order)"));
  }
  std::vector<std::string> keys;
  std::vector<Tensor> tensors;
  std::vector<TensorView> views;
  tensors.reserve(flags.files.size());
  GEARKV_ASSIGN_OR_RETURN(const Layout layout, ParseLayout(flags.layout));
  for (size_t i = 0; i < flags.files.size(); ++i) {
    GEARKV_ASSIGN_OR_RETURN(keys.emplace_back(), DecodeKey(flags.keys[i], flags.key_hex));
    GEARKV_ASSIGN_OR_RETURN(tensors.emplace_back(),
                            ReadTensorFile(flags.files[i], flags.tensor_name));
    auto view = AsKvViewInLayout(tensors.back(), layout);
    if (!view.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(flags.files[i], ": ", view.status().message()));
    }
    views.push_back(*view);
  }
  GEARKV_ASSIGN_OR_RETURN(auto client, MakeClient(global));
  PutOptions options;
  options.codec = flags.codec;
  options.ttl = absl::Seconds(flags.ttl_seconds);
  options.measure_error = flags.measure_error;
  options.deadline = absl::Seconds(global.deadline_seconds);
  options.progress = MakeTransferProgress("put", flags.progress);
  if (views.size() == 1) {
    GEARKV_ASSIGN_OR_RETURN(PutResult result, client->Put(flags.ns, keys[0], views[0], options));
    PrintStored(flags.ns, keys[0], views[0], result);
    return absl::OkStatus();
  }
  GEARKV_ASSIGN_OR_RETURN(auto results, client->PutMany(flags.ns, keys, views, options));
  absl::Status first;
  for (size_t i = 0; i < results.size(); ++i) {
    if (results[i].ok()) {
      PrintStored(flags.ns, keys[i], views[i], *results[i]);
      continue;
    }
    std::cerr << "not stored " << flags.ns << "/" << DisplayKey(keys[i]) << " (" << flags.files[i]
              << "): " << results[i].status() << "\n";
    if (first.ok()) first = results[i].status();
  }
  return first;
}

struct GetFlags {
  std::string ns;
  std::vector<std::string> keys;
  bool key_hex = false;
  std::vector<std::string> outputs;
  std::string tensor_name;
  std::string encoding = "compressed";
  std::string layers;
  std::string dtype;
  std::string layout = "canonical";
  bool progress = false;
};

// bf16 -> fp32 (exact), for writing .npy, which has no bf16.
void WidenBf16(Tensor& t) {
  std::string wide(t.data.size() * 2, '\0');
  for (size_t i = 0; i < t.data.size() / 2; ++i) {
    uint16_t h;
    std::memcpy(&h, t.data.data() + 2 * i, 2);
    const uint32_t f = uint32_t{h} << 16;
    std::memcpy(wide.data() + 4 * i, &f, 4);
  }
  t.data = std::move(wide);
  t.dtype = DType::kFloat32;
}

// Writes `got` (the block under `key`) to `output`.
absl::Status WriteGot(const GetFlags& flags, const std::string& key, const std::string& output,
                      GetResult& got) {
  GEARKV_ASSIGN_OR_RETURN(TensorFileFormat format, TensorFileFormatOf(output));
  got.tensor.dims = LayoutDims(got.shape, got.layout);  // the file's dims follow its layout
  if (format == TensorFileFormat::kNpy && got.tensor.dtype == DType::kBFloat16) {
    std::cerr << "note: .npy has no bfloat16; writing float32 (exact)\n";
    WidenBf16(got.tensor);
  }
  std::map<std::string, std::string> metadata = {
      {"gearkv.namespace", flags.ns},
      {"gearkv.key", DisplayKey(key)},
      {"gearkv.spec", got.preset.empty() ? got.spec.DebugString() : got.preset},
      {"gearkv.stored_dtype", std::string(DTypeName(got.stored_dtype))},
      {"gearkv.layout", std::string(LayoutName(got.layout))}};
  GEARKV_RETURN_IF_ERROR(WriteTensorFile(output, got.tensor, flags.tensor_name, metadata));
  std::cout << absl::StrFormat(
      "wrote %s: %s %s (%s on the wire, %s; stored as %s, ratio %.2fx)\n", ToAbsl(output),
      ToAbsl(DTypeName(got.tensor.dtype)), ToAbsl(got.shape.DebugString()),
      ToAbsl(FormatBytes(got.wire_bytes)), got.encoding == GetEncoding::kRaw ? "raw" : "compressed",
      got.preset.empty() ? ToAbsl(got.spec.DebugString()) : ToAbsl(got.preset), got.cost.ratio);
  return absl::OkStatus();
}

// One output per key; several keys go in one GetMany, each written or reported on its own (the
// first failure is the command's).
absl::Status RunGet(const GlobalFlags& global, const GetFlags& flags) {
  if (flags.outputs.size() != flags.keys.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(flags.keys.size(), " keys and ", flags.outputs.size(),
                     " outputs: give one output per key (-o FILE for each, in the same order)"));
  }
  std::vector<std::string> keys;
  for (size_t i = 0; i < flags.keys.size(); ++i) {
    GEARKV_ASSIGN_OR_RETURN(keys.emplace_back(), DecodeKey(flags.keys[i], flags.key_hex));
    GEARKV_RETURN_IF_ERROR(TensorFileFormatOf(flags.outputs[i]).status());
  }
  GetOptions options;
  options.encoding = flags.encoding == "raw" ? GetEncoding::kRaw : GetEncoding::kCompressed;
  options.deadline = absl::Seconds(global.deadline_seconds);
  if (!flags.layers.empty()) {
    std::vector<absl::string_view> parts = absl::StrSplit(flags.layers, ':');
    uint32_t begin = 0, end = 0;
    if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &begin) ||
        !absl::SimpleAtoi(parts[1], &end)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--layers '", flags.layers, "' is not BEGIN:END"));
    }
    options.layers = {begin, end};
  }
  if (!flags.dtype.empty()) {
    GEARKV_ASSIGN_OR_RETURN(options.out_dtype, ParseDType(flags.dtype));
  }
  GEARKV_ASSIGN_OR_RETURN(options.layout, ParseLayout(flags.layout));
  options.progress = MakeTransferProgress("get", flags.progress);
  GEARKV_ASSIGN_OR_RETURN(auto client, MakeClient(global));
  if (keys.size() == 1) {
    GEARKV_ASSIGN_OR_RETURN(GetResult got, client->Get(flags.ns, keys[0], options));
    return WriteGot(flags, keys[0], flags.outputs[0], got);
  }
  GEARKV_ASSIGN_OR_RETURN(auto results, client->GetMany(flags.ns, keys, options));
  absl::Status first;
  for (size_t i = 0; i < results.size(); ++i) {
    absl::Status status = results[i].status();
    if (status.ok()) status = WriteGot(flags, keys[i], flags.outputs[i], *results[i]);
    if (status.ok()) continue;
    std::cerr << "not written " << flags.outputs[i] << " (" << flags.ns << "/"
              << DisplayKey(keys[i]) << "): " << status << "\n";
    if (first.ok()) first = status;
  }
  return first;
}

void AddKeyFlags(CLI::App* cmd, std::vector<std::string>& keys, std::string& ns, bool& key_hex) {
  cmd->add_option("--namespace,-n", ns, "namespace (model + tenant)")->required();
  cmd->add_option("--key,-k", keys, "block key (several: one batched call)")
      ->required()
      ->allow_extra_args(false);
  cmd->add_flag("--key_hex", key_hex, "the key is given in hex");
}

}  // namespace

void AddPutCommand(CLI::App& app, const GlobalFlags& global, int* exit_code) {
  auto flags = std::make_shared<PutFlags>();
  CLI::App* cmd = app.add_subcommand(
      "put",
      "store KV tensors ([layers,2,heads,tokens,head_dim] or [2,heads,tokens,head_dim]) "
      "from .npy or .safetensors files, one key each (several: one PutMany)");
  cmd->add_option("files", flags->files, ".npy or .safetensors file(s), one per key")->required();
  cmd->add_option("--tensor", flags->tensor_name, "tensor name inside a .safetensors file");
  AddKeyFlags(cmd, flags->keys, flags->ns, flags->key_hex);
  AddCodecFlags(*cmd, flags->codec);
  cmd->add_option("--layout", flags->layout,
                  "memory order of the file's tensor: canonical [layers, 2, kv_heads, tokens, "
                  "head_dim], kv_2ltd = layer_first [2, layers, tokens, kv_heads, head_dim], "
                  "page_first [2, tokens, layers, kv_heads, head_dim]")
      ->capture_default_str();
  cmd->add_option("--ttl_seconds", flags->ttl_seconds, "expiry (0 = never)");
  cmd->add_flag("--measure_error", flags->measure_error, "report the relative error");
  cmd->add_flag("--progress", flags->progress, "show progress even when stderr is no terminal");
  cmd->callback([&global, flags, exit_code] {
    absl::Status s = RunPut(global, *flags);
    *exit_code = s.ok() ? kExitOk : ReportError(s);
  });
}

void AddGetCommand(CLI::App& app, const GlobalFlags& global, int* exit_code) {
  auto flags = std::make_shared<GetFlags>();
  CLI::App* cmd = app.add_subcommand(
      "get", "fetch KV blocks into .npy or .safetensors files, one per key (several: one GetMany)");
  AddKeyFlags(cmd, flags->keys, flags->ns, flags->key_hex);
  cmd->add_option("--output,-o", flags->outputs, ".npy or .safetensors file to write, one per key")
      ->required()
      ->allow_extra_args(false);
  cmd->add_option("--tensor", flags->tensor_name, "tensor name in a .safetensors output (kv)");
  cmd->add_option("--encoding", flags->encoding,
                  "compressed: block bytes over the wire, decompressed here; raw: the server "
                  "decompresses")
      ->check(CLI::IsMember({"raw", "compressed"}))
      ->capture_default_str();
  cmd->add_option("--layers", flags->layers, "only layers BEGIN:END (end exclusive)");
  cmd->add_option("--dtype", flags->dtype,
                  "element type to write (float16, bfloat16, float32; compressed only)");
  cmd->add_option("--layout", flags->layout,
                  "memory order (and dims) of the written tensor: canonical, kv_2ltd = "
                  "layer_first or page_first (as for put)")
      ->capture_default_str();
  cmd->add_flag("--progress", flags->progress, "show progress even when stderr is no terminal");
  cmd->callback([&global, flags, exit_code] {
    absl::Status s = RunGet(global, *flags);
    *exit_code = s.ok() ? kExitOk : ReportError(s);
  });
}

}  // namespace gearkv::cli
