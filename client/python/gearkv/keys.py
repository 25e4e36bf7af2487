"""Prefix-chained chunk keys: the cache keys of a token sequence, one per 256-token chunk.

The key of chunk i depends on every token before it, so two sequences share exactly the keys of
their common full-chunk prefix, which is what `Client.lookup(...).prefix_hits` counts:

    key_0 = SHA-256(root || le_u32(tokens[0:256]))
    key_i = SHA-256(key_{i-1} || le_u32(tokens[256*i : 256*(i+1)]))

`root` defaults to b"" (the server's namespace already scopes keys by model and tenant); each
token id is written as a little-endian unsigned 32-bit integer. Keys are 32 bytes. SHA-256 is
used so that any client (C++ with OpenSSL, Rust, Go) can compute the same keys.
"""
from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

CHUNK_TOKENS = 256


def _token_array(token_ids: Any) -> np.ndarray:
    if hasattr(token_ids, "detach"):  # torch tensor
        token_ids = token_ids.detach().to("cpu").numpy()
    a = np.asarray(token_ids)
    if a.ndim == 2 and a.shape[0] == 1:  # a batch of one, as tokenizers return
        a = a[0]
    if a.ndim != 1:
        raise ValueError(f"token ids must be 1-D (or [1, n]), got shape {a.shape}")
    if a.size and not np.issubdtype(a.dtype, np.integer):
        raise TypeError(f"token ids must be integers, got {a.dtype}")
    if a.size and (a.min() < 0 or a.max() > 0xFFFFFFFF):
        raise ValueError("token ids must be in [0, 2**32)")
    return a.astype("<u4", copy=False)


def chunk_key(parent: bytes, tokens: Any) -> bytes:
    """The key of one chunk given its parent's key (the root, b"" by default, for chunk 0)."""
    return hashlib.sha256(bytes(parent) + _token_array(tokens).tobytes()).digest()


def chunk_keys(token_ids: Any, *, chunk_tokens: int = CHUNK_TOKENS, root: bytes = b"",
               include_partial: bool = False) -> list[bytes]:
    """Keys of the consecutive chunks of `token_ids`, in prefix order.

    token_ids: list, numpy array or torch tensor of ints, 1-D or [1, n].
    Only full chunks get a key unless include_partial (a trailing partial chunk is usually not
    worth caching: it cannot be shared with a longer sequence).
    """
    if chunk_tokens <= 0:
        raise ValueError("chunk_tokens must be positive")
    a = _token_array(token_ids)
    n = len(a) if include_partial else len(a) - len(a) % chunk_tokens
    keys, parent = [], bytes(root)
    for start in range(0, n, chunk_tokens):
        parent = hashlib.sha256(parent + a[start:start + chunk_tokens].tobytes()).digest()
        keys.append(parent)
    return keys


def chunk_ranges(num_tokens: int, *, chunk_tokens: int = CHUNK_TOKENS,
                 include_partial: bool = False) -> list[tuple[int, int]]:
    """Token ranges [a, b) of the chunks that chunk_keys returns keys for, same order."""
    n = num_tokens if include_partial else num_tokens - num_tokens % chunk_tokens
    return [(a, min(a + chunk_tokens, n)) for a in range(0, n, chunk_tokens)]
