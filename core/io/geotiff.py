"""Writing the float32 GeoTIFFs the plugin produces: whole (:func:`write_raster`) or window by
window (:class:`WindowWriter`, for outputs larger than memory).

Both write straight into the path they are given and delete it if writing fails or is
cancelled; a run that must replace its outputs only when complete writes into the temporary
paths of a :class:`~.files.Staging`.
"""
from __future__ import annotations

import math
import os
from typing import Optional, Sequence

import numpy as np

from ..errors import InvalidInputError
from ..progress import Cancel, check_cancelled
from ..windows import Window
from .files import remove_quietly
from .reading import open_quietly, require_rasterio
from .wavelengths import write_band_metadata

#: Value written where the output is invalid (and declared as the GeoTIFF's nodata).
NODATA = -9999.0


def geotiff_profile(bands: int, h: int, w: int, transform, crs, nodata: float, block: Optional[int] = None) -> dict:
    """Tiled, DEFLATE-compressed float32 GeoTIFF (BigTIFF when needed), band-interleaved.

    DEFLATE level 1 on all cores: the same size as the default level on float data (predictor 3)
    in under half the time, and readable everywhere (unlike ZSTD); docs/speed.md."""
    if block is None:
        block = 256 if max(h, w) > 256 else max(16, int(2 ** math.ceil(math.log2(max(h, w, 16)))))
    profile = dict(driver="GTiff", width=w, height=h, count=bands, dtype="float32", transform=transform,
                   crs=crs, nodata=nodata, tiled=True, blockxsize=block, blockysize=block,
                   compress="deflate", predictor=3, zlevel=1, num_threads="ALL_CPUS", interleave="band",
                   BIGTIFF="IF_SAFER")
    if crs is None:
        profile.pop("crs")
    return profile


def _check_destination(path: str) -> str:
    path = str(path)
    ext = os.path.splitext(path)[1].lower()
    if ext not in (".tif", ".tiff"):
        raise InvalidInputError(f"unsupported output format '{ext or '(none)'}' for {path}: use a .tif file")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise InvalidInputError(f"the output folder does not exist: {folder}")
    return path


def write_raster(path: str, data: np.ndarray, transform, crs=None, valid: Optional[np.ndarray] = None,
                 wavelengths_nm: Optional[Sequence[float]] = None,
                 descriptions: Optional[Sequence[Optional[str]]] = None,
                 nodata: float = NODATA, extra_tags: Optional[dict] = None, cancel: Optional[Cancel] = None,
                 fwhm_nm: Optional[Sequence[float]] = None, bad_bands: Optional[Sequence[bool]] = None) -> str:
    """Write ``data`` (bands, H, W) as a tiled, DEFLATE-compressed float32 GeoTIFF.

    Invalid pixels (``valid`` False, or non-finite values) get ``nodata``. Band descriptions come
    from ``descriptions`` or, when absent, from the wavelengths (``"450.0 nm"``); the spectral
    metadata is written as :func:`~.wavelengths.write_band_metadata` says. ``cancel()`` returning
    True stops the writing between bands (the file is deleted).
    """
    require_rasterio()
    path = _check_destination(path)
    arr = np.array(data, dtype=np.float32, copy=True)
    if arr.ndim == 2:
        arr = arr[None]
    bands, h, w = arr.shape
    bad = ~np.isfinite(arr)
    if valid is not None:
        bad |= ~np.asarray(valid, dtype=bool)[None]
    arr[bad] = nodata
    try:
        with open_quietly(path, "w", **geotiff_profile(bands, h, w, transform, crs, nodata)) as ds:
            for b in range(bands):
                check_cancelled(cancel)
                ds.write(arr[b], b + 1)
            write_band_metadata(ds, bands, wavelengths_nm, descriptions, extra_tags, fwhm_nm, bad_bands)
        check_cancelled(cancel)
    except BaseException:
        remove_quietly(path)
        raise
    return path


class WindowWriter:
    """The GeoTIFF of :func:`write_raster`, written window by window (large outputs never sit in memory).

    ``writer(window, block)`` (``block`` float32 ``(bands, window.height, window.width)``, NaN =
    nodata) writes one window; :meth:`close` adds the band metadata and closes the file;
    :meth:`abort` (or leaving a ``with`` block by an exception) deletes it. ``valid`` (H, W),
    optional, marks pixels written as nodata whatever the block holds. GDAL's block cache is
    capped at ``cache_bytes`` while this writer works, so dirty blocks do not pile up in memory;
    windows aligned on the 256-pixel blocks complete whole GeoTIFF tiles.
    """

    def __init__(self, path: str, bands: int, height: int, width: int, transform, crs=None,
                 wavelengths_nm: Optional[Sequence[float]] = None,
                 descriptions: Optional[Sequence[Optional[str]]] = None, valid: Optional[np.ndarray] = None,
                 nodata: float = NODATA, extra_tags: Optional[dict] = None, cancel: Optional[Cancel] = None,
                 cache_bytes: int = 256 << 20, fwhm_nm: Optional[Sequence[float]] = None,
                 bad_bands: Optional[Sequence[bool]] = None):
        self._rio = require_rasterio()
        self.path = _check_destination(path)
        self.bands, self.height, self.width = int(bands), int(height), int(width)
        self.metadata = dict(wavelengths_nm=wavelengths_nm, descriptions=descriptions, extra_tags=extra_tags,
                             fwhm_nm=fwhm_nm, bad_bands=bad_bands)
        self.valid = None if valid is None else np.asarray(valid, dtype=bool)
        self.nodata, self.cancel, self.cache_bytes = float(nodata), cancel, int(cache_bytes)
        self.pixels_written = 0
        try:
            profile = geotiff_profile(self.bands, self.height, self.width, transform, crs, self.nodata)
            with self._env():
                self.ds = open_quietly(self.path, "w", **profile)
        except BaseException:
            remove_quietly(self.path)
            raise

    def _env(self):
        return self._rio.Env(GDAL_CACHEMAX=self.cache_bytes)

    def __call__(self, window: Window, block: np.ndarray) -> None:
        self.write(window, block)

    def write(self, window: Window, block: np.ndarray) -> None:
        if self.ds is None:
            raise ValueError("the writer is closed")
        check_cancelled(self.cancel)
        b = np.array(block, dtype=np.float32, copy=True)
        if b.ndim == 2:
            b = b[None]
        r0, c0 = window.row, window.col
        if b.shape != (self.bands, window.height, window.width) or window.row_stop > self.height \
                or window.col_stop > self.width:
            raise ValueError(f"block {b.shape} at {window} does not fit the {self.bands} x {self.height} x "
                             f"{self.width} output")
        bad = ~np.isfinite(b)
        if self.valid is not None:
            bad |= ~self.valid[None, r0 : r0 + b.shape[1], c0 : c0 + b.shape[2]]
        b[bad] = self.nodata
        with self._env():
            self.ds.write(b, window=self._rio.windows.Window(c0, r0, b.shape[2], b.shape[1]))
        self.pixels_written += b.shape[1] * b.shape[2]

    def close(self) -> str:
        """Finish the file (metadata, flush)."""
        if self.ds is None:
            raise ValueError("the writer is closed")
        try:
            with self._env():
                write_band_metadata(self.ds, self.bands, **self.metadata)
                ds, self.ds = self.ds, None
                ds.close()
            check_cancelled(self.cancel)
        except BaseException:
            self.abort()
            raise
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
        remove_quietly(self.path)

    def __enter__(self) -> "WindowWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            if self.ds is not None:
                self.close()
        else:
            self.abort()


def warp_raster(src_path: str, dst_path: str, crs, transform, width: int, height: int, resampling: str = "cubic",
                cancel: Optional[Cancel] = None, tile: int = 512) -> str:
    """Warp a GeoTIFF written by this module onto another grid (``crs``, ``transform``, ``width``
    x ``height``) into ``dst_path``, window by window, keeping its band metadata and nodata."""
    from rasterio.enums import Resampling
    from rasterio.vrt import WarpedVRT

    from ..windows import tiles

    with open_quietly(src_path) as src:
        tags, descriptions = src.tags(), list(src.descriptions)
        band_tags = [src.tags(b + 1, ns="IMAGERY") for b in range(src.count)]
        with WarpedVRT(src, crs=crs, transform=transform, width=width, height=height,
                       resampling=Resampling[resampling], src_nodata=src.nodata, nodata=NODATA) as vrt:
            writer = WindowWriter(dst_path, src.count, height, width, transform, crs, descriptions=descriptions,
                                  extra_tags=tags, cancel=cancel)
            try:
                for window in tiles(height, width, tile):
                    from rasterio.windows import Window as RioWindow

                    block = vrt.read(window=RioWindow(window.col, window.row, window.width, window.height))
                    block = block.astype(np.float32)
                    block[block == NODATA] = np.nan
                    writer(window, block)
                writer.close()
            except BaseException:
                writer.abort()
                raise
    with open_quietly(dst_path, "r+") as ds:
        for b, t in enumerate(band_tags):
            if t:
                ds.update_tags(b + 1, ns="IMAGERY", **t)
    return dst_path
