// NativeClient: gearkv::Client (client/include/gearkv/client.h) for Python. Buffers come in
// through nb::ndarray (the buffer protocol or DLPack: numpy arrays, torch tensors) and are read
// or written in place; the GIL is released for every call's network wait and decode.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gearkv/client.h"
#include "native_common.h"

namespace gearkv::python {
namespace {

using Layers = std::optional<std::pair<uint32_t, uint32_t>>;
using InBuffer = nb::ndarray<nb::ro, nb::c_contig, nb::device::cpu>;
using OutBuffer = nb::ndarray<nb::c_contig>;

std::string Bytes(const nb::bytes& b) { return std::string(b.c_str(), b.size()); }

Layout LayoutOf(int value) {
  if (!IsValidLayout(static_cast<uint8_t>(value))) {
    throw StatusError(absl::InvalidArgumentError(absl::StrCat("unknown layout ", value)), "");
  }
  return static_cast<Layout>(value);
}

nb::tuple ShapeTuple(const TensorShape& s) {
  return nb::make_tuple(s.layers, 2, s.kv_heads, s.tokens, s.head_dim);
}

// The BlockInfo fields of a Get (gearkv/client.py builds the dataclass).
nb::dict InfoDict(const GetResult& r) {
  nb::dict d;
  d["shape"] = ShapeTuple(r.shape);
  d["dtype"] = std::string(DTypeName(r.stored_dtype));
  d["codec"] = SpecDict(r.spec, r.preset);
  d["encoding"] = r.encoding == GetEncoding::kRaw ? "raw" : "compressed";
  d["payload_bytes"] = r.wire_bytes;
  d["stats"] = CostDict(r.cost);
  return d;
}

// The PutResult fields of a Put (gearkv/client.py builds the dataclass).
nb::dict PutDict(const PutResult& r) {
  nb::dict d;
  d["stats"] = CostDict(r.cost);
  d["codec"] = SpecDict(r.spec, r.preset);
  d["backend"] = r.backend;
  d["wire_bytes"] = r.wire_bytes;
  return d;
}

class NativeClient {
 public:
  NativeClient(const ClientOptions& options) {
    auto client = Client::Create(options);
    ThrowIfError(client.status(), "connect");
    client_ = *std::move(client);
    auto codec = MakeCodec(Backend::kCpu);
    ThrowIfError(codec.status(), "connect");
    cpu_codec_ = *std::move(codec);
    decompress_.threads = options.decompress_threads;
  }

  nb::dict Put(const std::string& ns, const nb::bytes& key, const InBuffer& data, bool bfloat16,
               int layout, const std::string& preset, std::optional<uint32_t> bits,
               std::optional<uint32_t> group_size, std::optional<uint32_t> rank,
               std::optional<float> outlier_ratio, std::optional<uint32_t> power_iterations,
               std::optional<uint32_t> seed, int64_t ttl_seconds, bool measure_error,
               std::optional<double> deadline) {
    TensorView view;
    view.layout = LayoutOf(layout);
    view.shape = ShapeOf(data.ndim(), data.shape_ptr(), view.layout);
    view.dtype = DTypeOf(data.dtype(), bfloat16);
    view.data = data.data();
    PutOptions options;
    options.codec = {preset, bits, group_size, rank, outlier_ratio, power_iterations, seed};
    options.ttl = absl::Seconds(ttl_seconds);
    options.measure_error = measure_error;
    options.deadline = DeadlineOf(deadline);
    const std::string k = Bytes(key);
    absl::StatusOr<PutResult> r;
    {
      nb::gil_scoped_release release;
      r = client_->Put(ns, k, view, options);
    }
    ThrowIfError(r.status(), "Put");
    return PutDict(*r);
  }

  // (info, array): COMPRESSED is fetched as block bytes and decoded here, into a new array in
  // `layout`; RAW (canonical only) hands over the client's tensor without a copy.
  nb::tuple Get(const std::string& ns, const nb::bytes& key, bool raw, int layout_value,
                Layers layers, std::optional<double> deadline) {
    const Layout layout = LayoutOf(layout_value);
    GetOptions options;
    options.encoding = raw ? GetEncoding::kRaw : GetEncoding::kCompressed;
    options.decompress = false;
    options.layers = layers;
    options.deadline = DeadlineOf(deadline);
    if (raw && layout != Layout::kCanonical) {
      throw StatusError(
          absl::InvalidArgumentError("a RAW get into a non-canonical layout needs get_into()"),
          "Get");
    }
    const std::string k = Bytes(key);
    absl::StatusOr<GetResult> r;
    {
      nb::gil_scoped_release release;
      r = client_->Get(ns, k, options);
    }
    ThrowIfError(r.status(), "Get");
    nb::dict info = InfoDict(*r);
    if (raw) {
      auto* tensor = new Tensor(std::move(r->tensor));
      nb::capsule owner(tensor, [](void* p) noexcept { delete static_cast<Tensor*>(p); });
      size_t dims[5];
      LayoutDims(r->shape, Layout::kCanonical, dims);
      nb::dlpack::dtype element{static_cast<uint8_t>(nb::dlpack::dtype_code::Float),
                                static_cast<uint8_t>(8 * DTypeSize(tensor->dtype)), 1};
      if (tensor->dtype == DType::kBFloat16) {
        element.code = static_cast<uint8_t>(nb::dlpack::dtype_code::UInt);
      }
      return nb::make_tuple(
          info,
          nb::ndarray<nb::numpy>(tensor->data.data(), 5, dims, owner, nullptr, element).cast());
    }
    MutableTensorView out{r->shape, r->stored_dtype, nullptr, layout};
    nb::object array = NewArray(out.shape, layout, out.dtype, &out.data);
    absl::Status st;
    {
      nb::gil_scoped_release release;
      st = cpu_codec_->Decompress(r->block, out, decompress_);
    }
    ThrowIfError(st, "Get");
    return nb::make_tuple(info, array);
  }

  // Into `out` (a CPU or, with the CUDA backend, a CUDA buffer), allocating nothing for the tensor.
  nb::dict GetInto(const std::string& ns, const nb::bytes& key, const OutBuffer& out, bool bfloat16,
                   bool raw, int layout_value, Layers layers, std::optional<double> deadline) {
    MutableTensorView view;
    view.layout = LayoutOf(layout_value);
    view.shape = ShapeOf(out.ndim(), out.shape_ptr(), view.layout);
    view.dtype = DTypeOf(out.dtype(), bfloat16);
    view.data = out.data();
    GetOptions options;
    options.encoding = raw ? GetEncoding::kRaw : GetEncoding::kCompressed;
    options.layers = layers;
    options.deadline = DeadlineOf(deadline);
    const std::string k = Bytes(key);
    const int device = out.device_type();
    if (device == nb::device::cuda::value) return GetIntoDevice(ns, k, view, options);
    if (device != nb::device::cpu::value) {
      throw StatusError(absl::InvalidArgumentError(absl::StrCat(
                            "get_into: unsupported device type ", device, " (CPU or CUDA)")),
                        "Get");
    }
    absl::StatusOr<GetResult> r;
    {
      nb::gil_scoped_release release;
      r = client_->GetInto(ns, k, view, options);
    }
    ThrowIfError(r.status(), "Get");
    return InfoDict(*r);
  }

  // One GetManyInto: outs[i] receives keys[i]. Per key: the info dict, or (code, message) for
  // that key's failure (gearkv/client.py turns it into the package's exception).
  nb::list GetManyInto(const std::string& ns, const std::vector<nb::bytes>& keys,
                       const std::vector<OutBuffer>& outs, const std::vector<bool>& bfloat16,
                       bool raw, int layout_value, Layers layers, std::optional<double> deadline) {
    const Layout layout = LayoutOf(layout_value);
    if (outs.size() != keys.size() || bfloat16.size() != keys.size()) {
      throw StatusError(absl::InvalidArgumentError(absl::StrCat(
                            keys.size(), " keys and ", outs.size(), " outs: one out per key")),
                        "GetMany");
    }
    std::vector<std::string> ks;
    std::vector<MutableTensorView> views;
    for (size_t i = 0; i < keys.size(); ++i) {
      if (outs[i].device_type() != nb::device::cpu::value) {
        throw StatusError(absl::InvalidArgumentError("get_many_into: CPU buffers only"), "GetMany");
      }
      ks.push_back(Bytes(keys[i]));
      MutableTensorView& v = views.emplace_back();
      v.layout = layout;
      v.shape = ShapeOf(outs[i].ndim(), outs[i].shape_ptr(), layout);
      v.dtype = DTypeOf(outs[i].dtype(), bfloat16[i]);
      v.data = outs[i].data();
    }
    GetOptions options;
    options.encoding = raw ? GetEncoding::kRaw : GetEncoding::kCompressed;
    options.layers = layers;
    options.layout = layout;
    options.deadline = DeadlineOf(deadline);
    absl::StatusOr<std::vector<absl::StatusOr<GetResult>>> r;
    {
      nb::gil_scoped_release release;
      r = client_->GetManyInto(ns, ks, views, options);
    }
    ThrowIfError(r.status(), "GetMany");
    nb::list results;
    for (const absl::StatusOr<GetResult>& one : *r) {
      if (one.ok()) {
        results.append(InfoDict(*one));
      } else {
        results.append(nb::make_tuple(static_cast<int>(one.status().code()),
                                      std::string(one.status().message())));
      }
    }
    return results;
  }

  // One PutMany of datas[i] under keys[i], all with the same options. Per block: the result
  // dict (as Put's), or (code, message).
  nb::list PutMany(const std::string& ns, const std::vector<nb::bytes>& keys,
                   const std::vector<InBuffer>& datas, const std::vector<bool>& bfloat16,
                   int layout, const std::string& preset, std::optional<uint32_t> bits,
                   std::optional<uint32_t> group_size, std::optional<uint32_t> rank,
                   std::optional<float> outlier_ratio, std::optional<uint32_t> power_iterations,
                   std::optional<uint32_t> seed, int64_t ttl_seconds, bool measure_error,
                   std::optional<double> deadline) {
    if (datas.size() != keys.size() || bfloat16.size() != keys.size()) {
      throw StatusError(absl::InvalidArgumentError(absl::StrCat(
                            keys.size(), " keys and ", datas.size(), " tensors: one per key")),
                        "PutMany");
    }
    std::vector<std::string> ks;
    std::vector<TensorView> views;
    for (size_t i = 0; i < keys.size(); ++i) {
      ks.push_back(Bytes(keys[i]));
      TensorView& v = views.emplace_back();
      v.layout = LayoutOf(layout);
      v.shape = ShapeOf(datas[i].ndim(), datas[i].shape_ptr(), v.layout);
      v.dtype = DTypeOf(datas[i].dtype(), bfloat16[i]);
      v.data = datas[i].data();
    }
    PutOptions options;
    options.codec = {preset, bits, group_size, rank, outlier_ratio, power_iterations, seed};
    options.ttl = absl::Seconds(ttl_seconds);
    options.measure_error = measure_error;
    options.deadline = DeadlineOf(deadline);
    absl::StatusOr<std::vector<absl::StatusOr<PutResult>>> r;
    {
      nb::gil_scoped_release release;
      r = client_->PutMany(ns, ks, views, options);
    }
    ThrowIfError(r.status(), "PutMany");
    nb::list results;
    for (const absl::StatusOr<PutResult>& one : *r) {
      if (one.ok()) {
        results.append(PutDict(*one));
      } else {
        results.append(nb::make_tuple(static_cast<int>(one.status().code()),
                                      std::string(one.status().message())));
      }
    }
    return results;
  }

  nb::tuple GetCompressed(const std::string& ns, const nb::bytes& key, Layers layers,
                          std::optional<double> deadline) {
    GetOptions options;
    options.decompress = false;
    options.layers = layers;
    options.deadline = DeadlineOf(deadline);
    const std::string k = Bytes(key);
    absl::StatusOr<GetResult> r;
    {
      nb::gil_scoped_release release;
      r = client_->Get(ns, k, options);
    }
    ThrowIfError(r.status(), "Get");
    return nb::make_tuple(InfoDict(*r), nb::bytes(r->block.data(), r->block.size()));
  }

  std::pair<std::vector<bool>, uint32_t> Lookup(const std::string& ns,
                                                const std::vector<nb::bytes>& keys,
                                                std::optional<double> deadline) {
    std::vector<std::string> ks;
    ks.reserve(keys.size());
    for (const nb::bytes& key : keys) ks.push_back(Bytes(key));
    absl::StatusOr<LookupResult> r;
    {
      nb::gil_scoped_release release;
      r = client_->Lookup(ns, ks, {DeadlineOf(deadline)});
    }
    ThrowIfError(r.status(), "Lookup");
    return {r->exists, r->prefix_hits};
  }

  bool Delete(const std::string& ns, const nb::bytes& key, std::optional<double> deadline) {
    const std::string k = Bytes(key);
    absl::StatusOr<bool> r;
    {
      nb::gil_scoped_release release;
      r = client_->Delete(ns, k, {DeadlineOf(deadline)});
    }
    ThrowIfError(r.status(), "Delete");
    return *r;
  }

  nb::dict Stats(std::optional<double> deadline) {
    absl::StatusOr<ServerStats> r;
    {
      nb::gil_scoped_release release;
      r = client_->Stats({DeadlineOf(deadline)});
    }
    ThrowIfError(r.status(), "Stats");
    nb::list tiers;
    for (const ServerTierStats& t : r->tiers) {
      nb::dict d;
      d["tier"] = t.tier;
      d["blocks"] = t.blocks;
      d["bytes"] = t.bytes;
      d["capacity_bytes"] = t.capacity_bytes;
      d["hits"] = t.hits;
      d["misses"] = t.misses;
      d["evictions"] = t.evictions;
      d["expirations"] = t.expirations;
      tiers.append(d);
    }
    nb::dict d;
    d["backend"] = r->backend;
    d["version"] = r->version;
    d["tiers"] = tiers;
    return d;
  }

  std::string Health(const std::string& service, std::optional<double> deadline) {
    absl::StatusOr<HealthState> r;
    {
      nb::gil_scoped_release release;
      r = client_->Health(service, {DeadlineOf(deadline)});
    }
    ThrowIfError(r.status(), "Health");
    return std::string(HealthStateName(*r));
  }

 private:
  // A CUDA destination: the block's bytes come to the host, are checked against `out` (no byte
  // written on a mismatch) and decoded by the CUDA codec straight into device memory.
  nb::dict GetIntoDevice(const std::string& ns, const std::string& key,
                         const MutableTensorView& out, GetOptions options) {
    if (options.encoding == GetEncoding::kRaw) {
      throw StatusError(absl::InvalidArgumentError(
                            "get_into a CUDA tensor: only COMPRESSED gets (decoded on the GPU)"),
                        "Get");
    }
    if (cuda_codec_ == nullptr) {
      auto codec = MakeCodec(Backend::kCuda);
      if (!codec.ok()) {
        throw StatusError(absl::FailedPreconditionError(absl::StrCat(
                              "get_into a CUDA tensor needs gearkv's CUDA backend and a usable "
                              "GPU: ",
                              codec.status().message())),
                          "Get");
      }
      cuda_codec_ = *std::move(codec);
    }
    options.decompress = false;
    absl::StatusOr<GetResult> r;
    absl::Status st;
    {
      nb::gil_scoped_release release;
      r = client_->Get(ns, key, options);
      if (r.ok() && !(r->shape == out.shape)) {
        st = absl::InvalidArgumentError(absl::StrCat("get_into: out has shape ",
                                                     out.shape.DebugString(), ", the block ",
                                                     r->shape.DebugString()));
      } else if (r.ok()) {
        st = cuda_codec_->Decompress(r->block, out);
      }
    }
    ThrowIfError(r.status(), "Get");
    ThrowIfError(st, "Get");
    return InfoDict(*r);
  }

  std::unique_ptr<Client> client_;
  std::unique_ptr<Codec> cpu_codec_;
  std::unique_ptr<Codec> cuda_codec_;  // made on the first CUDA destination
  DecompressOptions decompress_;
};

}  // namespace

void BindClient(nb::module_& m) {
  using nb::arg;
  nb::class_<NativeClient>(m, "NativeClient")
      .def(
          "__init__",
          [](NativeClient* self, const std::string& target, const std::string& token,
             std::optional<double> deadline, int max_attempts, double initial_backoff,
             double max_backoff, double backoff_multiplier, bool retry_resource_exhausted,
             bool own_connection, int decompress_threads) {
            ClientOptions o;
            o.target = target;
            o.auth_token = token;
            o.default_deadline = DeadlineOf(deadline);
            o.max_attempts = max_attempts;
            o.initial_backoff = absl::Seconds(initial_backoff);
            o.max_backoff = absl::Seconds(max_backoff);
            o.backoff_multiplier = backoff_multiplier;
            o.retry_resource_exhausted = retry_resource_exhausted;
            o.own_connection = own_connection;
            o.decompress_threads = decompress_threads;
            new (self) NativeClient(o);
          },
          arg("target"), arg("token"), arg("deadline").none(), arg("max_attempts"),
          arg("initial_backoff"), arg("max_backoff"), arg("backoff_multiplier"),
          arg("retry_resource_exhausted"), arg("own_connection"), arg("decompress_threads"))
      .def("put", &NativeClient::Put, arg("ns"), arg("key"), arg("data"), arg("bfloat16"),
           arg("layout"), arg("preset"), arg("bits").none(), arg("group_size").none(),
           arg("rank").none(), arg("outlier_ratio").none(), arg("power_iterations").none(),
           arg("seed").none(), arg("ttl_seconds"), arg("measure_error"), arg("deadline").none())
      .def("get", &NativeClient::Get, arg("ns"), arg("key"), arg("raw"), arg("layout"),
           arg("layers").none(), arg("deadline").none())
      .def("get_into", &NativeClient::GetInto, arg("ns"), arg("key"), arg("out"), arg("bfloat16"),
           arg("raw"), arg("layout"), arg("layers").none(), arg("deadline").none())
      .def("get_many_into", &NativeClient::GetManyInto, arg("ns"), arg("keys"), arg("outs"),
           arg("bfloat16"), arg("raw"), arg("layout"), arg("layers").none(), arg("deadline").none())
      .def("put_many", &NativeClient::PutMany, arg("ns"), arg("keys"), arg("datas"),
           arg("bfloat16"), arg("layout"), arg("preset"), arg("bits").none(),
           arg("group_size").none(), arg("rank").none(), arg("outlier_ratio").none(),
           arg("power_iterations").none(), arg("seed").none(), arg("ttl_seconds"),
           arg("measure_error"), arg("deadline").none())
      .def("get_compressed", &NativeClient::GetCompressed, arg("ns"), arg("key"),
           arg("layers").none(), arg("deadline").none())
      .def("lookup", &NativeClient::Lookup, arg("ns"), arg("keys"), arg("deadline").none())
      .def("delete", &NativeClient::Delete, arg("ns"), arg("key"), arg("deadline").none())
      .def("stats", &NativeClient::Stats, arg("deadline").none())
      .def("health", &NativeClient::Health, arg("service"), arg("deadline").none());
}

}  // namespace gearkv::python
