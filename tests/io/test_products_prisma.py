"""PRISMA L2D HE5: the VNIR and SWIR cubes (band-interleaved-by-line, VNIR descending) joined in
wavelength order into one georeferenced GeoTIFF, scaled to reflectance, flags as bad bands."""
import os
import zipfile

import h5py
import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS

from helpers.products import write_prisma
from hsi_blind_fusion.core import InvalidInputError, io
from hsi_blind_fusion.core.io.products import resolve_product, scratch
from hsi_blind_fusion.core.workflow import FusionRequest, run_fusion

WL = np.linspace(400.0, 1000.0, 20)
NAME = "PRS_L2D_STD_20230601101010_20230601101014_0001.he5"


@pytest.fixture
def refl():
    r = np.random.default_rng(4).uniform(0.02, 0.7, (WL.size, 6, 5))
    r[:, 0, 0] = 0.0  # outside the swath: DN 0 in every band
    return r


def test_cubes_joined_in_wavelength_order(tmp_path, refl):
    he5 = write_prisma(tmp_path / NAME, refl, WL, (500015.0, 4999985.0), vnir_last=16, overlap=2, unused=2,
                       flagged=(3, 18))
    before = os.stat(he5).st_mtime_ns
    product = resolve_product(he5)
    assert product.path.endswith(".tif") and "2 VNIR bands of the VNIR/SWIR overlap left out" in product.description
    info = io.raster_info(he5)
    assert info.source == he5 and info.count == 20 and (info.width, info.height) == (5, 6)
    np.testing.assert_allclose(info.wavelengths_nm, WL, atol=1e-3)  # ascending, overlap from the SWIR, no 0 slot
    np.testing.assert_allclose(info.fwhm_nm, [9.0] * 17 + [10.0] * 3)
    assert np.flatnonzero(info.bad_bands).tolist() == [3, 18]
    assert info.crs == CRS.from_epsg(32633)
    assert info.transform == Affine(30.0, 0.0, 500000.0, 0.0, -30.0, 5000000.0)  # corners are pixel centres
    data = io.read_raster(he5, fill_invalid=False)
    assert not data.valid[0, 0] and data.valid.sum() == 29
    ok = data.valid
    np.testing.assert_allclose(data.data[:17, ok], refl[:17, ok], atol=1.0 / 65535 + 1e-6)  # VNIR: 0..1
    np.testing.assert_allclose(data.data[17:, ok], refl[17:, ok], atol=0.8 / 65535 + 1e-6)  # SWIR: 0..0.8
    assert os.stat(he5).st_mtime_ns == before


def test_subdatasets_and_zip_resolve_to_the_whole_product(tmp_path, refl):
    he5 = write_prisma(tmp_path / NAME, refl, WL, (500015.0, 4999985.0))
    whole = resolve_product(he5).path
    for part in ("VNIR_Cube", "SWIR_Cube"):
        assert resolve_product(f'HDF5:"{he5}"://HDFEOS/SWATHS/PRS_L2D_HCO/Data_Fields/{part}').path == whole
    mtime = os.stat(whole).st_mtime_ns
    assert resolve_product(he5).path == whole and os.stat(whole).st_mtime_ns == mtime  # converted once
    archive = tmp_path / (NAME[:-4] + ".zip")
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(he5, NAME)
    info = io.raster_info(str(archive))
    assert info.count == 20 and info.path.startswith(scratch.scratch_folder())


def test_not_a_l2d_product(tmp_path, refl):
    he5 = write_prisma(tmp_path / "PRS_L2C_STD_0001.he5", refl, WL, (500015.0, 4999985.0), level="2C")
    with pytest.raises(InvalidInputError, match="sensor geometry.*L2D"):
        io.raster_info(he5)
    he5 = write_prisma(tmp_path / NAME, refl, WL, (500015.0, 4999985.0))
    with h5py.File(he5, "a") as f:
        del f.attrs["L2ScaleSwirMax"]
    with pytest.raises(InvalidInputError, match="L2ScaleSwirMax"):
        io.raster_info(he5)
    assert not [p for p in os.listdir(scratch.scratch_folder()) if ".part" in p]  # nothing half-written
    plain = tmp_path / "other.h5"
    with h5py.File(plain, "w") as f:
        f.create_dataset("cube", data=np.zeros((3, 4, 4), np.float32))
    assert resolve_product(f'HDF5:"{plain}"://cube') is None  # any other HDF5 file: as GDAL reads it


def test_fusion_with_a_prisma_product(make_pair, tmp_path):
    s, paths = make_pair(23, size=32, bands=12)
    x0, y0 = 600000.0, 4000000.0
    he5 = write_prisma(tmp_path / NAME, s.hsi, s.wavelengths_nm, (x0 + 15, y0 - 15), vnir_last=9, overlap=1,
                       swir_scale=(0.0, 1.0))
    msi = str(tmp_path / "msi.tif")
    with rasterio.open(paths["msi"]) as src:
        prof = dict(src.profile, transform=Affine(7.5, 0, x0, 0, -7.5, y0))
        with rasterio.open(msi, "w", **prof) as dst:
            dst.write(src.read())
            dst.update_tags(**src.tags())
    out = tmp_path / "fused.tif"
    outcome = run_fusion(FusionRequest(hsi=he5, msi=msi, output=str(out), outer_iterations=1, inner_iterations=1,
                                       device="cpu"))
    assert outcome.inputs.scale == 4
    with rasterio.open(out) as f:
        assert f.transform == Affine(7.5, 0, x0, 0, -7.5, y0) and f.count == 12 and np.isfinite(f.read()).all()
    np.testing.assert_allclose(io.raster_info(str(out)).wavelengths_nm, s.wavelengths_nm, atol=0.01)


def test_scratch_folder_removed_at_exit(tmp_path, refl):
    """A process that converted a product leaves no temporary file behind."""
    import subprocess
    import sys

    from helpers.paths import PLUGINS

    he5 = write_prisma(tmp_path / NAME, refl, WL, (500015.0, 4999985.0))
    code = ("import os, sys; from hsi_blind_fusion.core import io; i = io.raster_info(sys.argv[1]); "
            "print(os.path.dirname(i.path)); assert os.path.isfile(i.path)")
    env = dict(os.environ, PYTHONPATH=PLUGINS)
    r = subprocess.run([sys.executable, "-c", code, he5], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    folder = r.stdout.strip().splitlines()[-1]
    assert "hsi_blind_fusion_products_" in folder and not os.path.exists(folder)
