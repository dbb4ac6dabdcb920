"""Reading a written raster back without holding it whole: strips of rows for the scores
(``core/rows.py``) and decimated reads for previews (the overviews serve them when present)."""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from ..windows import Window
from .reading import open_quietly, raster_info, read_raster


class RasterRows:
    """A raster (or a ``window`` of it) read by rows: float32 ``(bands, rows, W)`` with scale and
    offset applied, NaN where a pixel is nodata, masked or not finite in any band."""

    def __init__(self, path: str, window: Optional[Window] = None):
        self.path = str(path)
        self.info = raster_info(self.path)
        self.window = window or Window.full(self.info.height, self.info.width)
        self.shape = (self.info.count, self.window.height, self.window.width)

    def read(self, row_start: int, row_stop: int) -> np.ndarray:
        w = self.window
        r0, r1 = max(0, int(row_start)), min(w.height, int(row_stop))
        win = Window(w.row + r0, w.col, r1 - r0, w.width)
        return read_raster(self.path, win, self.info, fill_invalid=False).data

    def decimated(self, bands: Sequence[int], out_shape: tuple) -> np.ndarray:
        """:func:`read_decimated` of this raster's window."""
        return read_decimated(self.path, bands, out_shape, self.window)


def read_decimated(path: str, bands: Sequence[int], out_shape: tuple, window: Optional[Window] = None) -> np.ndarray:
    """Bands ``bands`` (0-based) of a raster (or of its ``window``) averaged down to ``out_shape`` =
    (h, w), float32 with NaN where invalid. GDAL reads the nearest overview when the raster has
    overviews, so this costs about ``h * w`` pixels per band whatever the raster's size."""
    from rasterio.enums import Resampling
    from rasterio.windows import Window as RioWindow

    win = None if window is None else RioWindow(window.col, window.row, window.width, window.height)
    with open_quietly(path) as ds:
        idx = [int(b) + 1 for b in bands]
        data = ds.read(idx, out_shape=(len(idx), int(out_shape[0]), int(out_shape[1])), window=win,
                       resampling=Resampling.average, masked=True)
        scales = np.asarray([ds.scales[i - 1] if ds.scales else 1.0 for i in idx], dtype=np.float64)
        offsets = np.asarray([ds.offsets[i - 1] if ds.offsets else 0.0 for i in idx], dtype=np.float64)
    out = np.ma.filled(data.astype(np.float64), np.nan) * scales[:, None, None] + offsets[:, None, None]
    out = out.astype(np.float32)
    out[~np.isfinite(out)] = np.nan
    return out
