"""Hugging Face cache helpers, on small fake caches that mimic the DynamicCache API (numpy),
and on a real transformers.DynamicCache when torch + transformers are installed."""
import numpy as np
import pytest

from gearkv import hf

LAYERS, HEADS, TOKENS, DIM = 3, 2, 10, 8


class FakeLayer:
    def __init__(self, keys, values):
        self.keys, self.values = keys, values


class FakeDynamicCache:
    """transformers >= 4.56 shape: .layers[i].keys/.values; update() appends along tokens."""

    def __init__(self):
        self.layers = []

    def update(self, k, v, layer_idx):
        if layer_idx == len(self.layers):
            self.layers.append(FakeLayer(k.copy(), v.copy()))
        else:
            layer = self.layers[layer_idx]
            layer.keys = np.concatenate([layer.keys, k], axis=2)
            layer.values = np.concatenate([layer.values, v], axis=2)
        return self.layers[layer_idx].keys, self.layers[layer_idx].values


class FakeOldDynamicCache:
    """transformers < 4.56 shape: .key_cache / .value_cache lists."""

    def __init__(self, kvs):
        self.key_cache = [k for k, _ in kvs]
        self.value_cache = [v for _, v in kvs]


def make_kvs(seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((1, HEADS, TOKENS, DIM)).astype(dtype),
             rng.standard_normal((1, HEADS, TOKENS, DIM)).astype(dtype)) for _ in range(LAYERS)]


def fake_cache(kvs):
    c = FakeDynamicCache()
    for i, (k, v) in enumerate(kvs):
        c.update(k, v, i)
    return c


@pytest.mark.parametrize("wrap", [fake_cache, FakeOldDynamicCache, tuple])
def test_cache_to_block_is_the_canonical_layout(wrap):
    kvs = make_kvs()
    block = hf.cache_to_block(wrap(kvs), 3, 7)
    assert block.shape == (LAYERS, 2, HEADS, 4, DIM)
    for i, (k, v) in enumerate(kvs):
        np.testing.assert_array_equal(block[i, 0], k[0, :, 3:7])
        np.testing.assert_array_equal(block[i, 1], v[0, :, 3:7])
    assert hf.cache_to_block(wrap(kvs)).shape[3] == TOKENS


def test_block_round_trips_through_a_new_cache_chunk_by_chunk():
    kvs = make_kvs(1, np.float16)
    source = fake_cache(kvs)
    rebuilt = FakeDynamicCache()
    for a, b in [(0, 4), (4, 8), (8, 10)]:
        hf.block_to_cache(hf.cache_to_block(source, a, b), rebuilt)
    for (k, v), layer in zip(kvs, rebuilt.layers):
        np.testing.assert_array_equal(layer.keys, k)
        np.testing.assert_array_equal(layer.values, v)
        assert layer.keys.dtype == np.float16


def test_write_block_into_cache_replaces_only_that_range():
    kvs = make_kvs(2)
    cache = fake_cache([(k.copy(), v.copy()) for k, v in kvs])
    patch = np.full((LAYERS, 2, HEADS, 3, DIM), 7.0, dtype=np.float16)
    hf.write_block_into_cache(cache, patch, 5)
    for (k, v), layer in zip(kvs, cache.layers):
        assert (layer.keys[0, :, 5:8] == 7).all() and (layer.values[0, :, 5:8] == 7).all()
        np.testing.assert_array_equal(layer.keys[0, :, :5], k[0, :, :5])
        np.testing.assert_array_equal(layer.values[0, :, 8:], v[0, :, 8:])
        assert layer.keys.dtype == np.float32


def test_bad_ranges_and_shapes_are_rejected():
    cache = fake_cache(make_kvs())
    with pytest.raises(ValueError):
        hf.cache_to_block(cache, 5, 5)
    with pytest.raises(ValueError):
        hf.cache_to_block(cache, 0, TOKENS + 1)
    with pytest.raises(ValueError):
        hf.write_block_into_cache(cache, np.zeros((LAYERS, 2, HEADS, 4, DIM)), TOKENS - 2)
    with pytest.raises(ValueError):
        hf.write_block_into_cache(cache, np.zeros((LAYERS + 1, 2, HEADS, 4, DIM)), 0)
    batch2 = fake_cache([(np.zeros((2, HEADS, 4, DIM)),) * 2])
    with pytest.raises(ValueError):
        hf.cache_to_block(batch2)
    with pytest.raises(TypeError):
        hf.cache_to_block(object())


def test_real_dynamic_cache_when_transformers_is_installed():
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    cache = transformers.DynamicCache()
    g = torch.Generator().manual_seed(3)
    kvs = [(torch.randn(1, HEADS, TOKENS, DIM, generator=g, dtype=torch.float32),
            torch.randn(1, HEADS, TOKENS, DIM, generator=g, dtype=torch.float32))
           for _ in range(LAYERS)]
    for i, (k, v) in enumerate(kvs):
        cache.update(k, v, i)
    block = hf.cache_to_block(cache, 2, 6)
    assert isinstance(block, torch.Tensor) and tuple(block.shape) == (LAYERS, 2, HEADS, 4, DIM)
    rebuilt = hf.block_to_cache(block.numpy().astype(np.float16))
    assert rebuilt.get_seq_length() == 4
    k_back = hf.cache_layers(rebuilt)[1][0]
    assert k_back.dtype == torch.float16
    torch.testing.assert_close(k_back.float(), kvs[1][0][:, :, 2:6].half().float())
    hf.write_block_into_cache(cache, torch.zeros(LAYERS, 2, HEADS, 4, DIM), 2)
    assert float(hf.cache_layers(cache)[0][1][0, :, 2:6].abs().sum()) == 0.0
