"""Image quality metrics and the errors of estimated degradations."""
from __future__ import annotations

import math

import numpy as np
import pytest

from hsi_blind_fusion.core import metrics
from hsi_blind_fusion.core.kernels import gaussian_kernel, kernel_from_array

rng = np.random.default_rng(0)
X = (rng.random((8, 32, 32)) * 0.8 + 0.1).astype(np.float32)


def test_identical_images():
    assert metrics.psnr(X, X) == math.inf
    assert metrics.sam(X, X) == pytest.approx(0.0, abs=1e-5)
    assert metrics.ssim(X, X) == pytest.approx(1.0, abs=1e-9)
    assert metrics.ergas(X, X, 4) == 0.0
    assert metrics.rmse(X, X) == 0.0
    q = metrics.quality_report(X, X, 4)
    assert set(q) >= {"psnr", "sam", "ssim", "ergas", "rmse"}


def test_psnr_and_rmse_values():
    ref = np.zeros((2, 10, 10))
    ref[0, 0, 0] = 1.0                                   # peak 1
    est = ref + 0.1
    assert metrics.rmse(ref, est) == pytest.approx(0.1)
    assert metrics.psnr(ref, est) == pytest.approx(20.0)
    assert metrics.psnr(ref, est, data_range=2.0) == pytest.approx(20.0 + 20 * math.log10(2))


def test_sam_known_angle_and_scale_invariance():
    ref = np.zeros((2, 4, 4))
    ref[0] = 1.0
    est = np.zeros((2, 4, 4))
    est[0], est[1] = 1.0, 1.0                            # 45 degrees everywhere
    assert metrics.sam(ref, est) == pytest.approx(45.0)
    assert metrics.sam(X, 3.0 * X) == pytest.approx(0.0, abs=1e-5)


def test_ssim_drops_with_noise():
    noisy = X + 0.2 * rng.standard_normal(X.shape).astype(np.float32)
    assert metrics.ssim(X, noisy) < 0.9


def test_ssim_over_valid_pixels_only():
    """A valid rectangle scores as the images cropped to it; what lies in the holes never counts,
    neither as perfect nor as garbage."""
    from skimage.metrics import structural_similarity

    est = X + 0.05 * rng.standard_normal(X.shape).astype(np.float32)
    valid = np.zeros(X.shape[1:], bool)
    valid[4:30, 2:28] = True
    r, e = X[:, 4:30, 2:28].astype(np.float64), est[:, 4:30, 2:28].astype(np.float64)
    crop = structural_similarity(r, e, channel_axis=0, data_range=float(r.max() - r.min()), gaussian_weights=True,
                                 sigma=1.5, use_sample_covariance=False)
    assert metrics.ssim(X, est, valid=valid) == pytest.approx(crop, abs=1e-12)
    holes = est.copy()
    holes[:, ~valid] = np.nan                                     # garbage or NaN in the holes: same score
    assert metrics.ssim(X, holes, valid=valid) == pytest.approx(crop, abs=1e-12)
    holes[:, ~valid] = X[:, ~valid]                               # the truth in the holes: same score
    assert metrics.ssim(X, holes, valid=valid) == pytest.approx(crop, abs=1e-12)
    assert metrics.ssim(X, est, valid=np.ones(X.shape[1:], bool)) == pytest.approx(metrics.ssim(X, est))
    with pytest.raises(ValueError, match="11 x 11"):
        metrics.ssim(X, est, valid=np.eye(32, dtype=bool))


def test_ergas_formula():
    ref = np.stack([np.full((8, 8), 0.5), np.full((8, 8), 0.25)])
    est = ref + np.array([0.05, 0.05])[:, None, None]   # rmse_b = 0.05; ratios 0.1 and 0.2
    expected = 100.0 / 4 * math.sqrt((0.1**2 + 0.2**2) / 2)
    assert metrics.ergas(ref, est, 4) == pytest.approx(expected)


def test_shape_mismatch_raises():
    with pytest.raises(ValueError):
        metrics.psnr(X, X[:, :16])


def test_kernel_metrics():
    k = gaussian_kernel(7, 1.3)
    assert metrics.kernel_correlation(k, k) == pytest.approx(1.0)
    assert metrics.kernel_error(k, k) == pytest.approx(0.0, abs=1e-12)
    # Same kernel in a wider support, and an unnormalized copy, are the same kernel.
    assert metrics.kernel_correlation(k, kernel_from_array(k, 15)) == pytest.approx(1.0)
    assert metrics.kernel_correlation(kernel_from_array(k, 15), 3 * k) == pytest.approx(1.0)
    assert metrics.kernel_error(k, 3 * k) == pytest.approx(0.0, abs=1e-12)
    other = gaussian_kernel(7, 3.0)
    assert metrics.kernel_correlation(k, other) < 0.99
    assert metrics.kernel_error(k, other) > 0.1
    shifted = np.roll(kernel_from_array(k, 11), 2, axis=1)
    assert metrics.kernel_correlation(k, shifted) < metrics.kernel_correlation(k, k)


def test_srf_error():
    p = rng.random((3, 31))
    assert metrics.srf_error(p, p) == pytest.approx(0.0, abs=1e-12)
    assert metrics.srf_error(p, 5 * p) == pytest.approx(0.0, abs=1e-12)   # rows are normalized
    q = p / p.sum(axis=1, keepdims=True)
    r = q * 1.1
    r /= r.sum(axis=1, keepdims=True)
    assert metrics.srf_error(q, q + 0.01 * q) == pytest.approx(0.0, abs=1e-12)
    noisy = q + 0.1 * q * rng.standard_normal(q.shape)
    e = metrics.srf_error(q, np.abs(noisy))
    assert 0.01 < e < 0.3
