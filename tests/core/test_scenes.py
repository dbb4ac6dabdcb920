"""The test scenes themselves (helpers/scenes.py): reproducible, in range, readable."""
import numpy as np

from helpers.scenes import cave_crop, motion_kernel, needs_data, nikon_srf, synthetic_cube, synthetic_srf


def test_synthetic_cube_is_reproducible_and_in_range():
    a, b = synthetic_cube(seed=3), synthetic_cube(seed=3)
    assert a.shape == (31, 64, 64) and a.dtype == np.float32
    assert np.array_equal(a, b)
    assert 0.09 <= a.min() and a.max() <= 0.91
    assert not np.array_equal(a, synthetic_cube(seed=4))


def test_synthetic_srf_rows_sum_to_one():
    p = synthetic_srf()
    assert p.shape == (4, 31)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-12)


@needs_data
def test_cave_crop_reads_a_unit_range_cube():
    x = cave_crop("cd", 32)
    assert x.shape == (31, 32, 32) and 0 <= x.min() and x.max() <= 1 and x.max() > 0.05
    assert nikon_srf().shape == (3, 31)
    k = motion_kernel()
    assert k.ndim == 2 and abs(k.sum() - 1) < 1e-6
