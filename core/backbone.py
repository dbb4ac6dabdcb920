"""The pre-trained backbone that gives the reconstruction its starting image (issue 4).

Placeholder until the trained model ships: ``backbone_estimate`` returns None, and the fusion
falls back to the classical estimate.
"""
from __future__ import annotations

import torch


def backbone_estimate(y: torch.Tensor, z: torch.Tensor, kernel: torch.Tensor, srf: torch.Tensor,
                      scale: int) -> torch.Tensor | None:
    """HR estimate ``(bands, H, W)`` from normalized ``y`` ``(bands, h, w)`` and ``z`` ``(msi_bands, H, W)``
    with the estimated kernel and response (normalized units), or None when no model is usable."""
    return None
