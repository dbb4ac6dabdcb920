"""Spectral response matrices P (MSI bands x HSI bands): builders, validation, perturbation.

Each row says how one MSI band weighs the HSI bands. Physically valid rows are non-negative;
normalized rows sum to 1 (an MSI band is then a weighted average of HSI bands).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .errors import InvalidInputError


def normalize_rows(srf: np.ndarray) -> np.ndarray:
    """Rows scaled to sum to 1 (rows that sum to 0 are left at 0)."""
    s = srf.sum(axis=1, keepdims=True)
    return np.divide(srf, s, out=np.zeros_like(srf, dtype=np.float64), where=s > 0)


def srf_from_table(table: np.ndarray, msi_bands: int, hsi_bands: int) -> np.ndarray:
    """Validate a response table; accepts (msi x hsi) or its transpose; returns normalized rows."""
    p = np.asarray(table, dtype=np.float64)
    if p.ndim != 2:
        raise InvalidInputError(f"a spectral response table must be 2-D, got shape {p.shape}")
    if p.shape == (hsi_bands, msi_bands) and p.shape != (msi_bands, hsi_bands):
        p = p.T
    if p.shape != (msi_bands, hsi_bands):
        raise InvalidInputError(
            f"the spectral response table has shape {p.shape}, but the images need "
            f"{msi_bands} MSI bands x {hsi_bands} HSI bands (rows = MSI bands)")
    if not np.all(np.isfinite(p)):
        raise InvalidInputError("the spectral response table holds NaN/Inf values")
    if np.any(p < 0):
        raise InvalidInputError("the spectral response table has negative values; responses are non-negative")
    empty = np.where(p.sum(axis=1) <= 0)[0]
    if empty.size:
        raise InvalidInputError(
            f"MSI band(s) {', '.join(str(i + 1) for i in empty)} have an all-zero response: "
            "their wavelengths do not overlap the HSI bands")
    return normalize_rows(p)


def gaussian_srf(centres_nm: Sequence[float], fwhm_nm: Sequence[float],
                 hsi_wavelengths_nm: Sequence[float]) -> np.ndarray:
    """Gaussian responses of MSI bands (centres, FWHM in nm) sampled at the HSI band wavelengths."""
    c = np.asarray(centres_nm, dtype=np.float64)[:, None]
    f = np.asarray(fwhm_nm, dtype=np.float64)[:, None]
    wl = np.asarray(hsi_wavelengths_nm, dtype=np.float64)[None, :]
    if np.any(~np.isfinite(wl)):
        raise InvalidInputError("HSI wavelengths are unknown (NaN); Gaussian responses need them")
    if np.any(f <= 0):
        raise InvalidInputError("band widths (FWHM) must be positive")
    p = np.exp(-4.0 * np.log(2.0) * (wl - c) ** 2 / f**2)
    return srf_from_table(p, len(c), wl.shape[1])


def srf_from_curves(curve_wavelengths_nm: np.ndarray, curves: np.ndarray,
                    hsi_wavelengths_nm: Sequence[float]) -> np.ndarray:
    """Sample tabulated response curves (n_samples x msi_bands, e.g. ESA's 1 nm tables) at the HSI
    band wavelengths and normalize rows."""
    wl = np.asarray(curve_wavelengths_nm, dtype=np.float64)
    cv = np.asarray(curves, dtype=np.float64)
    hw = np.asarray(hsi_wavelengths_nm, dtype=np.float64)
    p = np.stack([np.interp(hw, wl, cv[:, j], left=0.0, right=0.0) for j in range(cv.shape[1])])
    return srf_from_table(np.clip(p, 0, None), cv.shape[1], len(hw))


def perturb_srf(srf: np.ndarray, d: float) -> np.ndarray:
    """The pre-training perturbation of a response: ``(P + d) / (rowsum(P) + n_hsi_bands * d)``."""
    p = np.asarray(srf, dtype=np.float64)
    return (p + d) / (p.sum(axis=1, keepdims=True) + p.shape[1] * d)
