"""The two observations as the core works on them: checked, holes filled, scaled to about [0, 1].

The scaling makes every tolerance and learning rate independent of the images' units (digital
numbers, radiance or reflectance); the units are kept to bring the result back.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from .errors import InvalidInputError
from .validation import band_masks, check_mask, check_pair, fill_per_band, finite_or_masked


@dataclass
class NormalizedPair:
    """Both observations scaled to about [0, 1] (``y = hsi / y_unit``, ``z = msi / z_unit``),
    invalid values filled and marked False in the masks.

    ``hsi_valid`` marks the HSI pixels valid in every band (the blind estimate and the start's
    statistics use only those); ``hsi_band_valid`` (bands, h, w), when some pixels are valid in
    some bands only, marks each band's valid pixels: the fitting and the back-projection leave a
    pixel out of the bands where it is invalid only."""

    y: np.ndarray
    z: np.ndarray
    scale: int
    y_unit: float
    z_unit: float
    hsi_valid: np.ndarray
    msi_valid: np.ndarray
    hsi_band_valid: Optional[np.ndarray] = None

    def on(self, device: torch.device) -> "DeviceObservations":
        """The same observations as tensors on ``device``."""
        band_valid = None if self.hsi_band_valid is None else torch.from_numpy(self.hsi_band_valid).to(device)
        return DeviceObservations(torch.from_numpy(self.y).to(device), torch.from_numpy(self.z).to(device),
                                  torch.from_numpy(self.hsi_valid).to(device),
                                  torch.from_numpy(self.msi_valid).to(device), self.scale, self.y_unit, self.z_unit,
                                  band_valid)


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
    hsi_band_valid: Optional[torch.Tensor] = None

    def lr_weights(self, rows: slice, cols: slice) -> torch.Tensor:
        """Weights of the LR data term on a window: ``(bands, h, w)`` or ``(h, w)`` when every
        valid pixel is valid in every band."""
        if self.hsi_band_valid is not None:
            return self.hsi_band_valid[:, rows, cols]
        return self.hsi_valid[rows, cols]

    @property
    def hr_shape(self) -> tuple[int, int]:
        return tuple(self.z.shape[1:])


def normalize_pair(hsi: np.ndarray, msi: np.ndarray, scale: int | None,
                   hsi_valid: np.ndarray | None = None, msi_valid: np.ndarray | None = None) -> NormalizedPair:
    """Validate, fill invalid pixels, and bring both images to a unit range (any input magnitude)."""
    y, z, scale = check_pair(hsi, msi, scale)
    hv, hbv = band_masks(y, hsi_valid, "HSI")
    mv = check_mask(msi_valid, z.shape[1:], "MSI")
    if hbv is None:
        y, hv = finite_or_masked(y, hv, "hyperspectral image")
    else:
        y = fill_per_band(y, hbv, "hyperspectral image")
        if not hv.any():
            raise InvalidInputError("the hyperspectral image has no pixel valid in every band: the sensor's "
                                    "degradation cannot be estimated; leave out the bands that are nodata everywhere")
    z, mv = finite_or_masked(z, mv, "multispectral image")
    y_unit = _unit(y, hv, "hyperspectral image")
    z_unit = _unit(z, mv, "multispectral image")
    return NormalizedPair(y / y_unit, z / z_unit, scale, y_unit, z_unit, hv, mv, hbv)


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
