"""EMIT Level-2A surface reflectance (NASA/JPL, LP DAAC): the NetCDF-4 file, or its
``reflectance`` subdataset as QGIS names it (``NETCDF:"EMIT_L2A_RFL_....nc":reflectance``),
resolved to a GeoTIFF orthorectified through the product's geolocation lookup table (GLT), made
once per file and process in the scratch folder.

The file structure followed (EMIT L2A RFL product user guide and data product ATBD, as read by
NASA's EMIT-Data-Resources ``emit_tools.py``; names checked against it):

- ``reflectance`` (downtrack, crosstrack, bands), float32, fill value -9999, in the sensor's swath
  geometry;
- ``sensor_band_parameters/wavelengths``, ``fwhm`` (nm) and ``good_wavelengths`` (1 = usable,
  0 = a band of strong atmospheric absorption);
- ``location/glt_x``, ``glt_y`` (ortho_y, ortho_x): for each pixel of the map grid, the 1-based
  crosstrack and downtrack index of the swath pixel that lands there, 0 where none does;
- global attributes ``geotransform`` (GDAL's six numbers, pixel corners) and ``spatial_ref`` (WKT,
  geographic WGS 84).

The map grid is filled by nearest neighbour as the GLT says (no resampling); pixels where the GLT
is 0 and swath values equal to the fill value come out NaN (the GeoTIFF's nodata). The map grid
is written tile by tile, reading for each tile only the part of the swath its GLT points into.
"""
from __future__ import annotations

import os
from typing import Optional

import numpy as np

from ...errors import InvalidInputError
from ..wavelengths import SpectralMetadata, write_band_metadata
from .hdf import attribute, cube_profile, float_list, is_hdf5, open_hdf5
from .locations import split_subdataset
from .scratch import cached, scratch_path

#: Output tiles, and the most swath bytes read for one tile (a tile whose GLT points into a larger
#: part of the swath is split into quarters).
TILE = 256
SWATH_BUDGET_BYTES = 256 * 2**20
MIN_TILE = 16


def _nc_of(path: str) -> Optional[str]:
    p = str(path)
    sub = split_subdataset(p, "NETCDF")
    if sub is not None:
        if sub[1].strip('"').lstrip("/") not in ("", "reflectance"):
            return None
        p = sub[0]
    if p.lower().endswith((".nc", ".nc4")) and os.path.isfile(p):
        return p
    return None


def _is_emit(f) -> bool:
    return ("reflectance" in f and "location/glt_x" in f and "location/glt_y" in f
            and "sensor_band_parameters/wavelengths" in f)


def _grid(f, where: str, shape):
    from affine import Affine
    from rasterio.crs import CRS

    gt = float_list(attribute(f.attrs, "geotransform", where), "geotransform", where)
    if gt.size != 6:
        raise InvalidInputError(f"{where}: 'geotransform' has {gt.size} numbers, not GDAL's six")
    wkt = attribute(f.attrs, "spatial_ref", where)
    try:
        crs = CRS.from_wkt(str(wkt))
    except Exception as exc:  # noqa: BLE001 - rasterio raises CRSError
        raise InvalidInputError(f"{where}: 'spatial_ref' is no coordinate reference system ({exc})") from exc
    return crs, Affine.from_gdal(*gt)


def _tiles(h: int, w: int):
    for r in range(0, h, TILE):
        for c in range(0, w, TILE):
            yield r, min(h, r + TILE), c, min(w, c + TILE)


def _convert(nc: str):
    from ..reading import require_rasterio

    rasterio = require_rasterio()
    name = os.path.basename(nc)
    with open_hdf5(nc, "EMIT product") as f:
        where = f"the EMIT file {name}"
        refl = f["reflectance"]
        if refl.ndim != 3:
            raise InvalidInputError(
                f"{where}: 'reflectance' has shape {refl.shape}, not (downtrack, crosstrack, bands)")
        down, cross, nb = refl.shape
        sbp = f["sensor_band_parameters"]
        wl = np.asarray(sbp["wavelengths"][:], dtype=np.float64)
        fwhm = np.asarray(sbp["fwhm"][:], dtype=np.float64) if "fwhm" in sbp else None
        good = np.asarray(sbp["good_wavelengths"][:]) if "good_wavelengths" in sbp else None
        if wl.size != nb or (fwhm is not None and fwhm.size != nb) or (good is not None and good.size != nb):
            raise InvalidInputError(f"{where}: sensor_band_parameters do not list one value per band ({nb})")
        glt_x = np.asarray(f["location/glt_x"][:], dtype=np.int32)
        glt_y = np.asarray(f["location/glt_y"][:], dtype=np.int32)
        if glt_x.shape != glt_y.shape or glt_x.ndim != 2:
            raise InvalidInputError(f"{where}: location/glt_x and glt_y are not one map grid")
        valid = (glt_x > 0) & (glt_y > 0)
        if not valid.any():
            raise InvalidInputError(f"{where}: the geolocation table (location/glt_x, glt_y) places no pixel")
        if glt_x[valid].max() > cross or glt_y[valid].max() > down:
            raise InvalidInputError(f"{where}: the geolocation table points outside the swath ({down} x {cross})")
        fill = refl.attrs.get("_FillValue", -9999.0)
        fill = float(np.asarray(fill).ravel()[0])
        crs, transform = _grid(f, where, glt_x.shape)
        bad = None if good is None else good == 0
        spectral = SpectralMetadata(wl, fwhm if fwhm is not None and np.all(fwhm > 0) else None, bad)
        h, w = glt_x.shape
        target = scratch_path(nc, "_ortho.tif")
        tmp = target[:-4] + ".part.tif"
        profile = cube_profile(nb, h, w, "float32", transform, crs, float("nan"))

        def fill_tile(out, r0, r1, c0, c1):
            gx, gy = glt_x[r0:r1, c0:c1], glt_y[r0:r1, c0:c1]
            ok = valid[r0:r1, c0:c1]
            block = np.full((r1 - r0, c1 - c0, nb), np.nan, dtype=np.float32)
            if ok.any():
                y0, y1 = int(gy[ok].min()) - 1, int(gy[ok].max())
                x0, x1 = int(gx[ok].min()) - 1, int(gx[ok].max())
                if (y1 - y0) * (x1 - x0) * nb * 4 > SWATH_BUDGET_BYTES and min(r1 - r0, c1 - c0) > MIN_TILE:
                    rm, cm = (r0 + r1) // 2, (c0 + c1) // 2
                    for q in ((r0, rm, c0, cm), (r0, rm, cm, c1), (rm, r1, c0, cm), (rm, r1, cm, c1)):
                        fill_tile(out, *q)
                    return
                swath = np.asarray(refl[y0:y1, x0:x1, :], dtype=np.float32)
                block[ok] = swath[gy[ok] - 1 - y0, gx[ok] - 1 - x0]
                block[block == fill] = np.nan
            out.write(np.ascontiguousarray(block.transpose(2, 0, 1)),
                      window=rasterio.windows.Window(c0, r0, c1 - c0, r1 - r0))

        try:
            with rasterio.open(tmp, "w", **profile) as out:
                for tile in _tiles(h, w):
                    fill_tile(out, *tile)
                write_band_metadata(out, nb, wl, None, {"sensor": "EMIT", "processing_level": "L2A", "source": nc},
                                    spectral.fwhm_nm, bad)
            os.replace(tmp, target)
        except BaseException:
            for p in (tmp, tmp + ".aux.xml"):
                if os.path.exists(p):
                    os.remove(p)
            raise
    from . import ResolvedProduct

    nbad = 0 if bad is None else int(bad.sum())
    return ResolvedProduct(
        path=target, spectral=spectral,
        description=(f"EMIT L2A reflectance {name}: {nb} bands, {wl.min():.0f}-{wl.max():.0f} nm, {nbad} flagged bad "
                     f"(good_wavelengths); orthorectified through its geolocation table onto a {w} x {h} grid"))


def resolve_emit(path: str):
    """The EMIT L2A reflectance product behind ``path`` (the .nc or its ``reflectance`` subdataset), or
    None when ``path`` is no EMIT reflectance file."""
    nc = _nc_of(path)
    if nc is None or not is_hdf5(nc):
        return None
    with open_hdf5(nc, "EMIT product") as f:
        if not _is_emit(f):
            return None
    return cached(nc, "emit", lambda: _convert(nc))
