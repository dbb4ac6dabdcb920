"""Row strips of an image that may be larger than memory (QGIS-free).

Scores that walk a fused image (``core/qnr.py``, ``core/consistency.py``) read it through a
:class:`Rows`: an array in memory (:class:`ArrayRows`) or a written raster read strip by strip
(``core/io/rows.py``), so the report and Fusion quality work at any output size.
"""
from __future__ import annotations

from typing import Iterator, Protocol

import numpy as np

#: memory one strip may take (bytes); strips are at least one row (or one block row) high
STRIP_BYTES = 64 << 20


class Rows(Protocol):
    """An image ``(bands, H, W)`` read by rows."""

    shape: tuple

    def read(self, row_start: int, row_stop: int) -> np.ndarray:
        """Rows ``[row_start, row_stop)`` as float32 ``(bands, rows, W)``, NaN where invalid."""


class ArrayRows:
    """Rows of an array in memory (non-finite values are invalid)."""

    def __init__(self, image: np.ndarray):
        self.image = np.asarray(image)
        if self.image.ndim != 3:
            raise ValueError(f"expected (bands, H, W), got {self.image.shape}")
        self.shape = self.image.shape

    def read(self, row_start: int, row_stop: int) -> np.ndarray:
        return np.asarray(self.image[:, row_start:row_stop], dtype=np.float32)


def as_rows(image) -> Rows:
    """``image`` itself when it reads by rows, else an :class:`ArrayRows` of it."""
    return image if hasattr(image, "read") and hasattr(image, "shape") else ArrayRows(image)


def strip_rows(bands: int, width: int, multiple: int = 1, budget: int = STRIP_BYTES) -> int:
    """Rows per strip (a multiple of ``multiple``) so that a float32 strip stays within ``budget``."""
    rows = budget // max(1, 4 * int(bands) * int(width))
    return max(int(multiple), rows // int(multiple) * int(multiple))


def strips(height: int, step: int) -> Iterator[tuple[int, int]]:
    """``(start, stop)`` of consecutive strips of ``step`` rows covering ``height`` rows."""
    for r0 in range(0, int(height), int(step)):
        yield r0, min(int(height), r0 + int(step))
