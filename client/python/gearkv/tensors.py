"""Conversions between numpy arrays / torch tensors and the wire's raw little-endian bytes.

A KV block is a 5-D tensor [layers][2 (K,V)][kv_heads][tokens][head_dim] of float16, bfloat16
or float32. numpy has no bfloat16: a bfloat16 block read into numpy comes back as uint16 (the
raw bf16 bit patterns; `bf16_bits_to_float32` widens them), unless `ml_dtypes` is installed,
in which case its `bfloat16` dtype is used. torch tensors of every dtype round-trip exactly.
"""
from __future__ import annotations

import sys
from typing import Any

import numpy as np

from gearkv.v1 import kv_cache_pb2 as pb

DTYPE_NAMES = {pb.DTYPE_FLOAT16: "float16", pb.DTYPE_BFLOAT16: "bfloat16",
               pb.DTYPE_FLOAT32: "float32"}
DTYPE_BY_NAME = {v: k for k, v in DTYPE_NAMES.items()}
_ITEMSIZE = {pb.DTYPE_FLOAT16: 2, pb.DTYPE_BFLOAT16: 2, pb.DTYPE_FLOAT32: 4}


def is_torch(x: Any) -> bool:
    """True for a torch.Tensor, without importing torch when it is not loaded."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def itemsize(dtype: int) -> int:
    return _ITEMSIZE[dtype]


def _ml_bfloat16():
    try:
        import ml_dtypes  # optional

        return np.dtype(ml_dtypes.bfloat16)
    except ImportError:
        return None


def to_wire(x: Any, dtype: str | None = None) -> tuple[np.ndarray, int]:
    """(C-contiguous little-endian numpy view or copy of x, wire DType).

    x: numpy array or torch tensor (any device). `dtype` forces the wire dtype name; it is
    needed only for a numpy uint16 array holding bfloat16 bits.
    """
    if is_torch(x):
        import torch

        t = x.detach().to("cpu").contiguous()
        if t.dtype == torch.bfloat16:
            return t.view(torch.int16).numpy().view(np.uint16), pb.DTYPE_BFLOAT16
        if t.dtype == torch.float16:
            return t.numpy(), pb.DTYPE_FLOAT16
        if t.dtype == torch.float32:
            return t.numpy(), pb.DTYPE_FLOAT32
        raise TypeError(f"unsupported tensor dtype {t.dtype} (float16, bfloat16 or float32)")
    a = np.asarray(x)
    bf16 = _ml_bfloat16()
    if dtype == "bfloat16" or (bf16 is not None and a.dtype == bf16):
        if a.dtype.itemsize != 2:
            raise TypeError(f"bfloat16 data must be 2 bytes per element, got {a.dtype}")
        wire = pb.DTYPE_BFLOAT16
        a = a.view(np.uint16)
    elif a.dtype == np.float16:
        wire = pb.DTYPE_FLOAT16
    elif a.dtype == np.float32:
        wire = pb.DTYPE_FLOAT32
    else:
        raise TypeError(f"unsupported array dtype {a.dtype} (float16, float32, or bfloat16 "
                        "bits as uint16 with dtype='bfloat16')")
    if dtype is not None and dtype != DTYPE_NAMES[wire]:
        raise TypeError(f"array of {a.dtype} does not match dtype={dtype!r}")
    a = np.ascontiguousarray(a)
    if a.dtype.byteorder == ">":
        a = a.byteswap().view(a.dtype.newbyteorder("<"))
    return a, wire


def from_wire(buf: bytes | bytearray | memoryview, shape: tuple[int, ...], dtype: int,
              as_torch: bool = False, device: Any = None) -> Any:
    """A numpy array (or torch tensor when as_torch) over the raw bytes of a RAW get."""
    if dtype == pb.DTYPE_BFLOAT16:
        a = np.frombuffer(buf, dtype="<u2").reshape(shape)
        if as_torch:
            import torch

            t = torch.from_numpy(a.view(np.int16).copy()).view(torch.bfloat16)
            return t.to(device) if device is not None else t
        bf16 = _ml_bfloat16()
        return a.view(bf16) if bf16 is not None else a
    np_dtype = {pb.DTYPE_FLOAT16: "<f2", pb.DTYPE_FLOAT32: "<f4"}[dtype]
    a = np.frombuffer(buf, dtype=np_dtype).reshape(shape)
    if as_torch:
        import torch

        t = torch.from_numpy(a.copy())
        return t.to(device) if device is not None else t
    return a


def bf16_bits_to_float32(bits: np.ndarray) -> np.ndarray:
    """Widens bfloat16 bit patterns (uint16) to float32 exactly."""
    return (np.asarray(bits, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)


def float32_to_bf16_bits(x: np.ndarray) -> np.ndarray:
    """Rounds float32 to bfloat16 (nearest even) and returns the bit patterns as uint16."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    rounded = u + (np.uint32(0x7FFF) + ((u >> 16) & 1))
    return (rounded >> 16).astype(np.uint16)
