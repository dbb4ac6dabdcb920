"""The geometry of an HSI/MSI pair: checked from metadata alone, before any pixel is read.

:func:`pair_grid` validates a pair and returns one :class:`PairGrid` value: the scale and the
windows of the common area. The HSI's pixels stay as measured. When the MSI's grid is already
aligned with the HSI's (same CRS, pixel edges on HSI pixel edges, an integer pixel-size ratio),
the MSI is read as it is; otherwise (another CRS, an offset grid, a non-integer ratio) it is
warped once, while it is read, onto the grid aligned with the HSI's pixel edges, in the HSI's CRS,
with a pixel of HSI / scale (:class:`MsiWarp`; average resampling where it shrinks, else an
interpolating spline, spline_warp.py). :func:`read_pair` reads the windows.

One exception to the warp: when the fused image is wanted on the MSI's own grid and the grids only
differ by an offset of their pixel edges (same CRS, an integer ratio), ``snap_offset`` reads the MSI
as it is and pairs each HSI pixel with the MSI pixels nearest its footprint. The HSI then samples
its blur up to half an MSI pixel off their centre, which the estimated kernel takes up as it takes
up any misregistration, and nothing is resampled (a warp would resample the MSI there and the
fused image back: docs/real_pairs.md measures what that costs).
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Optional

from ..errors import InvalidInputError
from ..kernels import default_kernel_size
from ..progress import Cancel, check_cancelled
from ..windows import Window
from .reading import RasterData, RasterInfo, raster_info, read_raster

#: Tolerance on the pixel-size ratio being an integer (relative).
SCALE_TOLERANCE = 1e-3
#: Largest allowed offset between HSI and MSI pixel edges, as a fraction of an MSI pixel.
ALIGN_TOLERANCE = 0.05
#: Resampling where an image is shifted or enlarged in its own CRS: an interpolating spline
#: (spline_warp.py) keeps more of a sharp image than GDAL's Lanczos or cubic convolution
#: (docs/real_pairs.md measures the three).
SHARP_RESAMPLING = "spline"
#: ... and where it is also turned into another CRS: the spline too; GDAL's Lanczos broke the fusion
#: next to the nodata a turned grid brings, its cubic convolution smooths.
TURNED_RESAMPLING = "spline"


def sharp_resampling(src_crs, dst_crs) -> str:
    """The resampling of an image that is not shrunk, from ``src_crs`` to ``dst_crs``."""
    same = src_crs is None or dst_crs is None or src_crs == dst_crs
    return SHARP_RESAMPLING if same else TURNED_RESAMPLING


@dataclass(frozen=True)
class MsiWarp:
    """The grid the MSI is warped onto: ``crs``, ``transform``, ``width`` x ``height`` pixels."""

    crs: object
    transform: object
    width: int
    height: int
    #: "average" when the MSI's own pixels are smaller than the grid's, else :func:`sharp_resampling`
    resampling: str
    #: the HSI / MSI pixel-size ratio as measured (before rounding to the scale)
    native_ratio: float
    #: why the MSI is warped (another CRS, an offset grid, a non-integer ratio)
    reasons: tuple = ()


@dataclass(frozen=True)
class PairGrid:
    """Where an HSI/MSI pair overlaps: ``hsi_window`` (HSI pixels) and ``msi_window`` (MSI pixels,
    exactly ``scale`` times larger) cover the same ground; ``hsi_transform`` is the HSI's
    geotransform (derived from the MSI's for rasters without georeferencing). With ``msi_warp``,
    ``msi_window`` lies on the warped grid, not in the MSI file."""

    scale: int
    hsi_window: Window
    msi_window: Window
    hsi_transform: object
    warnings: tuple = ()
    msi_warp: Optional[MsiWarp] = None


@dataclass
class PairData:
    """The pixels of a pair's common area, as :func:`read_pair` returns them."""

    hsi: RasterData
    msi: RasterData
    scale: int
    warnings: list = field(default_factory=list)


def _crs_name(crs) -> str:
    if crs is None:
        return "none"
    try:
        epsg = crs.to_epsg()
    except Exception:  # noqa: BLE001
        epsg = None
    return f"EPSG:{epsg}" if epsg else crs.to_string()[:80]


def _check_north_up(info: RasterInfo, role: str) -> None:
    t = info.transform
    if abs(t.b) > 1e-12 * max(1.0, abs(t.a)) or abs(t.d) > 1e-12 * max(1.0, abs(t.e)):
        raise InvalidInputError(
            f"the {role} raster {os.path.basename(info.path)} is rotated or sheared; warp it to a "
            "north-up grid first (Raster > Projections > Warp)")


def _integer_ratio(r: float, what: str) -> int:
    n = int(round(r))
    if n < 1 or abs(r - n) > SCALE_TOLERANCE * max(1.0, r):
        raise InvalidInputError(
            f"the {what} pixel-size ratio HSI/MSI is {r:.4f}, not an integer: resample the MSI (or the "
            "HSI) so that one HSI pixel covers exactly n x n MSI pixels")
    return n


def check_band_counts(hsi: RasterInfo, msi: RasterInfo) -> None:
    if hsi.count < 2:
        raise InvalidInputError(
            f"the HSI {os.path.basename(hsi.path)} has a single band; a hyperspectral image needs several "
            "bands: give the whole hyperspectral raster as HSI (not one of its bands)")
    if msi.count >= hsi.count:
        raise InvalidInputError(
            f"the MSI has {msi.count} bands and the HSI {hsi.count}: the hyperspectral image must have "
            "more bands than the multispectral one. Are the HSI and MSI inputs swapped?")


def _hsi_transform_and_scale(hsi: RasterInfo, msi: RasterInfo, scale: int, warnings: list):
    """The HSI's geotransform on the MSI's frame and the scale, for the three georeferencing cases."""
    if not hsi.georeferenced and not msi.georeferenced:
        # Laboratory scenes without georeferencing: both grids start at (0, 0); the scale is the
        # ratio of the image sizes.
        ry, rx = msi.height / hsi.height, msi.width / hsi.width
        sy, sx = _integer_ratio(ry, "size (rows)"), _integer_ratio(rx, "size (columns)")
        if sy != sx:
            raise InvalidInputError(
                f"the MSI/HSI size ratios differ between rows ({ry:g}) and columns ({rx:g})")
        if scale and scale != sx:
            raise InvalidInputError(
                f"SCALE={scale} but the image sizes give a ratio of {sx} (MSI {msi.width}x{msi.height}, "
                f"HSI {hsi.width}x{hsi.height}); set SCALE to 0 or {sx}")
        from affine import Affine

        warnings.append("neither raster is georeferenced: assumed both cover the same area, "
                        f"HSI pixel = {sx} x {sx} MSI pixels, top-left corners aligned")
        return msi.transform * Affine.scale(sx), sx
    if hsi.georeferenced != msi.georeferenced:
        which = "HSI" if not hsi.georeferenced else "MSI"
        raise InvalidInputError(
            f"the {which} raster has no georeferencing but the other one has; assign the same CRS and "
            "georeferencing to both (Raster > Projections > Assign Projection / Georeferencer)")
    if (hsi.crs is None) != (msi.crs is None):
        which = "HSI" if hsi.crs is None else "MSI"
        raise InvalidInputError(
            f"the {which} raster has a geotransform but no coordinate reference system; assign the CRS it is in "
            "(Raster > Projections > Assign Projection)")
    return hsi.transform, scale


def pair_grid(hsi: RasterInfo, msi: RasterInfo, scale: int = 0, snap_offset: bool = False) -> PairGrid:
    """Validate an HSI/MSI pair from metadata only and find the windows of its common area.
    ``snap_offset``: grids that differ only by an offset of their pixel edges are paired on the
    MSI's grid, without a warp (the fused image is wanted there)."""
    warnings: list = []
    scale = int(scale or 0)
    if scale < 0:
        raise InvalidInputError(f"SCALE must be 0 (derive from the pixel sizes) or a positive integer, got {scale}")
    check_band_counts(hsi, msi)
    hsi_t, scale = _hsi_transform_and_scale(hsi, msi, scale, warnings)
    _check_north_up(hsi, "HSI")
    if not hsi.georeferenced:
        return _aligned_grid(hsi, msi, hsi_t, scale, warnings)
    why = _why_warp(hsi, msi)
    if not why:
        return _aligned_grid(hsi, msi, hsi_t, scale, warnings)
    if snap_offset and why == [_offset_reason(hsi, msi)]:
        return _aligned_grid(hsi, msi, hsi_t, scale, warnings, snapped=True)
    return _warped_grid(hsi, msi, scale, why, warnings)


def _edge_offset(hsi: RasterInfo, msi: RasterInfo) -> float:
    """How far (MSI pixels, the larger of x and y) the HSI's pixel edges lie from the MSI's."""
    ht, mt = hsi.transform, msi.transform
    ox, oy = (ht.c - mt.c) / mt.a, (ht.f - mt.f) / mt.e
    return max(abs(ox - round(ox)), abs(oy - round(oy)))


def _offset_reason(hsi: RasterInfo, msi: RasterInfo) -> str:
    return f"the HSI's pixel edges are {_edge_offset(hsi, msi):.2f} MSI pixels off the MSI's"


def _why_warp(hsi: RasterInfo, msi: RasterInfo) -> list[str]:
    """Why the MSI cannot be read as it is (empty: its grid is aligned with the HSI's)."""
    if hsi.crs != msi.crs:
        return [f"the MSI is in {_crs_name(msi.crs)} and the HSI in {_crs_name(hsi.crs)}"]
    ht, mt = hsi.transform, msi.transform
    if abs(mt.b) > 1e-12 * max(1.0, abs(mt.a)) or abs(mt.d) > 1e-12 * max(1.0, abs(mt.e)):
        return ["the MSI's grid is rotated"]
    if ht.a * mt.a <= 0 or ht.e * mt.e <= 0:
        return ["the MSI's grid is flipped with respect to the HSI's"]
    why = []
    rx, ry = ht.a / mt.a, ht.e / mt.e
    n = int(round(rx))
    if n < 1 or abs(rx - n) > SCALE_TOLERANCE * max(1.0, rx) or abs(ry - rx) > SCALE_TOLERANCE * max(1.0, rx):
        why.append(f"the HSI/MSI pixel-size ratio is {rx:.4g} x {ry:.4g}, not one integer")
    if _edge_offset(hsi, msi) > ALIGN_TOLERANCE:
        why.append(_offset_reason(hsi, msi))
    return why


def _aligned_grid(hsi: RasterInfo, msi: RasterInfo, hsi_t, scale: int, warnings: list,
                  snapped: bool = False) -> PairGrid:
    """The common area of two grids whose pixel edges coincide (the MSI read as it is); ``snapped``:
    or lie up to half an MSI pixel apart, each HSI pixel paired with the nearest MSI pixels."""
    _check_north_up(msi, "MSI")
    mt = msi.transform
    if hsi_t.a * mt.a <= 0 or hsi_t.e * mt.e <= 0:
        raise InvalidInputError("the HSI and MSI grids are oriented differently (one is flipped)")
    rx, ry = hsi_t.a / mt.a, hsi_t.e / mt.e
    sx, sy = _integer_ratio(rx, "x"), _integer_ratio(ry, "y")
    if sx != sy:
        raise InvalidInputError(
            f"the pixel-size ratio differs in x ({rx:g}) and y ({ry:g}); both must be the same integer")
    if scale and scale != sx:
        raise InvalidInputError(
            f"SCALE={scale} but the pixel sizes give a ratio of {sx} (HSI {abs(hsi_t.a):g}, MSI "
            f"{abs(mt.a):g}); set SCALE to 0 (automatic) or {sx}")
    scale = sx
    if scale < 2:
        raise InvalidInputError(
            "the HSI and MSI have the same pixel size (scale 1): the HSI must be coarser than the MSI")
    ox = (hsi_t.c - mt.c) / mt.a
    oy = (hsi_t.f - mt.f) / mt.e
    if snapped:
        warnings.append(
            f"{_offset_reason(hsi, msi)}: the MSI is read as it is and the fused image lies on its grid (OUTPUT_GRID=msi), "
            "each HSI pixel paired with the MSI pixels nearest its footprint; the estimated blur kernel takes up the "
            "offset (no resampling)")
    for o, axis in ((ox, "x"), (oy, "y")):
        if abs(o - round(o)) > ALIGN_TOLERANCE and not snapped:   # laboratory scenes: both grids start at (0, 0)
            raise InvalidInputError(
                f"the HSI and MSI grids are not aligned: HSI pixel edges are {abs(o - round(o)):.3f} MSI "
                f"pixels off the MSI pixel edges in {axis}; resample the MSI so that its grid starts at an "
                "HSI pixel corner (e.g. Warp with the HSI extent and a pixel size = HSI pixel / scale)")
    ox, oy = int(round(ox)), int(round(oy))
    # Common area in HSI pixels: HSI pixel j covers MSI pixels ox + j*scale .. ox + (j+1)*scale - 1.
    c0 = max(0, math.ceil(-ox / scale))
    r0 = max(0, math.ceil(-oy / scale))
    c1 = min(hsi.width, (msi.width - ox) // scale)
    r1 = min(hsi.height, (msi.height - oy) // scale)
    if c1 <= c0 or r1 <= r0:
        raise InvalidInputError(
            "the HSI and MSI do not overlap (no HSI pixel lies inside the MSI extent); check that both "
            "show the same place and share the CRS")
    hwin = Window.from_bounds(r0, r1, c0, c1)
    mwin = hwin.to_hr(scale).offset(oy, ox)
    _check_common_area(hwin, mwin, scale)
    if hwin != Window.full(hsi.height, hsi.width) or mwin != Window.full(msi.height, msi.width):
        warnings.append(
            f"the inputs only partly overlap: cropped to the common area, HSI {hwin.width}x{hwin.height} pixels "
            f"(of {hsi.width}x{hsi.height}, from column {hwin.col}, row {hwin.row}) and MSI "
            f"{mwin.width}x{mwin.height} pixels (of {msi.width}x{msi.height}, from column {mwin.col}, row "
            f"{mwin.row})")
    return PairGrid(scale, hwin, mwin, hsi_t, tuple(warnings))


def _warped_grid(hsi: RasterInfo, msi: RasterInfo, scale: int, why: list[str], warnings: list) -> PairGrid:
    """The grid aligned with the HSI's pixel edges that the MSI is warped onto, and the HSI pixels
    its footprint covers."""
    from affine import Affine
    from rasterio.warp import calculate_default_transform, transform_bounds

    ht = hsi.transform
    if not (ht.a > 0 and ht.e < 0):
        raise InvalidInputError(
            f"the HSI raster {hsi.name} is not north-up (its rows run south to north or its columns east to west); "
            "warp it to a north-up grid first (Raster > Projections > Warp)")
    left, bottom, right, top = _corner_bounds(msi)
    try:
        dst_t, _, _ = calculate_default_transform(msi.crs, hsi.crs, msi.width, msi.height, left, bottom, right, top)
        fx0, fy0, fx1, fy1 = transform_bounds(msi.crs, hsi.crs, left, bottom, right, top, densify_pts=21)
    except Exception as exc:  # noqa: BLE001 - PROJ's own errors: say what could not be done
        raise InvalidInputError(
            f"the MSI's footprint cannot be brought into the HSI's CRS ({_crs_name(msi.crs)} -> "
            f"{_crs_name(hsi.crs)}): {exc}") from exc
    msi_pixel, hsi_pixel = abs(dst_t.a), abs(ht.a)
    ratio = hsi_pixel / msi_pixel
    if ratio < 1:
        raise InvalidInputError(
            f"the 'MSI' has larger pixels ({msi_pixel:g}) than the 'HSI' ({hsi_pixel:g}, in the HSI's CRS units): "
            "are the HSI and MSI inputs swapped?")
    if not scale and ratio < 1.5:
        raise InvalidInputError(
            f"the MSI's pixels are only {ratio:.2f} times finer than the HSI's: fusion needs an MSI at least 1.5 "
            "times finer (give SCALE to force an integer scale)")
    scale = int(scale or round(ratio))
    if scale < 2:
        raise InvalidInputError(f"the scale must be 2 or more, got {scale}")
    # HSI pixels whose whole area lies inside the MSI's footprint (bounding box in the HSI's CRS)
    c0 = max(0, math.ceil((fx0 - ht.c) / ht.a - 1e-9))
    c1 = min(hsi.width, math.floor((fx1 - ht.c) / ht.a + 1e-9))
    r0 = max(0, math.ceil((ht.f - fy1) / -ht.e - 1e-9))
    r1 = min(hsi.height, math.floor((ht.f - fy0) / -ht.e + 1e-9))
    if c1 <= c0 or r1 <= r0:
        raise InvalidInputError(
            "the HSI and MSI do not overlap (no HSI pixel lies inside the MSI's footprint); check that both "
            "show the same place")
    hwin = Window.from_bounds(r0, r1, c0, c1)
    mwin = Window.full(hwin.height * scale, hwin.width * scale)
    _check_common_area(hwin, mwin, scale)
    grid_t = ht * Affine.translation(c0, r0) * Affine.scale(1.0 / scale)
    warp = MsiWarp(crs=hsi.crs, transform=grid_t, width=mwin.width, height=mwin.height,
                   resampling="average" if msi_pixel < abs(grid_t.a) * 0.99 else sharp_resampling(msi.crs, hsi.crs),
                   native_ratio=ratio,
                   reasons=tuple(why))
    warnings.append(
        f"{'; '.join(why)}: the MSI is warped ({warp.resampling} resampling) onto the grid aligned with the HSI's "
        f"pixels, {abs(grid_t.a):g} x {abs(grid_t.e):g} {_units(hsi.crs)} (HSI pixel / {scale}), in the HSI's CRS; the "
        "fused image lies on that grid")
    if hwin != Window.full(hsi.height, hsi.width):
        warnings.append(
            f"the inputs only partly overlap: cropped to the HSI's {hwin.width}x{hwin.height} pixels inside the MSI's "
            f"footprint (of {hsi.width}x{hsi.height}, from column {hwin.col}, row {hwin.row})")
    return PairGrid(scale, hwin, mwin, ht, tuple(warnings), warp)


def _corner_bounds(info: RasterInfo) -> tuple[float, float, float, float]:
    """``(left, bottom, right, top)`` of a raster's four corners (rotated grids included)."""
    t, w, h = info.transform, info.width, info.height
    xs, ys = zip(*(t * (c, r) for c, r in ((0, 0), (w, 0), (0, h), (w, h))))
    return min(xs), min(ys), max(xs), max(ys)


def _units(crs) -> str:
    try:
        return crs.linear_units or "units"
    except Exception:  # noqa: BLE001
        return "units"


def _check_common_area(hwin: Window, mwin: Window, scale: int) -> None:
    k = default_kernel_size(scale)
    need = max(2, -(-k // scale))
    if hwin.height < need or hwin.width < need:
        raise InvalidInputError(
            f"the common area of the HSI and MSI is only {hwin.width}x{hwin.height} HSI pixels "
            f"({mwin.width}x{mwin.height} MSI pixels): too small for scale {scale} and its {k}x{k} MSI-pixel "
            f"blur kernel. Use rasters that share at least {need}x{need} HSI pixels ({need * scale}x"
            f"{need * scale} MSI pixels)")


def read_pair(hsi: RasterInfo, msi: RasterInfo, grid: PairGrid, cancel: Optional[Cancel] = None,
              fill_invalid: bool = True) -> PairData:
    """Read the common area of a checked pair (``cancel()`` True stops between the reads)."""
    check_cancelled(cancel)
    h = read_raster(hsi.path, grid.hsi_window, hsi, fill_invalid=fill_invalid)
    check_cancelled(cancel)
    m = read_raster(msi.path, grid.msi_window, msi, fill_invalid=fill_invalid, warp=grid.msi_warp)
    check_cancelled(cancel)
    if not hsi.georeferenced:
        from affine import Affine

        h.transform = grid.hsi_transform * Affine.translation(grid.hsi_window.col, grid.hsi_window.row)
    for d, role in ((h, "HSI"), (m, "MSI")):
        if not d.valid.any() and (d.band_valid is None or not d.band_valid.any()):
            raise InvalidInputError(f"the {role} has no valid pixel in the common area (all nodata/NaN)")
    return PairData(hsi=h, msi=m, scale=grid.scale, warnings=list(grid.warnings))


def prepare_pair(hsi_path: str, msi_path: str, scale: int = 0, cancel: Optional[Cancel] = None,
                 snap_offset: bool = False) -> PairData:
    """Check, crop to the common area and read an HSI/MSI pair from two paths."""
    hi, mi = raster_info(hsi_path), raster_info(msi_path)
    return read_pair(hi, mi, pair_grid(hi, mi, scale, snap_offset), cancel)


def coarse_grid(fine: "MsiWarp | None", fine_crs, fine_transform, fine_shape: tuple[int, int],
                coarse: RasterInfo) -> tuple[int, MsiWarp]:
    """The grid a coarser MSI (e.g. Sentinel-2's 20 m bands beside the 10 m ones) is read onto: the
    fine grid's CRS and origin, a pixel an integer multiple ``s2`` of the fine pixel (nearest to the
    coarse image's own), covering the fine grid. Returns ``(s2, the warp)``."""
    from rasterio.warp import calculate_default_transform

    from affine import Affine

    left, bottom, right, top = _corner_bounds(coarse)
    if not coarse.georeferenced:     # laboratory images: both cover the same area
        res = abs(fine_transform.a) * fine_shape[1] / coarse.width
    elif coarse.crs is None or fine_crs is None:
        res = abs(coarse.transform.a)
    else:
        t, _, _ = calculate_default_transform(coarse.crs, fine_crs, coarse.width, coarse.height, left, bottom,
                                              right, top)
        res = abs(t.a)
    ratio = res / abs(fine_transform.a)
    if ratio < 0.95:
        raise InvalidInputError(
            f"the second MSI has finer pixels ({res:g}) than the MSI ({abs(fine_transform.a):g}): give the finer "
            "image as MSI and the coarser one as MSI2")
    s2 = max(1, int(round(ratio)))
    height, width = fine_shape
    grid = fine_transform * Affine.scale(s2)
    warp = MsiWarp(crs=fine_crs, transform=grid, width=-(-width // s2), height=-(-height // s2),
                   resampling="average" if ratio < s2 * 0.99 else sharp_resampling(coarse.crs, fine_crs),
                   native_ratio=ratio,
                   reasons=("the second MSI is read onto the MSI's grid",))
    return s2, warp
