"""gearkv.Client: Put/Get/Lookup/Delete/Stats/Health against a gearkv-server over gRPC.

Blocks are 5-D numpy arrays or torch tensors [layers][2 (K,V)][kv_heads][tokens][head_dim] of
float16, bfloat16 or float32 (see tensors.py for bfloat16 in numpy). Put streams the raw bytes
in chunks of at most 1 MiB; Get streams them back.

Get RAW (the default) returns the decompressed tensor. Get COMPRESSED (`get_compressed`)
returns the block's bytes as stored (GEAR block format, kernels/block_format.md): this client
does not decompress GEAR; pass the bytes to the C++ client / codec, or store them elsewhere.

Calls that fail raise gearkv.errors.GearKVError subclasses. A call's timeout covers all of its
attempts; UNAVAILABLE (server unreachable or draining) is retried as gearkv.retry.RetryPolicy
says, the same policy as the C++ client's. Every call is idempotent (a Put of an existing key
leaves one block).

The contract's limits (chunk size, message size) come from the Limit enum of the proto, so they
are stated once, in proto/gearkv/v1/kv_cache.proto.

Thread-safety: a Client may be shared by threads (grpc channels and stubs are thread-safe).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Iterator, Sequence

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from gearkv import tensors
from gearkv.errors import GearKVError, from_rpc_error
from gearkv.retry import RetryPolicy, run_with_retry
from gearkv.v1 import kv_cache_pb2 as pb
from gearkv.v1 import kv_cache_pb2_grpc as pb_grpc

CHUNK_BYTES = pb.LIMIT_MAX_CHUNK_BYTES  # the largest chunk a Put sends and a Get receives
MAX_MESSAGE_BYTES = pb.LIMIT_MAX_MESSAGE_BYTES
SERVICE_NAME = pb.DESCRIPTOR.services_by_name["KVCache"].full_name
# The codec's presets (gearkv::PresetNames() in kernels/include/gearkv/codec.h, which owns the
# list; tests/test_client.py checks this copy against a live server's).
PRESETS = ("none", "kivi4", "kivi2", "gear4", "gear2", "gearl4", "gearl2")
_SPEC_FIELDS = ("bits", "group_size", "rank", "outlier_ratio", "power_iterations", "seed")


@dataclasses.dataclass(frozen=True)
class BlockStats:
    """What a stored block costs and how close it is (BlockStats in the proto)."""
    raw_bytes: int
    stored_bytes: int
    bits_per_element: float
    ratio: float
    relative_error: float | None = None  # only when the Put asked measure_error

    @staticmethod
    def from_proto(s: pb.BlockStats) -> "BlockStats":
        return BlockStats(s.raw_bytes, s.stored_bytes, s.bits_per_element, s.ratio,
                          s.relative_error if s.HasField("relative_error") else None)


@dataclasses.dataclass(frozen=True)
class PutResult:
    stats: BlockStats
    codec: dict  # the resolved spec, every field set
    backend: str  # "cpu" or "cuda"


@dataclasses.dataclass(frozen=True)
class BlockInfo:
    """The header of a Get: what the payload is."""
    shape: tuple  # (layers, 2, kv_heads, tokens, head_dim) of the payload (layer range applied)
    dtype: str  # "float16", "bfloat16", "float32"
    codec: dict  # the resolved spec of the stored block
    encoding: str  # "raw" or "compressed"
    payload_bytes: int
    stats: BlockStats  # of the whole stored block


@dataclasses.dataclass(frozen=True)
class CompressedBlock:
    """A COMPRESSED Get: the GEAR block bytes (decompress with the C++ client or codec)."""
    info: BlockInfo
    data: bytes


@dataclasses.dataclass(frozen=True)
class LookupResult:
    exists: list  # one bool per key, same order
    prefix_hits: int  # length of the run of existing keys from keys[0]


def spec_to_dict(spec: pb.CodecSpec) -> dict:
    out = {"preset": spec.preset}
    for f in _SPEC_FIELDS:
        if spec.HasField(f):
            out[f] = getattr(spec, f)
    return out


def make_spec(preset: str | None = None, spec: dict | pb.CodecSpec | None = None,
              **overrides: Any) -> pb.CodecSpec:
    """A CodecSpec from a preset name and/or a dict of fields (bits, group_size, rank, ...).

    Fields given in `spec` or as keyword arguments override the preset's values.
    """
    if isinstance(spec, pb.CodecSpec):
        out = pb.CodecSpec()
        out.CopyFrom(spec)
    else:
        out = pb.CodecSpec()
        fields = dict(spec or {})
        if "preset" in fields:
            out.preset = fields.pop("preset") or ""
        for name, value in fields.items():
            if name not in _SPEC_FIELDS:
                raise ValueError(f"unknown codec field {name!r} (known: {', '.join(_SPEC_FIELDS)})")
            setattr(out, name, value)
    if preset is not None:
        out.preset = preset
    for name, value in overrides.items():
        if value is None:
            continue
        if name not in _SPEC_FIELDS:
            raise ValueError(f"unknown codec field {name!r} (known: {', '.join(_SPEC_FIELDS)})")
        setattr(out, name, value)
    return out


def _shape_of(a: Any) -> pb.TensorShape:
    shape = tuple(a.shape)
    if len(shape) != 5 or shape[1] != 2:
        raise ValueError("a KV block must be [layers][2 (K,V)][kv_heads][tokens][head_dim], "
                         f"got shape {shape}")
    return pb.TensorShape(layers=shape[0], kv_heads=shape[2], tokens=shape[3], head_dim=shape[4])


def _shape_tuple(s: pb.TensorShape) -> tuple:
    return (s.layers, 2, s.kv_heads, s.tokens, s.head_dim)


class Client:
    """A connection to one gearkv-server.

    target: "host:port". namespace: the default namespace of every call (model + tenant).
    timeout: default deadline of one call in seconds, all of its attempts included (None =
    none). token: sent as "authorization: Bearer <token>" when set. retry: which failures are
    retried and how (gearkv.retry.RetryPolicy; the default is the C++ client's).
    """

    def __init__(self, target: str, *, namespace: str = "default", timeout: float | None = 60.0,
                 token: str | None = None, retry: RetryPolicy = RetryPolicy(),
                 channel: grpc.Channel | None = None, options: Sequence | None = None):
        self.target = target
        self.namespace = namespace
        self.timeout = timeout
        self.retry = retry
        self._metadata = (("authorization", f"Bearer {token}"),) if token else None
        opts = [("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES)]
        self._channel = channel or grpc.insecure_channel(target, options=list(options or opts))
        self._stub = pb_grpc.KVCacheStub(self._channel)
        self._health = health_pb2_grpc.HealthStub(self._channel)

    # -- lifecycle --------------------------------------------------------------------------
    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def wait_ready(self, timeout: float = 10.0) -> None:
        """Blocks until the channel connects; UnavailableError after `timeout` seconds."""
        try:
            grpc.channel_ready_future(self._channel).result(timeout=timeout)
        except grpc.FutureTimeoutError as e:
            raise from_rpc_error(_Unavailable(f"no connection to {self.target} within "
                                              f"{timeout} s"), "connect") from e

    # -- calls ------------------------------------------------------------------------------
    def put(self, key: bytes | str, kv: Any, *, preset: str | None = None,
            spec: dict | pb.CodecSpec | None = None, ttl_seconds: int = 0,
            measure_error: bool = False, namespace: str | None = None,
            dtype: str | None = None, timeout: float | None = ..., **spec_fields: Any) -> PutResult:
        """Stores `kv` (numpy array or torch tensor, 5-D canonical layout) under `key`.

        preset: one of PRESETS or None (the server's default). spec / spec_fields (bits=,
        group_size=, rank=, outlier_ratio=, power_iterations=, seed=) override the preset's
        values. measure_error asks the server for BlockStats.relative_error. dtype="bfloat16"
        marks a numpy uint16 array as bf16.
        """
        array, wire_dtype = tensors.to_wire(kv, dtype)
        header = pb.PutHeader(namespace=self._ns(namespace), key=_key(key), shape=_shape_of(array),
                              dtype=wire_dtype, codec=make_spec(preset, spec, **spec_fields),
                              ttl_seconds=ttl_seconds, measure_error=measure_error)
        payload = memoryview(array.reshape(-1)).cast("B")

        def requests() -> Iterator[pb.PutRequest]:
            yield pb.PutRequest(header=header)
            for off in range(0, len(payload), CHUNK_BYTES):
                yield pb.PutRequest(chunk=bytes(payload[off:off + CHUNK_BYTES]))

        resp = self._call("Put", lambda t: self._stub.Put(requests(), timeout=t,
                                                          metadata=self._metadata), timeout)
        return PutResult(BlockStats.from_proto(resp.stats), spec_to_dict(resp.codec), resp.backend)

    def get(self, key: bytes | str, *, layers: tuple[int, int] | None = None,
            namespace: str | None = None, as_torch: bool = False, device: Any = None,
            timeout: float | None = ...) -> Any:
        """The decompressed block (RAW get): a numpy array, or a torch tensor when as_torch.

        layers: (begin, end) to fetch only layers [begin, end). NotFoundError on a miss.
        """
        return self.get_with_info(key, layers=layers, namespace=namespace, as_torch=as_torch,
                                  device=device, timeout=timeout)[0]

    def get_with_info(self, key: bytes | str, *, layers: tuple[int, int] | None = None,
                      namespace: str | None = None, as_torch: bool = False, device: Any = None,
                      timeout: float | None = ...) -> tuple[Any, BlockInfo]:
        """(decompressed block, BlockInfo) of a RAW get."""
        info, data = self._get(key, pb.ENCODING_RAW, layers, namespace, timeout)
        pb_dtype = tensors.DTYPE_BY_NAME[info.dtype]
        return tensors.from_wire(data, info.shape, pb_dtype, as_torch, device), info

    def get_compressed(self, key: bytes | str, *, layers: tuple[int, int] | None = None,
                       namespace: str | None = None,
                       timeout: float | None = ...) -> CompressedBlock:
        """A COMPRESSED get: the stored block's bytes, not decompressed (see module doc)."""
        info, data = self._get(key, pb.ENCODING_COMPRESSED, layers, namespace, timeout)
        return CompressedBlock(info, bytes(data))

    def lookup(self, keys: Sequence[bytes | str], *, namespace: str | None = None,
               timeout: float | None = ...) -> LookupResult:
        """Which of `keys` (in prefix order) exist, and the length of the prefix hit."""
        req = pb.LookupRequest(namespace=self._ns(namespace), keys=[_key(k) for k in keys])
        resp = self._call("Lookup", lambda t: self._stub.Lookup(req, timeout=t,
                                                                metadata=self._metadata), timeout)
        return LookupResult(list(resp.exists), resp.prefix_hits)

    def delete(self, key: bytes | str, *, namespace: str | None = None,
               timeout: float | None = ...) -> bool:
        """Deletes a block; False when there was nothing to delete."""
        req = pb.DeleteRequest(namespace=self._ns(namespace), key=_key(key))
        resp = self._call("Delete", lambda t: self._stub.Delete(req, timeout=t,
                                                                metadata=self._metadata), timeout)
        return resp.deleted

    def stats(self, *, timeout: float | None = ...) -> dict:
        """The server's Stats as a dict: backend, version, tiers[...]."""
        resp = self._call("Stats", lambda t: self._stub.Stats(pb.StatsRequest(), timeout=t,
                                                              metadata=self._metadata), timeout)
        tiers = [{f.name: getattr(t, f.name) for f in pb.TierStats.DESCRIPTOR.fields}
                 for t in resp.tiers]
        return {"backend": resp.backend, "version": resp.version, "tiers": tiers}

    def health(self, service: str = "", *, timeout: float | None = ...) -> str:
        """grpc.health.v1 status of `service` ("" = the whole server, or SERVICE_NAME):
        "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN" or "UNKNOWN". Never retried."""
        request = health_pb2.HealthCheckRequest(service=service)
        resp = self._call("Health", lambda t: self._health.Check(request, timeout=t,
                                                                 metadata=self._metadata),
                          timeout, retry=False)
        try:
            return health_pb2.HealthCheckResponse.ServingStatus.Name(resp.status)
        except ValueError:  # a status newer than these stubs
            return f"STATUS_{resp.status}"

    # -- internals --------------------------------------------------------------------------
    def _ns(self, namespace: str | None) -> str:
        return self.namespace if namespace is None else namespace

    def _get(self, key, encoding, layers, namespace, timeout) -> tuple[BlockInfo, bytearray]:
        req = pb.GetRequest(namespace=self._ns(namespace), key=_key(key), encoding=encoding)
        if layers is not None:
            req.layers.begin, req.layers.end = int(layers[0]), int(layers[1])

        def attempt(t: float | None) -> tuple[BlockInfo, bytearray]:
            stream = self._stub.Get(req, timeout=t, metadata=self._metadata)
            first = next(stream, None)
            if first is None or not first.HasField("header"):
                raise GearKVError(grpc.StatusCode.INTERNAL,
                                  "Get stream did not start with a header", "Get")
            h = first.header
            info = BlockInfo(_shape_tuple(h.shape), tensors.DTYPE_NAMES.get(h.dtype, "?"),
                             spec_to_dict(h.codec),
                             "compressed" if h.encoding == pb.ENCODING_COMPRESSED else "raw",
                             h.payload_bytes, BlockStats.from_proto(h.stats))
            data, off = bytearray(h.payload_bytes), 0
            for msg in stream:
                if not msg.HasField("chunk"):
                    raise GearKVError(grpc.StatusCode.INTERNAL, "second header in Get stream",
                                      "Get")
                end = off + len(msg.chunk)
                if end > len(data):
                    raise GearKVError(grpc.StatusCode.INTERNAL,
                                      f"Get payload exceeds the {len(data)} bytes announced", "Get")
                data[off:end] = msg.chunk
                off = end
            if off != len(data):
                raise GearKVError(grpc.StatusCode.INTERNAL,
                                  f"Get payload has {off} bytes, header announced {len(data)}",
                                  "Get")
            if encoding == pb.ENCODING_RAW:
                expected = 1
                for d in info.shape:
                    expected *= d
                expected *= tensors.itemsize(h.dtype) if h.dtype in tensors.DTYPE_NAMES else 0
                if expected != len(data):
                    raise GearKVError(grpc.StatusCode.INTERNAL,
                                      f"RAW payload of {len(data)} bytes does not match shape "
                                      f"{info.shape} {info.dtype}", "Get")
            return info, data

        return self._call("Get", attempt, timeout)

    def _call(self, method: str, fn: Callable[[float | None], Any], timeout: Any,
              retry: bool = True) -> Any:
        """fn(seconds left) under self.retry (or once), its grpc.RpcError as a GearKVError."""

        def attempt(left: float | None) -> Any:
            try:
                return fn(left)
            except grpc.RpcError as e:
                raise from_rpc_error(e, method) from None

        policy = self.retry if retry else _NO_RETRY
        return run_with_retry(policy, self.timeout if timeout is ... else timeout, attempt)


_NO_RETRY = RetryPolicy(max_attempts=1)


class _Unavailable(grpc.RpcError):
    def __init__(self, details: str):
        self._details = details

    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.UNAVAILABLE

    def details(self) -> str:
        return self._details


def _key(key: bytes | str) -> bytes:
    if isinstance(key, str):
        return key.encode("utf-8")
    return bytes(key)
