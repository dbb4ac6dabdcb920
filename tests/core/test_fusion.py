"""fuse(): quality against bicubic upsampling, modes, progress, cancellation, seeds, masks.

Runs are small (64x64 or 96x96 HR, scale 4) with 2 x 2 iterations to stay quick on 2 CPU cores.
"""
from __future__ import annotations

import threading
import time
from dataclasses import replace

import numpy as np
import pytest

import torch

from helpers.scenes import cave_crop, needs_data, nikon_srf, synthetic_cube, synthetic_srf
from hsi_blind_fusion.core import (Cancelled, FusionResult, FusionSettings, InvalidInputError, estimate_degradation,
                                   fuse, simulate)
from hsi_blind_fusion.core.initial_estimate import bicubic_estimate
from hsi_blind_fusion.core.kernels import gaussian_kernel
from hsi_blind_fusion.core.metrics import psnr

FAST = dict(outer_iterations=2, inner_iterations=2, device="cpu")
#: fusion must beat bicubic by this much (measured: +12 dB synthetic, +6.4 dB on the CAVE crop).
MIN_GAIN_DB = 5.0


@pytest.fixture(scope="module")
def pair():
    x = synthetic_cube(64, endmembers=4, spatial_smooth=3.0)
    y, z = simulate(x, gaussian_kernel(9, 1.5), synthetic_srf(), 4, snr_db=40.0, seed=1)
    return x, y, z


def _bicubic(y, scale, size):
    with torch.no_grad():
        return bicubic_estimate(torch.from_numpy(y), scale, size, size).numpy()


def _check_result(r, x, y, z):
    assert isinstance(r, FusionResult)
    assert r.image.shape == x.shape and r.image.dtype == np.float32
    assert np.all(np.isfinite(r.image))
    assert r.kernel.ndim == 2 and r.kernel.shape[0] == r.kernel.shape[1] and r.kernel.shape[0] % 2 == 1
    assert r.kernel.sum() == pytest.approx(1.0, abs=1e-5) and np.all(r.kernel >= 0)
    assert r.srf.shape == (z.shape[0], y.shape[0]) and np.all(r.srf >= 0)
    np.testing.assert_allclose(r.srf.sum(axis=1), 1.0, atol=1e-5)
    assert r.scale == x.shape[1] // y.shape[1]
    assert "fusion" in r.diagnostics.timings and "degradation_estimate" in r.diagnostics.timings
    assert r.diagnostics.device == "cpu"


def test_fuse_beats_bicubic_synthetic(pair):
    x, y, z = pair
    r = fuse(y, z, **FAST)
    _check_result(r, x, y, z)
    gain = psnr(x, r.image) - psnr(x, _bicubic(y, 4, 64))
    assert gain >= MIN_GAIN_DB, f"fusion only {gain:.2f} dB above bicubic"


@needs_data
def test_fuse_beats_bicubic_cave():
    x = cave_crop("cd", 96)
    y, z = simulate(x, gaussian_kernel(9, 1.5), nikon_srf(), 4, snr_db=40.0, seed=1)
    r = fuse(y, z, **FAST)
    _check_result(r, x, y, z)
    gain = psnr(x, r.image) - psnr(x, _bicubic(y, 4, 96))
    assert gain >= MIN_GAIN_DB, f"fusion only {gain:.2f} dB above bicubic"


@pytest.mark.parametrize("mode", ["alternating", "separate", "joint"])
def test_modes_run(pair, mode):
    x, y, z = pair
    r = fuse(y, z, mode=mode, **FAST)
    _check_result(r, x, y, z)
    assert r.diagnostics.mode == mode
    assert psnr(x, r.image) > psnr(x, _bicubic(y, 4, 64)) + MIN_GAIN_DB


def test_outer_iterations_zero_returns_the_starting_estimate(pair):
    x, y, z = pair
    r = fuse(y, z, outer_iterations=0, device="cpu")
    _check_result(r, x, y, z)
    assert psnr(x, r.image) > psnr(x, _bicubic(y, 4, 64)) + MIN_GAIN_DB
    # No fitting happened: the degradation is the estimate's.
    np.testing.assert_allclose(r.kernel, r.diagnostics.estimated_kernel, atol=1e-5)


def test_fuse_with_a_given_degradation_and_srf(pair):
    x, y, z = pair
    deg = estimate_degradation(y, z, device="cpu")
    r = fuse(y, z, degradation=deg, **FAST)
    _check_result(r, x, y, z)
    r2 = fuse(y, z, srf=synthetic_srf(), **FAST)
    _check_result(r2, x, y, z)


def test_input_units_are_preserved(pair):
    """Images in arbitrary units (e.g. DN) come back in the HSI's units."""
    x, y, z = pair
    r = fuse(1000.0 * y, 7.0 * z, outer_iterations=0, device="cpu")
    assert psnr(1000.0 * x, r.image) > psnr(1000.0 * x, 1000.0 * _bicubic(y, 4, 64)) + MIN_GAIN_DB


# ---- progress and cancellation -------------------------------------------------------------

def test_progress_fractions(pair):
    _, y, z = pair
    seen = []
    fuse(y, z, progress=lambda f, m: seen.append((f, m)), **FAST)
    fractions = [f for f, _ in seen]
    assert len(seen) >= 5
    assert all(isinstance(m, str) and m for _, m in seen)
    assert all(0.0 <= f <= 1.0 for f in fractions)
    assert fractions[-1] == pytest.approx(1.0)
    # monotone up to a small slack
    assert all(b >= a - 0.02 for a, b in zip(fractions, fractions[1:])), fractions


class CountingCancel:
    """Returns True from the n-th call on; remembers when it first did."""

    def __init__(self, n):
        self.n, self.calls, self.raised_at = n, 0, None

    def __call__(self):
        self.calls += 1
        if self.calls >= self.n:
            if self.raised_at is None:
                self.raised_at = time.perf_counter()
            return True
        return False


#: cancel checks of the HSI cleaning before the estimate (its message, then three per pass)
CLEANING_CHECKS = 22


@pytest.mark.parametrize("n,phase", [(1, None), (5, "cleaning"), (20 + CLEANING_CHECKS, "degradation"),
                                     (150 + CLEANING_CHECKS, "fusion")],
                         ids=["at-start", "in-cleaning", "in-estimation", "in-fitting"])
def test_cancel_stops_promptly(pair, n, phase):
    _, y, z = pair
    cancel = CountingCancel(n)
    messages = []
    with pytest.raises(Cancelled):
        fuse(y, z, outer_iterations=40, inner_iterations=10, device="cpu", cancel=cancel,
             progress=lambda f, m: messages.append(m), settings=FusionSettings(stopping="fixed"))
    elapsed = time.perf_counter() - cancel.raised_at
    assert elapsed < 2.0, f"stopped {elapsed:.2f} s after cancel() returned True"
    assert cancel.calls <= n + 2   # no long stretch of work that ignores the flag
    if phase is None:
        assert not messages        # nothing reported once cancelled
    else:
        assert phase in messages[-1], messages[-1]   # the call count lands in the intended stage


def test_cancel_from_another_thread(pair):
    """A flag raised by another thread (as a QGIS task does) during a full-length fusion."""
    _, y, z = pair
    flag = threading.Event()
    set_at = []

    def raise_flag():
        set_at.append(time.perf_counter())
        flag.set()

    timer = threading.Timer(1.5, raise_flag)
    timer.start()
    try:
        with pytest.raises(Cancelled):
            fuse(y, z, device="cpu", cancel=flag.is_set,       # the full 40 x 10 schedule
                 settings=FusionSettings(stopping="fixed"))
    finally:
        timer.cancel()
    elapsed = time.perf_counter() - set_at[0]
    assert elapsed < 2.0, f"stopped {elapsed:.2f} s after the flag was raised"


def test_cancel_estimation(pair):
    _, y, z = pair
    cancel = CountingCancel(3)
    with pytest.raises(Cancelled):
        estimate_degradation(y, z, device="cpu", cancel=cancel)
    assert time.perf_counter() - cancel.raised_at < 2.0


# ---- reproducibility -----------------------------------------------------------------------

def test_same_seed_same_bytes_on_cpu(pair):
    _, y, z = pair
    # Random (not meta-learned) initial weights, so that the seed matters at all on this small image.
    run = lambda seed: fuse(y, z, outer_iterations=2, inner_iterations=3, device="cpu", seed=seed,  # noqa: E731
                            settings=FusionSettings(meta_init=False))
    a, b = run(5), run(5)
    assert a.image.tobytes() == b.image.tobytes()
    assert np.array_equal(a.kernel, b.kernel) and np.array_equal(a.srf, b.srf)
    c = run(6)
    assert c.image.tobytes() != a.image.tobytes()


# ---- masks / nodata ------------------------------------------------------------------------

def test_masks_give_nan_in_holes(pair):
    x, y, z = pair
    y, z = y.copy(), z.copy()
    hv = np.ones(y.shape[1:], bool)
    hv[5:8, 5:8] = False
    mv = np.ones(z.shape[1:], bool)
    mv[40:48, 8:20] = False
    y[:, ~hv] = -9999.0          # nodata values must not leak into the result
    z[:, ~mv] = np.nan
    r = fuse(y, z, hsi_valid=hv, msi_valid=mv, **FAST)
    hole = np.zeros(z.shape[1:], bool)
    hole[20:32, 20:32] = True    # the LR hole on the HR grid (scale 4)
    hole[40:48, 8:20] = True
    assert r.image.shape == x.shape
    assert np.all(np.isnan(r.image[:, hole]))
    assert np.all(np.isfinite(r.image[:, ~hole]))
    assert psnr(x[:, ~hole], r.image[:, ~hole]) > psnr(x[:, ~hole], _bicubic(pair[1], 4, 64)[:, ~hole])


def test_nan_pixels_without_masks_are_nodata(pair):
    _, y, z = pair
    y = y.copy()
    y[:, 2, 3] = np.nan
    r = fuse(y, z, **FAST)
    assert np.all(np.isnan(r.image[:, 8:12, 12:16]))
    assert np.isfinite(r.image[:, 20:, :]).all()


def test_non_negative_input_with_nodata_gives_non_negative_output():
    x = synthetic_cube(64, endmembers=4, spatial_smooth=3.0)
    x[:, 20:44, 20:44] = 0.0                      # a dark area: the estimate undershoots there
    y, z = simulate(x, gaussian_kernel(9, 1.5), synthetic_srf(), 4, snr_db=30.0, seed=1)
    y, z = np.clip(y, 0, None), np.clip(z, 0, None)
    assert np.nanmin(fuse(y, z, outer_iterations=0, device="cpu").image) >= 0
    y[:, 0, 0] = np.nan                           # one nodata pixel
    assert np.nanmin(fuse(y, z, outer_iterations=0, device="cpu").image) >= 0


def test_zero_iterations_return_the_starting_image_even_with_meta_weights():
    """``outer_iterations=0`` is documented to return the starting estimate: meta-learned network
    weights (present in models/) must not add an unfitted correction."""
    import torch

    from hsi_blind_fusion.core import simulate
    from hsi_blind_fusion.core.estimation import estimate_normalized
    from hsi_blind_fusion.core.observations import normalize_pair
    from hsi_blind_fusion.core import FusionSettings, fuse
    from hsi_blind_fusion.core.initial_estimate import fit_classical
    from hsi_blind_fusion.core.kernels import gaussian_kernel
    from helpers.scenes import synthetic_cube, synthetic_srf

    x = synthetic_cube(64, endmembers=3, spatial_smooth=2.0, seed=4)
    y, z = simulate(x, gaussian_kernel(9, 1.5), synthetic_srf(), 4, snr_db=40.0, seed=0)
    r = fuse(y, z, outer_iterations=0, inner_iterations=10, device="cpu",
             settings=FusionSettings(initial="classical", meta_init=True, msi_denoising=0))
    assert not r.diagnostics.meta_initialized
    pair = normalize_pair(y, z, 4)
    deg = estimate_normalized(pair)
    est = fit_classical(torch.from_numpy(pair.y), torch.from_numpy(pair.z),
                        torch.as_tensor(deg.kernel, dtype=torch.float32), 4,
                        srf=torch.as_tensor(deg.diagnostics.srf_normalized_units, dtype=torch.float32),
                        detail_test=True)
    start = np.maximum(est.whole().numpy() * pair.y_unit, 0)
    assert np.abs(r.image - start).max() <= 1e-5 * np.abs(start).max()


def test_tv_on_the_correction_keeps_the_start_texture_that_tv_on_the_image_removes():
    """A TV prior far too heavy for the scene smooths the image away from the data when it acts
    on the image; acting on the network's correction it cannot remove the start's texture."""
    from hsi_blind_fusion.core import metrics, simulate
    from hsi_blind_fusion.core import FusionSettings, fuse
    from hsi_blind_fusion.core.kernels import gaussian_kernel
    from helpers.scenes import synthetic_cube, synthetic_srf

    x = synthetic_cube(64, endmembers=4, spatial_smooth=1.5, seed=2)
    y, z = simulate(x, gaussian_kernel(9, 1.5), synthetic_srf(), 4, snr_db=40.0, seed=0)
    run = lambda **s: metrics.psnr(x, fuse(y, z, outer_iterations=6, inner_iterations=5, device="cpu",  # noqa: E731
                                          settings=FusionSettings(stopping="fixed", **s)).image)
    start = metrics.psnr(x, fuse(y, z, outer_iterations=0, device="cpu").image)
    on_image = run(tv_weight=100.0, tv_on="image", output_shape_smoothing=False)
    on_correction = run(tv_weight=100.0, tv_on="correction", output_shape_smoothing=False)
    assert on_correction > start - 0.3, (start, on_correction)
    assert on_image < on_correction - 1.0, (on_image, on_correction)


def test_unknown_tv_target_is_a_typed_error():
    from hsi_blind_fusion.core.errors import InvalidInputError
    from hsi_blind_fusion.core import FusionSettings, fuse

    y, z = np.ones((4, 8, 8), np.float32), np.ones((3, 32, 32), np.float32)
    with pytest.raises(InvalidInputError, match="TV target"):
        fuse(y, z, settings=FusionSettings(tv_on="edges"))


def test_fitting_a_classical_start_does_not_lose_on_a_scene_without_flat_areas():
    """A textured scene fools image-domain MSI noise estimates (no flat blocks: they read ~4x too
    high) and the dark-pixel smoothing then blurs everything; the LR-identity cap prevents it."""
    from hsi_blind_fusion.core import metrics, simulate
    from hsi_blind_fusion.core import FusionSettings, fuse
    from hsi_blind_fusion.core.kernels import gaussian_kernel
    from helpers.scenes import synthetic_cube, synthetic_srf

    x = synthetic_cube(64, endmembers=4, spatial_smooth=1.5, seed=2)
    y, z = simulate(x, gaussian_kernel(9, 1.5), synthetic_srf(), 4, snr_db=40.0, seed=0)
    start = lambda cap: metrics.psnr(x, fuse(y, z, outer_iterations=0, device="cpu",  # noqa: E731
                                            settings=FusionSettings(noise_cap=cap)).image)
    capped = start(True)
    assert capped > start(False) + 3.0
    fitted = metrics.psnr(x, fuse(y, z, outer_iterations=6, inner_iterations=5, device="cpu").image)
    assert fitted > capped - 1.0, (capped, fitted)


def test_settings_are_frozen_and_keywords_override_a_copy():
    from dataclasses import FrozenInstanceError

    from hsi_blind_fusion.core import FusionDiagnostics

    x = synthetic_cube(32, seed=2)
    y, z = simulate(x, gaussian_kernel(9, 1.5), synthetic_srf(), 4, snr_db=40.0, seed=0)
    cfg = FusionSettings(outer_iterations=3, inner_iterations=1, msi_denoising=0)
    r = fuse(y, z, outer_iterations=1, device="cpu", settings=cfg)
    assert cfg.outer_iterations == 3                      # the caller's settings are untouched
    assert isinstance(r.diagnostics, FusionDiagnostics)
    assert (r.diagnostics.outer_iterations, r.diagnostics.inner_iterations) == (1, 1)
    assert len(r.diagnostics.losses["reconstruction"]) == 1 and r.diagnostics.msi_noise_std is None
    with pytest.raises(FrozenInstanceError):
        cfg.outer_iterations = 5
    with pytest.raises(InvalidInputError, match="mode"):
        FusionSettings(mode="both")


def test_stops_when_converged_and_keeps_the_best_iterate():
    """With the default stopping rule the alternation ends once the held-out LR pixels stop being
    predicted better (never before min_outer_iterations), and the kept image is the best iterate's;
    the paper's fixed schedule runs every iteration."""
    x = synthetic_cube(64, seed=4)
    y, z = simulate(x, gaussian_kernel(9, 1.5), synthetic_srf(), 4, snr_db=35.0, seed=0)
    cfg = FusionSettings(outer_iterations=8, inner_iterations=2, device="cpu")
    r = fuse(y, z, scale=4, settings=cfg)
    d = r.diagnostics
    curve = d.losses["held-out LR consistency"]
    assert cfg.min_outer_iterations <= d.outer_iterations_run <= 8 and len(curve) == d.outer_iterations_run + 1
    if d.outer_iterations_run < 8:
        assert d.stop_reason.startswith("converged")
    best = int(np.argmin(curve))
    if best == 0:       # the start predicted best: the kept image is the start itself
        start = fuse(y, z, scale=4, settings=replace(cfg, outer_iterations=0))
        np.testing.assert_allclose(r.image, start.image, atol=1e-6)
    fixed = fuse(y, z, scale=4, settings=replace(cfg, stopping="fixed", outer_iterations=3))
    assert fixed.diagnostics.outer_iterations_run == 3 and "held-out LR consistency" not in fixed.diagnostics.losses
