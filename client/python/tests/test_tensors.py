"""numpy/torch <-> wire bytes conversions (no server needed)."""
import numpy as np
import pytest

import gearkv
from gearkv import tensors
from gearkv.v1 import kv_cache_pb2 as pb


def test_float_dtypes_round_trip():
    for dt, wire in [(np.float16, pb.DTYPE_FLOAT16), (np.float32, pb.DTYPE_FLOAT32)]:
        a = np.arange(2 * 2 * 3 * 4 * 8, dtype=dt).reshape(2, 2, 3, 4, 8)
        arr, w = tensors.to_wire(a[:, :, :, ::-1])  # non-contiguous input
        assert w == wire and arr.flags.c_contiguous
        back = tensors.from_wire(arr.tobytes(), arr.shape, w)
        np.testing.assert_array_equal(back, a[:, :, :, ::-1])


def test_bfloat16_bits_conversions():
    x = np.array([0.0, 1.0, -2.5, 3.140625, 65536.0], dtype=np.float32)
    bits = gearkv.float32_to_bf16_bits(x)
    np.testing.assert_array_equal(gearkv.bf16_bits_to_float32(bits), x)
    arr, w = tensors.to_wire(bits, dtype="bfloat16")
    assert w == pb.DTYPE_BFLOAT16 and arr.dtype == np.uint16


def test_unsupported_dtypes_are_rejected():
    with pytest.raises(TypeError):
        tensors.to_wire(np.zeros(4, dtype=np.float64))
    with pytest.raises(TypeError):
        tensors.to_wire(np.zeros(4, dtype=np.float32), dtype="float16")


def test_torch_dtypes_round_trip_when_torch_is_installed():
    torch = pytest.importorskip("torch")
    for dt in (torch.float16, torch.bfloat16, torch.float32):
        t = torch.randn(1, 2, 1, 3, 8).to(dt)
        arr, w = tensors.to_wire(t)
        back = tensors.from_wire(arr.tobytes(), tuple(t.shape), w, as_torch=True)
        assert back.dtype == dt
        assert torch.equal(back, t)


def test_make_spec_overrides_and_rejects_unknown_fields():
    s = gearkv.make_spec("gear2", {"rank": 8}, outlier_ratio=0.01)
    assert s.preset == "gear2" and s.rank == 8 and abs(s.outlier_ratio - 0.01) < 1e-9
    assert not s.HasField("bits")
    with pytest.raises(ValueError):
        gearkv.make_spec("gear4", {"rnak": 8})
