"""LR-HSI cleaning: column and row stripes and impulse outliers are removed, a clean cube is left
(nearly) as it is, nodata stays nodata, and the input's type comes back. In the fusion: "auto"
cleans a striped HSI before the start and leaves a clean one as it is, masks are kept, and tiles
(streamed, or farmed from pickled contexts) see the same cleaned HSI."""
import pickle
from dataclasses import replace

import numpy as np
import pytest
import torch

from helpers.scenes import synthetic_cube, synthetic_srf
from hsi_blind_fusion.core import FusionSettings, InvalidInputError, fuse, simulate
from hsi_blind_fusion.core.hsi_cleaning import clean_hsi
from hsi_blind_fusion.core.kernels import gaussian_kernel
from hsi_blind_fusion.core.metrics import psnr
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


def test_an_edge_bands_stripes_are_not_taken_for_its_neighbours():
    """Stripes in every third band from the first: the first band is predicted from its neighbours
    and they from it, so its stripes echo in theirs. The removed offsets are within half a noise
    std of the true ones in every band (the band-by-band estimate was 1.1 off in the first band
    and took 0.5 std of stripes out of the second, which has none)."""
    clean = make_scene(256, 4, bands=40, snr_db=None, seed=0).hsi.astype(np.float64)
    noisy = make_scene(256, 4, bands=40, snr_db=35.0, seed=0).hsi.astype(np.float64)
    sigma = (noisy - clean).reshape(40, -1).std(1)
    stripes, striped = _stripes(noisy.shape, sigma, 2)
    out, _ = clean_hsi(noisy + stripes)
    removed = (noisy + stripes - out).mean(axis=1)
    true = stripes.mean(axis=1) - stripes.mean(axis=(1, 2))[:, None]      # a band-wide level is no stripe
    error = np.sqrt(((removed - true) ** 2).mean(axis=1)) / sigma
    assert error.max() < 0.5, error.round(2)
    assert np.abs(removed[1:3]).max() == 0.0


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


# ---- in the fusion: hsi_cleaning = "auto" | "on" | "off" -----------------------------------------

def _pair(snr_db=40.0, size=128):
    """A synthetic scene (128 x 128 x 31, x4: a 32 x 32 LR-HSI) and its simulated pair."""
    x = synthetic_cube(size, endmembers=4, spatial_smooth=3.0)
    y, z = simulate(x, gaussian_kernel(9, 1.5), synthetic_srf(), 4, snr_db=snr_db, seed=1)
    return x, y, z


def _with_stripes(y, snr_db, amplitude=2.0, seed=5):
    """Column offsets (``amplitude`` x the band's noise std) in every third band."""
    sigma = np.sqrt(np.mean(y.astype(np.float64) ** 2, axis=(1, 2)) / 10 ** (snr_db / 10))
    stripes, striped = _stripes(y.shape, sigma, 2, amplitude, seed)
    return (y + stripes).astype(y.dtype), striped


def _start(y, z, cleaning, **kw):
    return fuse(y, z, outer_iterations=0, device="cpu", settings=FusionSettings(hsi_cleaning=cleaning, **kw))


def test_auto_cleans_a_striped_hsi_before_the_start():
    x, y, z = _pair()
    ys, striped = _with_stripes(y, 40.0)
    off, auto = _start(ys, z, "off"), _start(ys, z, "auto")
    c = auto.diagnostics.hsi_cleaning
    assert off.diagnostics.hsi_cleaning is None
    assert c.applied and abs(c.striped_bands - len(striped)) <= 2 and c.outliers_replaced == 0, c
    assert psnr(x, auto.image) > psnr(x, off.image) + 0.5
    assert psnr(x, auto.image) > psnr(x, _start(y, z, "off").image) - 0.2     # most of the stripes' cost is back
    assert "hsi_cleaning" in auto.diagnostics.timings


def test_auto_leaves_a_clean_hsi_as_it_is():
    _, y, z = _pair()
    off, auto = _start(y, z, "off"), _start(y, z, "auto")
    c = auto.diagnostics.hsi_cleaning
    assert not c.applied and c.striped_bands == 0 and c.outliers_replaced == 0, c
    assert c.summary().endswith(f"the fusion used the HSI as it is ({c.seconds:.1f} s)")
    np.testing.assert_array_equal(auto.image, off.image)


def test_nodata_stays_nodata_through_the_cleaning():
    """An HSI hole (every band) and pixels invalid in one band only: the cleaned run writes NaN exactly
    where the plain one does (the per-band masks are kept)."""
    _, y, z = _pair()
    ys, _ = _with_stripes(y, 40.0)
    ys[:, 4:8, 20:26] = np.nan
    ys[7, 15:18, 3:9] = np.nan
    off, on = _start(ys, z, "off"), _start(ys, z, "on")
    assert on.diagnostics.hsi_cleaning.applied
    np.testing.assert_array_equal(np.isnan(on.image), np.isnan(off.image))
    assert np.isnan(on.image[7]).sum() > np.isnan(on.image[6]).sum() > 0


class _PickledFarm:
    """Renders every tile from pickled copies of the renderer and its context (as a Dask worker)."""

    def __call__(self, renderer, arrays, windows, put, report):
        remote = pickle.loads(pickle.dumps(renderer))
        for window in windows:
            put(window, remote.render(pickle.loads(pickle.dumps(renderer.context(window, arrays)))))


def test_tiles_and_the_tile_farm_use_the_cleaned_hsi():
    """The start's LR state and the tiles' contexts come from the cleaned pair: streamed tiles and
    farmed tiles give the untiled run's image."""
    _, y, z = _pair()
    ys, _ = _with_stripes(y, 40.0)
    fast = dict(outer_iterations=1, inner_iterations=2, device="cpu", seed=0)
    cfg = FusionSettings(hsi_cleaning="auto", initial="classical")
    whole = fuse(ys, z, settings=replace(cfg, tile_size=128), **fast)
    streamed = fuse(ys, z, settings=replace(cfg, tile_size=64, cache_limit_bytes=0), **fast)
    farmed = fuse(ys, z, settings=replace(cfg, tile_size=64, cache_limit_bytes=0), farm=_PickledFarm(), **fast)
    plain = fuse(ys, z, settings=replace(cfg, tile_size=128, hsi_cleaning="off"), **fast)
    assert whole.diagnostics.hsi_cleaning.applied
    np.testing.assert_allclose(streamed.image, whole.image, atol=2e-3 * float(np.abs(whole.image).max()))
    np.testing.assert_array_equal(farmed.image, streamed.image)
    assert np.abs(whole.image - plain.image).max() > 10 * np.abs(streamed.image - whole.image).max()


def test_unknown_cleaning_setting_is_a_typed_error():
    with pytest.raises(InvalidInputError, match="HSI cleaning"):
        FusionSettings(hsi_cleaning="yes")


@pytest.fixture(scope="module")
def large_cube():
    """A 40-band 128 x 64 LR cube (truth, noisy at 35 dB, its noise std, 2-sigma stripes, valid)."""
    truth = make_scene(512, 4, bands=40, snr_db=None, seed=0).hsi[:, :, :64].astype(np.float64)
    noisy = make_scene(512, 4, bands=40, snr_db=35.0, seed=0).hsi[:, :, :64].astype(np.float64)
    sigma = (noisy - truth).reshape(40, -1).std(1)
    stripes, _ = _stripes(noisy.shape, sigma, 2)
    return truth, noisy, sigma, stripes, np.ones(noisy.shape[1:], dtype=bool)


def test_large_cubes_are_cleaned_block_by_block_alike(large_cube):
    """Beyond BLOCK_VALUES the cube is cleaned in blocks (bounded memory): the stripes go as they do
    with the whole cube, and what is left is noise-sized in both."""
    from hsi_blind_fusion.core.hsi_cleaning import blocks, clean_blocks

    truth, noisy, sigma, stripes, valid = large_cube
    most = 40 * 64 * 64                                        # two blocks of 64 x 64 LR pixels
    assert len(blocks(40, 128, 64, most)) == 2 and len(blocks(40, 128, 64)) == 1
    assert len(blocks(40, 96, 200, most)) == 3                 # no block below 64 pixels a side
    for out, _ in (clean_blocks(noisy + stripes, valid, "on"), clean_blocks(noisy + stripes, valid, "on", most)):
        assert _energy(out - noisy) < 0.1 * _energy(stripes)
        error = np.sqrt(((out - truth) ** 2).mean(axis=(1, 2))) / sigma
        assert error.max() < 1.5 and np.median(error) < 1.1, error


def test_auto_probes_one_block_of_a_clean_large_cube(large_cube, monkeypatch):
    """A clean cube beyond one block: auto looks at one block and leaves the cube as it is; with
    stripes it cleans every block, as "on" does."""
    from hsi_blind_fusion.core import hsi_cleaning
    from hsi_blind_fusion.core.hsi_cleaning import clean_blocks

    truth, noisy, sigma, stripes, valid = large_cube
    most = 40 * 64 * 64                                        # two blocks of 64 x 64 LR pixels
    calls = []
    real = hsi_cleaning.clean_hsi
    monkeypatch.setattr(hsi_cleaning, "clean_hsi", lambda *a, **k: calls.append(1) or real(*a, **k))
    out, info = clean_blocks(noisy, valid, "auto", most)
    assert out is noisy and len(calls) == 1 and (info["blocks_looked_at"], info["blocks"]) == (1, 2)
    calls.clear()
    out, info = clean_blocks(noisy + stripes, valid, "auto", most)
    assert len(calls) == 2 and info["striped_bands"] > 0
    assert _energy(out - noisy) < 0.2 * _energy(stripes)
