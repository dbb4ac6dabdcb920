"""Reading rasters: metadata without pixels (:func:`raster_info`) and pixels as float32 with a
validity mask (:func:`read_raster`). Any raster GDAL opens through rasterio."""
from __future__ import annotations

import math
import os
import re
import warnings as _warnings
from dataclasses import dataclass, replace
from typing import Optional

import numpy as np

from ..errors import InvalidInputError
from ..windows import Window
from .wavelengths import spectral_metadata
from . import spline_warp


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
    #: what the user gave (a product folder, a zip, a metadata file) when ``path`` is what GDAL reads
    source: Optional[str] = None
    #: what the product is and how it was read, for the log ("" for a plain raster)
    product: str = ""

    @property
    def name(self) -> str:
        """A short name for messages: the file name of what the user gave."""
        return os.path.basename(str(self.source or self.path).rstrip("/\\")) or str(self.source or self.path)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(xmin, ymin, xmax, ymax)`` in CRS units."""
        t = self.transform
        x0, y0 = t.c, t.f
        x1, y1 = t.c + t.a * self.width, t.f + t.e * self.height
        return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)


@dataclass
class RasterData:
    """Pixels of a raster: ``data`` float32 (bands, H, W), ``valid`` bool (H, W): valid in every band."""

    data: np.ndarray
    valid: np.ndarray
    info: RasterInfo
    transform: object  # transform of the (possibly cropped) array
    window: Optional[Window] = None  # where the array lies in the file
    #: per-band validity (bands, H, W), when some pixels are valid in some bands only (else None)
    band_valid: Optional[np.ndarray] = None

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

    def bands(self, keep: np.ndarray) -> "RasterData":
        """The same raster with only the bands where ``keep`` is True (metadata included)."""
        keep = np.asarray(keep, dtype=bool)

        def sub(values):
            return None if values is None else np.asarray(values)[keep]

        info = replace(self.info, count=int(keep.sum()), wavelengths_nm=sub(self.info.wavelengths_nm),
                       fwhm_nm=sub(self.info.fwhm_nm), bad_bands=None,
                       descriptions=[d for d, k in zip(self.info.descriptions, keep) if k])
        band_valid = None if self.band_valid is None else self.band_valid[keep]
        valid = self.valid if band_valid is None else band_valid.all(axis=0)
        if band_valid is not None and (band_valid == valid[None]).all():
            band_valid = None
        return replace(self, data=self.data[keep], valid=valid, info=info, band_valid=band_valid)


#: GDAL paths that are not plain files: /vsizip/, /vsitar/, /vsicurl/ ..., and DRIVER:"file":subdataset
_GDAL_PATH = re.compile(r"^(/vsi[a-z0-9_]+/|[A-Za-z0-9_]{2,}:)")


def is_gdal_path(path: str) -> bool:
    """Whether ``path`` is a GDAL virtual path or subdataset name rather than a plain file."""
    return bool(_GDAL_PATH.match(str(path)))


def raster_info(path: str) -> RasterInfo:
    """Open a raster and return its metadata (clear error when GDAL cannot read it).

    ``path`` is anything GDAL opens (a file, ``/vsizip/…``, ``HDF5:"file":/path``, a VRT) or a
    sensor product :mod:`.products` recognizes (a folder, a zip, a metadata file), which is
    resolved to a GDAL-readable raster with its spectral metadata."""
    rasterio = require_rasterio()
    if not path:
        raise InvalidInputError("no raster given")
    from .products import resolve_product

    product = resolve_product(str(path))
    target = product.path if product is not None else str(path)
    if not is_gdal_path(target) and not os.path.exists(target):
        raise InvalidInputError(f"raster not found: {path}")
    try:
        with open_quietly(target) as ds:
            _read_last_block(ds)
            t = ds.transform
            spectral = product.spectral if product is not None else spectral_metadata(ds)
            return RasterInfo(
                path=target, width=ds.width, height=ds.height, count=ds.count,
                crs=ds.crs if ds.crs else None, transform=t,
                wavelengths_nm=spectral.wavelengths_nm, descriptions=list(ds.descriptions),
                nodata=ds.nodata, georeferenced=not (ds.crs is None and t.is_identity),
                fwhm_nm=spectral.fwhm_nm, bad_bands=spectral.bad_bands,
                source=None if product is None else str(path),
                product="" if product is None else product.description)
    except rasterio.errors.RasterioIOError as exc:
        if is_gdal_path(target):
            raise InvalidInputError(f"GDAL cannot open {path}: {exc}; check the path (for a file inside a zip: "
                                    "/vsizip/archive.zip/folder/file.tif)") from exc
        raise InvalidInputError(f"the raster {path} exists but is unreadable or corrupt ({exc}); check the file "
                                "(was the download or copy complete?)") from exc


def _read_last_block(ds) -> None:
    """Read the last block of a GeoTIFF's last band: GDAL writes a GeoTIFF's header first, so a
    truncated file (an interrupted copy or download) opens but fails here, at the end of the file,
    and is reported as corrupt before any work starts."""
    from rasterio.windows import Window as RioWindow

    if ds.driver != "GTiff" or not ds.count:
        return
    bh, bw = ds.block_shapes[-1]
    row, col = (ds.height - 1) // bh * bh, (ds.width - 1) // bw * bw
    ds.read(ds.count, window=RioWindow(col, row, min(bw, ds.width - col), min(bh, ds.height - row)))


#: GDAL's block cache while a raster is read whole (bytes)
READ_CACHE_BYTES = 32 << 20


def read_raster(path: str, window: Optional[Window] = None, info: Optional[RasterInfo] = None,
                fill_invalid: bool = True, warp=None) -> RasterData:
    """Read a raster (or a ``window`` of it) as float32 ``(bands, H, W)`` with scale/offset applied.

    A value is invalid when it is nodata, masked, NaN or Inf; ``valid`` marks the pixels valid in
    every band, ``band_valid`` each band's where they differ. Invalid values are replaced by the
    band's mean over its valid pixels (so that blurs near holes stay tame) unless ``fill_invalid``
    is False: then they are NaN. With ``warp`` (a :class:`~.pair_grid.MsiWarp`)
    the raster is read through GDAL's warper onto that grid, and ``window`` lies on it.
    """
    import contextlib

    from rasterio.windows import Window as RioWindow

    info = info or raster_info(path)
    win = None if window is None else RioWindow(window.col, window.row, window.width, window.height)
    # a small block cache: the pixels go straight into the array, and a large MSI's cached blocks
    # (GDAL's default cache is 5 % of RAM) would stay in the heap after the file is closed
    with require_rasterio().Env(GDAL_CACHEMAX=READ_CACHE_BYTES), open_quietly(info.path) as src, \
            contextlib.ExitStack() as stack:
        if warp is not None and warp.resampling == spline_warp.SPLINE:
            target = window or Window.full(warp.height, warp.width)
            raw, masks = spline_warp.read_warped(src, warp.crs, warp.transform, target, info.nodata)
            ds = None
        else:
            ds = src if warp is None else stack.enter_context(_warped(src, warp, info.nodata))
            bands = list(range(1, src.count + 1))        # a warped view may add an alpha band
            raw = ds.read(bands, window=win, masked=False)
            masks = ds.read_masks(bands, window=win)
        data = raw.astype(np.float32, copy=False)   # float32 files: no second copy of a large MSI
        scales = np.asarray(src.scales if src.scales else [1.0] * src.count, dtype=np.float64)
        offsets = np.asarray(src.offsets if src.offsets else [0.0] * src.count, dtype=np.float64)
        if np.any(scales != 1.0) or np.any(offsets != 0.0):
            data = (raw.astype(np.float64) * scales[:, None, None] + offsets[:, None, None]).astype(np.float32)
        if ds is None:
            from affine import Affine

            transform = warp.transform * Affine.translation(target.col, target.row)
        else:
            transform = ds.window_transform(win) if win is not None else ds.transform
    band_valid = masks > 0
    band_valid &= np.isfinite(data)
    if info.nodata is not None and not math.isnan(info.nodata):
        band_valid &= raw != info.nodata
    valid = band_valid.all(axis=0)
    per_band = None
    if not valid.all():
        if (band_valid != valid[None]).any():
            per_band = band_valid
        for b in range(data.shape[0]):
            band, ok = data[b], band_valid[b]
            if fill_invalid:
                good = band[ok]
                band[~ok] = float(good.mean()) if good.size else 0.0
            else:
                band[~ok] = np.nan
    if warp is not None:   # the pixels lie on the warp's grid, in its CRS
        info = replace(info, crs=warp.crs, transform=warp.transform, width=warp.width, height=warp.height)
    return RasterData(data=data, valid=valid, info=info, transform=transform, window=window, band_valid=per_band)


def _warped(src, warp, nodata):
    """``src`` seen through GDAL's warper on the grid of ``warp``; pixels outside the source come
    out masked."""
    from rasterio.enums import Resampling
    from rasterio.vrt import WarpedVRT

    options = dict(crs=warp.crs, transform=warp.transform, width=warp.width, height=warp.height,
                   resampling=Resampling[warp.resampling])
    if nodata is not None:
        options.update(src_nodata=nodata, nodata=nodata)
    else:
        options.update(add_alpha=True)
    return WarpedVRT(src, **options)
