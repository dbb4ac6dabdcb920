"""Internal overviews of a GeoTIFF written window by window, without reading it back.

GDAL's own overview building reads the finished file again: it decompresses every DEFLATE tile of
the full-resolution cube (0.42 GB at 1024², 6.7 GB at 4096²) before averaging, and that costs
about as much as rendering the fused image (docs/speed.md). The windows the writer receives are
already in memory, so :class:`HalfResolution` averages each one 2 x 2 as it is written into an
uncompressed temporary GeoTIFF (a quarter of the output, in the page cache, not in this process's
memory), and :func:`fill_overviews` makes the output's overviews from it: the first level copied,
each coarser one the 2 x 2 average of the level before, as GDAL's ``average`` builds them (its
generic resampler on a quarter-size image still cost a quarter of the overviews' time). Same
values as GDAL's ``average`` overviews of the output to float rounding (nodata pixels left out of
the means), in a fraction of the time.

Only for outputs of even height and width (GDAL's overviews of an odd side average footprints of
a fractional number of pixels, not 2 x 2 cells). Needs GDAL's Python bindings (``osgeo``,
Debian's python3-gdal, which QGIS itself depends on) to write into overview levels; without them,
for an odd side, or for windows not aligned on even pixels, the writer falls back to GDAL's
overview building.
"""
from __future__ import annotations

import os
from typing import Optional, Sequence

import numpy as np

from ..progress import Cancel, check_cancelled
from ..windows import Window

#: bands averaged per step where nodata is left out (small temporaries: a window-sized one costs a
#: page fault per page)
_STRIP_BANDS = 4


def gdal_bindings():
    """``osgeo.gdal``, or None where GDAL's Python bindings are missing."""
    try:
        from osgeo import gdal
    except ImportError:
        return None
    return gdal


def average_2x2(block: np.ndarray, nodata: float) -> np.ndarray:
    """``(bands, h, w)`` -> ``(bands, ceil(h/2), ceil(w/2))``: the mean of each 2 x 2 cell's pixels
    that are not ``nodata`` (``nodata`` where none is), as GDAL's ``average`` overview has it; a
    cell cut by the block's last row or column averages the pixels it has."""
    import torch

    bands, h, w = block.shape
    block = np.asarray(block, dtype=np.float32)
    if h % 2 or w % 2:                                 # only at the image's last row or column
        block = np.pad(block, ((0, 0), (0, h % 2), (0, w % 2)), constant_values=nodata)
    source = torch.from_numpy(block)
    corners = ((slice(0, None, 2), slice(0, None, 2)), (slice(1, None, 2), slice(0, None, 2)),
               (slice(0, None, 2), slice(1, None, 2)), (slice(1, None, 2), slice(1, None, 2)))
    if float(source.min()) > nodata:                   # the usual window: nothing to leave out
        cells = source[:, corners[0][0], corners[0][1]].clone()
        for rows, cols in corners[1:]:
            cells += source[:, rows, cols]
        return cells.mul_(0.25).numpy()
    out = np.empty((bands, (h + 1) // 2, (w + 1) // 2), dtype=np.float32)
    target = torch.from_numpy(out)
    for b0 in range(0, bands, _STRIP_BANDS):          # band chunks: small temporaries
        part = source[b0 : b0 + _STRIP_BANDS]
        good = part != nodata
        values = torch.where(good, part, 0.0)
        total = torch.zeros_like(target[b0 : b0 + _STRIP_BANDS])
        count = torch.zeros_like(total)
        for rows, cols in corners:
            total += values[:, rows, cols]
            count += good[:, rows, cols]
        target[b0 : b0 + _STRIP_BANDS] = torch.where(count > 0, total / count.clamp_min(1), nodata)
    return out


class HalfResolution:
    """The output averaged 2 x 2, window by window, in an uncompressed temporary GeoTIFF next to it
    (``path``); :attr:`complete` while every window written was aligned on even pixels."""

    def __init__(self, path: str, bands: int, height: int, width: int, nodata: float):
        from .reading import open_quietly

        self.path, self.nodata = str(path), float(nodata)
        self.height, self.width = (height + 1) // 2, (width + 1) // 2
        self.complete = True
        self.ds = open_quietly(self.path, "w", driver="GTiff", width=self.width, height=self.height, count=bands,
                               dtype="float32", nodata=self.nodata, tiled=True, blockxsize=256, blockysize=256,
                               interleave="band", BIGTIFF="IF_SAFER", SPARSE_OK="TRUE")

    def add(self, window: Window, block: np.ndarray, image_height: int, image_width: int) -> None:
        """Average ``block`` (nodata already in place) into the half-resolution image; a window
        that does not start on even pixels, or ends on an odd one inside the image, cannot be
        (its cells straddle two windows): the image is then marked incomplete."""
        if not self.complete:
            return
        ends_odd = (window.row_stop % 2 and window.row_stop != image_height) or \
                   (window.col_stop % 2 and window.col_stop != image_width)
        if window.row % 2 or window.col % 2 or ends_odd:
            self.complete = False
            return
        from rasterio.windows import Window as RioWindow

        half = average_2x2(block, self.nodata)
        self.ds.write(half, window=RioWindow(window.col // 2, window.row // 2, half.shape[2], half.shape[1]))

    def close(self) -> None:
        if self.ds is not None:
            self.ds.close()
            self.ds = None

    def remove(self) -> None:
        """Close and delete the temporary file."""
        try:
            self.close()
        finally:
            if os.path.exists(self.path):
                os.remove(self.path)


def fill_overviews(path: str, factors: Sequence[int], half: str, cancel: Optional[Cancel] = None) -> None:
    """Internal overviews ``factors`` (2, 4, ...) of the closed GeoTIFF ``path`` from ``half``, its
    2 x 2 average: level 2 copied, the coarser levels averaged level by level (nodata left out).
    Compressed as the output is (DEFLATE level 1, floating-point predictor): set as this thread's
    GDAL options, and GDAL's exception mode is left as it was (inside QGIS other code shares
    both)."""
    gdal = gdal_bindings()
    if gdal is None or list(factors)[:1] != [2]:
        raise ValueError("overviews from the half-resolution image need GDAL's bindings and a first factor of 2")

    def ok(result, what: str):
        failed = result is None or (isinstance(result, int) and result != gdal.CE_None)
        if failed:
            raise OSError(f"GDAL could not {what} for the overviews of {path}: {gdal.GetLastErrorMsg()}")
        return result

    options = {"ZLEVEL_OVERVIEW": "1", "PREDICTOR_OVERVIEW": "3"}
    previous = {k: gdal.GetThreadLocalConfigOption(k, None) for k in options}
    try:
        for k, v in options.items():
            gdal.SetThreadLocalConfigOption(k, v)
        ds = ok(gdal.Open(str(path), gdal.GA_Update), "open the output")
        src = ok(gdal.Open(str(half)), "open the half-resolution image")
        try:
            ok(ds.BuildOverviews("NONE", [int(f) for f in factors]), "add the overview levels")   # empty
            nodata = src.GetRasterBand(1).GetNoDataValue()
            for b in range(1, ds.RasterCount + 1):
                check_cancelled(cancel)
                band = ds.GetRasterBand(b)
                level = ok(src.GetRasterBand(b).ReadAsArray(), "read")
                ok(band.GetOverview(0).WriteArray(level), "write")
                _write_coarser_levels(gdal, band, level, nodata, ok)
            ds.FlushCache()
        finally:
            ds = src = None
    finally:
        for k, v in previous.items():
            gdal.SetThreadLocalConfigOption(k, v)


def _write_coarser_levels(gdal, band, level: np.ndarray, nodata: float, ok) -> None:
    """Overview levels 1, 2, ... of ``band``, each the 2 x 2 average of the one before
    (``level``: level 0's values), as GDAL's ``average`` makes them from the previous level;
    from the first level with an odd side on, GDAL averages (its cells there are fractional)."""
    count = band.GetOverviewCount()
    for i in range(1, count):
        if level.shape[0] % 2 or level.shape[1] % 2:
            rest = [band.GetOverview(j) for j in range(i, count)]
            ok(gdal.RegenerateOverviews(band.GetOverview(i - 1), rest, "AVERAGE"), "average the coarser levels")
            return
        level = average_2x2(level[None], nodata)[0]
        ok(band.GetOverview(i).WriteArray(level), "write")
