"""Writing the float32 rasters the plugin produces: whole (:func:`write_raster`) or window by
window (:class:`WindowWriter`, for outputs larger than memory).

The output's extension picks the format (:mod:`.raster_formats`): a tiled GeoTIFF with internal
overviews when large, optionally a Cloud-Optimized GeoTIFF, or ENVI with its ``.hdr``. Both write
straight into the path they are given and delete it (and its side files) if writing fails or is
cancelled; a run that must replace its outputs only when complete writes into the temporary
paths of a :class:`~.files.Staging`.
"""
from __future__ import annotations

import contextlib
import os
from typing import Optional, Sequence

import numpy as np

from ..errors import InvalidInputError
from ..progress import Cancel, check_cancelled
from ..windows import Window
from .overviews import HalfResolution, gdal_bindings
from .raster_formats import (RasterFormat, creation_profile, finish, geotiff_profile, overview_factors,  # noqa: F401
                             raster_format, remove_raster_quietly, working_path)
from . import spline_warp
from .reading import open_quietly, require_rasterio
from .wavelengths import write_band_metadata

#: Value written where the output is invalid (and declared as the GeoTIFF's nodata).
NODATA = -9999.0


def _check_destination(path: str, cloud_optimized: bool = False) -> tuple[str, RasterFormat]:
    path = str(path)
    fmt = raster_format(path, cloud_optimized)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise InvalidInputError(f"the output folder does not exist: {folder}")
    return path, fmt


def _write_metadata(ds, fmt: RasterFormat, bands: int, **metadata) -> None:
    """The spectral metadata (:func:`~.wavelengths.write_band_metadata`); for ENVI also in the
    header (GDAL writes the ``ENVI`` domain into the ``.hdr``)."""
    write_band_metadata(ds, bands, **metadata)
    if fmt.driver == "ENVI":
        tags = {k: v for k, v in ds.tags().items() if k in ENVI_HEADER_KEYS}
        if tags:
            ds.update_tags(ns="ENVI", **tags)


#: dataset tags that go into an ENVI header (the names ENVI and GDAL's ENVI driver use)
ENVI_HEADER_KEYS = ("wavelength", "wavelength_units", "fwhm", "bbl")


def write_raster(path: str, data: np.ndarray, transform, crs=None, valid: Optional[np.ndarray] = None,
                 wavelengths_nm: Optional[Sequence[float]] = None,
                 descriptions: Optional[Sequence[Optional[str]]] = None,
                 nodata: float = NODATA, extra_tags: Optional[dict] = None, cancel: Optional[Cancel] = None,
                 fwhm_nm: Optional[Sequence[float]] = None, bad_bands: Optional[Sequence[bool]] = None,
                 cloud_optimized: bool = False) -> str:
    """Write ``data`` (bands, H, W) as a float32 raster: a tiled, DEFLATE-compressed GeoTIFF (with
    overviews when large; a COG with ``cloud_optimized``) or ENVI, by the extension of ``path``.

    Invalid pixels (``valid`` False, or non-finite values) get ``nodata``. Band descriptions come
    from ``descriptions`` or, when absent, from the wavelengths (``"450.0 nm"``); the spectral
    metadata is written as :func:`~.wavelengths.write_band_metadata` says. ``cancel()`` returning
    True stops the writing between bands (the file is deleted).
    """
    require_rasterio()
    path, fmt = _check_destination(path, cloud_optimized)
    arr = np.array(data, dtype=np.float32, copy=True)
    if arr.ndim == 2:
        arr = arr[None]
    bands, h, w = arr.shape
    bad = ~np.isfinite(arr)
    if valid is not None:
        bad |= ~np.asarray(valid, dtype=bool)[None]
    arr[bad] = nodata
    target = working_path(path, fmt)
    try:
        with open_quietly(target, "w", **creation_profile(fmt, bands, h, w, transform, crs, nodata)) as ds:
            for b in range(bands):
                check_cancelled(cancel)
                ds.write(arr[b], b + 1)
            _write_metadata(ds, fmt, bands, wavelengths_nm=wavelengths_nm, descriptions=descriptions,
                            extra_tags=extra_tags, fwhm_nm=fwhm_nm, bad_bands=bad_bands)
        check_cancelled(cancel)
        finish(path, fmt, cancel)
        check_cancelled(cancel)
    except BaseException:
        remove_raster_quietly(target)
        remove_raster_quietly(path)
        raise
    return path


class WindowWriter:
    """The raster of :func:`write_raster`, written window by window (large outputs never sit in memory).

    ``writer(window, block)`` (``block`` float32 ``(bands, window.height, window.width)``, NaN =
    nodata) writes one window; :meth:`close` adds the band metadata and closes the file;
    :meth:`abort` (or leaving a ``with`` block by an exception) deletes it. ``valid`` (H, W),
    optional, marks pixels written as nodata whatever the block holds. GDAL's block cache is
    capped at ``cache_bytes`` while this writer works, so dirty blocks do not pile up in memory;
    windows aligned on the 256-pixel blocks complete whole GeoTIFF tiles. Overviews and the COG
    conversion (``cloud_optimized``) happen in :meth:`close`.
    """

    def __init__(self, path: str, bands: int, height: int, width: int, transform, crs=None,
                 wavelengths_nm: Optional[Sequence[float]] = None,
                 descriptions: Optional[Sequence[Optional[str]]] = None, valid: Optional[np.ndarray] = None,
                 nodata: float = NODATA, extra_tags: Optional[dict] = None, cancel: Optional[Cancel] = None,
                 cache_bytes: int = 128 << 20, fwhm_nm: Optional[Sequence[float]] = None,
                 bad_bands: Optional[Sequence[bool]] = None, cloud_optimized: bool = False):
        self._rio = require_rasterio()
        self.path, self.format = _check_destination(path, cloud_optimized)
        self.working_path = working_path(self.path, self.format)
        self.bands, self.height, self.width = int(bands), int(height), int(width)
        self.metadata = dict(wavelengths_nm=wavelengths_nm, descriptions=descriptions, extra_tags=extra_tags,
                             fwhm_nm=fwhm_nm, bad_bands=bad_bands)
        self.valid = None if valid is None else np.asarray(valid, dtype=bool)
        self.nodata, self.cancel, self.cache_bytes = float(nodata), cancel, int(cache_bytes)
        self.pixels_written = 0
        self._half: Optional[HalfResolution] = None
        try:
            profile = creation_profile(self.format, self.bands, self.height, self.width, transform, crs, self.nodata)
            with self._env():
                self.ds = open_quietly(self.working_path, "w", **profile)
                if self.format.overviews and overview_factors(self.height, self.width) and \
                        self.height % 2 == 0 and self.width % 2 == 0 and gdal_bindings():
                    self._half = HalfResolution(self.working_path + ".half.tif", self.bands, self.height,
                                                self.width, self.nodata)
        except BaseException:
            self._remove()
            raise

    def _env(self):
        return self._rio.Env(GDAL_CACHEMAX=self.cache_bytes)

    def __call__(self, window: Window, block: np.ndarray, owned: bool = False) -> None:
        self.write(window, block, owned)

    def write(self, window: Window, block: np.ndarray, owned: bool = False) -> None:
        """Write ``block`` at ``window``; ``owned``: the caller no longer needs ``block``, which may
        then be written into (nodata) instead of copied (a large tile's copy is a quarter GB)."""
        if self.ds is None:
            raise ValueError("the writer is closed")
        check_cancelled(self.cancel)
        b = np.array(block, dtype=np.float32, copy=not owned)
        if b.ndim == 2:
            b = b[None]
        r0, c0 = window.row, window.col
        if b.shape != (self.bands, window.height, window.width) or window.row_stop > self.height \
                or window.col_stop > self.width:
            raise ValueError(f"block {b.shape} at {window} does not fit the {self.bands} x {self.height} x "
                             f"{self.width} output")
        import torch      # one multi-threaded pass, no tile-sized mask (a tile is a quarter GB)

        torch.from_numpy(b).nan_to_num_(self.nodata, self.nodata, self.nodata)
        if self.valid is not None:
            invalid = ~self.valid[r0 : r0 + b.shape[1], c0 : c0 + b.shape[2]]
            if invalid.any():
                b[:, invalid] = self.nodata
        with self._env():
            self.ds.write(b, window=self._rio.windows.Window(c0, r0, b.shape[2], b.shape[1]))
            if self._half is not None:
                self._half.add(window, b, self.height, self.width)
        self.pixels_written += b.shape[1] * b.shape[2]

    def close(self) -> str:
        """Finish the file (metadata, flush, overviews or the COG conversion)."""
        if self.ds is None:
            raise ValueError("the writer is closed")
        try:
            with self._env():
                _write_metadata(self.ds, self.format, self.bands, **self.metadata)
                ds, self.ds = self.ds, None
                ds.close()
                half = None
                if self._half is not None:
                    self._half.close()
                    half = self._half.path if self._half.complete else None
            check_cancelled(self.cancel)
            finish(self.path, self.format, self.cancel, half=half)
            check_cancelled(self.cancel)
        except BaseException:
            self.abort()
            raise
        finally:
            if self._half is not None:
                self._half.remove()
        return self.path

    def abort(self) -> None:
        """Close and delete the file."""
        ds, self.ds = getattr(self, "ds", None), None
        if ds is not None:
            try:
                with self._env():
                    ds.close()
            except Exception:  # noqa: BLE001 - the file is deleted anyway
                pass
        self._remove()

    def _remove(self) -> None:
        half = getattr(self, "_half", None)
        if half is not None:
            try:
                half.remove()
            except Exception:  # noqa: BLE001 - best effort: the output itself is what must go
                pass
        remove_raster_quietly(self.working_path)
        remove_raster_quietly(self.path)

    def __enter__(self) -> "WindowWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            if self.ds is not None:
                self.close()
        else:
            self.abort()


def warp_raster(src_path: str, dst_path: str, crs, transform, width: int, height: int, resampling: str = "cubic",
                cancel: Optional[Cancel] = None, tile: int = 512, cloud_optimized: bool = False) -> str:
    """Warp a raster written by this module onto another grid (``crs``, ``transform``, ``width`` x
    ``height``) into ``dst_path`` (any format :class:`WindowWriter` writes), window by window,
    keeping its band metadata and nodata."""
    from rasterio.enums import Resampling
    from rasterio.vrt import WarpedVRT
    from rasterio.windows import Window as RioWindow

    from ..windows import tiles
    from .wavelengths import spectral_metadata

    with open_quietly(src_path) as src:
        spectral = spectral_metadata(src)
        keys = ("wavelength", "wavelength_units", "fwhm", "bbl")
        tags = {k: v for k, v in src.tags().items() if k.lower() not in keys}
        spline = resampling == spline_warp.SPLINE
        with contextlib.ExitStack() as stack:
            vrt = None if spline else stack.enter_context(
                WarpedVRT(src, crs=crs, transform=transform, width=width, height=height,
                          resampling=Resampling[resampling], src_nodata=src.nodata, nodata=NODATA))
            writer = WindowWriter(dst_path, src.count, height, width, transform, crs,
                                  wavelengths_nm=spectral.wavelengths_nm, fwhm_nm=spectral.fwhm_nm,
                                  bad_bands=spectral.bad_bands, descriptions=list(src.descriptions), extra_tags=tags,
                                  cancel=cancel, cloud_optimized=cloud_optimized)
            try:
                for window in tiles(height, width, tile):
                    if spline:
                        values, ok = spline_warp.read_warped(src, crs, transform, window, src.nodata, cancel)
                        block = np.where(ok, values, np.nan).astype(np.float32)
                    else:
                        block = vrt.read(window=RioWindow(window.col, window.row, window.width, window.height))
                        block = block.astype(np.float32)
                        block[block == NODATA] = np.nan
                    writer(window, block)
                writer.close()
            except BaseException:
                writer.abort()
                raise
    return dst_path
