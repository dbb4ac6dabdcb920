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
from .initial_estimate import smooth_shape_where_dark_
from .noise import flat_block_noise_sigma, lr_identity_noise_cap
from .observations import NormalizedPair
from .operators import blur_downsample
from .progress import Reporter
from .windows import Window, tiles

#: ``writer(window, block)``: one fused tile, float32 ``(bands, window.height, window.width)`` in
#: the HSI's units, NaN where an input was invalid.
Writer = Callable[[Window, np.ndarray], None]


class TileSink:
    """Brings tiles back to the HSI's units and masks invalid pixels, then collects them into one
    array or passes them to the caller's writer."""

    def __init__(self, pair: NormalizedPair, writer: Optional[Writer]):
        self.pair, self.writer = pair, writer
        self.clip = float(np.nanmin(pair.y)) >= 0
        bands, (height, width) = pair.y.shape[0], pair.z.shape[1:]
        self.image = None if writer else np.empty((bands, height, width), dtype=np.float32)

    def put(self, window: Window, block: torch.Tensor) -> None:
        p, s = self.pair, self.pair.scale
        b = block.detach().cpu().numpy().astype(np.float32) * np.float32(p.y_unit)
        if self.clip:
            np.maximum(b, 0, out=b)
        rows, cols = window.slices()
        b[:, ~p.msi_valid[rows, cols]] = np.nan
        lr = window.snap(s)
        lr_rows, lr_cols = lr.to_lr(s).slices()
        # an HSI pixel invalid in some bands leaves those bands nodata under it (in every band when
        # the HSI has one mask for all)
        lr_invalid = (~p.hsi_valid[lr_rows, lr_cols])[None] if p.hsi_band_valid is None else \
            ~p.hsi_band_valid[:, lr_rows, lr_cols]
        if lr_invalid.any():
            up = np.kron(lr_invalid, np.ones((1, s, s), dtype=bool))
            inner = window.relative_to(lr)
            bad = up[(slice(None),) + inner.slices()]
            b[np.broadcast_to(bad, b.shape)] = np.nan
        if self.writer:
            self.writer(window, b)
        else:
            self.image[:, rows, cols] = b


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


def render(fitter: Fitter, tile: int, put: Callable[[Window, torch.Tensor], None], report: Reporter,
           msi_noise: Optional[torch.Tensor] = None) -> None:
    """The whole HR image, tile by tile, each computed on the tile grown by a halo covering the
    network's receptive field, so tiles meet without seams."""
    height, width = fitter.obs.hr_shape
    shape = shape_smoothing(fitter, msi_noise)
    halo = fitter.net.receptive_radius + 1 + (shape["reach"] if shape else 0)
    all_tiles = list(tiles(height, width, tile))
    z = fitter.obs.z
    with torch.no_grad():
        for i, window in enumerate(all_tiles):
            report(i / len(all_tiles), f"writing tile {i + 1}/{len(all_tiles)}")
            grown = window.grow(halo).clip(height, width)
            x = fitter.image_and_start(grown)[0]
            if shape:
                rows, cols = grown.slices()
                smooth_shape_where_dark_(x, z[:, rows, cols], shape["noise"], shape["sigma"], shape["snr"],
                                         shape["floor"])
            rows, cols = window.relative_to(grown).slices()
            put(window, x[:, rows, cols])


def render_upsampled(obs, tile: int, put: Callable[[Window, torch.Tensor], None], report: Reporter) -> None:
    """The bicubic-upsampled HSI, tile by tile (what the guard writes when the fusion is no better)."""
    from .guard import upsampled

    height, width = obs.hr_shape
    all_tiles = list(tiles(height, width, tile))
    with torch.no_grad():
        for i, window in enumerate(all_tiles):
            report(i / len(all_tiles), f"writing tile {i + 1}/{len(all_tiles)} (upsampled HSI)")
            put(window, upsampled(obs.y, obs.scale, window, height, width))
