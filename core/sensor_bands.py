"""Band tables of multispectral sensors: name, centre wavelength and width (FWHM), in nm, and the
published relative spectral responses of Sentinel-2 and Landsat 8 OLI.

The one table of each sensor in the project: the sensor presets (starting responses), the
simulation's default response and the bundled synthetic scene all read it. Values are our own
summary of the sensors' published specifications:

- Sentinel-2A/2B MSI: ESA Sentinel-2 MSI user guide / spectral response documentation; the means
  of the 2A and 2B centres and bandwidths, rounded.
- Landsat 8/9 OLI: USGS Landsat 8/9 band designations (centre = middle of the band edges, FWHM =
  their difference).
- Generic RGB camera: typical Bayer-filter consumer camera (broad, overlapping bands), band order
  red, green, blue as in RGB image files.

Published responses (:func:`published_response`), shipped in ``core/data/responses/`` and derived
by ``scripts/make_response_tables.py`` (1 nm, each band over its support, peak 1):

- ``sentinel2a_msi.csv``, ``sentinel2b_msi.csv``: ESA, "Sentinel-2 Spectral Response Functions
  (S2-SRF)", COPE-GSEG-EOPG-TN-15-0007 v3.0; the Sentinel-2 bands use the mean of 2A and 2B (as
  the band table does: a preset does not know which satellite took the image);
- ``landsat8_oli.csv``: USGS, Landsat 8 OLI relative spectral response (Ball Aerospace band-average
  RSR; Barsi et al. 2014, Remote Sensing 6(10)), also used for Landsat 9 OLI-2, whose bands differ
  by a few nanometres at most.
"""
from __future__ import annotations

import csv
import functools
import os
from dataclasses import dataclass
from typing import Optional

import numpy as np

RESPONSE_FOLDER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "responses")
#: published response table of each sensor (several files: their mean)
RESPONSE_TABLES = {"sentinel2": ("sentinel2a_msi.csv", "sentinel2b_msi.csv"), "landsat8_oli": ("landsat8_oli.csv",)}


@dataclass(frozen=True)
class Band:
    name: str
    centre_nm: float
    fwhm_nm: float
    #: the sensor whose published response table holds this band ("" for none: a Gaussian then)
    table: str = ""


#: Sentinel-2 MSI (mean of 2A and 2B), all 13 bands in product order.
SENTINEL2_BANDS = tuple(Band(n, c, f, "sentinel2") for n, c, f in (
    ("B1", 442.5, 21.0), ("B2", 492.3, 66.0), ("B3", 559.4, 36.0), ("B4", 664.7, 31.0),
    ("B5", 704.0, 15.5), ("B6", 739.8, 15.0), ("B7", 781.3, 20.0), ("B8", 832.8, 106.0),
    ("B8A", 864.4, 21.5), ("B9", 944.2, 20.5), ("B10", 1375.2, 30.5), ("B11", 1612.1, 92.5),
    ("B12", 2194.0, 180.0),
))

#: Landsat 8/9 OLI reflective bands (from the band edges); B8 is the 15 m panchromatic band.
LANDSAT_OLI_BANDS = tuple(Band(n, c, f, "landsat8_oli") for n, c, f in (
    ("B1 coastal", 443.0, 20.0), ("B2 blue", 482.5, 65.0), ("B3 green", 562.5, 75.0),
    ("B4 red", 655.0, 50.0), ("B5 NIR", 865.0, 40.0), ("B6 SWIR 1", 1610.0, 100.0),
    ("B7 SWIR 2", 2200.0, 200.0), ("B8 pan", 590.0, 180.0), ("B9 cirrus", 1375.0, 30.0),
))

RGB_BANDS = (Band("red", 605.0, 80.0), Band("green", 535.0, 100.0), Band("blue", 460.0, 90.0))


#: Sentinel-2's visible and near-infrared bands at 10 and 20 m (the default simulated MSI).
SENTINEL2_VNIR = tuple(b for b in SENTINEL2_BANDS if b.name in ("B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A"))


@functools.lru_cache(maxsize=None)
def _read_table(name: str) -> dict:
    """``{band: (wavelengths, response)}`` of one shipped table."""
    out: dict = {}
    with open(os.path.join(RESPONSE_FOLDER, name), newline="") as f:
        rows = [r for r in csv.reader(f) if r and not r[0].startswith("#")]
    for band, wl, value in rows[1:]:
        out.setdefault(band, ([], []))
        out[band][0].append(float(wl))
        out[band][1].append(float(value))
    return {b: (np.array(w), np.array(v)) for b, (w, v) in out.items()}


@functools.lru_cache(maxsize=None)
def _published(table: str, key: str) -> Optional[tuple]:
    files = RESPONSE_TABLES.get(table)
    if not files:
        return None
    curves = [_read_table(f).get(key) for f in files]
    curves = [c for c in curves if c is not None]
    if not curves:
        return None
    lo = min(c[0][0] for c in curves)
    hi = max(c[0][-1] for c in curves)
    grid = np.arange(lo, hi + 0.5, 1.0)
    mean = np.mean([np.interp(grid, w, r, left=0.0, right=0.0) for w, r in curves], axis=0)
    return grid, mean / mean.max()


def published_response(band: Band) -> Optional[tuple]:
    """``(wavelengths_nm, response)`` of ``band`` from its sensor's published table (1 nm, over the
    band's support, peak 1), or None when the band has no published table."""
    if not band.table:
        return None
    found = _published(band.table, band.name.split()[0])
    return None if found is None else (found[0].copy(), found[1].copy())
