"""gearkv.Client: Put/Get/Lookup/Delete/Stats/Health against a gearkv-server.

Every call goes through the C++ client (gearkv::Client, client/include/gearkv/client.h) in the
native module gearkv._native: one implementation of the wire protocol, its retry policy and its
limits. Tensors are passed without copies (the buffer protocol / DLPack) and the GIL is released
while a call waits on the network and while a block is decoded, so other Python threads run.

Blocks are numpy arrays or torch tensors of float16, bfloat16 or float32 (see tensors.py for
bfloat16 in numpy), 5-D in one of the layouts (LAYOUTS): "canonical"
[layers][2 (K,V)][kv_heads][tokens][head_dim] (the default), "kv_2ltd" (= "layer_first",
LMCache's KV_2LTD / SGLang's layer_first) [2][layers][tokens][kv_heads][head_dim], or
"page_first" (SGLang) [2][tokens][layers][kv_heads][head_dim]. A block's stored bytes do not
depend on the layout it was put in.

Get asks for the COMPRESSED block by default (the bytes the server stores, ~2.8x fewer than RAW
for gear4) and decodes it here with the C++ codec; encoding="raw" makes the server decode.
`get` returns a new array; `get_into` writes into a caller-owned one (an engine's KV buffer).

Calls that fail raise gearkv.errors.GearKVError subclasses carrying the server's message. A
call's timeout covers all of its attempts; UNAVAILABLE (server unreachable or draining) is
retried as gearkv.retry.RetryPolicy says. Every call is idempotent (a Put of an existing key
leaves one block).

Thread-safety: a Client may be shared by threads (calls share one HTTP/2 connection; create a
Client per thread with own_connection=True for independent connections).
"""
from __future__ import annotations

import dataclasses
import time
from typing import Any, Sequence

try:
    from gearkv import _native
except ImportError as e:  # a source tree without the built module, or a broken install
    raise ImportError("gearkv: the native module gearkv._native is missing: install the package "
                      "(pip install ./client/python, see client/python/README.md) and import it "
                      f"from outside client/python ({e})") from e
from gearkv import tensors
from gearkv.errors import StatusCode, UnavailableError, from_status
from gearkv.retry import RetryPolicy

_native.set_error_factory(from_status)

SERVICE_NAME = _native.SERVICE_NAME  # gearkv.v1.KVCache, from the proto
# The codec's presets, in gearkv::PresetNames() order (kernels/include/gearkv/codec.h).
PRESETS = tuple(_native.preset_names())
_SPEC_FIELDS = ("bits", "group_size", "rank", "outlier_ratio", "power_iterations", "seed")
# Layout names -> gearkv::Layout values (kernels/include/gearkv/tensor.h).
LAYOUTS = {"canonical": 0, "kv_2ltd": 1, "layer_first": 1, "page_first": 2}
ENCODINGS = ("compressed", "raw")


@dataclasses.dataclass(frozen=True)
class BlockStats:
    """What a stored block costs and how close it is (BlockStats in the proto)."""
    raw_bytes: int
    stored_bytes: int
    bits_per_element: float
    ratio: float
    relative_error: float | None = None  # only when the Put asked measure_error

    @staticmethod
    def from_dict(d: dict) -> "BlockStats":
        return BlockStats(**d)


@dataclasses.dataclass(frozen=True)
class PutResult:
    stats: BlockStats
    codec: dict  # the resolved spec, every field set ({"preset": "none"} for none)
    backend: str  # "cpu" or "cuda"


@dataclasses.dataclass(frozen=True)
class BlockInfo:
    """The header of a Get: what the payload is."""
    shape: tuple  # (layers, 2, kv_heads, tokens, head_dim) of the payload (layer range applied)
    dtype: str  # the stored dtype: "float16", "bfloat16", "float32"
    codec: dict  # the resolved spec of the stored block
    encoding: str  # "raw" or "compressed"
    payload_bytes: int  # bytes received (the block for COMPRESSED, the tensor for RAW)
    stats: BlockStats  # of the whole stored block


@dataclasses.dataclass(frozen=True)
class CompressedBlock:
    """A COMPRESSED Get left undecoded: the GEAR block bytes (gearkv.codec decodes them)."""
    info: BlockInfo
    data: bytes


@dataclasses.dataclass(frozen=True)
class LookupResult:
    exists: list  # one bool per key, same order
    prefix_hits: int  # length of the run of existing keys from keys[0]


def make_spec(preset: str | None = None, spec: dict | None = None, **overrides: Any) -> dict:
    """A codec spec dict from a preset name and/or a dict of fields (bits, group_size, rank, ...).

    Fields given in `spec` or as keyword arguments override the preset's values.
    """
    out: dict = {}
    fields = dict(spec or {})
    if "preset" in fields:
        out["preset"] = fields.pop("preset") or ""
    fields.update({k: v for k, v in overrides.items() if v is not None})
    for name, value in fields.items():
        if name not in _SPEC_FIELDS:
            raise ValueError(f"unknown codec field {name!r} (known: {', '.join(_SPEC_FIELDS)})")
        out[name] = value
    if preset is not None:
        out["preset"] = preset
    return out


def layout_value(layout: str) -> int:
    """The gearkv::Layout of a layout name; ValueError naming the known ones."""
    try:
        return LAYOUTS[layout.lower()]
    except (KeyError, AttributeError):
        raise ValueError(f"unknown layout {layout!r} (known: {', '.join(LAYOUTS)})") from None


def _raw(encoding: str) -> bool:
    if encoding not in ENCODINGS:
        raise ValueError(f"unknown encoding {encoding!r} (known: {', '.join(ENCODINGS)})")
    return encoding == "raw"


def _layers(layers: tuple[int, int] | None) -> tuple[int, int] | None:
    return None if layers is None else (int(layers[0]), int(layers[1]))


def _info(d: dict) -> BlockInfo:
    return BlockInfo(d["shape"], d["dtype"], d["codec"], d["encoding"], d["payload_bytes"],
                     BlockStats.from_dict(d["stats"]))


class Client:
    """A connection to one gearkv-server.

    target: "host:port" (or any gRPC target). namespace: the default namespace of every call
    (model + tenant). timeout: default deadline of one call in seconds, all of its attempts
    included (None = none). token: sent as "authorization: Bearer <token>" when set. retry:
    which failures are retried and how (gearkv.retry.RetryPolicy; the default is the C++
    client's). own_connection: a TCP connection not shared with other Clients.
    decompress_threads: threads per client-side decode (0 = every hardware thread).
    """

    def __init__(self, target: str, *, namespace: str = "default", timeout: float | None = 60.0,
                 token: str | None = None, retry: RetryPolicy = RetryPolicy(),
                 own_connection: bool = False, decompress_threads: int = 0):
        self.target = target
        self.namespace = namespace
        self.timeout = timeout
        self.retry = retry
        self._native = _native.NativeClient(
            target, token or "", timeout, retry.max_attempts, retry.initial_backoff,
            retry.max_backoff, retry.backoff_multiplier, retry.retry_resource_exhausted,
            own_connection, decompress_threads)

    # -- lifecycle --------------------------------------------------------------------------
    def close(self) -> None:
        self._native = None  # the channel closes when the last call on it has returned

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def wait_ready(self, timeout: float = 10.0) -> None:
        """Blocks until the server answers; UnavailableError after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                self._native.health("", max(0.01, min(left, 1.0)))
                return
            except UnavailableError:
                pass
            except Exception as e:  # noqa: BLE001 - anything but "unreachable" is an answer
                if getattr(e, "code", None) != StatusCode.DEADLINE_EXCEEDED:
                    return
            if time.monotonic() + 0.05 >= deadline:
                raise from_status(StatusCode.UNAVAILABLE,
                                  f"no connection to {self.target} within {timeout} s", "connect")
            time.sleep(0.05)

    # -- calls ------------------------------------------------------------------------------
    def put(self, key: bytes | str, kv: Any, *, preset: str | None = None,
            spec: dict | None = None, ttl_seconds: int = 0, measure_error: bool = False,
            namespace: str | None = None, dtype: str | None = None, layout: str = "canonical",
            timeout: float | None = ..., **spec_fields: Any) -> PutResult:
        """Stores `kv` (numpy array or torch tensor, 5-D in `layout`) under `key`.

        preset: one of PRESETS or None (the server's default). spec / spec_fields (bits=,
        group_size=, rank=, outlier_ratio=, power_iterations=, seed=) override the preset's
        values. measure_error asks the server for BlockStats.relative_error. dtype="bfloat16"
        marks a numpy uint16 array as bf16.
        """
        lay = layout_value(layout)
        data, bf16 = tensors.to_native(kv, dtype)
        s = make_spec(preset, spec, **spec_fields)
        r = self._native.put(self._ns(namespace), _key(key), data, bf16, lay, s.get("preset", ""),
                             *(s.get(f) for f in _SPEC_FIELDS), int(ttl_seconds),
                             bool(measure_error), self._timeout(timeout))
        return PutResult(BlockStats.from_dict(r["stats"]), r["codec"], r["backend"])

    def get(self, key: bytes | str, *, layers: tuple[int, int] | None = None,
            namespace: str | None = None, as_torch: bool = False, device: Any = None,
            layout: str = "canonical", encoding: str = "compressed",
            timeout: float | None = ...) -> Any:
        """The decoded block: a new numpy array (a torch tensor when as_torch) in `layout`.

        layers: (begin, end) to fetch only layers [begin, end). NotFoundError on a miss.
        """
        return self.get_with_info(key, layers=layers, namespace=namespace, as_torch=as_torch,
                                  device=device, layout=layout, encoding=encoding,
                                  timeout=timeout)[0]

    def get_with_info(self, key: bytes | str, *, layers: tuple[int, int] | None = None,
                      namespace: str | None = None, as_torch: bool = False, device: Any = None,
                      layout: str = "canonical", encoding: str = "compressed",
                      timeout: float | None = ...) -> tuple[Any, BlockInfo]:
        """(decoded block, BlockInfo); see get."""
        lay, raw = layout_value(layout), _raw(encoding)
        d, array = self._native.get(self._ns(namespace), _key(key), raw, lay, _layers(layers),
                                    self._timeout(timeout))
        info = _info(d)
        return tensors.from_native(array, info.dtype, as_torch, device), info

    def get_into(self, key: bytes | str, out: Any, *, layers: tuple[int, int] | None = None,
                 namespace: str | None = None, layout: str = "canonical",
                 encoding: str = "compressed", timeout: float | None = ...) -> BlockInfo:
        """Writes the block into `out`, a caller-owned array, allocating no tensor.

        out: a C-contiguous writable numpy array or torch tensor, 5-D in `layout`, whose shape is
        the block's (layer range applied); a CUDA tensor is decoded on the GPU when gearkv was
        built with CUDA and a GPU is usable. A COMPRESSED get converts to out's dtype; a RAW one
        requires the stored dtype. A shape (RAW: or dtype) mismatch is InvalidArgumentError,
        found when the answer's header arrives, before any byte of `out` is written. On any
        other error `out` may be partly written.
        """
        lay, raw = layout_value(layout), _raw(encoding)
        buf, bf16 = tensors.out_buffer(out)
        return _info(self._native.get_into(self._ns(namespace), _key(key), buf, bf16, raw, lay,
                                           _layers(layers), self._timeout(timeout)))

    def get_many_into(self, keys: Sequence[bytes | str], outs: Sequence[Any], *,
                      layers: tuple[int, int] | None = None, namespace: str | None = None,
                      layout: str = "canonical", encoding: str = "compressed",
                      timeout: float | None = ...) -> list:
        """One batched GetMany: block keys[i] written into outs[i] as get_into would.

        Returns one entry per key, in order: its BlockInfo, or the GearKVError of that key
        (NotFoundError for a miss, DataLossError for a corrupt block); the other keys are still
        answered. An error of the whole call (server unreachable, bad batch) is raised.
        """
        lay, raw = layout_value(layout), _raw(encoding)
        bufs = [tensors.out_buffer(o) for o in outs]
        results = self._native.get_many_into(self._ns(namespace), [_key(k) for k in keys],
                                             [b for b, _ in bufs], [f for _, f in bufs], raw, lay,
                                             _layers(layers), self._timeout(timeout))
        return [_info(r) if isinstance(r, dict) else from_status(r[0], r[1], "GetMany")
                for r in results]

    def put_many(self, keys: Sequence[bytes | str], kvs: Sequence[Any], *,
                 preset: str | None = None, spec: dict | None = None, ttl_seconds: int = 0,
                 measure_error: bool = False, namespace: str | None = None,
                 dtype: str | None = None, layout: str = "canonical",
                 timeout: float | None = ..., **spec_fields: Any) -> list:
        """One batched PutMany of kvs[i] under keys[i], every block with the same options (as
        put's). Returns one entry per block: its PutResult or its GearKVError (each block is
        stored or not as a whole); an error of the whole call is raised."""
        lay = layout_value(layout)
        datas = [tensors.to_native(kv, dtype) for kv in kvs]
        s = make_spec(preset, spec, **spec_fields)
        results = self._native.put_many(
            self._ns(namespace), [_key(k) for k in keys], [d for d, _ in datas],
            [f for _, f in datas], lay, s.get("preset", ""), *(s.get(f) for f in _SPEC_FIELDS),
            int(ttl_seconds), bool(measure_error), self._timeout(timeout))
        return [PutResult(BlockStats.from_dict(r["stats"]), r["codec"], r["backend"])
                if isinstance(r, dict) else from_status(r[0], r[1], "PutMany") for r in results]

    def get_compressed(self, key: bytes | str, *, layers: tuple[int, int] | None = None,
                       namespace: str | None = None,
                       timeout: float | None = ...) -> CompressedBlock:
        """A COMPRESSED get left undecoded: the stored block's bytes (see gearkv.codec)."""
        d, data = self._native.get_compressed(self._ns(namespace), _key(key), _layers(layers),
                                              self._timeout(timeout))
        return CompressedBlock(_info(d), data)

    def lookup(self, keys: Sequence[bytes | str], *, namespace: str | None = None,
               timeout: float | None = ...) -> LookupResult:
        """Which of `keys` (in prefix order) exist, and the length of the prefix hit."""
        exists, hits = self._native.lookup(self._ns(namespace), [_key(k) for k in keys],
                                           self._timeout(timeout))
        return LookupResult(list(exists), hits)

    def delete(self, key: bytes | str, *, namespace: str | None = None,
               timeout: float | None = ...) -> bool:
        """Deletes a block; False when there was nothing to delete."""
        return self._native.delete(self._ns(namespace), _key(key), self._timeout(timeout))

    def stats(self, *, timeout: float | None = ...) -> dict:
        """The server's Stats as a dict: backend, version, tiers[...]."""
        return self._native.stats(self._timeout(timeout))

    def health(self, service: str = "", *, timeout: float | None = ...) -> str:
        """grpc.health.v1 status of `service` ("" = the whole server, or SERVICE_NAME):
        "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN" or "UNKNOWN". Never retried."""
        return self._native.health(service, self._timeout(timeout))

    # -- internals --------------------------------------------------------------------------
    def _ns(self, namespace: str | None) -> str:
        return self.namespace if namespace is None else namespace

    def _timeout(self, timeout: Any) -> float | None:
        return self.timeout if timeout is ... else timeout


def _key(key: bytes | str) -> bytes:
    if isinstance(key, str):
        return key.encode("utf-8")
    return bytes(key)
