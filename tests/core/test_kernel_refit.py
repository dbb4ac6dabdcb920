"""K and P refitted on the denoised MSI when the MSI is noisy (core/kernel_refit.py).

Measured when written (CAVE training crops 256 x 256, x8, kernel_02, seed 1; kernel correlation
first fit -> refit): paints 30 dB 0.875 -> 0.936, feathers 30 dB 0.923 -> 0.963, 25 dB 0.854 ->
0.938; cd 30 dB 0.920 -> 0.921. The test asks for +0.03 on paints at 30 dB, and for no change at all
at 40 dB, where the refit is skipped, nor for a Gaussian blur at 30 dB (refitted, a Gaussian x8 blur
on paints fell 0.944 -> 0.867: such a first kernel is kept).
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from hsi_blind_fusion.core import estimate_degradation, fuse, simulate
from hsi_blind_fusion.core.kernel_refit import GAUSSIAN_LIKE, REFIT_BELOW_SNR_DB, gaussian_likeness, msi_snr_db
from hsi_blind_fusion.core.kernels import gaussian_kernel
from hsi_blind_fusion.core.metrics import kernel_correlation
from helpers.scenes import cave_crop, motion_kernel, needs_data, nikon_srf, synthetic_cube, synthetic_srf


def test_msi_snr_reads_the_simulated_snr_and_ignores_invalid_pixels():
    x = synthetic_cube(64)
    _, z = simulate(x, np.ones((1, 1)), synthetic_srf(), 2, snr_db=30.0, seed=0)
    clean = np.einsum("mb,bhw->mhw", synthetic_srf(), x)
    sigma = torch.from_numpy(np.sqrt(np.mean(clean.astype(np.float64) ** 2, axis=(1, 2)) / 10 ** 3.0))
    zt = torch.from_numpy(z)
    assert msi_snr_db(zt, sigma) == pytest.approx(30.0, abs=0.1)
    broken = zt.clone()
    broken[:, :8] = float("nan")
    valid = torch.ones(z.shape[1:], dtype=torch.bool)
    valid[:8] = False
    assert msi_snr_db(broken, sigma, valid) == pytest.approx(30.0, abs=0.15)
    assert math.isinf(msi_snr_db(zt, torch.zeros_like(sigma)))


def test_gaussian_likeness_tells_a_gaussian_blur_from_a_motion_trail():
    assert gaussian_likeness(gaussian_kernel(15, 2.0)) > 0.999
    off = np.zeros((21, 21))
    off[6:, 2:17] = gaussian_kernel(15, 2.0)[:, :] * np.exp(-0.02 * (np.arange(15) - 7) ** 2)[None, :]
    assert gaussian_likeness(off) > 0.99                  # off centre, elliptical: still a Gaussian
    trail = np.zeros((17, 17))
    trail[np.arange(3, 14), np.arange(3, 14)] = 1.0       # a diagonal motion trail
    trail[8, 4:13] += 0.5
    assert gaussian_likeness(trail) < 0.8 < GAUSSIAN_LIKE
    assert gaussian_likeness(np.ones((1, 1))) == pytest.approx(1.0)


@needs_data
def test_noisy_msi_refit_sharpens_the_kernel_and_a_clean_one_is_fitted_once():
    x, kernel = cave_crop("paints", 256), motion_kernel("kernel_02")
    y, z = simulate(x, kernel, nikon_srf(), 8, snr_db=30.0, seed=1)
    once = estimate_degradation(y, z, msi_denoising=0)
    refit = estimate_degradation(y, z)
    d = refit.diagnostics
    assert d.refitted_on_denoised_msi and d.msi_snr_db < REFIT_BELOW_SNR_DB and d.kernel_gaussian_likeness < 0.9
    assert d.first_fit_kernel_support == once.kernel.shape[0]
    assert once.diagnostics.msi_snr_db is None and not once.diagnostics.refitted_on_denoised_msi
    first, second = kernel_correlation(kernel, once.kernel), kernel_correlation(kernel, refit.kernel)
    assert second > first + 0.03, f"kernel correlation {first:.3f} -> {second:.3f}"
    np.testing.assert_allclose(refit.initial_kernel, once.initial_kernel)     # the report's starting point
    # the fusion refits as the estimation tool does: a DEGRADATION from one is the other's kernel
    fused = fuse(y, z, outer_iterations=0, device="cpu")
    assert fused.diagnostics.estimation.refitted_on_denoised_msi and "degradation_refit" in fused.diagnostics.timings
    np.testing.assert_allclose(fused.diagnostics.estimated_kernel, refit.kernel, atol=1e-7)

    y, z = simulate(x, kernel, nikon_srf(), 8, snr_db=40.0, seed=1)
    clean = estimate_degradation(y, z)
    assert not clean.diagnostics.refitted_on_denoised_msi and clean.diagnostics.msi_snr_db > REFIT_BELOW_SNR_DB
    np.testing.assert_array_equal(clean.kernel, estimate_degradation(y, z, msi_denoising=0).kernel)

    blur = gaussian_kernel(17, 2.5)
    y, z = simulate(x, blur, nikon_srf(), 8, snr_db=30.0, seed=1)
    smooth = estimate_degradation(y, z)
    d = smooth.diagnostics
    assert d.msi_snr_db < REFIT_BELOW_SNR_DB and d.kernel_gaussian_likeness >= GAUSSIAN_LIKE
    assert not d.refitted_on_denoised_msi
    np.testing.assert_array_equal(smooth.kernel, estimate_degradation(y, z, msi_denoising=0).kernel)
