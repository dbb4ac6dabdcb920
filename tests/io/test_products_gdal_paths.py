"""Any path GDAL opens is an HSI or MSI of a fusion: a GeoTIFF inside a zip or a tar (/vsizip/,
/vsitar/), a cube in an HDF5 file (HDF5:"file"://path), a NetCDF variable (NETCDF:"file":var), a
VRT; a missing file is 'not found', a truncated one 'unreadable or corrupt'."""
import os
import shutil
import tarfile
import zipfile

import h5py
import numpy as np
import pytest
import rasterio

from helpers.products import write_netcdf
from hsi_blind_fusion.core import InvalidInputError, io
from hsi_blind_fusion.core.workflow import FusionRequest, run_fusion

FAST = dict(outer_iterations=1, inner_iterations=1, device="cpu")


@pytest.fixture(scope="module")
def scene(make_pair):
    """A tiny pair (32 x 32 MSI, 8 bands; 8 x 8 HSI, 12 bands): a fusion in about two seconds."""
    return make_pair(21, size=32, bands=12)


def fuse(hsi, msi, out, **kw):
    return run_fusion(FusionRequest(hsi=hsi, msi=msi, output=str(out), **FAST, **kw))


def check_output(out, scene, georeferenced=True, wavelengths=True):
    s, paths = scene
    with rasterio.open(out) as f, rasterio.open(paths["msi"]) as m:
        assert (f.count, f.width, f.height) == (s.truth.shape[0], m.width, m.height)
        if georeferenced:
            assert f.crs == m.crs and f.transform == m.transform
        data = f.read()
    assert np.isfinite(data).all()
    if wavelengths:
        np.testing.assert_allclose(io.raster_info(str(out)).wavelengths_nm, s.wavelengths_nm, atol=0.01)


def test_fusion_from_a_zip(scene, tmp_path):
    _, paths = scene
    archive = tmp_path / "pair.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(paths["hsi"], "pair/hsi.tif")
        zf.write(paths["msi"], "pair/msi.tif")
    out = tmp_path / "fused.tif"
    outcome = fuse(f"/vsizip/{archive}/pair/hsi.tif", f"/vsizip/{archive}/pair/msi.tif", out)
    check_output(out, scene)
    assert outcome.outputs["OUTPUT"] == str(out)
    assert sorted(os.listdir(tmp_path)) == ["fused.tif", "pair.zip"]  # the archive untouched, nothing else


def test_fusion_from_a_tar(scene, tmp_path):
    _, paths = scene
    archive = tmp_path / "pair.tar"
    with tarfile.open(archive, "w") as tf:
        tf.add(paths["hsi"], "hsi.tif")
        tf.add(paths["msi"], "msi.tif")
    out = tmp_path / "fused.tif"
    fuse(f"/vsitar/{archive}/hsi.tif", f"/vsitar/{archive}/msi.tif", out)
    check_output(out, scene)


def test_fusion_from_hdf5_subdatasets(scene, tmp_path):
    """Both cubes in one HDF5 file (no georeferencing: the scale is given)."""
    s, _ = scene
    h5 = tmp_path / "pair.h5"
    with h5py.File(h5, "w") as f:
        f.create_dataset("cubes/hsi", data=s.hsi.astype(np.float32))
        f.create_dataset("cubes/msi", data=s.msi.astype(np.float32))
    out = tmp_path / "fused.tif"
    fuse(f'HDF5:"{h5}"://cubes/hsi', f'HDF5:"{h5}"://cubes/msi', out, scale=4, msi_sensor="none")
    with rasterio.open(out) as f:
        assert (f.count, f.height, f.width) == s.truth.shape and np.isfinite(f.read()).all()


def test_fusion_from_netcdf_variables(scene, tmp_path):
    s, paths = scene
    hsi = write_netcdf(tmp_path / "hsi.nc", s.hsi, s.lr_transform, 32633)
    msi = write_netcdf(tmp_path / "msi.nc", s.msi, s.hr_transform, 32633)
    out = tmp_path / "fused.tif"
    fuse(f'NETCDF:"{hsi}":cube', f'NETCDF:"{msi}":cube', out, msi_sensor="none")
    check_output(out, scene, wavelengths=False)


def test_fusion_from_vrts(scene, tmp_path):
    """A VRT of the HSI, and a VRT picking the MSI's 10 m Sentinel-2 bands."""
    from osgeo import gdal

    s, paths = scene
    hsi_vrt, msi_vrt = str(tmp_path / "hsi.vrt"), str(tmp_path / "msi_10m.vrt")
    gdal.Translate(hsi_vrt, paths["hsi"], format="VRT").FlushCache()
    gdal.Translate(msi_vrt, paths["msi"], format="VRT", bandList=[1, 2, 3, 7]).FlushCache()
    out = tmp_path / "fused.tif"
    outcome = fuse(hsi_vrt, msi_vrt, out)
    check_output(out, scene)
    assert outcome.inputs.pair.msi.data.shape[0] == 4


def test_missing_and_truncated_rasters(scene, tmp_path):
    _, paths = scene
    with pytest.raises(InvalidInputError, match="not found"):
        io.raster_info(str(tmp_path / "nope.tif"))
    broken = tmp_path / "truncated.tif"
    shutil.copy(paths["hsi"], broken)
    os.truncate(broken, os.path.getsize(broken) * 2 // 3)
    with pytest.raises(InvalidInputError, match="unreadable or corrupt"):
        io.raster_info(str(broken))
    out = tmp_path / "fused.tif"
    with pytest.raises(InvalidInputError, match="unreadable or corrupt"):
        fuse(str(broken), paths["msi"], out)
    assert not out.exists()
    with pytest.raises(InvalidInputError, match="GDAL cannot open"):
        io.raster_info(f"/vsizip/{tmp_path / 'missing.zip'}/hsi.tif")
