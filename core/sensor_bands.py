"""Band tables of multispectral sensors: name, centre wavelength and width (FWHM), in nm.

The one table of each sensor in the project: the sensor presets (starting responses), the
simulation's default response and the bundled synthetic scene all read it. Values are our own
summary of the sensors' published specifications:

- Sentinel-2A/2B MSI: ESA Sentinel-2 MSI user guide / spectral response documentation; the means
  of the 2A and 2B centres and bandwidths, rounded.
- Landsat 8/9 OLI: USGS Landsat 8/9 band designations (centre = middle of the band edges, FWHM =
  their difference).
- Generic RGB camera: typical Bayer-filter consumer camera (broad, overlapping bands), band order
  red, green, blue as in RGB image files.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Band:
    name: str
    centre_nm: float
    fwhm_nm: float


#: Sentinel-2 MSI (mean of 2A and 2B), all 13 bands in product order.
SENTINEL2_BANDS = (
    Band("B1", 442.5, 21.0), Band("B2", 492.3, 66.0), Band("B3", 559.4, 36.0), Band("B4", 664.7, 31.0),
    Band("B5", 704.0, 15.5), Band("B6", 739.8, 15.0), Band("B7", 781.3, 20.0), Band("B8", 832.8, 106.0),
    Band("B8A", 864.4, 21.5), Band("B9", 944.2, 20.5), Band("B10", 1375.2, 30.5), Band("B11", 1612.1, 92.5),
    Band("B12", 2194.0, 180.0),
)

#: Landsat 8/9 OLI reflective bands (from the band edges); B8 is the 15 m panchromatic band.
LANDSAT_OLI_BANDS = (
    Band("B1 coastal", 443.0, 20.0), Band("B2 blue", 482.5, 65.0), Band("B3 green", 562.5, 75.0),
    Band("B4 red", 655.0, 50.0), Band("B5 NIR", 865.0, 40.0), Band("B6 SWIR 1", 1610.0, 100.0),
    Band("B7 SWIR 2", 2200.0, 200.0), Band("B8 pan", 590.0, 180.0), Band("B9 cirrus", 1375.0, 30.0),
)

RGB_BANDS = (Band("red", 605.0, 80.0), Band("green", 535.0, 100.0), Band("blue", 460.0, 90.0))


#: Sentinel-2's visible and near-infrared bands at 10 and 20 m (the default simulated MSI).
SENTINEL2_VNIR = tuple(b for b in SENTINEL2_BANDS if b.name in ("B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A"))
