"""Windows as values (core/windows.py): the grow / snap / clip arithmetic written once."""
import pytest

from hsi_blind_fusion.core.windows import Window, grown_on_lr_grid, tiles


def test_bounds_slices_and_relations():
    w = Window.from_bounds(4, 12, 8, 20)
    assert (w.row, w.col, w.height, w.width) == (4, 8, 8, 12)
    assert w.slices() == (slice(4, 12), slice(8, 20)) and Window.from_slices(*w.slices()) == w
    assert w.grow(3) == Window(1, 5, 14, 18) and w.grow(10).clip(30, 25) == Window(0, 0, 22, 25)
    assert w.relative_to(Window(2, 2, 20, 20)) == Window(2, 6, 8, 12)
    with pytest.raises(ValueError):
        Window(0, 0, -1, 3)


def test_lr_grid():
    w = Window.from_bounds(5, 13, 9, 18)
    assert w.snap(4) == Window.from_bounds(4, 16, 8, 20)
    assert w.snap(4).to_lr(4) == Window.from_bounds(1, 4, 2, 5) and w.snap(4).to_lr(4).to_hr(4) == w.snap(4)
    with pytest.raises(ValueError):
        w.to_lr(4)
    # grown by a margin, on whole LR pixels, inside the image: the same arithmetic as before the refactor
    g = grown_on_lr_grid(Window.from_bounds(10, 20, 10, 20), 5, 4, 23, 100)
    assert g == Window.from_bounds(4, 23, 4, 28)


def test_tiles_cover_every_pixel_once():
    seen = [[0] * 10 for _ in range(7)]
    for t in tiles(7, 10, 4):
        assert t.height <= 4 and t.width <= 4
        for r in range(t.row, t.row_stop):
            for c in range(t.col, t.col_stop):
                seen[r][c] += 1
    assert all(v == 1 for row in seen for v in row)
    assert len(list(tiles(7, 10, 4))) == 2 * 3
