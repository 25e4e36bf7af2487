"""The batched calls (get_many_into, put_many) and engine layouts through the native module,
against a real gearkv-server."""
import numpy as np
import pytest

import gearkv
from test_client import MAX_REL_ERROR, kv_block, rel_error

LAYOUTS = ["canonical", "kv_2ltd", "layer_first", "page_first"]


def to_layout(x, layout):
    """A canonical [L, 2, H, T, D] array in `layout`'s dims (a copy)."""
    if layout in ("kv_2ltd", "layer_first"):
        return np.ascontiguousarray(x.transpose(1, 0, 3, 2, 4))  # [2, L, T, H, D]
    if layout == "page_first":
        return np.ascontiguousarray(x.transpose(1, 3, 0, 2, 4))  # [2, T, L, H, D]
    return np.ascontiguousarray(x)


def test_put_many_then_get_many_into_with_a_miss_in_the_middle(client):
    xs = {k: kv_block(dtype=np.float16, seed=s) for s, k in enumerate("abd")}
    results = client.put_many(list(xs), list(xs.values()), preset="none")
    assert all(isinstance(r, gearkv.PutResult) for r in results), results
    keys = ["a", "b", "missing", "d"]
    outs = [np.full_like(xs["a"], 7) for _ in keys]
    got = client.get_many_into(keys, outs)
    assert isinstance(got[2], gearkv.NotFoundError), got[2]
    assert got[2].code == gearkv.StatusCode.NOT_FOUND
    np.testing.assert_array_equal(outs[2], 7)  # a miss leaves its buffer alone
    for i, key in enumerate(keys):
        if key != "missing":
            assert isinstance(got[i], gearkv.BlockInfo), got[i]
            np.testing.assert_array_equal(outs[i], xs[key])


def test_put_many_reports_a_refused_block_and_stores_the_others(client):
    good = kv_block(dtype=np.float16, seed=1)
    bad = np.zeros((1, 2, 1, 16, 12), np.float16)  # head_dim 12: not a multiple of 8
    results = client.put_many(["ok", "bad"], [good, bad], preset="gear4")
    assert isinstance(results[0], gearkv.PutResult), results[0]
    assert isinstance(results[1], gearkv.InvalidArgumentError), results[1]
    assert "head_dim" in str(results[1])
    out = np.empty_like(good)
    got = client.get_many_into(["ok", "bad"], [out, np.empty_like(good)])
    assert isinstance(got[0], gearkv.BlockInfo)
    assert isinstance(got[1], gearkv.NotFoundError)
    assert rel_error(out, good) < MAX_REL_ERROR["gear4"]


@pytest.mark.parametrize("put_layout", LAYOUTS)
@pytest.mark.parametrize("get_layout", LAYOUTS)
@pytest.mark.parametrize("preset", ["none", "gear4"])
def test_a_block_put_in_one_layout_is_got_in_any_other(client, put_layout, get_layout, preset):
    x = kv_block(dtype=np.float16, seed=5)
    client.put("canon", x, preset=preset)
    client.put("laid", to_layout(x, put_layout), preset=preset, layout=put_layout)
    assert client.get_compressed("laid").data == client.get_compressed("canon").data
    want = to_layout(client.get("canon"), get_layout)
    out = np.empty_like(want)
    client.get_into("laid", out, layout=get_layout)
    np.testing.assert_array_equal(out, want)
    np.testing.assert_array_equal(client.get("laid", layout=get_layout), want)
    if get_layout != "canonical":
        raw = np.empty_like(want)
        client.get_into("laid", raw, layout=get_layout, encoding="raw")
        np.testing.assert_array_equal(raw, want)
    outs = [np.empty_like(want), np.empty_like(want)]
    got = client.get_many_into(["laid", "canon"], outs, layout=get_layout)
    assert all(isinstance(g, gearkv.BlockInfo) for g in got), got
    np.testing.assert_array_equal(outs[0], want)
    np.testing.assert_array_equal(outs[1], want)
    if preset == "none":
        np.testing.assert_array_equal(out, to_layout(x, get_layout))
