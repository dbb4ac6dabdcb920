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


def test_non_integer_ratio(tmp_path):
    hp, mp = pair(tmp_path, hsi_t=Affine(7.0, 0, 500000.0, 0, -7.0, 5000000.0))
    with pytest.raises(InvalidInputError, match="not an integer"):
        io.prepare_pair(hp, mp)


def test_different_crs(tmp_path):
    hp, mp = pair(tmp_path, hsi_crs=CRS.from_epsg(32632))
    with pytest.raises(InvalidInputError, match="coordinate reference systems"):
        io.prepare_pair(hp, mp)


def test_misaligned_grids(tmp_path):
    hp, mp = pair(tmp_path, hsi_t=Affine(8.0, 0, 500001.0, 0, -8.0, 5000000.0))
    with pytest.raises(InvalidInputError, match="not aligned"):
        io.prepare_pair(hp, mp)


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
