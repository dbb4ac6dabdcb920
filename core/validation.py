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


def band_masks(image: np.ndarray, mask: np.ndarray | None, name: str) -> tuple[np.ndarray, np.ndarray | None]:
    """``(valid, band_valid)`` of a cube ``(bands, h, w)`` from a mask of ``(h, w)`` or ``(bands,
    h, w)`` and its non-finite values: ``valid`` marks pixels valid in every band, ``band_valid``
    each band's valid pixels where some pixels are valid in some bands only (else None)."""
    bands, shape = image.shape[0], image.shape[1:]
    if mask is not None and np.ndim(mask) == 3:
        m = np.asarray(mask, dtype=bool)[:, : shape[0], : shape[1]]
        if m.shape != image.shape:
            raise InvalidInputError(f"the {name} validity mask has shape {m.shape}, expected {image.shape}")
        per_band = m & np.isfinite(image)
    else:
        per_band = check_mask(mask, shape, name)[None] & np.isfinite(image)
    valid = per_band.all(axis=0)
    if (per_band == valid[None]).all():
        return valid, None
    return valid, per_band


def fill_per_band(image: np.ndarray, band_valid: np.ndarray, name: str) -> np.ndarray:
    """Fill the invalid values of pixels valid in some bands by linear interpolation along the band
    axis from the pixel's valid bands (constant beyond the first and last); pixels valid in no band
    take each band's mean. A copy."""
    bands = image.shape[0]
    out = image.reshape(bands, -1).astype(np.float32, copy=True)
    ok = band_valid.reshape(bands, -1)
    some = ok.any(axis=0)
    if not some.any():
        raise InvalidInputError(f"the {name} has no valid value (all nodata, NaN or Inf)")
    idx = np.arange(bands)[:, None]
    prev = np.maximum.accumulate(np.where(ok, idx, -1), axis=0)                 # last valid band at or below
    nxt = np.flip(np.minimum.accumulate(np.flip(np.where(ok, idx, bands), 0), axis=0), 0)   # first at or above
    cols = np.arange(out.shape[1])[None, :].repeat(bands, 0)
    lo, hi = np.where(prev < 0, nxt, prev), np.where(nxt >= bands, prev, nxt)
    lo, hi = np.clip(lo, 0, bands - 1), np.clip(hi, 0, bands - 1)
    a, b = out[lo, cols], out[hi, cols]
    t = np.where(hi > lo, (idx - lo) / np.maximum(hi - lo, 1), 0.0).astype(np.float32)
    filled = a + (b - a) * t
    need = ~ok & some[None]
    out[need] = filled[need]
    for band in range(bands):
        empty = ~some
        if empty.any():
            out[band, empty] = float(out[band, ok[band]].mean()) if ok[band].any() else 0.0
    return out.reshape(image.shape)
