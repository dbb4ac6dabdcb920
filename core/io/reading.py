"""Reading rasters: metadata without pixels (:func:`raster_info`) and pixels as float32 with a
validity mask (:func:`read_raster`). Any raster GDAL opens through rasterio."""
from __future__ import annotations

import math
import os
import warnings as _warnings
from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..errors import InvalidInputError
from ..windows import Window
from .wavelengths import spectral_metadata


def require_rasterio():
    """The rasterio module, or a clear error saying how to install it."""
    try:
        import rasterio
    except ImportError as exc:  # pragma: no cover - Debian/QGIS ship it
        raise InvalidInputError(
            "the Python package 'rasterio' is missing: install it (Debian: apt install python3-rasterio; "
            "elsewhere: python -m pip install rasterio)") from exc
    return rasterio


def open_quietly(path: str, mode: str = "r", **profile):
    """``rasterio.open`` without the warning rasterio gives for rasters without georeferencing
    (laboratory scenes have none, on purpose)."""
    rasterio = require_rasterio()
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        return rasterio.open(path, mode, **profile)


@dataclass
class RasterInfo:
    """Metadata of a raster, read without its pixels."""

    path: str
    width: int
    height: int
    count: int
    crs: object  # rasterio CRS or None
    transform: object  # affine.Affine
    wavelengths_nm: Optional[np.ndarray]
    descriptions: list
    nodata: Optional[float]
    georeferenced: bool
    fwhm_nm: Optional[np.ndarray] = None
    bad_bands: Optional[np.ndarray] = None

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(xmin, ymin, xmax, ymax)`` in CRS units."""
        t = self.transform
        x0, y0 = t.c, t.f
        x1, y1 = t.c + t.a * self.width, t.f + t.e * self.height
        return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)


@dataclass
class RasterData:
    """Pixels of a raster: ``data`` float32 (bands, H, W), ``valid`` bool (H, W)."""

    data: np.ndarray
    valid: np.ndarray
    info: RasterInfo
    transform: object  # transform of the (possibly cropped) array
    window: Optional[Window] = None  # where the array lies in the file

    @property
    def crs(self):
        return self.info.crs

    @property
    def wavelengths_nm(self):
        return self.info.wavelengths_nm

    @property
    def descriptions(self):
        return self.info.descriptions

    @property
    def band_names(self) -> list[str]:
        """Band descriptions, ``band i`` where a band has none."""
        return [d or f"band {i + 1}" for i, d in enumerate(self.info.descriptions)]


def raster_info(path: str) -> RasterInfo:
    """Open a raster and return its metadata (clear error when GDAL cannot read it)."""
    rasterio = require_rasterio()
    if not path or not os.path.exists(str(path)):
        raise InvalidInputError(f"raster not found: {path}")
    try:
        with open_quietly(path) as ds:
            t = ds.transform
            spectral = spectral_metadata(ds)
            return RasterInfo(
                path=str(path), width=ds.width, height=ds.height, count=ds.count,
                crs=ds.crs if ds.crs else None, transform=t,
                wavelengths_nm=spectral.wavelengths_nm, descriptions=list(ds.descriptions),
                nodata=ds.nodata, georeferenced=not (ds.crs is None and t.is_identity),
                fwhm_nm=spectral.fwhm_nm, bad_bands=spectral.bad_bands)
    except rasterio.errors.RasterioIOError as exc:
        raise InvalidInputError(f"cannot read raster {path}: {exc}") from exc


def read_raster(path: str, window: Optional[Window] = None, info: Optional[RasterInfo] = None,
                fill_invalid: bool = True) -> RasterData:
    """Read a raster (or a ``window`` of it) as float32 ``(bands, H, W)`` with scale/offset applied.

    A pixel is invalid when any band is nodata, masked, NaN or Inf. Invalid values are replaced
    by the band's mean over valid pixels (so that blurs near holes stay tame) unless
    ``fill_invalid`` is False: then they are NaN.
    """
    from rasterio.windows import Window as RioWindow

    info = info or raster_info(path)
    win = None if window is None else RioWindow(window.col, window.row, window.width, window.height)
    with open_quietly(path) as ds:
        raw = ds.read(window=win, masked=False)
        masks = ds.read_masks(window=win)
        data = raw.astype(np.float32, copy=False)   # float32 files: no second copy of a large MSI
        scales = np.asarray(ds.scales if ds.scales else [1.0] * ds.count, dtype=np.float64)
        offsets = np.asarray(ds.offsets if ds.offsets else [0.0] * ds.count, dtype=np.float64)
        if np.any(scales != 1.0) or np.any(offsets != 0.0):
            data = (raw.astype(np.float64) * scales[:, None, None] + offsets[:, None, None]).astype(np.float32)
        transform = ds.window_transform(win) if win is not None else ds.transform
    valid = np.all(masks > 0, axis=0) & np.all(np.isfinite(data), axis=0)
    if info.nodata is not None and not math.isnan(info.nodata):
        valid &= np.all(raw != info.nodata, axis=0)
    if not valid.all():
        for b in range(data.shape[0]):
            band = data[b]
            if fill_invalid:
                good = band[valid]
                band[~valid] = float(good.mean()) if good.size else 0.0
            else:
                band[~valid] = np.nan
    return RasterData(data=data, valid=valid, info=info, transform=transform, window=window)
