"""Undo the MSI's own blur (its MTF) when the user says how strong it is.

The fusion takes its spatial detail from the MSI. A real MSI is not as sharp as its pixels: its
optics and detectors blur it (a Sentinel-2 10 m band keeps about 0.15-0.3 of the contrast at the
Nyquist frequency). The blind estimate cannot see that blur: the kernel it finds is the HSI's
blur *relative to the MSI's*, so a blurred MSI gives a consistent but blurred fusion. The MSI's
MTF is not identifiable from the pair alone (a sharp MSI with a wide HSI kernel and a blurred MSI
with a narrower one give the same observations), so it is a setting: sensor specifications publish
it as the MTF at Nyquist. Given it, the MSI is modelled as blurred by a Gaussian with that MTF and
restored by a Wiener filter whose gain is bounded (noise is not amplified without limit).
docs/robustness.md measures what it gains on a realistic pair, and what a wrong value costs.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .errors import InvalidInputError
from .operators import blur

#: Wiener regularization relative to the signal: bounds the restoring gain at (1 + ridge) / (2·sqrt(ridge))
RIDGE = 0.05
#: side of the spatial filter (MSI pixels); the restoring filter decays well within it
TAPS = 15


def mtf_sigma(mtf_at_nyquist: float) -> float:
    """Standard deviation (MSI pixels) of the Gaussian blur whose MTF at Nyquist (0.5 cycles per
    pixel) is ``mtf_at_nyquist``: ``exp(-2π²σ²·0.25) = mtf``."""
    if not 0.0 < mtf_at_nyquist <= 1.0:
        raise InvalidInputError(f"the MSI's MTF at Nyquist must be in (0, 1], got {mtf_at_nyquist}")
    return math.sqrt(-2.0 * math.log(mtf_at_nyquist)) / math.pi


def restoring_filter(mtf_at_nyquist: float, ridge: float = RIDGE, taps: int = TAPS) -> np.ndarray:
    """The ``(taps, taps)`` Wiener filter ``G / (G² + ridge)`` of the Gaussian MTF, summing to 1
    (radiometry kept); a single 1 when the MSI is ideal (MTF 1)."""
    sigma = mtf_sigma(mtf_at_nyquist)
    if sigma == 0.0:
        return np.ones((1, 1), np.float32)
    n = 8 * taps                                   # fine frequency grid, cropped in space afterwards
    f = np.fft.fftfreq(n)
    gain = np.exp(-2.0 * math.pi ** 2 * sigma ** 2 * (f[:, None] ** 2 + f[None, :] ** 2))
    impulse = np.real(np.fft.ifft2(gain / (gain ** 2 + ridge)))
    impulse = np.fft.fftshift(impulse)
    c, r = n // 2, taps // 2
    out = impulse[c - r:c + r + 1, c - r:c + r + 1]
    return (out / out.sum()).astype(np.float32)


def undo_msi_mtf(z: np.ndarray, mtf_at_nyquist: float, valid: np.ndarray | None = None) -> np.ndarray:
    """``z`` (msi_bands, H, W) restored band by band (a new array; borders reflected, as
    :func:`operators.blur` handles them). Invalid pixels (``valid`` False) stay as they were: they
    are filled values, not signal."""
    taps = restoring_filter(mtf_at_nyquist)
    if taps.shape == (1, 1):
        return z
    with torch.no_grad():
        out = blur(torch.from_numpy(np.ascontiguousarray(z, dtype=np.float32)), torch.from_numpy(taps)).numpy()
    if valid is not None and not valid.all():
        out[:, ~valid] = z[:, ~valid]
    return out
