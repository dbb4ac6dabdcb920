"""Checks of the arrays handed to the core, each failing with a message that says how to fix it."""
from __future__ import annotations

import numpy as np

from .errors import InvalidInputError


def check_pair(hsi: np.ndarray, msi: np.ndarray, scale: int | None) -> tuple[np.ndarray, np.ndarray, int]:
    """Return float32 copies of ``hsi`` ``(bands, h, w)`` and ``msi`` ``(msi_bands, H, W)`` and the scale."""
    y = np.asarray(hsi)
    z = np.asarray(msi)
    if y.ndim != 3:
        raise InvalidInputError(f"the hyperspectral image must be (bands, height, width), got shape {y.shape}")
    if z.ndim != 3:
        raise InvalidInputError(f"the multispectral image must be (bands, height, width), got shape {z.shape}")
    if y.shape[0] < 2:
        raise InvalidInputError("the hyperspectral image has a single band; fusion needs a spectrum (2 bands or more)")
    if z.shape[0] >= y.shape[0]:
        raise InvalidInputError(
            f"the multispectral image has {z.shape[0]} bands and the hyperspectral image {y.shape[0]}: "
            "the HSI must have more bands than the MSI (are the two inputs swapped?)")
    if scale is None or scale == 0:
        if z.shape[1] % y.shape[1] or z.shape[2] % y.shape[2] or z.shape[1] // y.shape[1] != z.shape[2] // y.shape[2]:
            raise InvalidInputError(
                f"cannot derive an integer scale from HSI {y.shape[1]}x{y.shape[2]} and MSI "
                f"{z.shape[1]}x{z.shape[2]} pixels; crop the MSI to scale x the HSI size or give the scale")
        scale = z.shape[1] // y.shape[1]
    scale = int(scale)
    if scale < 2:
        raise InvalidInputError(f"the scale must be an integer of 2 or more, got {scale}")
    if z.shape[1] // scale != y.shape[1] or z.shape[2] // scale != y.shape[2]:
        raise InvalidInputError(
            f"with scale {scale} an HSI of {y.shape[1]}x{y.shape[2]} pixels needs an MSI of "
            f"{y.shape[1] * scale}x{y.shape[2] * scale} pixels, got {z.shape[1]}x{z.shape[2]}")
    if y.shape[1] < 2 or y.shape[2] < 2:
        raise InvalidInputError(f"the hyperspectral image ({y.shape[1]}x{y.shape[2]} pixels) is too small to fuse")
    y = y.astype(np.float32, copy=True)
    z = z[:, : y.shape[1] * scale, : y.shape[2] * scale].astype(np.float32, copy=True)
    return y, z, scale


def check_mask(mask: np.ndarray | None, shape: tuple[int, int], name: str) -> np.ndarray:
    """A boolean validity mask of ``shape`` (all True when ``mask`` is None)."""
    if mask is None:
        return np.ones(shape, dtype=bool)
    m = np.asarray(mask, dtype=bool)
    if m.shape[-2:] != shape and m.shape[-2] >= shape[0] and m.shape[-1] >= shape[1]:
        m = m[..., : shape[0], : shape[1]]
    if m.shape != shape:
        raise InvalidInputError(f"the {name} validity mask has shape {m.shape}, expected {shape}")
    return m


def finite_or_masked(image: np.ndarray, valid: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Mark non-finite pixels invalid, fill invalid pixels with band means; refuse all-invalid input."""
    bad = ~np.all(np.isfinite(image), axis=0)
    valid = valid & ~bad
    if not valid.any():
        raise InvalidInputError(f"the {name} has no valid pixel (all nodata, NaN or Inf)")
    if not valid.all():
        image = image.copy()
        for b in range(image.shape[0]):
            band = image[b]
            band[~valid] = float(np.mean(band[valid]))
    return image, valid
