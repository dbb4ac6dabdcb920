"""hsifusion:blindfusion in QGIS with rasters as QGIS names them: a file in a zip (/vsizip/),
HDF5 and NetCDF subdatasets, and sensor products given as QGIS loads them (the EnMAP spectral
image inside its zip, a PRISMA cube subdataset, EMIT's reflectance subdataset, GDAL's Sentinel-2
10m subdataset).

The layers are added to the project and given by id, as the algorithm dialog does: QGIS 3.22's
Processing loads a layer from a string only when the string is a file on disk."""
import os
import zipfile

import h5py
import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS

from helpers.products import ENMAP_NAME, write_emit, write_enmap, write_netcdf, write_prisma, write_safe, zip_folder

pytestmark = pytest.mark.usefixtures("qgis_app")

FAST = {"OUTER_ITERATIONS": 1, "INNER_ITERATIONS": 1, "DEVICE": "cpu"}


@pytest.fixture(scope="module")
def pair(make_pair):
    return make_pair(31, size=32, bands=12)


def layer_id(path):
    """A raster layer of ``path`` in the project (what the Data Source Manager makes of the name)."""
    from qgis.core import QgsProject, QgsRasterLayer

    layer = QgsRasterLayer(path, os.path.basename(path), "gdal")
    assert layer.isValid(), path
    assert layer.source().split("|")[0] == path  # what the algorithm reads
    QgsProject.instance().addMapLayer(layer)
    return layer.id()


@pytest.fixture(autouse=True)
def _clean_project():
    yield
    from qgis.core import QgsProject

    QgsProject.instance().removeAllMapLayers()


def fuse(hsi, msi, out, **kw):
    import processing

    hsi = layer_id(hsi) if not os.path.isfile(hsi) else hsi
    res = processing.run("hsifusion:blindfusion", dict(FAST, HSI=hsi, MSI=layer_id(msi) if not os.path.isfile(msi)
                                                       else msi, OUTPUT=str(out), **kw))
    assert res["OUTPUT"] == str(out)
    with rasterio.open(out) as f:
        data = f.read()
        assert np.isfinite(data).all()
        return f.profile


def moved(src, dst, transform, crs=None):
    """``src`` written again with another grid (same pixels and tags)."""
    with rasterio.open(src) as s:
        prof = dict(s.profile, transform=transform)
        if crs is not None:
            prof["crs"] = crs
        with rasterio.open(dst, "w", **prof) as d:
            d.write(s.read())
            d.update_tags(**s.tags())
            for b in range(1, s.count + 1):
                d.set_band_description(b, s.descriptions[b - 1] or "")
    return str(dst)


def test_rasters_in_a_zip(pair, tmp_path):
    _, paths = pair
    archive = tmp_path / "pair.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(paths["hsi"], "in/hsi.tif")
        zf.write(paths["msi"], "in/msi.tif")
    prof = fuse(f"/vsizip/{archive}/in/hsi.tif", f"/vsizip/{archive}/in/msi.tif", tmp_path / "fused.tif")
    with rasterio.open(paths["msi"]) as m:
        assert prof["transform"] == m.transform and prof["count"] == 12


def test_hdf5_and_netcdf_subdatasets(pair, tmp_path):
    s, _ = pair
    h5 = tmp_path / "pair.h5"
    with h5py.File(h5, "w") as f:
        f.create_dataset("hsi", data=s.hsi.astype(np.float32))
        f.create_dataset("msi", data=s.msi.astype(np.float32))
    prof = fuse(f'HDF5:"{h5}"://hsi', f'HDF5:"{h5}"://msi', tmp_path / "fused_h5.tif", SCALE=4)
    assert (prof["count"], prof["height"]) == (12, 32)
    hsi = write_netcdf(tmp_path / "hsi.nc", s.hsi, s.lr_transform, 32633)
    msi = write_netcdf(tmp_path / "msi.nc", s.msi, s.hr_transform, 32633)
    prof = fuse(f'NETCDF:"{hsi}":cube', f'NETCDF:"{msi}":cube', tmp_path / "fused_nc.tif")
    assert prof["transform"] == s.hr_transform


def test_enmap_spectral_image_in_its_zip(pair, tmp_path):
    s, paths = pair
    p = write_enmap(tmp_path, s.hsi, s.wavelengths_nm, s.lr_transform, CRS.from_string(s.crs), bad=(4,),
                    fill_bad=False)
    archive = zip_folder(p["folder"], tmp_path / f"{ENMAP_NAME}.ZIP")
    image = f"/vsizip/{archive}/{ENMAP_NAME}/{ENMAP_NAME}-SPECTRAL_IMAGE.TIF"
    out = tmp_path / "fused.tif"
    fuse(image, paths["msi"], out)
    with rasterio.open(out) as f:
        assert f.tags()["bbl"].replace(" ", "") == "{1,1,1,1,0,1,1,1,1,1,1,1}"


def test_prisma_cube_subdataset(pair, tmp_path):
    s, paths = pair
    x0, y0 = 600000.0, 4000000.0
    he5 = write_prisma(tmp_path / "PRS_L2D_STD_20230601101010_20230601101014_0001.he5", s.hsi, s.wavelengths_nm,
                       (x0 + 15, y0 - 15), vnir_last=9, overlap=1, swir_scale=(0.0, 1.0))
    msi = moved(paths["msi"], tmp_path / "msi.tif", Affine(7.5, 0, x0, 0, -7.5, y0))
    prof = fuse(f'HDF5:"{he5}"://HDFEOS/SWATHS/PRS_L2D_HCO/Data_Fields/VNIR_Cube', msi, tmp_path / "fused.tif")
    assert prof["count"] == 12 and prof["transform"] == Affine(7.5, 0, x0, 0, -7.5, y0)


def test_emit_reflectance_subdataset(pair, tmp_path):
    s, paths = pair
    nc = write_emit(tmp_path / "EMIT_L2A_RFL_001_20230601T101010_2315207_002.nc", s.hsi, s.wavelengths_nm,
                    (15.0, 0.0006, 0.0, 45.0, 0.0, -0.0006), border=0)
    msi = moved(paths["msi"], tmp_path / "msi.tif", Affine(0.00015, 0, 15.0, 0, -0.00015, 45.0), CRS.from_epsg(4326))
    prof = fuse(f'NETCDF:"{nc}":reflectance', msi, tmp_path / "fused.tif")
    assert prof["crs"] == CRS.from_epsg(4326) and prof["count"] == 12


def test_sentinel2_10m_subdataset(pair, tmp_path):
    s, paths = pair
    ulx, uly = 400000.0, 5100000.0
    safe = write_safe(tmp_path, s.msi[[0, 1, 2, 6]], ulx, uly)
    hsi = moved(paths["hsi"], tmp_path / "hsi.tif", Affine(40, 0, ulx, 0, -40, uly))
    prof = fuse(hsi, f"SENTINEL2_L2A:{safe}/MTD_MSIL2A.xml:10m:EPSG_32633", tmp_path / "fused.tif")
    assert prof["transform"] == Affine(10, 0, ulx, 0, -10, uly)


def test_bad_products_are_clear_errors(pair, tmp_path):
    import processing
    from qgis.core import QgsProcessingException

    s, paths = pair
    he5 = write_prisma(tmp_path / "PRS_L2C_STD_20230601101010_20230601101014_0001.he5", s.hsi, s.wavelengths_nm,
                       (500015, 4999985), vnir_last=9, overlap=1, level="2C")
    out = tmp_path / "x.tif"
    with pytest.raises(QgsProcessingException, match="sensor geometry"):
        hsi = layer_id(f'HDF5:"{he5}"://HDFEOS/SWATHS/PRS_L2C_HCO/Data_Fields/VNIR_Cube')
        processing.run("hsifusion:blindfusion", dict(FAST, HSI=hsi, MSI=paths["msi"], OUTPUT=str(out)))
    assert not out.exists() and os.path.exists(he5)


def test_products_given_as_text(pair, tmp_path):
    """An EnMAP product folder and a Sentinel-2 .SAFE folder named as text (as in qgis_process or
    processing.run): QGIS cannot load a folder as a layer, the plugin reads the products."""
    import processing

    s, paths = pair
    ulx, uly = 400000.0, 5100000.0
    safe = write_safe(tmp_path, s.msi[[0, 1, 2, 6]], ulx, uly)
    enmap = write_enmap(tmp_path / "enmap", s.hsi, s.wavelengths_nm, Affine(40, 0, ulx, 0, -40, uly),
                        CRS.from_epsg(32633), bad=(4,), fill_bad=False)
    out = tmp_path / "fused.tif"
    res = processing.run("hsifusion:blindfusion", dict(FAST, HSI=str(enmap["folder"]), MSI=str(safe),
                                                       OUTPUT=str(out)))
    with rasterio.open(res["OUTPUT"]) as f:
        assert f.transform == Affine(10, 0, ulx, 0, -10, uly) and f.count == s.hsi.shape[0]
        assert f.tags()["bbl"].replace(" ", "") == "{1,1,1,1,0,1,1,1,1,1,1,1}"


def test_text_that_is_no_product_is_still_refused(pair, tmp_path):
    import processing
    from qgis.core import QgsProcessingException

    _, paths = pair
    with pytest.raises(QgsProcessingException, match="HSI|hyperspectral"):
        processing.run("hsifusion:blindfusion", dict(FAST, HSI=str(tmp_path), MSI=paths["msi"],
                                                     OUTPUT=str(tmp_path / "x.tif")))
