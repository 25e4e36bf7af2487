"""A numpy model of the GEAR codec as kernels/include/gearkv/codec.h describes it.

Used by eval_ppl.py --reference to preview quality without a server and to cross-check the
server's numbers. It is not the codec: no block format, an estimated (not exact) size, and its
own subspace-iteration start, so results differ from the server's slightly.

Per (layer, K|V, head) matrix X [tokens, head_dim]:
  rows = channels over tokens for K, tokens over channels for V;
  S: the k largest and k smallest entries of each row, kept exactly, k spread over the rows so
     that a head keeps floor(s * entries) in all;
  D: the rest quantized to `bits`, asymmetric min-max per group of G along the row, fp16 scale
     and minimum (outliers do not widen a group);
  L: rank-r approximation of X - S - D by `iters` rounds of subspace iteration; u [tokens, r]
     int8 with an fp16 scale per column, vt [r, head_dim] fp16 fitted to the stored u (block
     format version 2);
  X^ = D + L with the outliers written over their positions.
"""
from __future__ import annotations

import numpy as np

PRESETS = {  # bits, group, rank, outlier ratio (codec_spec.cc)
    "kivi4": (4, 64, 0, 0.0), "kivi2": (2, 64, 0, 0.0),
    "gear4": (4, 64, 4, 0.02), "gear2": (2, 64, 4, 0.02),
    "gearl4": (4, 64, 4, 0.0), "gearl2": (2, 64, 4, 0.0),
}


def spec_of(label: str) -> tuple:
    """(bits, G, rank, s) of "gear2" or "gear2+rank=2+outlier_ratio=0.01"."""
    name, *fields = label.split("+")
    bits, group, rank, ratio = PRESETS[name]
    for f in fields:
        k, _, v = f.partition("=")
        if k == "bits":
            bits = int(v)
        elif k == "group_size":
            group = int(v)
        elif k == "rank":
            rank = int(v)
        elif k == "outlier_ratio":
            ratio = float(v)
        else:
            raise ValueError(f"ref_codec does not model {k!r}")
    return bits, group, rank, ratio


def _rows(x: np.ndarray, bits: int, group: int, ratio: float):
    """Quantizes rows (last axis) with outliers; returns (D, outlier mask, stored bits)."""
    n, rows = x.shape[-1], x.shape[-2]
    # Per side, row p keeps floor((p+1) h) - floor(p h) entries, h = s n / 2, so that a head
    # keeps floor(s n rows) in all (gear_math.h OutliersPerSide).
    h = ratio * n / 2
    p = np.arange(rows, dtype=np.float64)
    k = np.minimum(np.floor((p + 1) * h) - np.floor(p * h), n // 2).astype(np.int64)[:, None]
    rank = np.argsort(np.argsort(x, axis=-1, kind="stable"), axis=-1, kind="stable")
    mask = (rank < k) | (rank >= n - k)
    g = min(group, n)
    if n % g:
        raise ValueError(f"row of {n} is not a multiple of the group {g} (reference limitation)")
    xg = x.reshape(*x.shape[:-1], n // g, g)
    mg = mask.reshape(xg.shape)
    mn = np.where(mg, np.inf, xg).min(-1, keepdims=True)
    mx = np.where(mg, -np.inf, xg).max(-1, keepdims=True)
    mn = np.where(np.isfinite(mn), mn, 0).astype(np.float16).astype(np.float32)
    mx = np.where(np.isfinite(mx), mx, 0)
    levels = (1 << bits) - 1
    scale = ((mx - mn) / levels).astype(np.float16).astype(np.float32)
    safe = np.where(scale > 0, scale, 1)
    q = np.clip(np.rint((xg - mn) / safe), 0, levels)
    d = (q * scale + mn).reshape(x.shape)
    groups = x.size // g
    stored = x.size * bits + groups * 32 + int(mask.sum()) * 32
    return d, mask, stored


def _int8_columns(m: np.ndarray) -> np.ndarray:
    """m [..., n, r] as stored: each column int8 with one fp16 scale, fp16(max |x| / 127), and
    round-half-even(x / scale) clamped to [-127, 127] (gear_math.h FactorScale, QuantizeFactor)."""
    m = m.astype(np.float32)
    mx = np.abs(m).max(axis=-2, keepdims=True)
    scale = np.minimum(mx / np.float32(127), 65504).astype(np.float16).astype(np.float32)
    inv = np.where(scale > 0, np.float32(1) / np.where(scale > 0, scale, 1), 0).astype(np.float32)
    return (np.clip(np.rint(m * inv), -127, 127) * scale).astype(np.float32)


def _low_rank(r: np.ndarray, rank: int, iters: int, seed: int = 0) -> np.ndarray:
    """Rank-`rank` approximation of every matrix r[..., T, D] by subspace iteration."""
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((*r.shape[:-2], r.shape[-1], rank)).astype(np.float32)
    q, _ = np.linalg.qr(q)
    for _ in range(iters):
        y, _ = np.linalg.qr(r @ q)                       # [.., T, r]
        q, _ = np.linalg.qr(np.swapaxes(r, -1, -2) @ y)  # [.., D, r]
    u = _int8_columns(np.linalg.qr(r @ q)[0])  # [.., T, r], as stored
    vt = (np.swapaxes(r, -1, -2) @ u).astype(np.float16).astype(np.float32)  # [.., D, r]
    return u @ np.swapaxes(vt, -1, -2)


def compress_roundtrip(block: np.ndarray, preset: str, iters: int = 3) -> tuple[np.ndarray, float]:
    """(X^ as block's dtype, estimated bits/element) of a [L][2][H][T][D] block."""
    if preset == "none":
        return block.copy(), 16.0
    bits, group, rank, ratio = spec_of(preset)
    x = block.astype(np.float32)
    out = np.empty_like(x)
    stored = 0
    for kv in (0, 1):
        m = x[:, kv]  # [L, H, T, D]
        rows = np.swapaxes(m, -1, -2) if kv == 0 else m  # K: channel rows; V: token rows
        d, mask, s = _rows(rows, bits, group, ratio)
        if kv == 0:
            d, mask = np.swapaxes(d, -1, -2), np.swapaxes(mask, -1, -2)
        stored += s
        approx = d
        if rank > 0:
            resid = np.where(mask, 0, m - d)
            approx = d + _low_rank(resid, rank, iters)
            # u: int8 entries and one fp16 scale per column; vt: fp16
            stored += (8 * rank * m.shape[-2] + 16 * rank + 16 * rank * m.shape[-1]) * m.shape[0] * m.shape[1]
        out[:, kv] = np.where(mask, m, approx)
    return out.astype(block.dtype), stored / block.size
