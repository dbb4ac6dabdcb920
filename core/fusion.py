"""Blind fusion: estimate K and P, build a starting HR image, then refine image and degradation
by alternating optimization (the method of Nie, Zhang, Wei et al.), with ``separate`` and
``joint`` modes for ablation.

The stages, each in its own module: the LR-HSI's cleaning of stripes and impulse outliers
(hsi_cleaning.py), the blind estimate of K and P (estimation.py), the MSI's
denoising (msi_denoising.py), the starting image on any window (scene_windows.py, from
initial_estimate.py or backbone.py), the per-scene fitting on random crops (fitting.py), and the
output tile by tile (rendering.py). Large scenes are never held as a whole HR cube: tiles go to a
``writer`` callback when one is given.
"""
from __future__ import annotations

import functools
import math
import time
import warnings
from dataclasses import replace
from typing import Optional

import numpy as np
import torch

from .devices import resolve_device, run_with_gpu_fallback, seed_everything, working_memory_budget
from .errors import InvalidInputError
from .estimation import estimate_normalized
from .fitting import Fitter
from .hsi_cleaning import clean_pair
from .kernel_refit import denoise_and_refit
from .msi_linearity import linearize_and_estimate
from .msi_mtf import undo_msi_mtf
from .observations import NormalizedPair, normalize_pair
from .progress import Cancel, Progress, Reporter
from . import band_detail
from .guard import ConsistencyCheck, consistency_check, sample_windows
from .pair_changes import exclude_changes
from .rendering import TileFarm, TileSink, Writer, blend_changed, render, render_upsampled
from .responses import normalize_rows
from .results import Degradation, FusionDiagnostics, FusionResult, HsiCleaning
from .scene_windows import SceneWindows
from .settings import MODES, FusionSettings  # noqa: F401  (MODES: part of the public API)


def resolve_settings(settings: Optional[FusionSettings] = None, **overrides) -> FusionSettings:
    """``settings`` (or the defaults) with the keyword arguments that are not None put in."""
    given = {k: v for k, v in overrides.items() if v is not None}
    return replace(settings or FusionSettings(), **given)


def fuse(hsi: np.ndarray, msi: np.ndarray, scale: int | None = None, srf: np.ndarray | None = None,
         outer_iterations: int | None = None, inner_iterations: int | None = None, mode: str | None = None,
         device: str | None = None, seed: int | None = None, progress: Progress | None = None,
         cancel: Cancel | None = None, degradation: Degradation | None = None,
         hsi_valid: np.ndarray | None = None, msi_valid: np.ndarray | None = None,
         kernel_size: int | None = None, hsi_wavelengths: np.ndarray | None = None,
         settings: FusionSettings | None = None, writer: Optional[Writer] = None,
         farm: Optional[TileFarm] = None) -> FusionResult:
    """Fuse ``hsi`` ``(bands, h, w)`` with ``msi`` ``(msi_bands, H, W)`` into ``(bands, H, W)``.

    ``settings`` says how (:class:`FusionSettings`); the keyword arguments ``outer_iterations``,
    ``inner_iterations``, ``mode``, ``device``, ``seed`` and ``kernel_size``, when given, replace
    its fields (the caller's settings object is not changed). ``srf`` is a starting response
    (rows = MSI bands); ``degradation`` a starting K and P (e.g. from
    :func:`estimate_degradation`). ``outer_iterations=0`` returns the starting estimate.
    ``progress(fraction, message)`` is called regularly; ``cancel()`` returning True raises
    :class:`Cancelled` within about a second. Masks mark valid pixels (False = nodata, NaN in
    the output). With ``writer(window, block)`` the image is handed over tile by tile (in the
    HSI's units) and ``result.image`` is None: the whole HR cube never sits in memory. A ``farm``
    (core/tile_farm.py) computes the tiles elsewhere (e.g. on Dask workers) once the fitting is
    done here; they reach ``writer`` in this process.
    """
    cfg = resolve_settings(settings, outer_iterations=outer_iterations, inner_iterations=inner_iterations,
                           mode=mode, device=device, seed=seed, kernel_size=kernel_size)
    report = Reporter(progress, cancel)
    timings: dict[str, float] = {}
    dev = resolve_device(cfg.device)
    seed_everything(cfg.seed)

    t = time.perf_counter()
    pair = normalize_pair(hsi, msi, scale, hsi_valid, msi_valid)
    timings["validate"] = time.perf_counter() - t

    # before anything derives from pair.y: the estimate, the start's LR state and every tile see one HSI
    cleaning = None
    if cfg.hsi_cleaning != "off":
        t = time.perf_counter()
        report(0.0, "cleaning the hyperspectral image (stripes, outliers)")
        pair, cleaning = clean_pair(pair, cfg.hsi_cleaning, report.check)
        timings["hsi_cleaning"] = time.perf_counter() - t

    if cfg.msi_mtf < 1.0:
        t = time.perf_counter()
        report(0.0, f"restoring the MSI's own blur (MTF {cfg.msi_mtf:g} at Nyquist)")
        pair = replace(pair, z=undo_msi_mtf(pair.z, cfg.msi_mtf, pair.msi_valid))
        timings["msi_mtf"] = time.perf_counter() - t

    t = time.perf_counter()
    report(0.0, "estimating the blur kernel and spectral response")
    start_k = degradation.kernel if degradation is not None else None
    start_p = degradation.srf if degradation is not None else srf
    if degradation is not None and degradation.scale != pair.scale:
        raise InvalidInputError(
            f"the starting degradation was estimated for scale {degradation.scale}, these images have scale {pair.scale}")
    estimate = lambda p: estimate_normalized(p, srf=start_p, kernel=start_k, kernel_size=cfg.kernel_size,  # noqa: E731
                                             seed=cfg.seed, progress=report.sub(0.0, 0.2),
                                             cancel=report.cancelled, hsi_wavelengths=hsi_wavelengths)
    deg = estimate(pair)
    timings["degradation_estimate"] = time.perf_counter() - t

    changes = None
    if cfg.changed_areas == "auto":
        t = time.perf_counter()
        deg, changes = exclude_changes(pair, deg, estimate, report=report)
        if changes.summary():
            report(0.0, changes.summary())
        timings["changed_areas"] = time.perf_counter() - t
    # the later estimates (linearization, the refit on the denoised MSI) read the pair without the changes
    est_pair = changes.estimation_pair(pair) if changes is not None else pair

    if cfg.msi_linearization == "auto":
        t = time.perf_counter()
        est_pair, deg = linearize_and_estimate(est_pair, deg, estimate if degradation is None else None, report)
        pair = replace(pair, z=est_pair.z)
        timings["msi_linearization"] = time.perf_counter() - t
    deg.diagnostics.pair_changes = changes

    def attempt(dev: torch.device, retry: int) -> FusionResult:
        run_cfg = cfg if retry == 0 else smaller_settings(cfg, pair, dev)
        return _fuse_on(run_cfg, pair, deg, dev, report, writer, timings, farm, cleaning, hsi_wavelengths,
                        est_pair)

    return run_with_gpu_fallback(attempt, dev, lambda msg: warnings.warn(msg, stacklevel=3))


def smaller_settings(cfg: FusionSettings, pair: NormalizedPair, dev: torch.device) -> FusionSettings:
    """Settings for a retry after GPU out-of-memory: no whole-scene cache, half the tile."""
    tile = cfg.tile_size or auto_tile_size(pair.y.shape[0], streaming_reach(pair.scale), pair.scale,
                                           working_memory_budget(dev))
    return replace(cfg, cache_limit_bytes=0, tile_size=max(pair.scale, tile // 2 // pair.scale * pair.scale))


def _fuse_on(cfg: FusionSettings, pair: NormalizedPair, deg: Degradation, dev: torch.device,
             report: Reporter, writer: Optional[Writer], timings: dict,
             farm: Optional[TileFarm] = None, cleaning: Optional[HsiCleaning] = None,
             hsi_wavelengths: Optional[np.ndarray] = None, est_pair: Optional[NormalizedPair] = None) -> FusionResult:
    """Everything after the (NumPy) degradation estimate, on one device (K and P refitted on the
    denoised MSI where it is noisy: core/kernel_refit.py, on ``est_pair``: the pair without its
    changed areas)."""
    est_pair = est_pair if est_pair is not None else pair
    changes = deg.diagnostics.pair_changes
    changed = changes.mask if changes is not None and changes.applied else None
    seed_everything(cfg.seed)
    t = time.perf_counter()
    obs = pair.on(dev)
    # the start and the fitting do not read where the images disagree (pair_changes.py); the output's
    # nodata comes from the real masks, restored after the fitting
    true_valid = obs.hsi_valid, obs.hsi_band_valid
    if changes is not None and changes.applied:
        out = torch.from_numpy(changes.excluded_mask).to(dev)
        obs.hsi_valid = obs.hsi_valid & ~out
        if obs.hsi_band_valid is not None:
            obs.hsi_band_valid = obs.hsi_band_valid & ~out
    msi_noise = None
    if cfg.msi_denoising > 0:
        report(0.2, "denoising the multispectral image")
        first_seconds = deg.diagnostics.seconds
        with torch.no_grad():
            # in place: obs.z is this call's normalized copy (pair.z, or its copy on the GPU), and
            # only its shape is read after this; a large MSI then costs no second copy
            obs.z, msi_noise, deg = denoise_and_refit(
                est_pair, deg, cfg.msi_denoising, obs.z, obs.y, obs.hsi_valid, obs.msi_valid, inplace=True,
                kernel_size=cfg.kernel_size, seed=cfg.seed, cancel=report.cancelled,
                hsi_wavelengths=hsi_wavelengths)
        refit = deg.diagnostics.seconds - first_seconds
        if deg.diagnostics.refitted_on_denoised_msi:
            timings["degradation_refit"] = refit
            report(0.2, f"noisy MSI (SNR {deg.diagnostics.msi_snr_db:.1f} dB): kernel and response refitted "
                        "on the denoised MSI")
        timings["msi_denoising"] = time.perf_counter() - t - refit
        t = time.perf_counter()
    kernel0 = torch.as_tensor(deg.kernel, dtype=torch.float32, device=dev)
    srf0 = torch.as_tensor(deg.diagnostics.srf_normalized_units, dtype=torch.float32, device=dev)
    report(0.2, "building the initial estimate")
    with torch.no_grad():
        scene = SceneWindows.build(cfg, obs, kernel0, srf0, report.check)
    timings["initial_estimate"] = time.perf_counter() - t
    if scene.estimator is not None and scene.estimator.band_kernels is not None:
        report(0.25, scene.estimator.band_kernels.summary())
    if scene.estimator is not None and band_detail.summary(scene.estimator.detail_weights):
        report(0.25, band_detail.summary(scene.estimator.detail_weights))

    t = time.perf_counter()
    fitter = Fitter(cfg, obs, scene, deg, report.sub(0.25, 0.9))
    kernel, srf_n, losses = fitter.run()
    obs.hsi_valid, obs.hsi_band_valid = true_valid
    timings["fusion"] = time.perf_counter() - t

    t = time.perf_counter()
    guard = None if cfg.guard == "off" else _check(fitter, scene, obs, cfg, msi_noise, changed)
    timings["guard"] = time.perf_counter() - t
    t = time.perf_counter()
    sink = TileSink(pair, writer)
    reach = scene.margin + (0 if scene.cached else scene.guidance_margin) + fitter.net.receptive_radius + 1
    tile = cfg.tile_size or auto_tile_size(pair.y.shape[0], reach, pair.scale, working_memory_budget(dev))
    written = "fusion"
    if guard is not None and guard.fusion_worse and cfg.guard == "fallback":
        written = "upsampled HSI"
        render_upsampled(fitter, tile, sink.put, report.sub(0.9, 1.0))
    else:
        render(fitter, tile, sink.put if changed is None else blend_changed(fitter, changed, sink.put),
               report.sub(0.9, 1.0), msi_noise, farm)
    timings["write"] = time.perf_counter() - t
    report(1.0, "done")
    diagnostics = FusionDiagnostics(
        device=str(dev), mode=cfg.mode, outer_iterations=cfg.outer_iterations,
        inner_iterations=cfg.inner_iterations, seed=cfg.seed, initial_estimate=scene.method,
        meta_initialized=fitter.meta_initialized, tv_weight=fitter.tv_weight,
        msi_noise_std=None if msi_noise is None else (msi_noise.cpu().numpy() * pair.z_unit).tolist(),
        classical_ridge=scene.estimator.ridge if scene.estimator is not None else None,
        tile_size=tile, cached=scene.cached, estimation=deg.diagnostics, estimated_kernel=deg.kernel,
        estimated_srf=deg.srf, timings=timings, losses=losses, guard=guard, written=written,
        outer_iterations_run=fitter.outer_run, stop_reason=fitter.stop_reason or "no fitting (0 iterations)",
        hsi_cleaning=cleaning, band_detail=_band_detail(scene),
        band_kernels=scene.estimator.band_kernels if scene.estimator is not None else None)
    return FusionResult(
        image=sink.image, kernel=kernel, srf=normalize_rows(srf_n), scale=pair.scale,
        msi_gain=srf_n.sum(axis=1) * pair.z_unit / pair.y_unit,
        initial_kernel=deg.initial_kernel, initial_srf=deg.initial_srf, diagnostics=diagnostics)


def _band_detail(scene: SceneWindows) -> Optional[list]:
    weights = scene.estimator.detail_weights if scene.estimator is not None else None
    return None if weights is None else [round(float(w), 4) for w in weights.cpu()]


def _check(fitter: Fitter, scene: SceneWindows, obs, cfg: FusionSettings,
           msi_noise: Optional[torch.Tensor], changed: Optional[np.ndarray] = None) -> ConsistencyCheck:
    """The guard's figures for the fitted network (guard.py); ``msi_noise``: the MSI's per-band
    noise std before denoising (None: the guard reads it); ``changed``: LR pixels where the images
    disagree (written as upsampled HSI, so left out of the judgement)."""
    held = scene.estimator.held_out if scene.estimator is not None else None
    with torch.no_grad():
        kernel, srf = fitter.kernel_layer(), fitter.response_layer()
    windows = sample_windows(*obs.hr_shape, obs.scale, cfg.seed)
    image = lambda w: fitter.image_and_start(w)[0]  # noqa: E731
    if changed is not None:     # judged twice (the whole scene, its rest): each window's image made once
        image = functools.lru_cache(maxsize=None)(image)
    check = lambda hsi_valid, msi_valid: consistency_check(  # noqa: E731
        image, obs.y, obs.z, hsi_valid, msi_valid, kernel, srf, obs.scale, windows,
        None if held is None else held.gain, msi_noise)
    whole = check(obs.hsi_valid, obs.msi_valid)
    if changed is None:
        return whole
    lr = torch.from_numpy(changed).to(obs.hsi_valid.device)
    hr = lr.repeat_interleave(obs.scale, 0).repeat_interleave(obs.scale, 1)
    rest = check(obs.hsi_valid & ~lr, obs.msi_valid & ~hr)
    # the MSI's noise relative to the whole scene's signal: the rest of a mismatched pair may be where
    # the MSI is darkest, and its own relative noise would excuse any residual there
    return replace(rest, msi_noise=whole.msi_noise)


def auto_tile_size(bands: int, margin: int, scale: int, budget_bytes: int) -> int:
    """The largest HR tile whose working set fits ``budget_bytes``; a multiple of the scale.
    Rendering a streamed tile peaks at about 1.6 float32 cubes of the tile plus its margin (the
    band-chunked start image, its guidance, the network output: docs/speed.md); 3 cubes leave room."""
    side = int(math.sqrt(budget_bytes / (bands * 4 * 3))) - 2 * margin
    side = max(128, min(2048, side))
    return max(scale, side // scale * scale)


def streaming_reach(scale: int) -> int:
    """HR pixels of context a streamed tile needs with the default kernel support (2·scale + 1),
    rounded up: the classical start's upsampling, the guidance maps, the network's receptive field
    (the start's back-projections are LR state: initial_estimate.ClassicalEstimator.back_project)."""
    return 10 * scale
