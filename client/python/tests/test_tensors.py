"""numpy/torch <-> native buffer conversions (no server needed)."""
import numpy as np
import pytest

import gearkv
from gearkv import tensors


def test_float_dtypes_pass_without_a_copy_when_contiguous():
    for dt in (np.float16, np.float32):
        a = np.arange(2 * 2 * 3 * 4 * 8, dtype=dt).reshape(2, 2, 3, 4, 8)
        buf, bf16 = tensors.to_native(a)
        assert buf is a and not bf16
        rev = a[:, :, :, ::-1]  # non-contiguous input: a contiguous copy
        buf, _ = tensors.to_native(rev)
        assert buf.flags.c_contiguous
        np.testing.assert_array_equal(buf, rev)


def test_big_endian_input_is_swapped():
    a = np.arange(16, dtype=">f4").reshape(1, 2, 1, 1, 8)
    buf, _ = tensors.to_native(a)
    assert buf.dtype.byteorder in ("<", "=")
    np.testing.assert_array_equal(buf, a)


def test_bfloat16_bits_conversions():
    x = np.array([0.0, 1.0, -2.5, 3.140625, 65536.0], dtype=np.float32)
    bits = gearkv.float32_to_bf16_bits(x)
    np.testing.assert_array_equal(gearkv.bf16_bits_to_float32(bits), x)
    buf, bf16 = tensors.to_native(bits, dtype="bfloat16")
    assert bf16 and buf.dtype == np.uint16


def test_unsupported_dtypes_are_rejected():
    with pytest.raises(TypeError):
        tensors.to_native(np.zeros(4, dtype=np.float64))
    with pytest.raises(TypeError):
        tensors.to_native(np.zeros(4, dtype=np.float32), dtype="float16")


def test_out_buffers_are_checked():
    with pytest.raises(ValueError, match="C-contiguous"):
        tensors.out_buffer(np.zeros((1, 2, 1, 8, 8), np.float16)[..., ::2])
    ro = np.zeros((1, 2, 1, 8, 8), np.float16)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="writable"):
        tensors.out_buffer(ro)
    with pytest.raises(TypeError):
        tensors.out_buffer(np.zeros((1, 2, 1, 8, 8), np.float64))
    buf, bf16 = tensors.out_buffer(np.zeros((1, 2, 1, 8, 8), np.uint16))
    assert bf16


def test_torch_dtypes_pass_when_torch_is_installed():
    torch = pytest.importorskip("torch")
    for dt in (torch.float16, torch.bfloat16, torch.float32):
        t = torch.randn(1, 2, 1, 3, 8).to(dt)
        buf, bf16 = tensors.to_native(t)
        assert buf.data_ptr() == t.data_ptr() and bf16 == (dt == torch.bfloat16)


def test_make_spec_overrides_and_rejects_unknown_fields():
    s = gearkv.make_spec("gear2", {"rank": 8}, outlier_ratio=0.01)
    assert s == {"preset": "gear2", "rank": 8, "outlier_ratio": 0.01}
    with pytest.raises(ValueError):
        gearkv.make_spec("gear4", {"rnak": 8})
