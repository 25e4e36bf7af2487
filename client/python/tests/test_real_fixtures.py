"""Real KV blocks (kernels/testdata/real/, dumped by bench/quality) through the live server.

Bounds are about 1.3x what the codec gave when the fixtures were made (bench/quality/
results.md), so they catch a layout or quality regression on real data, not noise.
"""
import glob
import os

import numpy as np
import pytest

from conftest import REPO

FIXTURES = sorted(glob.glob(os.path.join(REPO, "kernels", "testdata", "real", "*.npy")))
# preset -> (max relative error of K, of V), per fixture file
BOUNDS = {"kivi4": (0.08, 0.19), "gear4": (0.06, 0.10), "gear2": (0.30, 0.48)}


def rel(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@pytest.fixture(scope="module")
def fixtures():
    if not FIXTURES:
        pytest.skip("no real KV fixtures in kernels/testdata/real (run bench/quality/run.sh)")
    return {os.path.basename(p): np.load(p) for p in FIXTURES}


@pytest.mark.parametrize("preset", sorted(BOUNDS))
def test_real_kv_within_bounds(client, fixtures, preset):
    max_k, max_v = BOUNDS[preset]
    for name, x in fixtures.items():
        assert x.ndim == 5 and x.shape[1] == 2 and x.dtype == np.float16, name
        r = client.put(name, x, preset=preset, measure_error=True)
        y = client.get(name)
        ek, ev = rel(y[:, 0], x[:, 0]), rel(y[:, 1], x[:, 1])
        assert ek < max_k and ev < max_v, f"{preset} on {name}: K {ek:.4f} V {ev:.4f}"
        assert r.stats.relative_error == pytest.approx(rel(y, x), rel=0.02, abs=1e-4), name


def test_gear2_beats_kivi2_on_real_kv(client, fixtures):
    for name, x in fixtures.items():
        errs = {}
        for preset in ("kivi2", "gear2"):
            client.put(f"{preset}/{name}", x, preset=preset)
            errs[preset] = rel(client.get(f"{preset}/{name}"), x)
        assert errs["gear2"] < errs["kivi2"], f"{name}: {errs}"
