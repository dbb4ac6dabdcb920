"""LR-HSI cleaning: column and row stripes and impulse outliers are removed, a clean cube is left
(nearly) as it is, nodata stays nodata, and the input's type comes back."""
import numpy as np
import pytest
import torch

from hsi_blind_fusion.core.hsi_cleaning import clean_hsi
from hsi_blind_fusion.core.synthetic_scene import make_scene


def _cube(snr_db=35.0, size=128, bands=40):
    """The synthetic scene's LR-HSI (32 x 32 x 40): noise-free and noisy, and the noise std per band."""
    clean = make_scene(size, 4, bands=bands, snr_db=None, seed=0).hsi.astype(np.float64)
    noisy = make_scene(size, 4, bands=bands, snr_db=snr_db, seed=0).hsi.astype(np.float64)
    return clean, noisy, (noisy - clean).reshape(bands, -1).std(1)


def _stripes(shape, sigma, axis, amplitude=2.0, seed=1):
    """Offsets along ``axis`` (2: one per column, 1: one per row) in every third band."""
    rng = np.random.default_rng(seed)
    bands, h, w = shape
    out = np.zeros(shape)
    striped = np.arange(0, bands, 3)
    for b in striped:
        if axis == 2:
            out[b] += amplitude * sigma[b] * rng.standard_normal(w)[None, :]
        else:
            out[b] += amplitude * sigma[b] * rng.standard_normal(h)[:, None]
    return out, striped


def _energy(t):
    centred = t - t.mean(axis=(1, 2), keepdims=True)         # a band-wide level is not a stripe
    return float((centred ** 2).sum())


@pytest.mark.parametrize("axis", [2, 1], ids=["columns", "rows"])
def test_stripes_are_removed(axis):
    _, noisy, sigma = _cube()
    stripes, striped = _stripes(noisy.shape, sigma, axis)
    out, info = clean_hsi(noisy + stripes)
    left = _energy(out - noisy)                              # what remains of the stripes (or was added)
    assert left < 0.1 * _energy(stripes), (left, _energy(stripes))
    assert abs(info["striped_bands"] - len(striped)) <= 2, info["striped_bands"]
    assert 1.0 < info["stripe_to_noise"] < 3.5, info["stripe_to_noise"]


def test_destriping_can_be_turned_off():
    _, noisy, sigma = _cube()
    stripes, _ = _stripes(noisy.shape, sigma, 2)
    out, info = clean_hsi(noisy + stripes, destripe=False)
    assert info["striped_bands"] == 0
    assert _energy(out - noisy) > 0.9 * _energy(stripes)


@pytest.mark.parametrize("snr_db", [25.0, 35.0, 45.0])
def test_a_clean_cube_is_left_nearly_unchanged(snr_db):
    _, noisy, sigma = _cube(snr_db)
    out, info = clean_hsi(noisy)
    change = np.sqrt(((out - noisy) ** 2).mean(axis=(1, 2))) / sigma
    assert info["striped_bands"] <= 1 and info["outliers_replaced"] <= 3, info
    assert change.max() < 0.3, change.max()
    assert np.median(np.array(info["noise_std"]) / sigma) == pytest.approx(1.0, abs=0.25)


def test_dead_and_saturated_pixels_are_replaced():
    truth, noisy, sigma = _cube()
    rng = np.random.default_rng(2)
    bands, h, w = noisy.shape
    corrupted = noisy.copy()
    hit = np.zeros(noisy.shape, dtype=bool)
    for b in range(1, bands - 1, 3):
        idx = rng.choice(h * w, size=6, replace=False)
        hit[b].reshape(-1)[idx] = True
        corrupted[b].reshape(-1)[idx] = np.where(np.arange(6) % 2 == 0, 0.0, noisy.max())
    out, info = clean_hsi(corrupted)
    replaced = out != corrupted
    assert replaced[hit].mean() >= 0.9, replaced[hit].mean()
    assert (replaced & ~hit).sum() <= 3
    error = np.abs(out - truth)[hit] / np.broadcast_to(sigma[:, None, None], hit.shape)[hit]
    assert np.median(error) < 3, np.median(error)             # replaced by values near the truth
    assert info["outliers_replaced"] == int(replaced.sum())


def test_stripes_and_impulses_together():
    truth, noisy, sigma = _cube()
    stripes, _ = _stripes(noisy.shape, sigma, 2)
    corrupted = noisy + stripes
    corrupted[5, 10, 12] = 0.0
    corrupted[20, 3, 7] = noisy.max()
    out, info = clean_hsi(corrupted)
    assert abs(out[5, 10, 12] - truth[5, 10, 12]) < 5 * sigma[5]
    assert abs(out[20, 3, 7] - truth[20, 3, 7]) < 5 * sigma[20]
    assert _energy(out - noisy) < 0.15 * _energy(stripes)


def test_nodata_stays_untouched_and_types_come_back():
    _, noisy, sigma = _cube()
    stripes, _ = _stripes(noisy.shape, sigma, 2)
    cube = (noisy + stripes).astype(np.float32)
    valid = np.ones(cube.shape[1:], dtype=bool)
    valid[4:9, 6:11] = False
    cube[:, ~valid] = np.nan
    out, info = clean_hsi(cube, valid)
    assert isinstance(out, np.ndarray) and out.dtype == np.float32 and out.shape == cube.shape
    assert np.isnan(out[:, ~valid]).all()
    assert np.isfinite(out[:, valid]).all()
    assert info["striped_bands"] >= 10
    out_t, _ = clean_hsi(torch.from_numpy(cube), torch.from_numpy(valid))
    assert isinstance(out_t, torch.Tensor) and out_t.dtype == torch.float32
    assert np.allclose(out_t.numpy(), out, equal_nan=True)


def test_too_small_inputs_come_back_unchanged():
    cube = np.random.default_rng(0).random((3, 8, 8)).astype(np.float32)
    out, info = clean_hsi(cube)
    assert np.array_equal(out, cube) and out is not cube
    assert info["striped_bands"] == 0 and info["outliers_replaced"] == 0


def test_units_do_not_matter():
    """fuse() normalizes the HSI first; cleaning in any unit must give the same result."""
    _, noisy, sigma = _cube()
    stripes, _ = _stripes(noisy.shape, sigma, 2)
    cube = noisy + stripes
    cube[7, 5, 9] = 0.0
    a, info_a = clean_hsi(cube)
    b, info_b = clean_hsi(cube * 1000.0)
    assert np.allclose(b / 1000.0, a, rtol=1e-6, atol=1e-9 * np.abs(cube).max())
    assert info_a["striped_bands"] == info_b["striped_bands"]
    assert info_a["outliers_replaced"] == info_b["outliers_replaced"]
