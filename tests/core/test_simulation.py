"""The observation model (simulate) and the kernel / response builders."""
from __future__ import annotations

import numpy as np
import pytest

from hsi_blind_fusion.core import InvalidInputError, simulate
from hsi_blind_fusion.core.kernels import (default_kernel_size, gaussian_kernel, gaussian_kernel_for_scale,
                                          kernel_from_array)
from hsi_blind_fusion.core.responses import gaussian_srf, perturb_srf, srf_from_curves, srf_from_table
from helpers.scenes import WAVELENGTHS, synthetic_cube, synthetic_srf

DELTA = np.ones((1, 1))


# ---- simulate ------------------------------------------------------------------------------

@pytest.mark.parametrize("scale", [2, 3, 4, 8])
def test_simulate_shapes_and_dtypes(scale):
    x = synthetic_cube(48)
    y, z = simulate(x, gaussian_kernel(7, 1.2), synthetic_srf(), scale, snr_db=None)
    assert y.shape == (31, 48 // scale, 48 // scale) and z.shape == (4, 48, 48)
    assert y.dtype == np.float32 and z.dtype == np.float32


@pytest.mark.parametrize("scale", [2, 3, 4, 5, 8])
def test_sampling_phase_keeps_pixels_from_scale_half(scale):
    """With a delta kernel, LR pixel (i, j) is HR pixel (i*s + s//2, j*s + s//2)."""
    x = np.zeros((2, 8 * scale, 8 * scale), np.float32)
    r, c = 2 * scale + scale // 2, 5 * scale + scale // 2
    x[:, r, c] = 1.0
    y, _ = simulate(x, DELTA, np.full((1, 2), 0.5), scale)
    expected = np.zeros((2, 8, 8), np.float32)
    expected[:, 2, 5] = 1.0
    np.testing.assert_array_equal(y, expected)
    # One HR pixel off the kept grid is never seen with a delta kernel.
    x2 = np.roll(x, 1, axis=1)
    assert np.all(simulate(x2, DELTA, np.full((1, 2), 0.5), scale)[0] == 0)


def test_blur_is_a_centred_true_convolution():
    """A delta at q blurred by K gives K itself around q (not flipped): y[q + d] = K[c + d]."""
    scale = 4
    k = np.zeros((3, 3))
    k[2, 1] = 1.0                                   # mass one row below the centre
    x = np.zeros((1, 32, 32), np.float32)
    x[0, 3 * scale + scale // 2 - 1, 2 * scale + scale // 2] = 1.0  # one row above a kept pixel
    y, _ = simulate(x, k, np.ones((1, 1)), scale)
    assert y[0, 3, 2] == pytest.approx(1.0) and y.sum() == pytest.approx(1.0)


def test_simulate_spectral_projection_and_kernel_normalization():
    x = synthetic_cube(32)
    p = synthetic_srf()
    k = gaussian_kernel(5, 1.0)
    y1, z = simulate(x, k, p, 4)
    y5, _ = simulate(x, 5.0 * k, p, 4)            # the kernel is normalized to sum 1
    np.testing.assert_allclose(y1, y5, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(z, np.einsum("mc,chw->mhw", p, x), rtol=1e-5, atol=1e-6)
    const = np.full((31, 32, 32), 0.25, np.float32)  # a normalized blur keeps a flat image flat
    np.testing.assert_allclose(simulate(const, k, p, 4)[0], 0.25, rtol=1e-5)


@pytest.mark.parametrize("snr_db", [20.0, 40.0])
def test_noise_matches_snr(snr_db):
    x = np.full((31, 128, 128), 0.5, np.float32)
    p = synthetic_srf()
    clean_y, clean_z = simulate(x, DELTA, p, 2, snr_db=None)
    y, z = simulate(x, DELTA, p, 2, snr_db=snr_db, seed=7)
    for clean, noisy in ((clean_y, y), (clean_z, z)):
        power = np.mean(clean.astype(np.float64) ** 2, axis=(1, 2))
        noise = np.mean((noisy.astype(np.float64) - clean) ** 2, axis=(1, 2))
        measured = 10 * np.log10(power / noise)
        assert np.all(np.abs(measured - snr_db) < 0.5), measured   # per band, within 0.5 dB
        assert abs(np.mean(noisy - clean)) < 0.1 * np.sqrt(noise.mean())  # zero-mean
    again = simulate(x, DELTA, p, 2, snr_db=snr_db, seed=7)
    assert np.array_equal(again[0], y) and np.array_equal(again[1], z)
    other = simulate(x, DELTA, p, 2, snr_db=snr_db, seed=8)
    assert not np.array_equal(other[0], y)


def test_simulate_rejects_bad_inputs():
    x = synthetic_cube(16)
    p = synthetic_srf()
    with pytest.raises(InvalidInputError):
        simulate(x[0], DELTA, p, 2)                     # 2-D
    with pytest.raises(InvalidInputError):
        simulate(x, DELTA, p[:, :30], 2)                # response columns != bands
    with pytest.raises(InvalidInputError):
        simulate(x, DELTA, p, 0)                        # scale
    with pytest.raises(InvalidInputError):
        simulate(x, DELTA, p, 32)                       # image smaller than the scale
    with pytest.raises(InvalidInputError):
        simulate(x, -np.ones((3, 3)), p, 2)             # negative kernel


# ---- kernels -------------------------------------------------------------------------------

@pytest.mark.parametrize("size,sigma", [(1, 1.0), (5, 0.7), (9, 1.5), (17, 4 / 2.355)])
def test_gaussian_kernel_sums_to_one_and_is_symmetric(size, sigma):
    k = gaussian_kernel(size, sigma)
    assert k.shape == (size, size)
    assert k.sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(k, k.T, atol=1e-15)
    np.testing.assert_allclose(k, k[::-1, ::-1], atol=1e-15)
    assert np.unravel_index(np.argmax(k), k.shape) == (size // 2, size // 2)


def test_gaussian_kernel_rejects_bad_arguments():
    for size, sigma in [(4, 1.0), (0, 1.0), (5, 0.0), (5, -1.0)]:
        with pytest.raises(InvalidInputError):
            gaussian_kernel(size, sigma)


def test_kernel_for_scale():
    for s in (2, 4, 8, 16):
        n = default_kernel_size(s)
        assert n % 2 == 1 and n >= 2 * s
        k = gaussian_kernel_for_scale(s)
        assert k.shape == (n, n) and k.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("shape", [(4, 4), (2, 4), (3, 6), (6, 3)])
def test_kernel_from_array_pads_even_kernels(shape):
    a = np.arange(1, np.prod(shape) + 1, dtype=float).reshape(shape)
    k = kernel_from_array(a)
    n = max(shape) + 1 - max(shape) % 2
    assert k.shape == (n, n) and k.shape[0] % 2 == 1
    assert k.sum() == pytest.approx(1.0)
    assert np.count_nonzero(k) == a.size  # the values are kept, only zeros are added
    np.testing.assert_allclose(np.sort(k[k > 0]), np.sort(a.ravel() / a.sum()))


def test_kernel_from_array_embeds_crops_and_rejects():
    k = gaussian_kernel(5, 1.0)
    big = kernel_from_array(k, 9)
    assert big.shape == (9, 9) and np.allclose(big[2:7, 2:7], k)
    small = kernel_from_array(k, 3)
    assert small.shape == (3, 3) and small.sum() == pytest.approx(1.0)
    for bad in (np.ones(3), np.zeros((3, 3)), -np.ones((3, 3)), np.full((3, 3), np.nan), np.zeros((0, 0))):
        with pytest.raises(InvalidInputError):
            kernel_from_array(bad)


# ---- responses -----------------------------------------------------------------------------

def test_gaussian_srf_rows_sum_to_one():
    p = gaussian_srf([450, 550, 650, 680], [40, 40, 40, 20], WAVELENGTHS)
    assert p.shape == (4, 31)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-12)
    assert np.all(p >= 0)
    assert WAVELENGTHS[np.argmax(p[1])] == 550
    with pytest.raises(InvalidInputError):
        gaussian_srf([500], [0], WAVELENGTHS)
    with pytest.raises(InvalidInputError):
        gaussian_srf([500], [30], np.full(31, np.nan))


def test_perturb_srf_formula():
    rng = np.random.default_rng(0)
    p = rng.random((3, 31))
    d = 0.01
    expected = (p + d) / (p.sum(axis=1, keepdims=True) + 31 * d)
    np.testing.assert_allclose(perturb_srf(p, d), expected, rtol=1e-14)
    np.testing.assert_allclose(perturb_srf(p, d).sum(axis=1), 1.0)
    q = p / p.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(perturb_srf(q, 0.0), q)


def test_srf_from_table_accepts_transpose_and_normalizes():
    rng = np.random.default_rng(1)
    p = rng.random((3, 31)) * 5
    a = srf_from_table(p, 3, 31)
    b = srf_from_table(p.T, 3, 31)
    np.testing.assert_allclose(a, b)
    np.testing.assert_allclose(a, p / p.sum(axis=1, keepdims=True))


@pytest.mark.parametrize("table", [
    np.ones((4, 31)), np.ones((3, 30)), np.ones((3, 31, 1)), np.ones(31),
    -np.ones((3, 31)),
    np.where(np.eye(3, 31) > 0, np.nan, 1.0),
    np.where(np.eye(3, 31) > 0, np.inf, 1.0),
    np.vstack([np.ones((2, 31)), np.zeros((1, 31))]),   # a band with no response
], ids=["rows", "cols", "3d", "1d", "negative", "nan", "inf", "zero-row"])
def test_srf_from_table_rejects_bad_tables(table):
    with pytest.raises(InvalidInputError):
        srf_from_table(table, 3, 31)


def test_srf_from_curves_zero_outside_range():
    wl = np.arange(300.0, 1001.0)
    curves = np.stack([np.exp(-0.5 * ((wl - c) / 20) ** 2) for c in (450, 550, 650)], axis=1)
    hsi_wl = np.concatenate([WAVELENGTHS, [1100.0, 1200.0]])
    p = srf_from_curves(wl, curves, hsi_wl)
    assert p.shape == (3, 33)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert np.all(p[:, -2:] == 0)
