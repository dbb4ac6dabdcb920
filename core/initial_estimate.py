"""A quick classical HR estimate: the starting image of the reconstruction when no pre-trained
backbone is available.

Each HSI band is modelled, at low resolution, as a *local* linear combination of the MSI bands
blurred and downsampled with the estimated kernel (a multi-channel guided filter whose
coefficients are pulled toward one global regression). The coefficients, brought to the HR grid,
applied to the full-resolution MSI inject its spatial detail; a few rounds of back-projection of
the LR residual then make the estimate consistent with Y. MSI noise injected this way tilts the
spectra of dark pixels (a poor SAM): where the local MSI signal-to-noise ratio is low, the
spectral *shape* is taken from a slightly smoothed estimate while the per-pixel intensity keeps
the detail.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .kernels import gaussian_kernel
from .operators import blur, blur_downsample, upsample


def regression_estimate(y: torch.Tensor, z: torch.Tensor, kernel: torch.Tensor, scale: int,
                        hsi_valid: torch.Tensor | None = None, radius: int = 1, eps: float = 0.01,
                        back_projections: int = 3, shape_sigma: float = 0.7,
                        shape_snr: float = 30.0) -> torch.Tensor:
    """``(bands, h, w)``, ``(msi_bands, H, W)`` -> ``(bands, H, W)`` in the same units as ``y``."""
    height, width = z.shape[1:]
    z_lr = blur_downsample(z, kernel, scale)
    a, b = _local_coefficients(y, z_lr, hsi_valid, radius, eps)
    msi_bands, bands, h, w = a.shape
    a_hr = upsample(a.reshape(msi_bands * bands, h, w), scale, height, width).reshape(msi_bands, bands, height, width)
    x = torch.einsum("mchw,mhw->chw", a_hr, z) + upsample(b, scale, height, width)
    del a_hr
    for _ in range(back_projections):
        x = x + upsample(y - blur_downsample(x, kernel, scale), scale, height, width)
    if shape_sigma > 0:
        local_snr = z.sum(0).clamp_min(0) / torch.sqrt((noise_sigma(z) ** 2).sum()).clamp_min(1e-12)
        weight = local_snr**2 / (local_snr**2 + shape_snr**2)
        x = weight * x + (1 - weight) * keep_intensity_smooth_shape(x, shape_sigma)
    return x


def _local_coefficients(y: torch.Tensor, z_lr: torch.Tensor, valid: torch.Tensor | None,
                        radius: int, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Windowed ridge regression ``y_c ≈ a_cᵀ z + b_c`` with a pull ``eps`` toward the global fit."""
    bands, h, w = y.shape
    m = z_lr.shape[0]
    eye = torch.eye(m, dtype=y.dtype, device=y.device)
    flat_z, flat_y = z_lr.reshape(m, -1), y.reshape(bands, -1)
    if valid is not None:
        keep = valid.reshape(-1)
        flat_z, flat_y = flat_z[:, keep], flat_y[:, keep]
    zc = flat_z - flat_z.mean(1, keepdim=True)
    yc = flat_y - flat_y.mean(1, keepdim=True)
    cov = zc @ zc.T / zc.shape[1]
    a_global = torch.linalg.solve(cov + 1e-6 * torch.trace(cov) / m * eye, zc @ yc.T / zc.shape[1])   # (m, bands)
    box = lambda t: _box(t, radius)  # noqa: E731
    mz, my = box(z_lr), box(y)
    czz = box((z_lr[:, None] * z_lr[None]).reshape(m * m, h, w)).reshape(m, m, h, w) - mz[:, None] * mz[None]
    czy = box((z_lr[:, None] * y[None]).reshape(m * bands, h, w)).reshape(m, bands, h, w) - mz[:, None] * my[None]
    reg = eps * torch.trace(cov) / m
    lhs = czz.permute(2, 3, 0, 1) + reg * eye
    rhs = czy.permute(2, 3, 0, 1) + reg * a_global
    a = torch.linalg.solve(lhs, rhs).permute(2, 3, 0, 1)                     # (m, bands, h, w)
    b = my - (a * mz[:, None]).sum(0)
    return box(a.reshape(m * bands, h, w)).reshape(m, bands, h, w), box(b)


def _box(t: torch.Tensor, r: int) -> torch.Tensor:
    if r == 0:
        return t
    return F.avg_pool2d(F.pad(t[None], (r, r, r, r), mode="replicate"), 2 * r + 1, stride=1)[0]


def noise_sigma(image: torch.Tensor) -> torch.Tensor:
    """Per-band white-noise standard deviation from the median absolute Laplacian (robust to edges)."""
    d = image[:, 1:-1, 1:-1] * 4 - image[:, :-2, 1:-1] - image[:, 2:, 1:-1] - image[:, 1:-1, :-2] - image[:, 1:-1, 2:]
    return d.reshape(d.shape[0], -1).abs().median(dim=1).values / (0.6745 * math.sqrt(20.0))


def keep_intensity_smooth_shape(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Spectral shape from a Gaussian-smoothed ``x``, per-pixel band sum from ``x`` itself."""
    size = 2 * int(math.ceil(3 * sigma)) + 1
    smooth = blur(x, torch.as_tensor(gaussian_kernel(size, sigma), dtype=x.dtype, device=x.device))
    floor = 0.05 * x.sum(0).mean().clamp_min(1e-12)
    ratio = (x.sum(0, keepdim=True).clamp_min(0) + floor) / (smooth.sum(0, keepdim=True).clamp_min(0) + floor)
    return smooth * ratio


def bicubic_estimate(y: torch.Tensor, scale: int, height: int, width: int) -> torch.Tensor:
    """Plain bicubic upsampling (the baseline every fusion must beat clearly)."""
    return upsample(y, scale, height, width)
