"""Writes the test tensors of GEAR's reference code (issue: quality against GEAR's own
implementation): K with channels 3, 17, 64, 100 scaled by 20, V plain Gaussian; shape
(1 layer... batch 1, 8 heads, 1024 tokens, head_dim 128), float32.

    python3 kernels/testdata/make_gear_reference.py   # needs numpy
"""
import os

import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
k = np.random.RandomState(0).standard_normal((1, 8, 1024, 128)).astype(np.float32)
k[:, :, :, [3, 17, 64, 100]] *= 20
v = np.random.RandomState(1).standard_normal((1, 8, 1024, 128)).astype(np.float32)
np.save(os.path.join(here, "gear_reference_k.npy"), k)
np.save(os.path.join(here, "gear_reference_v.npy"), v)
