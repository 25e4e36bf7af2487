"""The GEAR codec in-process, with no server: the same C++ codec (CPU backend) the server runs,
so compress gives the bytes a server running on the CPU stores for the same tensor and spec,
and decompress decodes any block a server hands out (kernels/block_format.md).

    from gearkv import codec
    block, stats = codec.compress(kv, preset="gear4")        # bytes, BlockStats
    info = codec.inspect(block)                               # shape, dtype, spec, sizes
    kv2 = codec.decompress(block)                             # a new numpy array
    codec.decompress_into(block, out)                         # into a caller-owned array

Tensors are numpy arrays or torch CPU tensors, 5-D in a layout of gearkv.client.LAYOUTS.
Failures raise gearkv.errors exceptions (InvalidArgumentError, DataLossError for a checksum
mismatch). The GIL is released while a block is compressed or decoded.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from gearkv import tensors
from gearkv.client import _SPEC_FIELDS, PRESETS, BlockStats, _native, layout_value, make_spec

__all__ = ["compress", "decompress", "decompress_into", "inspect", "BlockHeader", "PRESETS"]


@dataclasses.dataclass(frozen=True)
class BlockHeader:
    """What a block says about itself (gearkv::BlockInfo)."""
    format_version: int
    shape: tuple  # (layers, 2, kv_heads, tokens, head_dim)
    dtype: str  # of the tensor it was made from
    codec: dict  # the spec it was made with ({"preset": "none"} for none)
    raw_bytes: int  # of the decoded tensor
    block_bytes: int


def _as_bytes(block: Any) -> bytes:
    return block if isinstance(block, bytes) else bytes(memoryview(block))


def compress(kv: Any, *, preset: str = "gear4", spec: dict | None = None,
             measure_error: bool = False, dtype: str | None = None, layout: str = "canonical",
             threads: int = 0, **spec_fields: Any) -> tuple[bytes, BlockStats]:
    """(block bytes, BlockStats) of `kv` compressed with `preset` and any overrides."""
    lay = layout_value(layout)
    data, bf16 = tensors.to_native(kv, dtype)
    s = make_spec(preset, spec, **spec_fields)
    block, stats = _native.compress(data, bf16, lay, s.get("preset", preset),
                                    *(s.get(f) for f in _SPEC_FIELDS), bool(measure_error),
                                    int(threads))
    return block, BlockStats.from_dict(stats)


def inspect(block: Any, *, verify_checksum: bool = True) -> BlockHeader:
    """The block's header, parsed and (by default) checksum-verified, without decoding."""
    return BlockHeader(**_native.inspect(_as_bytes(block), bool(verify_checksum)))


def decompress(block: Any, *, dtype: str | None = None, layout: str = "canonical",
               as_torch: bool = False, threads: int = 0) -> Any:
    """A new array (torch tensor when as_torch) in `layout`, in `dtype` (default: the block's)."""
    a = _native.decompress(_as_bytes(block), dtype, layout_value(layout), int(threads))
    return tensors.from_native(a, _dtype_name(a), as_torch)


def decompress_into(block: Any, out: Any, *, layout: str = "canonical", threads: int = 0) -> None:
    """Decodes into `out` (C-contiguous writable numpy array or torch CPU tensor, 5-D in
    `layout`, the block's shape; any dtype: values are converted)."""
    buf, bf16 = tensors.out_buffer(out)
    _native.decompress_into(_as_bytes(block), buf, bf16, layout_value(layout), int(threads))


def _dtype_name(a: Any) -> str:
    """The element type of an array _native made (bfloat16 is uint16 bits there)."""
    return {"float16": "float16", "float32": "float32", "uint16": "bfloat16"}[str(a.dtype)]
