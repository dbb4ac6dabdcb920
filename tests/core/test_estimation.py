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
from hsi_blind_fusion.core.estimation import KERNEL_BORDER_LIMIT
from hsi_blind_fusion.core.kernels import border_mass, gaussian_kernel, mass_extent
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


# ---- kernel support chosen from the data ------------------------------------------------------
#
# The default support is 2·scale + 1. A blur wider than that is cut off there: the fitted kernel then
# piles its mass on the support's border, and the estimate refits on a wider support. Measured when
# these tests were written (40 dB; default support -> searched): a Gaussian PSF sigma 3 at x4 (19 px)
# on a 128 x 128 synthetic scene, correlation 0.54 -> 0.95 (a smooth, wide PSF is the hardest to pin
# down; hence the test's 0.9); a Gaussian sigma 2 moved by half an LR pixel, (2, -2) MSI pixels at x4,
# 0.68 -> 0.99 with its centroid at (1.76, -1.78) -> (1.99, -1.96); the 31 px motion kernel_08 at x8
# on a 256 x 256 CAVE crop (LR 32 x 32), 0.04 -> 0.99.


def _wide_case(kernel, scale, size=128, snr=40.0, seed=1):
    x = synthetic_cube(size, endmembers=31, spectral_smooth=1.0, spatial_smooth=4.0)
    return simulate(x, kernel, synthetic_srf(), scale, snr_db=snr, seed=seed)


def _support_diagnostics_are_consistent(deg):
    d = deg.diagnostics
    k = deg.kernel
    assert k.ndim == 2 and k.shape[0] == k.shape[1] and k.shape[0] % 2 == 1
    assert np.all(k >= 0) and k.sum() == pytest.approx(1.0, abs=1e-6)
    assert d.kernel_support == k.shape[0]
    assert d.kernel_border_mass == pytest.approx(border_mass(k))
    assert d.kernel_truncated == (d.kernel_border_mass > KERNEL_BORDER_LIMIT)
    assert (d.kernel_warning is not None) == d.kernel_truncated
    tried = d.kernel_support_tried
    assert tried and all(t["size"] % 2 == 1 and np.isfinite(t["residual"]) for t in tried)
    assert k.shape[0] in [t["size"] for t in tried]


def test_border_mass_and_mass_extent():
    k = np.zeros((9, 9))
    k[4, 4] = 0.9
    k[0, 4] = 0.1                       # on the frame
    assert border_mass(k) == pytest.approx(0.1)
    assert border_mass(k, ring=2) == pytest.approx(0.1)
    assert mass_extent(k, 0.85) == 1 and mass_extent(k, 0.95) == 9
    assert border_mass(gaussian_kernel(9, 1.0)) < 1e-3


def test_default_support_kept_when_the_kernel_fits():
    """A blur that fits 2·scale + 1 is fitted there alone: no search, no warning."""
    y, z = _wide_case(gaussian_kernel(9, 1.0), 4)
    deg = estimate_degradation(y, z, device="cpu")
    _support_diagnostics_are_consistent(deg)
    assert deg.kernel.shape == (9, 9)
    assert [t["size"] for t in deg.diagnostics.kernel_support_tried] == [9]
    assert not deg.diagnostics.kernel_truncated and deg.diagnostics.kernel_warning is None


def test_wide_gaussian_psf_support_found():
    """Gaussian sigma 3 at x4: the default 9 x 9 support cuts it off; the search finds a support
    that holds it and a kernel that correlates with it."""
    truth = gaussian_kernel(19, 3.0)
    y, z = _wide_case(truth, 4)
    seen = []
    deg = estimate_degradation(y, z, device="cpu", progress=lambda f, m: seen.append(f))
    _support_diagnostics_are_consistent(deg)
    d = deg.diagnostics
    assert d.kernel_support_tried[0]["size"] == 9 and d.kernel_support_tried[0]["border_mass"] > 0.05
    assert deg.kernel.shape[0] >= 17, deg.kernel.shape
    assert not d.kernel_truncated, d.kernel_border_mass
    kc = kernel_correlation(truth, deg.kernel)
    assert kc > 0.9, f"kernel correlation {kc:.3f}"
    # the wider support explains the identity (Z*K)↓s = P·Y better than the cut-off one
    assert d.kernel_support_tried[-1]["residual"] < 0.8 * d.kernel_support_tried[0]["residual"]
    assert seen and all(0.0 <= f <= 1.0 for f in seen) and all(b >= a for a, b in zip(seen, seen[1:]))


def test_off_centre_kernel_found():
    """A PSF whose centre is half an LR pixel off (a misregistration of (2, -2) MSI pixels at x4)
    is found where it is: the support holds it and its centroid is within 0.2 MSI pixel."""
    truth = np.zeros((17, 17))
    truth[4:, :13] = gaussian_kernel(13, 2.0)         # centroid at (+2, -2)
    y, z = _wide_case(truth, 4)
    deg = estimate_degradation(y, z, device="cpu")
    _support_diagnostics_are_consistent(deg)
    kc = kernel_correlation(truth, deg.kernel)
    assert kc > 0.95, f"kernel correlation {kc:.3f}"
    n = deg.kernel.shape[0]
    r = np.arange(n) - n // 2
    centroid = (float((deg.kernel.sum(axis=1) * r).sum()), float((deg.kernel.sum(axis=0) * r).sum()))
    assert centroid == pytest.approx((2.0, -2.0), abs=0.2)


def test_given_kernel_size_wins_and_warns_when_cut():
    """A ``kernel_size`` from the caller is kept (no search); when the blur is wider the
    diagnostics say so."""
    y, z = _wide_case(gaussian_kernel(19, 3.0), 4)
    deg = estimate_degradation(y, z, device="cpu", kernel_size=9)
    _support_diagnostics_are_consistent(deg)
    d = deg.diagnostics
    assert deg.kernel.shape == (9, 9) and [t["size"] for t in d.kernel_support_tried] == [9]
    assert d.kernel_truncated and "9x9" in d.kernel_warning and "KERNEL_SIZE" in d.kernel_warning
    wide = estimate_degradation(y, z, device="cpu", kernel_size=21)
    assert wide.kernel.shape == (21, 21) and len(wide.diagnostics.kernel_support_tried) == 1


def test_blur_wider_than_the_search_sets_the_warning():
    """At x2 the search stops at 15 x 15 (7·scale + 1), after 7 and 11; a Gaussian sigma 3 does
    not fit there."""
    y, z = _wide_case(gaussian_kernel(21, 3.0), 2, size=96)
    deg = estimate_degradation(y, z, device="cpu")
    _support_diagnostics_are_consistent(deg)
    d = deg.diagnostics
    assert d.kernel_support_limit == 15 and deg.kernel.shape == (15, 15)
    assert [t["size"] for t in d.kernel_support_tried] == [5, 7, 11, 15]
    assert d.kernel_truncated
    assert "15x15" in d.kernel_warning and "KERNEL_SIZE" in d.kernel_warning


def test_blur_beyond_five_times_the_scale_found_in_the_last_step():
    """Gaussian sigma 4 at x4 (25 px): cut off at 21 x 21 (5·scale + 1), held by the last step
    (29 x 29, 7·scale + 1) and cropped to its mass."""
    truth = gaussian_kernel(25, 4.0)
    y, z = _wide_case(truth, 4)
    deg = estimate_degradation(y, z, device="cpu")
    _support_diagnostics_are_consistent(deg)
    d = deg.diagnostics
    sizes = [t["size"] for t in d.kernel_support_tried]
    assert sizes[:4] == [9, 13, 21, 29], sizes
    assert d.kernel_support_tried[2]["border_mass"] > 0.01
    assert deg.kernel.shape[0] > 21 and not d.kernel_truncated
    assert d.kernel_support_tried[3]["residual"] < d.kernel_support_tried[2]["residual"]
    # measured: 0.898 (the 21 x 21 fit: 0.884, with 4.3 % of its mass on its border); 32 x 32 LR
    # pixels do not pin a blur this broad much closer
    kc = kernel_correlation(truth, deg.kernel)
    assert kc > 0.85, f"kernel correlation {kc:.3f}"


@needs_data
def test_wide_motion_kernel_cave():
    """The 31 px motion kernel_08 at x8 on a 256 x 256 CAVE training crop (LR 32 x 32): cut off by
    the default 17 x 17 support (correlation ~0.04), found by the search."""
    truth = motion_kernel("kernel_08")
    y, z = simulate(cave_crop("cd", 256, 128, 128), truth, nikon_srf(), 8, snr_db=40.0, seed=1)
    deg = estimate_degradation(y, z, device="cpu")
    _support_diagnostics_are_consistent(deg)
    assert deg.kernel.shape[0] >= 27 and not deg.diagnostics.kernel_truncated
    kc = kernel_correlation(truth, deg.kernel)
    assert kc > 0.95, f"kernel correlation {kc:.3f}"
    assert srf_error(nikon_srf(), deg.srf) < SRF_ERROR_MAX


def test_wide_fit_on_sampled_blocks(monkeypatch):
    """On a scene too large for the Gram budget the wide fit samples LR blocks (48 x 48) and still
    finds the blur (the budget is lowered here so that a 256 x 256 scene needs one block)."""
    import hsi_blind_fusion.core.estimation as estimation

    monkeypatch.setattr(estimation, "_GRAM_BUDGET", 3000 * 2.0 * 4 * 21.0**4)   # 3000 LR pixels at 21 x 21
    truth = gaussian_kernel(19, 3.0)
    y, z = _wide_case(truth, 4, size=256)
    deg = estimate_degradation(y, z, device="cpu")
    _support_diagnostics_are_consistent(deg)
    assert deg.diagnostics.kernel_support_tried[-1]["size"] > 9
    assert deg.diagnostics.samples == 48 * 48            # one block instead of the 64 x 64 LR pixels
    kc = kernel_correlation(truth, deg.kernel)
    assert kc > 0.9, f"kernel correlation {kc:.3f}"
