"""Hugging Face cache helpers: a DynamicCache chunk <-> a canonical gearkv block.

A Hugging Face cache holds, per layer, K and V tensors of shape [batch, kv_heads, tokens,
head_dim]. The canonical gearkv block of tokens [start, end) is
[layers][2 (K,V)][kv_heads][end - start][head_dim] (batch 1), which is what these helpers build
and consume. They accept:
  - transformers >= 4.56 DynamicCache (`cache.layers[i].keys / .values`),
  - older DynamicCache (`cache.key_cache[i] / cache.value_cache[i]`),
  - the legacy tuple of (K, V) pairs,
and work on torch tensors or numpy arrays alike (the result has the type of the cache's
tensors). torch and transformers are imported only when a function needs them.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from gearkv import tensors


def cache_layers(cache: Any) -> list[tuple[Any, Any]]:
    """The (K, V) tensors of every layer, each [batch, kv_heads, tokens, head_dim]."""
    if hasattr(cache, "layers") and not isinstance(cache, (tuple, list)):
        out = []
        for i, layer in enumerate(cache.layers):
            k, v = getattr(layer, "keys", None), getattr(layer, "values", None)
            if k is None or v is None or not hasattr(k, "shape"):
                raise ValueError(f"cache layer {i} ({type(layer).__name__}) holds no K/V tensors "
                                 "(not initialised, or not an attention layer)")
            out.append((k, v))
        return out
    if hasattr(cache, "key_cache") and hasattr(cache, "value_cache"):
        return list(zip(cache.key_cache, cache.value_cache))
    if isinstance(cache, (tuple, list)):
        return [(kv[0], kv[1]) for kv in cache]
    raise TypeError(f"not a Hugging Face KV cache: {type(cache).__name__}")


def _stack(items: Sequence[Any]) -> Any:
    if tensors.is_torch(items[0]):
        import torch

        return torch.stack(list(items))
    return np.stack(items)


def cache_to_block(cache: Any, start: int = 0, end: int | None = None) -> Any:
    """Tokens [start, end) of every layer as one block [layers][2][kv_heads][end-start][head_dim].

    The cache must have batch size 1. The result is a new contiguous tensor (torch when the
    cache holds torch tensors, numpy otherwise) in the cache's dtype.
    """
    layers = cache_layers(cache)
    if not layers:
        raise ValueError("the cache has no layers")
    k0 = layers[0][0]
    if k0.shape[0] != 1:
        raise ValueError(f"the cache has batch size {k0.shape[0]}; blocks are batch 1")
    seq = k0.shape[2]
    end = seq if end is None else end
    if not 0 <= start < end <= seq:
        raise ValueError(f"token range [{start}, {end}) is not inside the cache's {seq} tokens")
    return _stack([_stack([k[0, :, start:end, :], v[0, :, start:end, :]]) for k, v in layers])


def _like(block_part: Any, ref: Any) -> Any:
    """block_part converted to the framework, dtype and device of the tensor `ref`."""
    if tensors.is_torch(ref):
        import torch

        if not tensors.is_torch(block_part):
            block_part = torch.from_numpy(np.ascontiguousarray(block_part))
        return block_part.to(device=ref.device, dtype=ref.dtype)
    if tensors.is_torch(block_part):
        block_part = block_part.detach().cpu().numpy()
    return np.asarray(block_part).astype(ref.dtype, copy=False)


def write_block_into_cache(cache: Any, block: Any, start: int) -> None:
    """Overwrites tokens [start, start + block tokens) of every layer with `block`, in place.

    Use it to replace a chunk by what came back from the server (e.g. a lossy round trip).
    block: [layers][2][kv_heads][tokens][head_dim], numpy or torch, converted to the cache's
    dtype and device.
    """
    layers = cache_layers(cache)
    if block.shape[0] != len(layers) or block.shape[1] != 2:
        raise ValueError(f"block of shape {tuple(block.shape)} does not fit a cache of "
                         f"{len(layers)} layers")
    n = block.shape[3]
    for i, (k, v) in enumerate(layers):
        if k.shape[0] != 1 or start + n > k.shape[2] or tuple(k.shape[1::2]) != (
                block.shape[2], block.shape[4]):
            raise ValueError(f"block [{start}, {start + n}) of shape {tuple(block.shape)} does "
                             f"not fit layer {i} of shape {tuple(k.shape)}")
        k[0, :, start:start + n, :] = _like(block[i, 0], k)
        v[0, :, start:start + n, :] = _like(block[i, 1], v)


def block_to_cache(block: Any, cache: Any = None, *, dtype: Any = None, device: Any = None) -> Any:
    """Appends a block's tokens to `cache` (a new transformers.DynamicCache when None).

    Appends through `cache.update(K, V, layer_idx)` with K, V of [1, kv_heads, tokens,
    head_dim], so it works on any cache with the DynamicCache API. A numpy block is turned into
    torch tensors (dtype/device as given, else the block's dtype on the CPU) when the cache is a
    transformers one; a bfloat16 block read as uint16 bits must be passed as a torch tensor or
    with ml_dtypes installed.
    """
    if cache is None:
        from transformers import DynamicCache

        cache = DynamicCache()
    wants_torch = type(cache).__module__.startswith("transformers") or tensors.is_torch(block)
    if wants_torch and not tensors.is_torch(block):
        import torch

        block = torch.from_numpy(np.ascontiguousarray(block))
    if tensors.is_torch(block) and (dtype is not None or device is not None):
        block = block.to(device=device, dtype=dtype)
    for i in range(block.shape[0]):
        cache.update(block[i, 0][None], block[i, 1][None], i)
    return cache
