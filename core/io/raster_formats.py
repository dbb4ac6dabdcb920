"""The raster formats the plugin writes, chosen by the output's extension (QGIS-free; rasterio/GDAL).

- ``.tif`` / ``.tiff``: a tiled, DEFLATE-compressed float32 GeoTIFF; when a side exceeds
  :data:`OVERVIEW_MIN_SIDE` pixels, internal overviews (average) down to that size, so QGIS
  redraws it fast at every zoom, whether it was written by QGIS or by the command line.
- the same with ``cloud_optimized``: a Cloud-Optimized GeoTIFF (GDAL's COG driver: the tiles and
  overviews laid out for HTTP range reads), converted from the written GeoTIFF at the end.
- ``.bsq`` / ``.bil`` / ``.bip``: ENVI (band-, line- or pixel-interleaved) with its ``.hdr``
  header, which holds ``wavelength``, ``wavelength units``, ``fwhm``, ``bbl``, ``band names`` and
  ``data ignore value`` (the nodata), as ENVI, EnMAP-Box and GDAL read them. No overviews (QGIS
  builds pyramids on request).

A raster comes with side files GDAL writes next to it (:func:`sidecar_files`); staging, deleting
and renaming a raster handle them together (``files.Staging``).
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Optional

from ..errors import InvalidInputError
from ..progress import Cancel, check_cancelled

GEOTIFF_EXTENSIONS = (".tif", ".tiff")
#: ENVI extensions and their interleave (GDAL's ENVI creation option INTERLEAVE)
ENVI_EXTENSIONS = {".bsq": "BSQ", ".bil": "BIL", ".bip": "BIP"}
#: every extension a raster output may have
RASTER_EXTENSIONS = GEOTIFF_EXTENSIONS + tuple(ENVI_EXTENSIONS)
#: rasters with a side larger than this get overviews, down to about this size
OVERVIEW_MIN_SIDE = 256


@dataclass(frozen=True)
class RasterFormat:
    """How a raster output is written: GDAL ``driver``, ``interleave`` and whether it is converted
    to a Cloud-Optimized GeoTIFF at the end."""

    driver: str
    interleave: str = "band"
    cloud_optimized: bool = False

    @property
    def overviews(self) -> bool:
        """Internal overviews are built (a COG gets them from the COG driver)."""
        return self.driver == "GTiff" and not self.cloud_optimized


def raster_format(path: str, cloud_optimized: bool = False) -> RasterFormat:
    """The format of an output from its extension (see the module docstring).

    Raises
    ------
    InvalidInputError
        For an extension not in :data:`RASTER_EXTENSIONS`, or ``cloud_optimized`` with ENVI.
    """
    ext = os.path.splitext(str(path))[1].lower()
    if ext in GEOTIFF_EXTENSIONS:
        return RasterFormat("GTiff", "band", bool(cloud_optimized))
    if ext in ENVI_EXTENSIONS:
        if cloud_optimized:
            raise InvalidInputError(
                f"a Cloud-Optimized GeoTIFF was asked for but the output {path} is ENVI ({ext}): give a .tif "
                "file name, or turn the Cloud-Optimized GeoTIFF option off")
        return RasterFormat("ENVI", ENVI_EXTENSIONS[ext])
    raise InvalidInputError(
        f"unsupported output format '{ext or '(none)'}' for {path}: use a file name ending in "
        f"{', '.join(RASTER_EXTENSIONS)}")


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


def creation_profile(fmt: RasterFormat, bands: int, h: int, w: int, transform, crs, nodata: float) -> dict:
    """The rasterio profile a float32 output of ``fmt`` is created with (a COG is first written as
    the tiled GeoTIFF it is converted from)."""
    if fmt.driver == "GTiff":
        return geotiff_profile(bands, h, w, transform, crs, nodata)
    profile = dict(driver="ENVI", width=w, height=h, count=bands, dtype="float32", transform=transform, crs=crs,
                   nodata=nodata, interleave=fmt.interleave)
    if crs is None:
        profile.pop("crs")
    return profile


def overview_factors(height: int, width: int, min_side: int = OVERVIEW_MIN_SIDE) -> list:
    """Decimation factors 2, 4, 8 ... down to the first level whose longer side is at most
    ``min_side``; none when the raster is no larger than that."""
    side, factors, f = max(int(height), int(width)), [], 2
    if side <= min_side:
        return factors
    while True:
        factors.append(f)
        if -(-side // f) <= min_side:
            return factors
        f *= 2


def working_path(path: str, fmt: RasterFormat) -> str:
    """Where the pixels are written: ``path`` itself, or, for a COG, a GeoTIFF next to it that
    :func:`finish` converts and deletes."""
    return path + ".tiled.tif" if fmt.cloud_optimized else path


def finish(path: str, fmt: RasterFormat, cancel: Optional[Cancel] = None, half: Optional[str] = None) -> str:
    """Complete a written, closed raster: internal overviews (average) for a large GeoTIFF, the
    conversion to a COG (the working file is deleted). ``cancel()`` is checked between the steps.
    ``half``: the raster averaged 2 x 2 (overviews.HalfResolution), which spares reading it back."""
    from .reading import open_quietly, require_rasterio

    rasterio = require_rasterio()
    if fmt.overviews:
        with open_quietly(path) as ds:
            factors = overview_factors(ds.height, ds.width)
        if factors:
            check_cancelled(cancel)
            from rasterio.enums import Resampling

            if half is not None:
                from .overviews import fill_overviews

                fill_overviews(path, factors, half, cancel)
            else:
                # (no GDAL_NUM_THREADS here: GDAL 3.6's multi-threaded decoding of band-interleaved
                # tiles logs libtiff "ExtraSamples" errors; DEFLATE level 1 as the output's own tiles)
                with rasterio.Env(ZLEVEL_OVERVIEW=1, PREDICTOR_OVERVIEW=3), open_quietly(path, "r+") as ds:
                    ds.build_overviews(factors, Resampling.average)
            with open_quietly(path, "r+") as ds:
                ds.update_tags(ns="rio_overview", resampling="average")
    if fmt.cloud_optimized:
        check_cancelled(cancel)
        import rasterio.shutil

        source = working_path(path, fmt)
        try:
            rasterio.shutil.copy(source, path, driver="COG", COMPRESS="DEFLATE", LEVEL=1, PREDICTOR="YES",
                                 BLOCKSIZE=256, OVERVIEW_RESAMPLING="AVERAGE", NUM_THREADS="ALL_CPUS",
                                 BIGTIFF="IF_SAFER")
        finally:
            remove_raster_quietly(source)
    return path


def sidecar_files(path: str) -> list:
    """The files GDAL may keep beside the raster ``path``: its ``.aux.xml`` (PAM metadata and the
    statistics QGIS computes), its external overviews ``.ovr`` and, for ENVI, its ``.hdr`` header."""
    path = str(path)
    files = [path + ".aux.xml", path + ".ovr"]
    base, ext = os.path.splitext(path)
    if ext.lower() in ENVI_EXTENSIONS:
        files.append(base + ".hdr")
    return files


def remove_raster_quietly(path: Optional[str]) -> None:
    """Delete a raster and its side files, ignoring those that do not exist."""
    if not path:
        return
    for p in [str(path)] + sidecar_files(path):
        try:
            os.remove(p)
        except OSError:
            pass
