"""Blind estimation of K and P recovers the truth from simulated observations.

Tolerances (scale 4, 128x128 HR, 40 dB on both images). Measured when the tests were written:
kernel correlation 0.998-0.999 and response error 0.015-0.04 on these scenes (0.998 / 0.03
on the CAVE crop with the 13x13 motion kernel). The tests ask for
kernel correlation > 0.95 and relative response error < 0.10 (issue 2 asks >= 0.93 and <= 10 %
of the benchmark), leaving margin for numeric differences between machines.
"""
from __future__ import annotations

import numpy as np
import pytest

from hsi_blind_fusion.core import Degradation, estimate_degradation, simulate
from hsi_blind_fusion.core.kernels import gaussian_kernel
from hsi_blind_fusion.core.metrics import kernel_correlation, kernel_error, srf_error
from helpers.scenes import DATA, cave_crop, motion_kernel, needs_data, nikon_srf, synthetic_cube, synthetic_srf

KERNEL_CORRELATION_MIN = 0.95
SRF_ERROR_MAX = 0.10


def _check_recovery(x, kernel, true_srf, scale=4, **kwargs):
    srf = true_srf
    y, z = simulate(x, kernel, srf, scale, snr_db=40.0, seed=1)
    deg = estimate_degradation(y, z, device="cpu", **kwargs)
    assert isinstance(deg, Degradation) and deg.scale == scale
    assert deg.kernel.ndim == 2 and deg.kernel.shape[0] % 2 == 1
    assert deg.kernel.sum() == pytest.approx(1.0, abs=1e-6) and np.all(deg.kernel >= 0)
    assert deg.srf.shape == srf.shape and np.all(deg.srf >= 0)
    np.testing.assert_allclose(deg.srf.sum(axis=1), 1.0, atol=1e-6)
    kc, se = kernel_correlation(kernel, deg.kernel), srf_error(srf, deg.srf)
    assert kc > KERNEL_CORRELATION_MIN, f"kernel correlation {kc:.3f}"
    assert se < SRF_ERROR_MAX, f"response error {se:.3f}"
    return deg, kc, se


def test_recovers_gaussian_kernel_and_response_synthetic():
    # 31 rough endmembers: a response is only identifiable if the spectra span the band space.
    x = synthetic_cube(128, endmembers=31, spectral_smooth=1.0, spatial_smooth=4.0)
    deg, kc, _ = _check_recovery(x, gaussian_kernel(9, 1.0), synthetic_srf())
    # The estimate moved away from the (wider) starting Gaussian towards the truth.
    assert kc > kernel_correlation(gaussian_kernel(9, 1.0), deg.initial_kernel)
    assert kernel_error(gaussian_kernel(9, 1.0), deg.kernel) < 0.3


@needs_data
@pytest.mark.parametrize("kernel_name", ["gaussian", "motion"])
def test_recovers_kernel_and_response_cave(kernel_name):
    kernel = gaussian_kernel(9, 1.5) if kernel_name == "gaussian" else motion_kernel("kernel_00")
    _check_recovery(cave_crop("cd", 128), kernel, nikon_srf())


@needs_data
def test_estimate_with_a_starting_response_and_kernel_size():
    x = cave_crop("cd", 128)
    k = motion_kernel("kernel_00")            # 13 x 13
    start = np.load(DATA / "srf" / "nikon_d700_classic.npz")["srf"]   # 31 x 3, unperturbed
    deg, _, _ = _check_recovery(x, k, nikon_srf(), srf=start, kernel_size=13)
    assert deg.kernel.shape == (13, 13)


def test_estimate_is_deterministic_and_reports_progress():
    x = synthetic_cube(64, endmembers=10)
    y, z = simulate(x, gaussian_kernel(9, 1.5), synthetic_srf(), 4, snr_db=40.0, seed=2)
    seen = []
    a = estimate_degradation(y, z, device="cpu", seed=3, progress=lambda f, m: seen.append((f, m)))
    b = estimate_degradation(y, z, device="cpu", seed=3)
    assert np.array_equal(a.kernel, b.kernel) and np.array_equal(a.srf, b.srf)
    assert seen and all(0.0 <= f <= 1.0 and isinstance(m, str) for f, m in seen)
    assert all(f2 >= f1 for (f1, _), (f2, _) in zip(seen, seen[1:]))


def test_estimate_scale_from_shapes_and_units():
    """Any magnitude of the inputs: the MSI gain comes out in the images' units."""
    x = synthetic_cube(64, endmembers=10)
    y, z = simulate(x, gaussian_kernel(9, 1.5), synthetic_srf(), 4, snr_db=None)
    deg = estimate_degradation(1000.0 * y, 10.0 * z, device="cpu")
    assert deg.scale == 4
    np.testing.assert_allclose(deg.msi_gain, 0.01, rtol=0.05)
