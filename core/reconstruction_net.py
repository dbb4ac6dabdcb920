"""The DIP-like reconstruction network, fitted per scene.

It refines a starting HR estimate ``x_base``. Its inputs are that estimate and guidance maps
that carry the current degradation: the LR residual ``Y - (x_base*K)↓s`` brought to HR (Y with K),
the MSI and its residual mapped back through the response, ``PᵀZ`` and ``Pᵀ(Z - P·x_base)``
(Z with P). All inputs live in the same subspace, so the input width is ``4·dims`` whatever the
MSI band count and pre-trained (meta-learned) weights fit any sensor pair.
Everything spectral lives in a low-dimensional subspace E of the HSI spectra (the top singular
vectors of ``x_base``), so the network has the same small size for 31 or 224 bands and its
correction ``E · net(...)`` stays spectrally plausible. The last layer starts at zero: at step 0
the network returns ``x_base`` exactly.
"""
from __future__ import annotations

import torch
from torch import nn

from .operators import blur_downsample, project, upsample


def spectral_subspace(x: torch.Tensor, dims: int) -> torch.Tensor:
    """Orthonormal basis ``(bands, dims)`` of the dominant spectra of ``x`` ``(bands, H, W)``.

    In float64 and with a fixed sign per vector (its largest component positive), so the basis
    does not depend on which LAPACK build computed it."""
    bands = x.shape[0]
    if dims >= bands:
        return torch.eye(bands, dtype=x.dtype, device=x.device)
    flat = x.reshape(bands, -1)
    step = max(1, flat.shape[1] // 65536)
    u, _, _ = torch.linalg.svd(flat[:, ::step].double(), full_matrices=False)
    u = u[:, :dims]
    sign = torch.sign(u.gather(0, u.abs().argmax(0, keepdim=True)))
    return (u * sign).to(x.dtype).contiguous()


class ReconstructionNet(nn.Module):
    """A compact residual CNN: ``4·dims`` guidance channels -> ``dims`` subspace coefficients."""

    def __init__(self, dims: int, width: int = 32, depth: int = 3):
        super().__init__()
        self.dims = dims
        layers: list[nn.Module] = [nn.Conv2d(4 * dims, width, 3, padding=1), nn.LeakyReLU(0.1)]
        for _ in range(depth - 2):
            layers += [nn.Conv2d(width, width, 3, padding=1), nn.LeakyReLU(0.1)]
        last = nn.Conv2d(width, dims, 3, padding=1)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        layers.append(last)
        self.body = nn.Sequential(*layers)
        self.receptive_radius = depth

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.body(features[None])[0]


def guidance_features(x_base: torch.Tensor, y: torch.Tensor, z: torch.Tensor, kernel: torch.Tensor,
                      srf: torch.Tensor, scale: int, basis: torch.Tensor) -> torch.Tensor:
    """The network's input for the current K and P, on the grid of ``z``.

    Everything is projected onto the subspace as early as the (per-band linear) operators allow,
    so no full-band cube is built beside ``x_base``.
    """
    height, width = z.shape[1:]
    lr_sub = torch.einsum("cl,chw->lhw", basis, y - blur_downsample(x_base, kernel, scale))
    srf_sub = srf @ basis                                                    # (msi_bands, dims)
    return torch.cat([torch.einsum("cl,chw->lhw", basis, x_base),
                      upsample(lr_sub, scale, height, width),
                      torch.einsum("ml,mhw->lhw", srf_sub, z - project(x_base, srf)),
                      torch.einsum("ml,mhw->lhw", srf_sub, z)])
