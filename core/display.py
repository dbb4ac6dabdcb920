"""Which three bands show a spectral raster in colour (QGIS-free).

The QGIS layer post-processor (``algorithms/display.py``) and the report's colour previews
(``core/report``) both ask :func:`colour_composite`, so a fused raster looks the same on the map
canvas and in the report. The composites are tried in order; the first whose three target
wavelengths each have a band within :data:`TOLERANCE_NM` (three different bands) wins:

1. true colour: red 640 nm, green 550 nm, blue 470 nm;
2. colour infrared (the NIR false colour: vegetation red): NIR 860, red 650, green 550 nm;
3. shortwave infrared: SWIR 2200, SWIR 1650, NIR 860 nm;

otherwise three bands evenly spread over the sorted wavelengths (longest as red), or, without
wavelengths, the last, middle and first band.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

#: the composites tried in order: (name, red / green / blue target wavelengths in nm)
COMPOSITES = (
    ("true colour", (640.0, 550.0, 470.0)),
    ("colour infrared", (860.0, 650.0, 550.0)),
    ("shortwave infrared", (2200.0, 1650.0, 860.0)),
)
#: largest distance (nm) between a target wavelength and the band chosen for it
TOLERANCE_NM = 50.0


@dataclass(frozen=True)
class Composite:
    """Three bands shown as red, green and blue.

    ``bands`` are 0-based band indices; ``name`` says which composite (``"true colour"``,
    ``"colour infrared"``, ``"shortwave infrared"``, ``"evenly spaced bands"``)."""

    name: str
    bands: tuple

    @property
    def band_numbers(self) -> tuple:
        """1-based band numbers (as GDAL and QGIS count)."""
        return tuple(b + 1 for b in self.bands)


def finite_wavelengths(wavelengths_nm, n_bands: int) -> Optional[np.ndarray]:
    """``wavelengths_nm`` as an array when it holds ``n_bands`` finite values, else None."""
    if wavelengths_nm is None:
        return None
    a = np.asarray(wavelengths_nm, dtype=float).ravel()
    return a if a.size == n_bands and np.all(np.isfinite(a)) else None


def colour_composite(n_bands: int, wavelengths_nm: Optional[Sequence[float]] = None) -> Composite:
    """The red, green and blue bands of a raster of ``n_bands`` bands (see the module docstring)."""
    n = int(n_bands)
    if n < 3:
        return Composite("single band" if n == 1 else "two bands", (0, 0, 0) if n == 1 else (n - 1, 0, 0))
    wl = finite_wavelengths(wavelengths_nm, n)
    if wl is not None:
        for name, targets in COMPOSITES:
            idx = [int(np.argmin(np.abs(wl - t))) for t in targets]
            if len(set(idx)) == 3 and all(abs(wl[i] - t) <= TOLERANCE_NM for i, t in zip(idx, targets)):
                return Composite(name, tuple(idx))
        order = np.argsort(wl)
        return Composite("evenly spaced bands", tuple(int(order[k]) for k in (n - 1, n // 2, 0)))
    return Composite("evenly spaced bands", (n - 1, n // 2, 0))
