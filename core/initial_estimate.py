"""A quick classical HR estimate: the starting image of the reconstruction when no pre-trained
backbone is available.

Each HSI band is regressed, at low resolution, on the MSI bands blurred and downsampled with the
estimated kernel; the regression applied to the full-resolution MSI injects its spatial detail.
A few rounds of back-projection of the LR residual then make the estimate consistent with Y.
"""
from __future__ import annotations

import torch

from .operators import blur_downsample, upsample


def regression_estimate(y: torch.Tensor, z: torch.Tensor, kernel: torch.Tensor, scale: int,
                        hsi_valid: torch.Tensor | None = None, ridge: float = 1e-6,
                        back_projections: int = 3) -> torch.Tensor:
    """``(bands, h, w)``, ``(msi_bands, H, W)`` -> ``(bands, H, W)`` in the same units as ``y``."""
    bands, h, w = y.shape
    msi_bands, height, width = z.shape
    z_lr = blur_downsample(z, kernel, scale)
    design = torch.cat([z_lr.reshape(msi_bands, -1), torch.ones(1, h * w, dtype=z.dtype, device=z.device)])
    target = y.reshape(bands, -1)
    if hsi_valid is not None:
        keep = hsi_valid.reshape(-1)
        design, target = design[:, keep], target[:, keep]
    gram = design @ design.T
    gram = gram + ridge * torch.trace(gram) / gram.shape[0] * torch.eye(gram.shape[0], dtype=z.dtype, device=z.device)
    coef = torch.linalg.solve(gram, design @ target.T).T            # (bands, msi_bands + 1)
    x = torch.einsum("cm,mhw->chw", coef[:, :msi_bands], z) + coef[:, msi_bands:, None]
    for _ in range(back_projections):
        residual = y - blur_downsample(x, kernel, scale)
        x = x + upsample(residual, scale, height, width)
    return x


def bicubic_estimate(y: torch.Tensor, scale: int, height: int, width: int) -> torch.Tensor:
    """Plain bicubic upsampling (the baseline every fusion must beat clearly)."""
    return upsample(y, scale, height, width)
