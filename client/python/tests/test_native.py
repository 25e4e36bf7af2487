"""The native data path against a real gearkv-server: round trips of every preset and dtype
through numpy and torch, get_into, the layout argument, error mapping, GIL release."""
import threading
import time
import tracemalloc

import numpy as np
import pytest

import gearkv
from conftest import ServerProcess, server_binary
from test_client import MAX_REL_ERROR, kv_block, rel_error

DTYPES = ["float16", "bfloat16", "float32"]


def np_block(dtype, seed=0, **kw):
    """(array to put, float32 reference of its values) in `dtype` (bfloat16 as uint16 bits)."""
    x = kv_block(dtype=np.float32, seed=seed, **kw)
    if dtype == "bfloat16":
        bits = gearkv.float32_to_bf16_bits(x)
        return bits, gearkv.bf16_bits_to_float32(bits)
    a = x.astype(dtype)
    return a, a.astype(np.float32)


def as_f32(a):
    a = np.asarray(a)
    if a.dtype == np.uint16 or str(a.dtype) == "bfloat16":
        return gearkv.bf16_bits_to_float32(a.view(np.uint16))
    return a.astype(np.float32)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("preset", gearkv.PRESETS)
def test_numpy_round_trip_every_preset_and_dtype(client, preset, dtype):
    x, ref = np_block(dtype, seed=hash((preset, dtype)) % 1000)
    r = client.put("k", x, preset=preset, dtype="bfloat16" if dtype == "bfloat16" else None)
    assert r.codec["preset"] == preset
    y, info = client.get_with_info("k")
    assert info.dtype == dtype and info.encoding == "compressed" and y.shape == x.shape
    assert info.payload_bytes == r.stats.stored_bytes  # the block came over the wire, not RAW
    out = np.full_like(x, 0x7E if dtype == "bfloat16" else 7)  # sentinel in every element
    client.get_into("k", out)
    np.testing.assert_array_equal(out.view(np.uint16) if dtype == "bfloat16" else out,
                                  np.asarray(y).view(np.uint16) if dtype == "bfloat16" else y)
    raw = client.get("k", encoding="raw")  # the server's decode: the same codec, same values
    np.testing.assert_array_equal(as_f32(raw), as_f32(y))
    if preset == "none":
        np.testing.assert_array_equal(as_f32(y), ref)
    else:
        assert rel_error(as_f32(y), ref) < MAX_REL_ERROR[preset]


@pytest.mark.parametrize("preset", gearkv.PRESETS)
def test_torch_round_trip_every_preset_and_dtype(client, preset):
    torch = pytest.importorskip("torch")
    for dt in (torch.float16, torch.bfloat16, torch.float32):
        t = torch.from_numpy(kv_block(seed=21, dtype=np.float32)).to(dt)
        client.put(f"t-{dt}", t, preset=preset)
        back = client.get(f"t-{dt}", as_torch=True)
        assert back.dtype == dt and back.shape == t.shape
        out = torch.empty_like(t)
        client.get_into(f"t-{dt}", out)
        assert torch.equal(out, back)
        if preset == "none":
            assert torch.equal(back, t)
        else:
            assert rel_error(back.float().numpy(), t.float().numpy()) < MAX_REL_ERROR[preset]


def test_get_into_writes_in_place_and_converts_dtype(client):
    x = kv_block(seed=22)
    client.put("c", x, preset="gear4")
    y = client.get("c")
    out = np.empty(x.shape, np.float32)
    address = out.ctypes.data
    info = client.get_into("c", out)
    assert out.ctypes.data == address and info.dtype == "float16"
    # Decoded in float32 directly: the float16 decode is the same values rounded.
    np.testing.assert_array_equal(out.astype(np.float16), y)


def test_get_into_allocates_no_tensor(client):
    x = kv_block(layers=4, heads=4, tokens=256, dim=128, seed=23)  # 2 MiB
    client.put("big", x, preset="gear4")
    out = np.empty_like(x)
    client.get_into("big", out)  # warm-up
    tracemalloc.start()
    try:
        for _ in range(5):
            client.get_into("big", out)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 << 10, peak  # a get() would allocate the 2 MiB array


@pytest.mark.parametrize("encoding", ["compressed", "raw"])
def test_get_into_shape_mismatch_is_refused_before_writing(client, encoding):
    x = kv_block(seed=24)  # (2, 2, 2, 128, 64)
    client.put("m", x, preset="gear4")
    for shape in [(2, 2, 2, 64, 64), (1, 2, 2, 128, 64), (2, 2, 4, 128, 32)]:
        out = np.full(shape, 3.0, np.float16)
        with pytest.raises(gearkv.InvalidArgumentError) as e:
            client.get_into("m", out, encoding=encoding)
        assert "shape" in e.value.details, e.value.details
        assert np.all(out == 3.0), "out was written before the mismatch was found"
    # A layer range changes the shape that out must have.
    out = np.full((1, 2, 2, 128, 64), 3.0, np.float16)
    client.get_into("m", out, layers=(1, 2), encoding=encoding)
    np.testing.assert_array_equal(out, client.get("m", layers=(1, 2)))


def test_get_into_raw_dtype_mismatch_is_refused_before_writing(client):
    client.put("d", kv_block(seed=25), preset="none")
    out = np.full((2, 2, 2, 128, 64), 3.0, np.float32)
    with pytest.raises(gearkv.InvalidArgumentError) as e:
        client.get_into("d", out, encoding="raw")
    assert "float16" in e.value.details and "float32" in e.value.details, e.value.details
    assert np.all(out == 3.0)


@pytest.mark.parametrize("bad", ["4-D", "K|V axis not 2", "non-contiguous", "read-only",
                                 "float64", "list"])
def test_get_into_bad_out_is_refused_before_any_call(client, bad):
    out = {"4-D": np.zeros((2, 2, 128, 64), np.float16),
           "K|V axis not 2": np.zeros((2, 3, 2, 128, 64), np.float16),
           "non-contiguous": np.zeros((2, 2, 2, 128, 128), np.float16)[..., ::2],
           "read-only": np.zeros((2, 2, 2, 128, 64), np.float16),
           "float64": np.zeros((2, 2, 2, 128, 64), np.float64),
           "list": [[0.0]]}[bad]
    if bad == "read-only":
        out.flags.writeable = False
    # "missing" does not exist: any call reaching the server would be NotFoundError.
    with pytest.raises((ValueError, TypeError)) as e:
        client.get_into("missing", out)
    assert not isinstance(e.value, gearkv.NotFoundError)


def test_layout_is_validated_and_passed(client):
    L, H, T, D = 3, 2, 16, 8
    x = kv_block(layers=L, heads=H, tokens=T, dim=D, seed=26)
    with pytest.raises(ValueError, match="known: canonical"):
        client.put("l", x, layout="bogus")
    with pytest.raises(ValueError, match="unknown layout"):
        client.get("l", layout="row_major")
    with pytest.raises(ValueError, match="unknown layout"):
        client.get_into("l", x.copy(), layout="")
    # The dims are read in the layout named: [2][layers][tokens][heads][dim] for kv_2ltd,
    # [2][tokens][layers][heads][dim] for page_first; the stored shape says they arrived.
    for layout, dims in [("kv_2ltd", (2, L, T, H, D)), ("layer_first", (2, L, T, H, D)),
                         ("page_first", (2, T, L, H, D))]:
        client.put(layout, np.zeros(dims, np.float16), preset="none", layout=layout)
        info = client.get_with_info(layout)[1]
        assert info.shape == (L, 2, H, T, D), (layout, info.shape)
        y = client.get(layout, layout=layout)
        assert y.shape == dims
        out = np.empty(dims, np.float16)
        client.get_into(layout, out, layout=layout)
    # A canonical array is not a kv_2ltd one: its first axis is not K|V.
    with pytest.raises(gearkv.InvalidArgumentError, match="kv_2ltd"):
        client.put("l", x, layout="kv_2ltd")
    with pytest.raises(gearkv.InvalidArgumentError, match="canonical"):
        client.get_into("canonical-miss", np.zeros((2, L, T, H, D), np.float16))


def test_server_errors_map_to_exception_types_with_the_servers_message(client):
    with pytest.raises(gearkv.NotFoundError) as e:
        client.get("absent")
    assert e.value.code == gearkv.StatusCode.NOT_FOUND and e.value.method == "Get"
    assert e.value.details and "absent" in str(e.value) or e.value.details
    with pytest.raises(gearkv.InvalidArgumentError) as e:
        client.put("k", kv_block(), preset="gear4", bits=5)
    assert e.value.code == gearkv.StatusCode.INVALID_ARGUMENT and "bits" in e.value.details
    with pytest.raises(gearkv.InvalidArgumentError) as e:
        client.lookup(["x" * 100000])
    assert "key" in e.value.details


@pytest.fixture(scope="module")
def strict_server():
    proc = ServerProcess(server_binary(), ["--auth_token=s3cret", "--max_block_bytes=65536"])
    proc.wait_ready()
    yield proc
    proc.stop()


def test_unauthenticated_and_resource_exhausted(strict_server):
    with gearkv.Client(strict_server.address, namespace="t", timeout=20) as c:
        with pytest.raises(gearkv.UnauthenticatedError) as e:
            c.lookup(["k"])
        assert e.value.code == gearkv.StatusCode.UNAUTHENTICATED and e.value.details
    with gearkv.Client(strict_server.address, namespace="t", token="s3cret", timeout=20) as c:
        assert c.lookup(["k"]).exists == [False]
        with pytest.raises(gearkv.ResourceExhaustedError) as e:
            c.put("big", kv_block(layers=4), preset="none")  # 128 KiB > 64 KiB
        assert "65536" in e.value.details, e.value.details


@pytest.mark.parametrize("call", ["get", "get_into", "put"])
def test_the_gil_is_released_while_a_large_call_runs(client, call):
    x = kv_block(layers=32, heads=8, tokens=256, dim=128, seed=27)  # 32 MiB fp16
    client.put("huge", x, preset="gear4")
    out = np.empty_like(x)
    counter = {"n": 0}
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            counter["n"] += 1

    t = threading.Thread(target=spin)
    t.start()
    try:
        before = counter["n"]
        time.sleep(0.2)  # the spinner alone: its rate
        rate = (counter["n"] - before) / 0.2
        ticks = []
        for _ in range(3):
            before = counter["n"]
            start = time.monotonic()
            if call == "get":
                client.get("huge")
            elif call == "get_into":
                client.get_into("huge", out)
            else:
                client.put("huge2", x, preset="gear4")
            ticks.append((counter["n"] - before, time.monotonic() - start))
    finally:
        stop.set()
        t.join()
    # The spinner runs through each call at a good part of its own rate. Were the GIL held, it
    # would run only in the switch intervals (5 ms) around the native call: under 10% of it.
    share = sum(n for n, _ in ticks) / (rate * sum(took for _, took in ticks))
    assert sum(took for _, took in ticks) > 0.06, ticks
    assert share > 0.3, (rate, ticks, share)


def test_cuda_out_is_decoded_on_the_gpu_or_refused(client):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no usable GPU: a CUDA tensor cannot be made here")
    x = torch.from_numpy(kv_block(seed=28))
    client.put("g", x, preset="gear4")
    out = torch.empty_like(x, device="cuda")
    if not gearkv._native.HAS_CUDA_BUILD:
        with pytest.raises(gearkv.GearKVError, match="CUDA backend"):
            client.get_into("g", out)
        return
    client.get_into("g", out)
    cpu = client.get("g", as_torch=True)
    assert rel_error(out.cpu().float().numpy(), cpu.float().numpy()) < 1e-2
