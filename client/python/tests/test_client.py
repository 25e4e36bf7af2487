"""The Python client against a real gearkv-server process (see conftest.py)."""
import time

import numpy as np
import pytest

import gearkv

LOSSY = ["kivi4", "kivi2", "gear4", "gear2", "gearl4", "gearl2"]
# Loose bounds on ||X - X^|| / ||X|| for Gaussian-ish data with outliers (kivi4 is about 0.10,
# kivi2 about 0.5 on it). They catch a wrong layout or byte order (an error near 1 or more),
# not codec regressions: the codec's own tests do that.
MAX_REL_ERROR = {"kivi4": 0.2, "gear4": 0.2, "gearl4": 0.2, "kivi2": 0.8, "gear2": 0.8,
                 "gearl2": 0.8}


def kv_block(layers=2, heads=2, tokens=128, dim=64, dtype=np.float16, seed=0):
    """A KV-like block: per-channel scales on K (as real keys have), a few outliers."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((layers, 2, heads, tokens, dim)).astype(np.float32)
    x[:, 0] *= rng.uniform(0.2, 4.0, size=(1, heads, 1, dim)).astype(np.float32)
    idx = rng.integers(0, x.size, size=max(1, x.size // 500))
    x.reshape(-1)[idx] *= 8
    return x.astype(dtype)


def rel_error(approx, exact):
    a, e = np.asarray(approx, np.float64), np.asarray(exact, np.float64)
    return float(np.linalg.norm(a - e) / np.linalg.norm(e))


def test_health_is_serving(client):
    assert client.health() == "SERVING"
    assert client.health(gearkv.SERVICE_NAME) == "SERVING"


def test_presets_are_the_servers(client):
    # The server's message for an unknown preset lists the codec's presets (PresetNames()).
    with pytest.raises(gearkv.InvalidArgumentError) as e:
        client.put(b"k", kv_block(), preset="no-such-preset")
    known = e.value.details.split("known presets: ", 1)[1]
    assert tuple(known.split(", ")) == gearkv.PRESETS


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_none_preset_round_trips_exactly(client, dtype):
    x = kv_block(dtype=dtype)
    r = client.put(b"k", x, preset="none")
    assert r.stats.raw_bytes == x.nbytes and r.codec["preset"] == "none"
    y = client.get(b"k")
    assert y.dtype == x.dtype and y.shape == x.shape
    np.testing.assert_array_equal(y, x)


def test_bfloat16_bits_round_trip_exactly(client):
    bits = gearkv.float32_to_bf16_bits(kv_block(dtype=np.float32))
    client.put("bf16", bits, preset="none", dtype="bfloat16")
    y, info = client.get_with_info("bf16")
    assert info.dtype == "bfloat16"
    np.testing.assert_array_equal(np.asarray(y).view(np.uint16), bits)


@pytest.mark.parametrize("preset", LOSSY)
def test_lossy_presets_round_trip_within_bounds(client, preset):
    x = kv_block(seed=1)
    r = client.put(preset, x, preset=preset, measure_error=True)
    assert r.backend in ("cpu", "cuda")
    assert r.codec["preset"] == preset and r.codec["bits"] in (2, 4)
    assert 0 < r.stats.bits_per_element < 16
    assert r.stats.ratio == pytest.approx(r.stats.raw_bytes / r.stats.stored_bytes, rel=1e-6)
    assert r.stats.relative_error is not None
    y = client.get(preset)
    err = rel_error(y, x)
    assert err < MAX_REL_ERROR[preset]
    # The server measured the same thing we do (up to the accumulation order).
    assert r.stats.relative_error == pytest.approx(err, rel=0.05, abs=1e-4)


def test_spec_overrides_are_applied(client):
    x = kv_block(seed=2)
    r = client.put("override", x, preset="gear4", rank=8, group_size=32)
    assert r.codec["rank"] == 8 and r.codec["group_size"] == 32 and r.codec["bits"] == 4
    assert client.get_with_info("override")[1].codec["rank"] == 8


def test_multi_chunk_block_and_layer_range(client):
    # 4 layers x 2 x 4 heads x 256 tokens x 128 dim x fp16 = 2 MiB: streamed in 1 MiB chunks.
    x = kv_block(layers=4, heads=4, tokens=256, dim=128, seed=3)
    assert x.nbytes > 1 << 20
    client.put("big", x, preset="none")
    np.testing.assert_array_equal(client.get("big"), x)
    part, info = client.get_with_info("big", layers=(1, 3))
    assert info.shape == (2, 2, 4, 256, 128)
    np.testing.assert_array_equal(part, x[1:3])


def test_compressed_get_returns_the_stored_block_bytes(client):
    x = kv_block(seed=4)
    r = client.put("c", x, preset="gear2")
    blk = client.get_compressed("c")
    assert blk.info.encoding == "compressed"
    assert len(blk.data) == blk.info.payload_bytes == r.stats.stored_bytes
    assert len(blk.data) < x.nbytes


def test_put_is_idempotent_and_delete_removes(client):
    x = kv_block(seed=5)
    client.put("dup", x, preset="kivi4")
    client.put("dup", x, preset="kivi4")
    assert client.delete("dup") is True
    assert client.delete("dup") is False
    with pytest.raises(gearkv.NotFoundError):
        client.get("dup")


def test_lookup_reports_the_contiguous_prefix(client):
    tokens = np.arange(5 * 256) % 1000
    keys = gearkv.chunk_keys(tokens)
    block = kv_block(layers=1, tokens=16, seed=6)
    for i in (0, 1, 3):
        client.put(keys[i], block, preset="kivi2")
    r = client.lookup(keys)
    assert r.exists == [True, True, False, True, False]
    assert r.prefix_hits == 2
    assert client.lookup([]).prefix_hits == 0


def test_namespaces_are_isolated(client):
    client.put("shared-key", kv_block(seed=7), preset="none")
    assert client.lookup(["shared-key"]).prefix_hits == 1
    assert client.lookup(["shared-key"], namespace=client.namespace + "-other").prefix_hits == 0
    with pytest.raises(gearkv.NotFoundError):
        client.get("shared-key", namespace=client.namespace + "-other")


def test_ttl_expiry(client):
    client.put("ttl", kv_block(seed=8), preset="none", ttl_seconds=1)
    assert client.lookup(["ttl"]).exists == [True]
    time.sleep(2.2)
    with pytest.raises(gearkv.NotFoundError):
        client.get("ttl")


@pytest.mark.parametrize("case", ["unknown preset", "bad bits", "head_dim not a multiple of 8",
                                  "empty key", "bad layer range"])
def test_bad_input_is_invalid_argument(client, case):
    x = kv_block(seed=9)
    with pytest.raises(gearkv.InvalidArgumentError) as e:
        if case == "unknown preset":
            client.put("bad", x, preset="gear5")
        elif case == "bad bits":
            client.put("bad", x, preset="gear4", bits=5)
        elif case == "head_dim not a multiple of 8":
            client.put("bad", np.zeros((1, 2, 1, 8, 12), np.float16), preset="none")
        elif case == "empty key":
            client.put(b"", x, preset="none")
        else:
            client.put("ok", x, preset="none")
            client.get("ok", layers=(1, 5))
    assert e.value.details  # the server says what was wrong
    assert client.lookup(["bad"]).exists == [False]  # nothing partial is stored


def test_stats_reports_tiers(client):
    x = kv_block(seed=10)
    client.put("s", x, preset="gear4")
    s = client.stats()
    assert s["backend"] in ("cpu", "cuda")
    memory = [t for t in s["tiers"] if t["tier"] == "memory"]
    assert memory and memory[0]["blocks"] >= 1 and memory[0]["bytes"] > 0
    assert memory[0]["bytes"] <= memory[0]["capacity_bytes"]


def test_torch_tensors_in_and_out_when_torch_is_installed(client):
    torch = pytest.importorskip("torch")
    for dt in (torch.float16, torch.bfloat16, torch.float32):
        t = torch.from_numpy(kv_block(seed=11, dtype=np.float32)).to(dt)
        client.put(f"torch-{dt}", t, preset="none")
        back = client.get(f"torch-{dt}", as_torch=True)
        assert back.dtype == dt and torch.equal(back, t)


def test_dynamic_cache_chunk_round_trip(client):
    """A fake DynamicCache chunk -> block -> server (gear4) -> block -> written back."""
    from test_hf import FakeDynamicCache

    rng = np.random.default_rng(12)
    cache = FakeDynamicCache()
    for i in range(3):
        cache.update(rng.standard_normal((1, 2, 512, 64)).astype(np.float32),
                     rng.standard_normal((1, 2, 512, 64)).astype(np.float32), i)
    keys = gearkv.chunk_keys(rng.integers(0, 50000, size=512))
    for (a, b), key in zip(gearkv.chunk_ranges(512), keys):
        block = gearkv.hf.cache_to_block(cache, a, b).astype(np.float16)
        client.put(key, block, preset="gear4")
    assert client.lookup(keys).prefix_hits == 2
    original = gearkv.hf.cache_to_block(cache, 256, 512)
    gearkv.hf.write_block_into_cache(cache, client.get(keys[1]), 256)
    assert rel_error(gearkv.hf.cache_to_block(cache, 256, 512), original) < 0.1
