"""core/blas.py: NumPy's ``@`` through the Fortran BLAS, equal to ``@`` to float precision."""
from __future__ import annotations

import numpy as np
import pytest

from hsi_blind_fusion.core.blas import matmul

rng = np.random.default_rng(0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(3, 31, 500), (40, 40, 1), (1, 7, 9), (31, 300, 31)])
def test_equals_numpy_for_every_layout(dtype, shape):
    m, k, n = shape
    a, b = rng.random((m, k)).astype(dtype), rng.random((k, n)).astype(dtype)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    for x in (a, np.asfortranarray(a), np.repeat(a, 2, axis=1)[:, ::2]):          # C, Fortran, strided
        for y in (b, np.asfortranarray(b), np.repeat(b, 2, axis=0)[::2]):
            got = matmul(x, y)
            assert got.dtype == dtype and got.flags.c_contiguous
            np.testing.assert_allclose(got, x @ y, rtol=rtol)
    v, w = rng.random(k).astype(dtype), rng.random(m).astype(dtype)
    for got, want in ((matmul(a, v), a @ v), (matmul(w, a), w @ a), (matmul(a.T, w), a.T @ w), (matmul(v, v), v @ v)):
        np.testing.assert_allclose(got, want, rtol=rtol)


def test_other_cases_are_numpys():
    i = np.arange(6).reshape(2, 3)
    assert matmul(i, i.T).dtype == (i @ i.T).dtype
    assert matmul(np.ones((2, 3), np.float32), np.ones(3)).dtype == np.float64
    s = rng.random((4, 3, 5))
    np.testing.assert_array_equal(matmul(s, s.transpose(0, 2, 1)), s @ s.transpose(0, 2, 1))
