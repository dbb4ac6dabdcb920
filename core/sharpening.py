"""Bringing a coarser multispectral image (Sentinel-2's 20 m bands, Landsat's 30 m bands beside its
15 m pan) onto the MSI's grid, so its bands can join the MSI's.

The coarse bands are sharpened by the classical start's own machinery (initial_estimate.py): a
local regression of each coarse band on the MSI bands blurred to the coarse grid, applied to the
MSI at full resolution, plus the back-projection of the residual. A coarse pixel integrates its
footprint of MSI pixels (plus a mild optical blur: kernels.footprint_kernel); the fusion then
treats the sharpened bands as MSI bands with their own rows of the estimated response.
"""
from __future__ import annotations

import numpy as np
import torch

from .initial_estimate import fit_classical
from .kernels import footprint_kernel
from .validation import finite_or_masked
from .windows import Window


def sharpen_coarse_bands(coarse: np.ndarray, coarse_valid: np.ndarray, msi: np.ndarray, msi_valid: np.ndarray,
                         scale: int) -> np.ndarray:
    """``coarse`` ``(m2, h2, w2)`` on a grid ``scale`` times coarser than ``msi`` ``(m, H, W)`` and
    aligned with it (``h2 * scale >= H``), sharpened onto the MSI's grid ``(m2, H, W)``; NaN where
    the coarse image is invalid."""
    m2, h2, w2 = coarse.shape
    height, width = msi.shape[1:]
    z2, ok2 = finite_or_masked(np.asarray(coarse, np.float32), coarse_valid, "second multispectral image")
    z, ok = finite_or_masked(np.asarray(msi, np.float32), msi_valid, "multispectral image")
    # the MSI padded (edge) to whole coarse pixels, then both scaled to about [0, 1]
    z = np.pad(z, ((0, 0), (0, h2 * scale - height), (0, w2 * scale - width)), mode="edge")
    u2 = float(np.percentile(np.abs(z2[:, ok2]), 99.9)) or 1.0
    u = float(np.percentile(np.abs(z[:, : height, : width][:, ok]), 99.9)) or 1.0
    kernel = torch.as_tensor(footprint_kernel(scale), dtype=torch.float32)
    with torch.no_grad():
        est = fit_classical(torch.from_numpy(z2 / u2), torch.from_numpy(z / u), kernel, scale,
                            hsi_valid=torch.from_numpy(ok2), shape_sigma=0.0)
        out = est.region(Window(0, 0, height, width)).numpy() * u2
    invalid = np.kron(~ok2, np.ones((scale, scale), bool))[:height, :width]
    out[:, invalid] = np.nan
    return out.astype(np.float32)
