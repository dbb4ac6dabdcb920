"""The fused image, tile by tile.

Every stage after the (LR-sized) degradation estimate is local, so each tile is computed with a
halo covering the network's receptive field (and the start image's margin, which the scene
windows add): tiles match the whole-image result to float precision, with no seams and nothing
to blend. Tiles go to a caller's writer (the HR cube is then never held whole) or into one array.
"""
from __future__ import annotations

import math
from typing import Callable, Optional

import numpy as np
import torch

from .fitting import Fitter
from .noise import flat_block_noise_sigma, lr_identity_noise_cap
from .observations import NormalizedPair
from .operators import blur_downsample
from .progress import Reporter
from .tile_renderer import SceneArrays, TileRenderer
from .windows import Window, tiles

#: ``writer(window, block)``: one fused tile, float32 ``(bands, window.height, window.width)`` in
#: the HSI's units, NaN where an input was invalid.
Writer = Callable[[Window, np.ndarray], None]


class TileSink:
    """Collects finished tiles (float32, the HSI's units, NaN where an input was invalid: see
    TileRenderer) into one array, or passes them to the caller's writer."""

    def __init__(self, pair: NormalizedPair, writer: Optional[Writer]):
        self.writer = writer
        bands, (height, width) = pair.y.shape[0], pair.z.shape[1:]
        self.image = None if writer else np.empty((bands, height, width), dtype=np.float32)

    def put(self, window: Window, block: np.ndarray) -> None:
        if self.writer:
            self.writer(window, block)
        else:
            self.image[(slice(None),) + window.slices()] = block


#: ``farm(renderer, arrays, windows, put, report)`` computes every tile of ``windows`` somewhere
#: (other processes, other machines) and calls ``put(window, block)`` for each in this process, in
#: any order, once each (core/tile_farm.py); ``report`` is the rendering's share of the progress
#: and its cancel check.
TileFarm = Callable[[TileRenderer, SceneArrays, list, Callable[[Window, np.ndarray], None], Reporter], None]


def shape_smoothing(fitter: Fitter, msi_noise: Optional[torch.Tensor]) -> Optional[dict]:
    """The classical start's dark-pixel spectral smoothing, for a backbone start (whose refinement
    does not have it); None for a classical start, fitted or not, where it measured no better
    (docs/network_prior.md). Its MSI noise level is the one before denoising, capped by the LR
    identity (texture inflates the uncapped estimate)."""
    cfg, obs = fitter.cfg, fitter.obs
    if not cfg.output_shape_smoothing or fitter.scene.method != "backbone":
        return None
    sigma = 0.7
    noise = msi_noise if msi_noise is not None else flat_block_noise_sigma(obs.z)
    if cfg.noise_cap:
        with torch.no_grad():
            kernel, srf = fitter.kernel_layer(), fitter.response_layer()
            cap = lr_identity_noise_cap(obs.y, blur_downsample(obs.z, kernel, obs.scale), kernel, srf,
                                        obs.hsi_valid)
        noise = torch.minimum(noise, cap)
    return {"sigma": sigma, "snr": 30.0, "noise": float(torch.sqrt((noise ** 2).sum())),
            "floor": 0.05 * float(obs.y.sum(0).mean().clamp_min(1e-12)), "reach": int(math.ceil(3 * sigma)) + 1}


def scene_arrays(fitter: Fitter) -> SceneArrays:
    """The scene-sized arrays a tile reads windows of: the fitting's own (on its device)."""
    obs, est = fitter.obs, fitter.scene.estimator
    band_valid = None if obs.hsi_band_valid is None else obs.hsi_band_valid.cpu().numpy()
    return SceneArrays(y=obs.y, z=obs.z, hsi_valid=obs.hsi_valid.cpu().numpy(),
                       msi_valid=obs.msi_valid.cpu().numpy(), coef=est.coef if est is not None else None,
                       offset=est.offset if est is not None else None,
                       lr_correction=est.lr_correction if est is not None else None, hsi_band_valid=band_valid)


def render(fitter: Fitter, tile: int, put: Callable[[Window, np.ndarray], None], report: Reporter,
           msi_noise: Optional[torch.Tensor] = None, farm: Optional[TileFarm] = None) -> TileRenderer:
    """The whole HR image, tile by tile, each computed on the tile grown by a halo covering the
    network's receptive field, so tiles meet without seams. Every tile goes through one
    :class:`TileRenderer` (returned); a ``farm`` computes them elsewhere, else they are computed
    here, a cached scene's from its whole start image and guidance."""
    height, width = fitter.obs.hr_shape
    renderer = TileRenderer.from_fitter(fitter, msi_noise)
    all_tiles = list(tiles(height, width, tile))
    arrays = scene_arrays(fitter)
    if farm is not None:
        farm(renderer, arrays, all_tiles, put, report)
        return renderer
    scene, z = fitter.scene, fitter.obs.z
    with torch.no_grad():
        for i, window in enumerate(all_tiles):
            report(i / len(all_tiles), f"writing tile {i + 1}/{len(all_tiles)}")
            if scene.cached:        # slices of the whole start image and guidance kept in memory
                grown = renderer.grown(window)
                x_base, features = scene.window(grown)
                block = renderer.finish(window, grown, x_base, features, z[(slice(None),) + grown.slices()],
                                        *renderer.masks(window, arrays.msi_valid, arrays.hsi_valid,
                                                        Window.full(height, width), arrays.hsi_band_valid))
            else:
                block = renderer.render(renderer.context(window, arrays, copy=False))
            put(window, block)
    return renderer


def upsampled_tile(fitter: Fitter, renderer: TileRenderer, arrays: SceneArrays, window: Window) -> np.ndarray:
    """The bicubic-upsampled HSI on ``window``, finished as a fused tile is (units, clipping, nodata)."""
    from .guard import upsampled

    height, width = fitter.obs.hr_shape
    with torch.no_grad():
        x = upsampled(fitter.obs.y, fitter.obs.scale, window, height, width)
    return renderer.to_output(x, *renderer.masks(window, arrays.msi_valid, arrays.hsi_valid,
                                                 Window.full(height, width), arrays.hsi_band_valid))


def render_upsampled(fitter: Fitter, tile: int, put: Callable[[Window, np.ndarray], None], report: Reporter) -> None:
    """The bicubic-upsampled HSI, tile by tile (what the guard writes when the fusion is no better)."""
    renderer, arrays = TileRenderer.from_fitter(fitter), scene_arrays(fitter)
    all_tiles = list(tiles(*fitter.obs.hr_shape, tile))
    for i, window in enumerate(all_tiles):
        report(i / len(all_tiles), f"writing tile {i + 1}/{len(all_tiles)} (upsampled HSI)")
        put(window, upsampled_tile(fitter, renderer, arrays, window))


def blend_changed(fitter: Fitter, changed: np.ndarray, put: Callable[[Window, np.ndarray], None]
                  ) -> Callable[[Window, np.ndarray], None]:
    """``put`` with the upsampled HSI in place of the fusion where the images disagree (``changed``:
    LR pixels, core/pair_changes.py): there the MSI shows another scene, and its detail would be
    wrong. The two meet over a ramp of about one LR pixel (the bicubic-upsampled mask)."""
    from .guard import upsampled

    s, (height, width) = fitter.obs.scale, fitter.obs.hr_shape
    renderer, arrays = TileRenderer.from_fitter(fitter), scene_arrays(fitter)
    mask = torch.from_numpy(changed.astype(np.float32))[None]

    def blended(window: Window, block: np.ndarray) -> None:
        lr = window.to_lr(s).grow(2).clip(*changed.shape)
        if not changed[lr.rows, lr.cols].any():
            put(window, block)
            return
        with torch.no_grad():
            weight = upsampled(mask, s, window, height, width)[0].clamp(0.0, 1.0).numpy()
        up = upsampled_tile(fitter, renderer, arrays, window)
        put(window, ((1.0 - weight) * block + weight * up).astype(np.float32))

    return blended
