"""The geometry checks of a pair (io.pair_grid): CRS, ratio, alignment, overlap, georeferencing."""
import numpy as np
import pytest
from affine import Affine
from rasterio.crs import CRS

from helpers.rasters import T_MSI, UTM, pair, tif
from hsi_blind_fusion.core import InvalidInputError, io


def test_scale_derived_and_checked(tmp_path):
    hp, mp = pair(tmp_path)
    p = io.prepare_pair(hp, mp, 0)
    assert p.scale == 4 and p.warnings == []
    assert p.msi.data.shape == (3, 32, 32) and p.hsi.data.shape == (10, 8, 8)
    assert io.prepare_pair(hp, mp, 4).scale == 4
    with pytest.raises(InvalidInputError, match="SCALE=3"):
        io.prepare_pair(hp, mp, 3)


def test_non_integer_ratio_is_warped_to_the_nearest_integer(tmp_path):
    """HSI pixels of 6.6 m over 2 m MSI pixels: the 2 m MSI is warped (average: it shrinks) onto 2.2 m."""
    hp, mp = pair(tmp_path, size=64, hsi_t=Affine(6.6, 0, 500000.0, 0, -6.6, 5000000.0), hsi_shape=(9, 9))
    g = io.pair_grid(io.raster_info(hp), io.raster_info(mp))
    assert g.scale == 3 and g.msi_warp is not None and g.msi_warp.resampling == "average"
    assert abs(g.msi_warp.native_ratio - 3.3) < 1e-9 and "not one integer" in g.warnings[0]
    p = io.read_pair(io.raster_info(hp), io.raster_info(mp), g)
    assert p.msi.data.shape[1:] == (p.hsi.data.shape[1] * 3, p.hsi.data.shape[2] * 3)
    assert p.msi.transform.a == pytest.approx(2.2)
    with pytest.raises(InvalidInputError, match="1.5 times finer"):
        io.pair_grid(io.raster_info(hp), io.raster_info(tif(tmp_path / "m2.tif", np.ones((3, 16, 16)),
                                                            Affine(5.0, 0, 500000.0, 0, -5.0, 5000000.0))))


def test_another_crs_is_warped_into_the_hsis(tmp_path):
    """An MSI in the neighbouring UTM zone: warped onto the HSI-aligned grid in the HSI's CRS; the
    same coordinates read in another zone are another place, and say so."""
    from rasterio.warp import transform as warp_points

    hp, mp = pair(tmp_path, size=64)
    (x,), (y,) = warp_points(UTM, CRS.from_epsg(32634), [T_MSI.c], [T_MSI.f])
    mp34 = tif(tmp_path / "msi34.tif", np.random.default_rng(1).random((3, 80, 80)),
               Affine(2.0, 0, x - 20, 0, -2.0, y + 20), CRS.from_epsg(32634))
    g = io.pair_grid(io.raster_info(hp), io.raster_info(mp34))
    assert g.msi_warp is not None and g.msi_warp.crs == UTM and g.scale == 4
    assert "EPSG:32634" in g.warnings[0] and g.hsi_window.width >= 12
    elsewhere = tif(tmp_path / "hsi32.tif", np.ones((10, 16, 16)), T_MSI * Affine.scale(4), CRS.from_epsg(32632))
    with pytest.raises(InvalidInputError, match="do not overlap"):
        io.prepare_pair(elsewhere, mp)


def test_offset_grids_are_warped(tmp_path):
    hp, mp = pair(tmp_path, hsi_t=Affine(8.0, 0, 500001.0, 0, -8.0, 5000000.0))
    g = io.pair_grid(io.raster_info(hp), io.raster_info(mp))
    assert g.msi_warp is not None and "0.50 MSI pixels off" in g.warnings[0]
    assert g.msi_warp.transform.c == 500001.0 + 8.0 * g.hsi_window.col


def test_swapped_inputs(tmp_path):
    hp, mp = pair(tmp_path)
    with pytest.raises(InvalidInputError, match="swapped"):
        io.prepare_pair(mp, hp)


def test_no_overlap(tmp_path):
    hp, mp = pair(tmp_path, hsi_t=Affine(8.0, 0, 600000.0, 0, -8.0, 5000000.0))
    with pytest.raises(InvalidInputError, match="do not overlap"):
        io.prepare_pair(hp, mp)


def test_partial_overlap_is_cropped(tmp_path):
    # HSI starts 2 HSI pixels (16 m = 8 MSI pixels) east of the MSI origin and runs past its edge.
    hp, mp = pair(tmp_path, hsi_t=Affine(8.0, 0, 500016.0, 0, -8.0, 5000000.0))
    p = io.prepare_pair(hp, mp)
    assert p.scale == 4 and len(p.warnings) == 1 and "cropped" in p.warnings[0]
    assert p.hsi.data.shape == (10, 8, 6) and p.msi.data.shape == (3, 32, 24)
    assert p.msi.transform.c == 500016.0 and p.hsi.transform.c == 500016.0
    assert p.msi.transform.a == 2.0 and p.hsi.transform.a == 8.0


def test_lab_scenes_without_georeferencing(tmp_path):
    hp, mp = pair(tmp_path, hsi_t=Affine.identity(), msi_t=Affine.identity(), hsi_crs=None, msi_crs=None)
    p = io.prepare_pair(hp, mp)
    assert p.scale == 4 and p.msi.crs is None


def test_one_georeferenced_one_not(tmp_path):
    hp, mp = pair(tmp_path, hsi_t=Affine.identity(), hsi_crs=None)
    with pytest.raises(InvalidInputError, match="no georeferencing"):
        io.prepare_pair(hp, mp)
