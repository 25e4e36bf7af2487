"""Prefix-chained chunk keys (no server needed)."""
import hashlib
import struct

import numpy as np
import pytest

import gearkv


def test_keys_follow_the_documented_chain():
    tokens = list(range(1000, 1000 + 600))
    keys = gearkv.chunk_keys(tokens)
    assert len(keys) == 2  # 600 tokens = 2 full chunks; the partial one gets no key
    k0 = hashlib.sha256(struct.pack("<256I", *tokens[:256])).digest()
    k1 = hashlib.sha256(k0 + struct.pack("<256I", *tokens[256:512])).digest()
    assert keys == [k0, k1]
    assert all(len(k) == 32 for k in keys)
    assert gearkv.chunk_key(b"", tokens[:256]) == k0
    assert gearkv.chunk_key(k0, np.array(tokens[256:512])) == k1


def test_shared_prefix_shares_keys_and_divergence_changes_all_later_keys():
    rng = np.random.default_rng(7)
    a = rng.integers(0, 49152, size=1024)
    b = a.copy()
    b[300] += 1  # chunk 1 differs
    ka, kb = gearkv.chunk_keys(a), gearkv.chunk_keys(b)
    assert ka[0] == kb[0]
    assert all(x != y for x, y in zip(ka[1:], kb[1:]))


def test_partial_chunk_root_and_input_types():
    tokens = np.arange(300, dtype=np.int64)
    assert len(gearkv.chunk_keys(tokens, include_partial=True)) == 2
    assert gearkv.chunk_keys(tokens[None, :]) == gearkv.chunk_keys(tokens.tolist())
    assert gearkv.chunk_keys(tokens, root=b"model-a") != gearkv.chunk_keys(tokens)
    assert gearkv.chunk_keys(tokens, chunk_tokens=100)[0] == gearkv.chunk_key(b"", tokens[:100])
    assert gearkv.chunk_ranges(600) == [(0, 256), (256, 512)]
    assert gearkv.chunk_ranges(600, include_partial=True)[-1] == (512, 600)
    assert gearkv.chunk_keys([]) == []


def test_bad_token_ids_are_rejected():
    with pytest.raises(ValueError):
        gearkv.chunk_keys([-1] * 256)
    with pytest.raises(TypeError):
        gearkv.chunk_keys(np.zeros(256, dtype=np.float32))
    with pytest.raises(ValueError):
        gearkv.chunk_keys(np.zeros((2, 256), dtype=np.int64))


def test_torch_token_ids_when_torch_is_installed():
    torch = pytest.importorskip("torch")
    ids = torch.arange(512).unsqueeze(0)
    assert gearkv.chunk_keys(ids) == gearkv.chunk_keys(list(range(512)))
