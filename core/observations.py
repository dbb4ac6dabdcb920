"""The two observations as the core works on them: checked, holes filled, scaled to about [0, 1].

The scaling makes every tolerance and learning rate independent of the images' units (digital
numbers, radiance or reflectance); the units are kept to bring the result back.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .errors import InvalidInputError
from .validation import check_mask, check_pair, finite_or_masked


@dataclass
class NormalizedPair:
    """Both observations scaled to about [0, 1] (``y = hsi / y_unit``, ``z = msi / z_unit``),
    invalid pixels filled with band means and marked False in the masks."""

    y: np.ndarray
    z: np.ndarray
    scale: int
    y_unit: float
    z_unit: float
    hsi_valid: np.ndarray
    msi_valid: np.ndarray

    def on(self, device: torch.device) -> "DeviceObservations":
        """The same observations as tensors on ``device``."""
        return DeviceObservations(torch.from_numpy(self.y).to(device), torch.from_numpy(self.z).to(device),
                                  torch.from_numpy(self.hsi_valid).to(device),
                                  torch.from_numpy(self.msi_valid).to(device), self.scale, self.y_unit, self.z_unit)


@dataclass
class DeviceObservations:
    """The normalized observations on the compute device: ``y`` (bands, h, w), ``z`` (msi_bands,
    H, W) with ``H = scale · h``, boolean validity masks, and the units that bring them back."""

    y: torch.Tensor
    z: torch.Tensor
    hsi_valid: torch.Tensor
    msi_valid: torch.Tensor
    scale: int
    y_unit: float = 1.0
    z_unit: float = 1.0

    @property
    def hr_shape(self) -> tuple[int, int]:
        return tuple(self.z.shape[1:])


def normalize_pair(hsi: np.ndarray, msi: np.ndarray, scale: int | None,
                   hsi_valid: np.ndarray | None = None, msi_valid: np.ndarray | None = None) -> NormalizedPair:
    """Validate, fill invalid pixels, and bring both images to a unit range (any input magnitude)."""
    y, z, scale = check_pair(hsi, msi, scale)
    hv = check_mask(hsi_valid, y.shape[1:], "HSI")
    mv = check_mask(msi_valid, z.shape[1:], "MSI")
    y, hv = finite_or_masked(y, hv, "hyperspectral image")
    z, mv = finite_or_masked(z, mv, "multispectral image")
    y_unit = _unit(y, hv, "hyperspectral image")
    z_unit = _unit(z, mv, "multispectral image")
    return NormalizedPair(y / y_unit, z / z_unit, scale, y_unit, z_unit, hv, mv)


def _unit(image: np.ndarray, valid: np.ndarray, name: str) -> float:
    """The 99.9th percentile of |image| over valid pixels (on an even subsample of at most ~4 M
    values: a large scene's percentile would otherwise cost three copies of the image)."""
    step = max(1, image.size // (1 << 22))
    flat, keep = image.reshape(image.shape[0], -1), valid.reshape(-1)
    values = flat[:, ::step][:, keep[::step]]
    if values.size == 0:
        values = flat[:, keep]
    u = float(np.percentile(np.abs(values), 99.9))
    if not u > 0:
        u = float(np.max(np.abs(flat[:, keep])))
    if not u > 0:
        raise InvalidInputError(f"the {name} is zero everywhere; there is nothing to fuse")
    return u
