"""Windows of a raster grid as values, with pure helpers (in the style of rasterio's windows.py).

A :class:`Window` is a rectangle of pixels, ``row`` / ``col`` of its top-left pixel and its
``height`` / ``width``, all in pixels of one grid (HR = MSI pixels unless a name says LR). Tiling,
margins and the snapping of windows to the LR grid (multiples of the scale, so that an HR window
maps onto whole LR pixels) are written once here and used by the reader, the fusion's tiles, the
classical estimate and the writer.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator


@dataclass(frozen=True)
class Window:
    """Rows ``row .. row + height - 1`` and columns ``col .. col + width - 1`` of a grid."""

    row: int
    col: int
    height: int
    width: int

    def __post_init__(self) -> None:
        if self.height < 0 or self.width < 0:
            raise ValueError(f"a window has a non-negative size, got {self.height} x {self.width}")

    @classmethod
    def from_bounds(cls, row0: int, row1: int, col0: int, col1: int) -> "Window":
        """The window of rows ``row0 .. row1 - 1`` and columns ``col0 .. col1 - 1``."""
        return cls(int(row0), int(col0), int(row1) - int(row0), int(col1) - int(col0))

    @classmethod
    def from_slices(cls, rows: slice, cols: slice) -> "Window":
        return cls.from_bounds(rows.start or 0, rows.stop, cols.start or 0, cols.stop)

    @classmethod
    def full(cls, height: int, width: int) -> "Window":
        return cls(0, 0, int(height), int(width))

    @property
    def row_stop(self) -> int:
        return self.row + self.height

    @property
    def col_stop(self) -> int:
        return self.col + self.width

    @property
    def shape(self) -> tuple[int, int]:
        return self.height, self.width

    @property
    def rows(self) -> slice:
        return slice(self.row, self.row_stop)

    @property
    def cols(self) -> slice:
        return slice(self.col, self.col_stop)

    def slices(self) -> tuple[slice, slice]:
        """``(rows, cols)`` to index the last two axes of an array."""
        return self.rows, self.cols

    def grow(self, margin: int) -> "Window":
        """The window with ``margin`` pixels more on every side (not clipped to any image)."""
        m = int(margin)
        return Window(self.row - m, self.col - m, self.height + 2 * m, self.width + 2 * m)

    def clip(self, height: int, width: int) -> "Window":
        """The part of the window inside an image of ``height`` x ``width`` pixels."""
        r0, c0 = max(0, self.row), max(0, self.col)
        r1, c1 = min(int(height), self.row_stop), min(int(width), self.col_stop)
        return Window.from_bounds(r0, max(r0, r1), c0, max(c0, c1))

    def snap(self, scale: int) -> "Window":
        """The smallest window holding this one whose edges are multiples of ``scale``."""
        s = int(scale)
        r0, c0 = self.row // s * s, self.col // s * s
        r1, c1 = -(-self.row_stop // s) * s, -(-self.col_stop // s) * s
        return Window.from_bounds(r0, r1, c0, c1)

    def to_lr(self, scale: int) -> "Window":
        """This (snapped) HR window on the LR grid of ``scale``."""
        s = int(scale)
        if self.row % s or self.col % s:
            raise ValueError(f"window {self} does not start on the LR grid of scale {s}")
        return Window.from_bounds(self.row // s, -(-self.row_stop // s), self.col // s, -(-self.col_stop // s))

    def to_hr(self, scale: int) -> "Window":
        """This LR window on the HR grid (each LR pixel covers ``scale`` x ``scale`` HR pixels)."""
        s = int(scale)
        return Window(self.row * s, self.col * s, self.height * s, self.width * s)

    def relative_to(self, outer: "Window") -> "Window":
        """This window in the coordinates of ``outer`` (which holds it)."""
        return Window(self.row - outer.row, self.col - outer.col, self.height, self.width)

    def offset(self, rows: int, cols: int) -> "Window":
        return Window(self.row + int(rows), self.col + int(cols), self.height, self.width)


def grown_on_lr_grid(window: Window, margin: int, scale: int, height: int, width: int) -> Window:
    """``window`` grown by ``margin``, snapped outward to the LR grid and clipped to the image:
    the context an HR window needs for local steps that work on whole LR pixels."""
    return window.grow(margin).snap(scale).clip(height, width)


def tiles(height: int, width: int, size: int) -> Iterator[Window]:
    """Windows of at most ``size`` x ``size`` covering the image row by row (the last ones smaller)."""
    size = max(1, int(size))
    for r0 in range(0, int(height), size):
        for c0 in range(0, int(width), size):
            yield Window.from_bounds(r0, min(int(height), r0 + size), c0, min(int(width), c0 + size))
