"""EMIT L2A reflectance (NetCDF-4): orthorectified through its geolocation table onto the product's
geographic grid, nodata where the table is 0, bad bands from good_wavelengths."""
import os

import h5py
import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS

from helpers.products import write_emit
from hsi_blind_fusion.core import InvalidInputError, io
from hsi_blind_fusion.core.io.products import emit, resolve_product, scratch
from hsi_blind_fusion.core.workflow import FusionRequest, run_fusion

WL = np.linspace(380.0, 2500.0, 16)
NAME = "EMIT_L2A_RFL_001_20230601T101010_2315207_002.nc"
GT = (15.0, 0.0006, 0.0, 45.0, 0.0, -0.0006)


@pytest.fixture
def refl():
    return np.random.default_rng(5).uniform(0.02, 0.7, (WL.size, 9, 7)).astype(np.float32)


def test_orthorectified_through_the_glt(tmp_path, refl):
    nc = write_emit(tmp_path / NAME, refl, WL, GT, bad=(7, 8))
    product = resolve_product(nc)
    assert "2 flagged bad" in product.description
    info = io.raster_info(nc)
    assert (info.count, info.width, info.height) == (16, 9, 11)  # the map grid: 1 pixel of GLT 0 around
    assert info.crs == CRS.from_epsg(4326) and info.transform == Affine.from_gdal(*GT)
    np.testing.assert_allclose(info.wavelengths_nm, WL, rtol=1e-6)
    np.testing.assert_allclose(info.fwhm_nm, 8.5)
    assert np.flatnonzero(info.bad_bands).tolist() == [7, 8]
    data = io.read_raster(nc, fill_invalid=False)
    assert not data.valid[0].any() and not data.valid[:, 0].any()  # GLT 0: nodata
    inner = data.data[:, 1:-1, 1:-1]
    expected = refl.copy()
    expected[:, 0, 0] = np.nan  # the swath's fill value
    np.testing.assert_array_equal(inner, expected)
    assert data.valid.sum() == 9 * 7 - 1
    with rasterio.open(product.path) as ds:
        assert ds.tags()["wavelength_units"] == "Nanometers" and ds.tags()["bbl"].count("0") == 2


def test_subdataset_name_and_tiles(tmp_path, refl, monkeypatch):
    nc = write_emit(tmp_path / NAME, refl, WL, GT)
    whole = io.read_raster(nc, fill_invalid=False).data
    assert resolve_product(f'NETCDF:"{nc}":reflectance').path == resolve_product(nc).path
    scratch.clear_cache()
    monkeypatch.setattr(emit, "TILE", 8)  # several tiles, each split into quarters: the same raster
    monkeypatch.setattr(emit, "MIN_TILE", 2)
    monkeypatch.setattr(emit, "SWATH_BUDGET_BYTES", 5 * 5 * WL.size * 4)
    np.testing.assert_array_equal(io.read_raster(nc, fill_invalid=False).data, whole)
    scratch.clear_cache()


def test_clear_errors_and_other_netcdf(tmp_path, refl):
    nc = write_emit(tmp_path / NAME, refl, WL, GT)
    with h5py.File(nc, "a") as f:
        f["location/glt_x"][2, 2] = 99
    with pytest.raises(InvalidInputError, match="points outside the swath"):
        io.raster_info(nc)
    with h5py.File(nc, "a") as f:
        f["location/glt_x"][2, 2] = 1
        del f.attrs["geotransform"]
    with pytest.raises(InvalidInputError, match="geotransform"):
        io.raster_info(nc)
    assert not [p for p in os.listdir(scratch.scratch_folder()) if ".part" in p]
    other = tmp_path / "other.nc"
    with h5py.File(other, "w") as f:
        f.create_dataset("reflectance", data=np.zeros((3, 4, 4), np.float32))
    assert resolve_product(str(other)) is None and resolve_product(f'NETCDF:"{other}":reflectance') is None


def test_fusion_with_an_emit_product(make_pair, tmp_path):
    """EMIT's geographic grid: the MSI on the same grid at a quarter of the pixel size."""
    s, paths = make_pair(24, size=32, bands=12)
    gt = (15.0, 0.0006, 0.0, 45.0, 0.0, -0.0006)
    nc = write_emit(tmp_path / NAME, s.hsi, s.wavelengths_nm, gt, bad=(2,), border=0)
    msi = str(tmp_path / "msi.tif")
    with rasterio.open(paths["msi"]) as src:
        prof = dict(src.profile, crs=CRS.from_epsg(4326), transform=Affine(0.00015, 0, 15.0, 0, -0.00015, 45.0))
        with rasterio.open(msi, "w", **prof) as dst:
            dst.write(src.read())
            dst.update_tags(**src.tags())
    out = tmp_path / "fused.tif"
    run_fusion(FusionRequest(hsi=f'NETCDF:"{nc}":reflectance', msi=msi, output=str(out), outer_iterations=1,
                             inner_iterations=1, device="cpu"))
    info = io.raster_info(str(out))
    assert info.crs == CRS.from_epsg(4326) and info.count == 12
    assert np.flatnonzero(info.bad_bands).tolist() == [2]
    with rasterio.open(out) as f:
        valid = f.read_masks(1) > 0
        assert valid.sum() >= valid.size - 16  # the swath's one fill pixel: nodata under it
