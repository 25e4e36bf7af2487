"""Conversions between numpy arrays / torch tensors and the buffers the native module reads and
writes in place (the buffer protocol / DLPack; no copies of C-contiguous little-endian data).

A KV block is a 5-D tensor [layers][2 (K,V)][kv_heads][tokens][head_dim] of float16, bfloat16
or float32. numpy has no bfloat16: a bfloat16 block read into numpy comes back as uint16 (the
raw bf16 bit patterns; `bf16_bits_to_float32` widens them), unless `ml_dtypes` is installed,
in which case its `bfloat16` dtype is used. torch tensors of every dtype round-trip exactly.
"""
from __future__ import annotations

import functools
import sys
from typing import Any

import numpy as np

DTYPE_NAMES = ("float16", "bfloat16", "float32")
_ITEMSIZE = {"float16": 2, "bfloat16": 2, "float32": 4}


def is_torch(x: Any) -> bool:
    """True for a torch.Tensor, without importing torch when it is not loaded."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def itemsize(dtype: str) -> int:
    return _ITEMSIZE[dtype]


@functools.lru_cache(maxsize=None)
def _ml_bfloat16():
    """ml_dtypes' bfloat16 dtype, or None; looked up once (a failed import searches sys.path,
    which would cost tens of microseconds on every call)."""
    try:
        import ml_dtypes  # optional

        return np.dtype(ml_dtypes.bfloat16)
    except ImportError:
        return None


def to_native(x: Any, dtype: str | None = None) -> tuple[Any, bool]:
    """(C-contiguous CPU buffer over x's elements, whether they are bfloat16 bits) for a Put.

    x: numpy array or torch tensor; a torch tensor on another device is copied to the CPU
    first, anything else is passed without a copy when it is already C-contiguous and
    little-endian. `dtype` forces the wire dtype name; it is needed only for a numpy uint16
    array holding bfloat16 bits.
    """
    if is_torch(x):
        import torch

        t = x.detach()
        if t.device.type != "cpu":
            t = t.to("cpu")
        t = t.contiguous()
        if t.dtype not in (torch.float16, torch.bfloat16, torch.float32):
            raise TypeError(f"unsupported tensor dtype {t.dtype} (float16, bfloat16 or float32)")
        if dtype is not None and dtype != str(t.dtype).removeprefix("torch."):
            raise TypeError(f"tensor of {t.dtype} does not match dtype={dtype!r}")
        return t, t.dtype == torch.bfloat16
    a = np.asarray(x)
    bf16 = _ml_bfloat16()
    if dtype == "bfloat16" or (bf16 is not None and a.dtype == bf16):
        if a.dtype.itemsize != 2:
            raise TypeError(f"bfloat16 data must be 2 bytes per element, got {a.dtype}")
        wire = "bfloat16"
        a = a.view(np.uint16) if a.dtype.byteorder != ">" else a.view(">u2")
    elif a.dtype.kind == "f" and a.dtype.itemsize == 2:
        wire = "float16"
    elif a.dtype.kind == "f" and a.dtype.itemsize == 4:
        wire = "float32"
    else:
        raise TypeError(f"unsupported array dtype {a.dtype} (float16, float32, or bfloat16 "
                        "bits as uint16 with dtype='bfloat16')")
    if dtype is not None and dtype != wire:
        raise TypeError(f"array of {a.dtype} does not match dtype={dtype!r}")
    a = np.ascontiguousarray(a)
    if a.dtype.byteorder == ">":
        a = a.byteswap().view(a.dtype.newbyteorder("<"))
    return a, wire == "bfloat16"


def out_buffer(out: Any) -> tuple[Any, bool]:
    """(the buffer get_into writes into, whether it holds bfloat16 bits) for a caller's `out`.

    out: a C-contiguous, writable numpy array (float16, float32, bfloat16 bits as uint16 or
    ml_dtypes.bfloat16) or torch tensor (CPU, or CUDA with the CUDA backend). Refused with
    TypeError / ValueError before any call otherwise: nothing is copied, so `out` must be
    written in place.
    """
    if is_torch(out):
        import torch

        if out.dtype not in (torch.float16, torch.bfloat16, torch.float32):
            raise TypeError(f"get_into: unsupported tensor dtype {out.dtype}")
        if not out.is_contiguous():
            raise ValueError("get_into: out must be a contiguous tensor")
        if out.requires_grad:
            raise ValueError("get_into: out must not require grad")
        return out, out.dtype == torch.bfloat16
    if not isinstance(out, np.ndarray):
        raise TypeError(f"get_into: out must be a numpy array or torch tensor, got "
                        f"{type(out).__name__}")
    if not out.flags.c_contiguous or not out.flags.writeable:
        raise ValueError("get_into: out must be a C-contiguous, writable array")
    if out.dtype.byteorder == ">":
        raise ValueError("get_into: out must be little-endian")
    bf16 = _ml_bfloat16()
    if out.dtype == np.uint16 or (bf16 is not None and out.dtype == bf16):
        return out.view(np.uint16), True
    if out.dtype not in (np.float16, np.float32):
        raise TypeError(f"get_into: unsupported array dtype {out.dtype} (float16, float32, or "
                        "bfloat16 bits as uint16)")
    return out, False


def from_native(a: np.ndarray, dtype: str, as_torch: bool = False, device: Any = None) -> Any:
    """The array a get returned (bfloat16 as uint16 bits) as numpy or torch, without a copy."""
    if as_torch:
        import torch

        if dtype == "bfloat16":
            t = torch.from_numpy(a.view(np.int16)).view(torch.bfloat16)
        else:
            t = torch.from_numpy(a)
        return t.to(device) if device is not None else t
    if dtype == "bfloat16":
        bf16 = _ml_bfloat16()
        return a.view(bf16) if bf16 is not None else a
    return a


def bf16_bits_to_float32(bits: np.ndarray) -> np.ndarray:
    """Widens bfloat16 bit patterns (uint16) to float32 exactly."""
    return (np.asarray(bits, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)


def float32_to_bf16_bits(x: np.ndarray) -> np.ndarray:
    """Rounds float32 to bfloat16 (nearest even) and returns the bit patterns as uint16."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    rounded = u + (np.uint32(0x7FFF) + ((u >> 16) & 1))
    return (rounded >> 16).astype(np.uint16)
