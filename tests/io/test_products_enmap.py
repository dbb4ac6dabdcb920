"""EnMAP L2A as delivered: the folder, its zip, METADATA.XML or SPECTRAL_IMAGE (GeoTIFF or ENVI)
read as a VRT with the metadata's wavelengths, FWHM, gains and bad bands."""
import os

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS

from helpers.products import ENMAP_NAME, write_enmap, zip_folder
from hsi_blind_fusion.core import InvalidInputError, io
from hsi_blind_fusion.core.io.products import resolve_product
from hsi_blind_fusion.core.workflow import FusionRequest, run_fusion

T = Affine(30.0, 0, 500000.0, 0, -30.0, 5000000.0)
UTM = CRS.from_epsg(32633)
WL = np.linspace(420.0, 2400.0, 14)


@pytest.fixture
def refl():
    return np.random.default_rng(3).uniform(0.02, 0.6, (WL.size, 6, 7))


def snapshot(folder):
    return {os.path.join(r, f): os.stat(os.path.join(r, f)).st_mtime_ns for r, _, fs in os.walk(folder) for f in fs}


def test_every_way_to_give_the_product(tmp_path, refl):
    p = write_enmap(tmp_path, refl, WL, T, UTM, bad=(9, 10))
    before = snapshot(tmp_path)
    archive = zip_folder(p["folder"], tmp_path / f"{ENMAP_NAME}.ZIP")
    inner = f"/vsizip/{archive}/{ENMAP_NAME}/{ENMAP_NAME}"
    for path in (p["folder"], p["xml"], p["image"], archive, inner + "-METADATA.XML", inner + "-SPECTRAL_IMAGE.TIF",
                 f"/vsizip/{archive}"):
        product = resolve_product(path)
        assert product is not None, path
        assert product.path.endswith(".vrt") and "EnMAP L2A" in product.description
        info = io.raster_info(path)
        assert (info.count, info.width, info.height) == (WL.size, 7, 6) and info.crs == UTM and info.transform == T
        np.testing.assert_allclose(info.wavelengths_nm, WL, atol=1e-3)
        np.testing.assert_allclose(info.fwhm_nm, 8.0)
        assert np.flatnonzero(info.bad_bands).tolist() == [9, 10] and info.nodata == -32768
        assert info.source == path and info.name == os.path.basename(path.rstrip("/"))
    after = snapshot(tmp_path)
    assert all(after[k] == v for k, v in before.items())  # the product untouched


def test_gain_is_applied_without_copying_pixels(tmp_path, refl):
    p = write_enmap(tmp_path, refl, WL, T, UTM, gain=2e-4)
    product = resolve_product(p["folder"])
    assert os.path.getsize(product.path) < 20_000  # a VRT, not a copy of the cube
    data = io.read_raster(p["folder"])
    assert data.valid.all()
    np.testing.assert_allclose(data.data, refl, atol=1.01e-4)  # DN quantized at gain 2e-4
    with rasterio.open(product.path) as ds:  # the VRT carries the spectral metadata QGIS and EnMAP-Box read
        assert ds.tags()["wavelength_units"] == "Nanometers" and "fwhm" in ds.tags()
        assert ds.scales[0] == pytest.approx(2e-4)


def test_filled_bad_bands_are_nodata_and_flagged(tmp_path, refl):
    p = write_enmap(tmp_path, refl, WL, T, UTM, bad=(9, 10))
    data = io.read_raster(p["folder"], fill_invalid=False)
    assert np.isnan(data.data[9]).all() and np.isnan(data.data[10]).all()


def test_bands_no_detector_delivers_are_flagged(tmp_path, refl):
    p = write_enmap(tmp_path, refl, WL, T, UTM, stats=False)
    with open(p["xml"]) as f:
        xml = f.read()
    with open(p["xml"], "w") as f:  # band 14 in neither the VNIR nor the SWIR channel list
        f.write(xml.replace(",14</expectedChannelsList>", "</expectedChannelsList>"))
    info = io.raster_info(p["xml"])
    assert np.flatnonzero(info.bad_bands).tolist() == [13]


def test_envi_delivery(tmp_path, refl):
    p = write_enmap(tmp_path, refl, WL, T, UTM, fmt="BSQ")
    assert p["image"].endswith("-SPECTRAL_IMAGE.BSQ")
    data = io.read_raster(p["folder"])
    np.testing.assert_allclose(data.data, refl, atol=6e-5)
    np.testing.assert_allclose(data.info.wavelengths_nm, WL, atol=1e-3)
    os.remove(p["image"][:-3] + "HDR")
    from hsi_blind_fusion.core.io.products import scratch

    scratch.clear_cache()
    with pytest.raises(InvalidInputError, match="header"):
        io.raster_info(p["folder"])


def test_clear_errors(tmp_path, refl):
    p = write_enmap(tmp_path / "l1b", refl, WL, T, UTM, level="L1B")
    with pytest.raises(InvalidInputError, match="L1B.*L1C or L2A"):
        io.raster_info(p["folder"])
    p = write_enmap(tmp_path / "short", refl, WL, T, UTM)
    with open(p["xml"]) as f:
        xml = f.read()
    with open(p["xml"], "w") as f:
        f.write(xml.replace('<bandID number="14">', '<bandID number="15">').replace("</bandCharacterisation>", """
      <bandID number="16"><wavelengthCenterOfBand>2450</wavelengthCenterOfBand><FWHMOfBand>9</FWHMOfBand>
      <GainOfBand>0.0001</GainOfBand><OffsetOfBand>0</OffsetOfBand></bandID></bandCharacterisation>"""))
    with pytest.raises(InvalidInputError, match="has 14 bands but its METADATA.XML describes 15"):
        io.raster_info(p["folder"])
    p = write_enmap(tmp_path / "broken", refl, WL, T, UTM)
    with open(p["xml"], "w") as f:
        f.write("<level_X><base>")
    with pytest.raises(InvalidInputError, match="not valid XML"):
        io.raster_info(p["xml"])
    p = write_enmap(tmp_path / "noimage", refl, WL, T, UTM)
    os.remove(p["image"])
    with pytest.raises(InvalidInputError, match="no spectral image"):
        io.raster_info(p["folder"])


def test_fusion_with_an_enmap_zip(make_pair, tmp_path):
    """The zip of an EnMAP product as the HSI: wavelengths, FWHM and bad bands reach the output."""
    s, paths = make_pair(22, size=32, bands=12)
    p = write_enmap(tmp_path, s.hsi, s.wavelengths_nm, s.lr_transform, CRS.from_string(s.crs), bad=(5,),
                    fill_bad=False)
    archive = zip_folder(p["folder"], tmp_path / f"{ENMAP_NAME}.ZIP")
    out = tmp_path / "fused.tif"
    outcome = run_fusion(FusionRequest(hsi=archive, msi=paths["msi"], output=str(out), outer_iterations=1,
                                       inner_iterations=1, device="cpu"))
    assert outcome.inputs.pair.hsi.info.source == archive
    info = io.raster_info(str(out))
    np.testing.assert_allclose(info.wavelengths_nm, s.wavelengths_nm, atol=0.01)
    np.testing.assert_allclose(info.fwhm_nm, 8.0)
    assert np.flatnonzero(info.bad_bands).tolist() == [5]
    with rasterio.open(out) as f, rasterio.open(paths["msi"]) as m:
        assert f.transform == m.transform and f.count == 12 and np.isfinite(f.read()).all()
