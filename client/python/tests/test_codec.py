"""gearkv.codec without a server, bit-identical to the C++ codec: the block-format v1 fixtures
(kernels/testdata/v1) decode to the bytes the C++ test pins, and blocks compressed here equal
the ones a gearkv-server (the same codec, CPU backend) stores for the same tensor and spec."""
import glob
import os

import numpy as np
import pytest

import gearkv
from conftest import REPO
from gearkv import codec
from test_client import kv_block

V1 = os.path.join(REPO, "kernels", "testdata", "v1")
REAL = sorted(glob.glob(os.path.join(REPO, "kernels", "testdata", "real", "*.npy")))
# XXH3-64 of the decodes into float32, float16, bfloat16: BlockFormat.DecodesVersionOneFixtures
# in kernels/src/block_format_test.cc.
V1_FIXTURES = {
    "gear4_f16.gkvb": ((1, 2, 2, 72, 24), "float16",
                       (0x0d7bfdb2df5491d8, 0x03889aa37f8e3450, 0x1eca75261d23f73c)),
    "b3_g32_r3_f32.gkvb": ((1, 2, 1, 20, 40), "float32",
                           (0x4512f4d4479ab7d7, 0x156450ad38e28c91, 0xdcb36b33c73e5d3c)),
}


def read(path):
    with open(path, "rb") as f:
        return f.read()


@pytest.mark.parametrize("name", sorted(V1_FIXTURES))
def test_v1_fixtures_decode_to_the_cpp_codecs_bytes(name):
    xxhash = pytest.importorskip("xxhash")
    shape, dtype, hashes = V1_FIXTURES[name]
    block = read(os.path.join(V1, name))
    h = codec.inspect(block)
    assert (h.format_version, h.shape, h.dtype, h.block_bytes) == (1, shape, dtype, len(block))
    for out_dtype, expected in zip(("float32", "float16", "bfloat16"), hashes):
        y = codec.decompress(block, dtype=out_dtype)
        assert y.shape == shape
        assert xxhash.xxh3_64_intdigest(np.ascontiguousarray(y).tobytes()) == expected, out_dtype
        # decompress_into a caller's array gives the same bytes
        out = np.empty(shape, {"float32": np.float32, "float16": np.float16,
                               "bfloat16": np.uint16}[out_dtype])
        codec.decompress_into(block, out)
        assert xxhash.xxh3_64_intdigest(out.tobytes()) == expected, out_dtype


@pytest.mark.parametrize("preset", ["gear4", "kivi2", "gear2", "none"])
def test_blocks_are_the_servers_bytes(client, preset):
    if not REAL:
        pytest.skip("no real KV fixtures in kernels/testdata/real")
    for path in REAL[:3]:
        x = np.load(path)
        r = client.put(os.path.basename(path), x, preset=preset)
        if r.backend != "cpu":
            pytest.skip(f"the server compresses on {r.backend}: the CPU codec's bytes differ "
                        "in the low-rank factors' last bits")
        stored = client.get_compressed(os.path.basename(path)).data
        block, stats = codec.compress(x, preset=preset)
        assert block == stored, path
        assert stats.stored_bytes == len(block) == r.stats.stored_bytes
        # and the decode here is the server's RAW decode, bit for bit
        np.testing.assert_array_equal(codec.decompress(block),
                                      client.get(os.path.basename(path), encoding="raw"))


def test_compress_options_and_errors():
    x = kv_block(seed=30)
    block, stats = codec.compress(x, preset="gear4", rank=8, measure_error=True)
    h = codec.inspect(block)
    assert h.codec["rank"] == 8 and h.codec["bits"] == 4 and h.shape == x.shape
    assert 0 < stats.relative_error < 0.2 and stats.ratio == pytest.approx(x.nbytes / len(block))
    np.testing.assert_array_equal(codec.decompress(block, layout="canonical"),
                                  codec.decompress(bytearray(block)))
    bad = bytearray(block)
    bad[len(bad) // 2] ^= 0xFF
    with pytest.raises(gearkv.DataLossError):
        codec.inspect(bytes(bad))
    with pytest.raises(gearkv.DataLossError):
        codec.decompress(bytes(bad))
    assert codec.inspect(bytes(bad), verify_checksum=False).shape == x.shape
    with pytest.raises(gearkv.InvalidArgumentError):
        codec.inspect(b"not a block")
    with pytest.raises(gearkv.InvalidArgumentError, match="unknown preset"):
        codec.compress(x, preset="gear5")
    with pytest.raises(gearkv.InvalidArgumentError, match="shape"):
        codec.decompress_into(block, np.empty((1, 2, 2, 128, 64), np.float16))


def test_compress_takes_torch_and_layouts():
    torch = pytest.importorskip("torch")
    x = kv_block(layers=2, heads=2, tokens=16, dim=8, seed=31)
    a, _ = codec.compress(x, preset="none")
    b, _ = codec.compress(torch.from_numpy(x), preset="none")
    assert a == b
    y = codec.decompress(a, as_torch=True)
    assert torch.equal(y, torch.from_numpy(x))
    # The layout's dims are read as such: [2][layers][tokens][heads][dim] holds shape (2,2,16,8).
    c, _ = codec.compress(np.zeros((2, 2, 16, 2, 8), np.float16), preset="none", layout="kv_2ltd")
    assert codec.inspect(c).shape == (2, 2, 2, 16, 8)
    with pytest.raises(ValueError, match="unknown layout"):
        codec.compress(x, layout="nope")
