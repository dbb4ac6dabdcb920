"""White-noise level of images, estimated from the data.

Texture inflates every image-domain estimate (a textured scene looks noisy), so the estimates
here are built to read high rather than low, and combined by taking their minimum: the whole
image's median absolute Laplacian, the same over the flattest blocks, and an upper bound from
the LR identity ``(Z*K)↓s − P·Y``, which texture cannot inflate. docs/network_prior.md gives how
far each read from the truth on the training scenes.
"""
from __future__ import annotations

import math

import torch

from .operators import blur_downsample


def noise_sigma(image: torch.Tensor) -> torch.Tensor:
    """Per-band white-noise standard deviation from the median absolute Laplacian (robust to edges)."""
    d = _laplacian_samples(image)
    return d.reshape(d.shape[0], -1).abs().median(dim=1).values * _MAD_TO_SIGMA


_MAD_TO_SIGMA = 1 / (0.6745 * math.sqrt(20.0))   # median |5-point Laplacian| of white noise -> its std


def _laplacian_samples(image: torch.Tensor) -> torch.Tensor:
    """The 5-point Laplacian of every band, on a grid thinned to about 4 M samples per band."""
    step = max(1, int(math.sqrt(image.shape[1] * image.shape[2] / 4e6)))
    h, w = image.shape[1] - 1, image.shape[2] - 1
    at = lambda r, c: image[:, r : h - 1 + r : step, c : w - 1 + c : step]  # noqa: E731  (thinned first: no full-size temporaries)
    return at(1, 1) * 4 - at(0, 1) - at(2, 1) - at(1, 0) - at(1, 2)


def flat_block_noise_sigma(image: torch.Tensor, block: int = 16, quantile: float = 0.1) -> torch.Tensor:
    """Per-band white-noise standard deviation from the flattest image blocks: the median absolute
    Laplacian of each 16 x 16 block, its 10th percentile over blocks. Texture inflates the
    whole-image :func:`noise_sigma`; the flattest blocks read much closer to the truth
    (docs/network_prior.md)."""
    d = _laplacian_samples(image)
    bands, h, w = d.shape
    h2, w2 = h // block * block, w // block * block
    if h2 == 0 or w2 == 0:
        return noise_sigma(image)
    blocks = d[:, :h2, :w2].reshape(bands, h2 // block, block, w2 // block, block).abs()
    mad = blocks.permute(0, 1, 3, 2, 4).reshape(bands, -1, block * block).median(dim=2).values
    return torch.quantile(mad, quantile, dim=1) * _MAD_TO_SIGMA


def lr_identity_noise_cap(y: torch.Tensor, z_lr: torch.Tensor, kernel: torch.Tensor, srf: torch.Tensor,
                          valid: torch.Tensor | None = None) -> torch.Tensor:
    """An upper bound of each MSI band's white-noise standard deviation that texture cannot
    inflate: ``(Z*K)↓s − P·Y`` is the MSI noise blurred by K (std ``σ·‖K‖₂``) plus the response-
    weighted HSI noise and the degradation's model error, so its robust std divided by ``‖K‖₂``
    bounds σ from above, and stays within a small factor of the truth on scenes without flat areas,
    where image-domain estimates read many times too high (docs/network_prior.md)."""
    d = z_lr - torch.einsum("mb,bhw->mhw", srf.to(y.dtype), y)
    flat = d.reshape(d.shape[0], -1)
    if valid is not None:
        flat = flat[:, valid.reshape(-1)]
    mad = (flat - flat.median(1, keepdim=True).values).abs().median(1).values / 0.6745
    return mad / float(kernel.pow(2).sum().sqrt())


def msi_noise_level(z: torch.Tensor, y: torch.Tensor | None = None, kernel: torch.Tensor | None = None,
                    srf: torch.Tensor | None = None, scale: int | None = None,
                    hsi_valid: torch.Tensor | None = None) -> torch.Tensor:
    """Per-band white-noise standard deviation of ``z`` ``(msi_bands, H, W)``: the smallest of
    the estimates texture can only inflate (the LR-identity bound needs ``y``, K, P and the scale)."""
    sigma = torch.minimum(flat_block_noise_sigma(z), noise_sigma(z))
    if y is not None and kernel is not None and srf is not None and scale:
        cap = lr_identity_noise_cap(y, blur_downsample(z, kernel, scale), kernel, srf, hsi_valid)
        sigma = torch.minimum(sigma, cap.to(sigma.dtype))
    return sigma
