"""Warp an image onto another grid by spline interpolation, block by block.

The MSI is the fusion's only source of spatial detail, and where its grid is not the HSI's it is
resampled before anything else. GDAL's cubic convolution smooths what it shifts (and the MSI often
arrives resampled once already, by its provider), and its Lanczos broke next to the nodata a turned
grid brings; an interpolating spline of order 5 keeps more of a sharp image than either
(docs/real_pairs.md measures the warps and what they cost the fusion).

The target's pixel centres are brought into the source's pixel coordinates (exactly for an affine
change, through PROJ on a coarse lattice otherwise), the source's block around them is read with a
margin, its invalid pixels filled with their nearest valid neighbour (a hole's border keeps its
values instead of ringing towards a fill value), prefiltered and sampled. A target pixel is valid
where the source pixel nearest to it is, as in GDAL's warps.
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np

from ..progress import Cancel, check_cancelled
from ..windows import Window

#: name of this resampling beside GDAL's (``MsiWarp.resampling``)
SPLINE = "spline"
#: spline order: 5 kept 1-3 dB more of the airborne MSIs than order 3 or GDAL's Lanczos in a
#: shift there and back (docs/real_pairs.md)
ORDER = 5
#: target rows computed at once: bounds the memory of the source block and of the coordinates
BLOCK_ROWS = 256
#: the source coordinates of a CRS change are computed exactly every LATTICE target pixels and
#: interpolated linearly between (a projection is smooth at that scale)
LATTICE = 16
#: source pixels read beyond those the target touches: the prefilter is recursive and its
#: influence falls by a factor of 0.43 (order 5) per pixel, so 24 pixels leave 2e-9 of it
MARGIN = 24


def source_coordinates(src_crs, src_transform, dst_crs, dst_transform, window: Window) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns (float64, ``window``'s shape) of the target pixels' centres in the source's
    pixel coordinates (a source pixel's centre at integer coordinates)."""
    rows = np.arange(window.row, window.row + window.height, dtype=np.float64) + 0.5
    cols = np.arange(window.col, window.col + window.width, dtype=np.float64) + 0.5
    same = src_crs is None or dst_crs is None or src_crs == dst_crs
    if same:
        a = ~src_transform * dst_transform
        c, r = np.meshgrid(cols, rows)
        return a.d * c + a.e * r + a.f - 0.5, a.a * c + a.b * r + a.c - 0.5
    from rasterio.warp import transform as crs_transform

    lr = np.unique(np.r_[np.arange(0, window.height, LATTICE), window.height - 1])
    lc = np.unique(np.r_[np.arange(0, window.width, LATTICE), window.width - 1])
    c, r = np.meshgrid(cols[lc], rows[lr])
    xs, ys = dst_transform * (c.ravel(), r.ravel())
    sx, sy = crs_transform(dst_crs, src_crs, xs, ys)
    inv = ~src_transform
    sc, sr = inv * (np.asarray(sx), np.asarray(sy))
    sc, sr = sc.reshape(c.shape) - 0.5, sr.reshape(c.shape) - 0.5
    # linear interpolation of the lattice onto every target pixel, separably
    fr = np.interp(np.arange(window.height), lr, np.arange(lr.size))
    fc = np.interp(np.arange(window.width), lc, np.arange(lc.size))
    from scipy import ndimage

    grid = np.meshgrid(fr, fc, indexing="ij")
    return (ndimage.map_coordinates(sr, grid, order=1, mode="nearest"),
            ndimage.map_coordinates(sc, grid, order=1, mode="nearest"))


def _filled(band: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """``band`` with its invalid pixels set to their nearest valid neighbour's value."""
    if ok.all():
        return band
    from scipy import ndimage

    idx = ndimage.distance_transform_edt(~ok, return_distances=False, return_indices=True)
    return band[tuple(idx)]


def read_warped(src, dst_crs, dst_transform, window: Window, nodata: Optional[float],
                cancel: Optional[Cancel] = None) -> tuple[np.ndarray, np.ndarray]:
    """``(values, valid)`` of the open rasterio dataset ``src`` on ``window`` of the grid
    (``dst_crs``, ``dst_transform``): float32 ``(bands, H, W)`` in the source's units (scale and
    offset not applied) and a boolean mask of the same shape (NaN where invalid)."""
    from rasterio.windows import Window as RioWindow
    from scipy import ndimage

    bands = src.count
    out = np.full((bands, window.height, window.width), np.nan, np.float32)     # a large MSI: no float64 copy
    valid = np.zeros(out.shape, bool)
    reach = ORDER // 2 + 1 + MARGIN
    for r0 in range(0, window.height, BLOCK_ROWS):
        check_cancelled(cancel)
        part = Window(window.row + r0, window.col, min(BLOCK_ROWS, window.height - r0), window.width)
        rr, cc = source_coordinates(src.crs, src.transform, dst_crs, dst_transform, part)
        inside = (rr >= -0.5) & (rr <= src.height - 0.5) & (cc >= -0.5) & (cc <= src.width - 0.5)
        if not inside.any():
            continue
        top = max(0, math.floor(rr[inside].min()) - reach)
        bottom = min(src.height, math.ceil(rr[inside].max()) + reach + 1)
        left = max(0, math.floor(cc[inside].min()) - reach)
        right = min(src.width, math.ceil(cc[inside].max()) + reach + 1)
        box = RioWindow(left, top, right - left, bottom - top)
        raw = src.read(window=box, masked=False).astype(np.float64)
        ok = (src.read_masks(window=box) > 0) & np.isfinite(raw)
        if nodata is not None and not math.isnan(nodata):
            ok &= raw != nodata
        at = [rr - top, cc - left]
        for b in range(bands):
            if not ok[b].any():
                continue
            coeffs = ndimage.spline_filter(_filled(raw[b], ok[b]), order=ORDER, mode="mirror")
            values = ndimage.map_coordinates(coeffs, at, order=ORDER, mode="mirror", prefilter=False)
            good = inside & ndimage.map_coordinates(ok[b].astype(np.uint8), at, order=0, mode="nearest").astype(bool)
            rows = slice(r0, r0 + part.height)
            out[b, rows][good] = values[good]
            valid[b, rows] = good
    return out, valid
