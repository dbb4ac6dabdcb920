"""Sentinel-2 L2A SAFE as the MSI: the SAFE folder, its zip, MTD_MSIL2A.xml or GDAL's subdataset
resolved to a VRT of the 10 m bands (or the 20 m ones) with BOA offset and quantification applied."""
import os
import zipfile

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS

from helpers.products import S2_SAFE, write_safe
from hsi_blind_fusion.core import InvalidInputError, io
from hsi_blind_fusion.core.io.products import resolve_product, sentinel2_20m_stack
from hsi_blind_fusion.core.workflow import FusionRequest, run_fusion

ULX, ULY = 400000.0, 5100000.0


@pytest.fixture(scope="module")
def bands():
    rng = np.random.default_rng(6)
    return rng.uniform(0.0, 0.6, (4, 16, 16)), rng.uniform(0.0, 0.6, (6, 8, 8))


@pytest.fixture(scope="module")
def safe(tmp_path_factory, bands):
    return write_safe(tmp_path_factory.mktemp("s2"), bands[0], ULX, ULY, msi20=bands[1])


def zipped(safe, tmp_path):
    archive = tmp_path / (S2_SAFE[:-5] + ".zip")
    with zipfile.ZipFile(archive, "w") as zf:
        for root, _, files in os.walk(safe):
            for f in files:
                full = os.path.join(root, f)
                zf.write(full, os.path.relpath(full, os.path.dirname(safe)))
    return str(archive)


def test_every_way_to_give_the_product(safe, bands, tmp_path):
    archive = zipped(safe, tmp_path)
    xml = os.path.join(safe, "MTD_MSIL2A.xml")
    for path in (safe, safe + "/", xml, archive, f"/vsizip/{archive}/{S2_SAFE}", f"/vsizip/{archive}/{S2_SAFE}/MTD_MSIL2A.xml",
                 f"SENTINEL2_L2A:{xml}:10m:EPSG_32633", f"SENTINEL2_L2A:/vsizip/{archive}/{S2_SAFE}/MTD_MSIL2A.xml:10m:EPSG_32633"):
        product = resolve_product(path)
        assert product is not None and "10 m bands B02, B03, B04, B08" in product.description, path
        assert "(DN -1000) / 10000" in product.description and "baseline 05.09" in product.description
        info = io.raster_info(path)
        assert (info.count, info.width, info.height) == (4, 16, 16) and info.crs == CRS.from_epsg(32633)
        assert info.transform == Affine(10, 0, ULX, 0, -10, ULY) and info.nodata == 0
        np.testing.assert_allclose(info.wavelengths_nm, [492.3, 559.0, 665.0, 833.0])  # Sentinel-2B's centres
        np.testing.assert_allclose(info.fwhm_nm, [66, 36, 31, 106], atol=1)  # from the product's responses
        data = io.read_raster(path, fill_invalid=False)
        np.testing.assert_allclose(data.data, bands[0], atol=5.1e-5)


def test_20m_stack(safe, bands):
    product = sentinel2_20m_stack(safe)
    assert "20 m bands B05, B06, B07, B8A, B11, B12" in product.description
    info = io.raster_info(product.path)
    assert (info.count, info.width) == (6, 8) and info.transform == Affine(20, 0, ULX, 0, -20, ULY)
    np.testing.assert_allclose(product.spectral.wavelengths_nm, [703.8, 739.1, 779.7, 864.0, 1610.4, 2185.7])
    np.testing.assert_allclose(io.read_raster(product.path).data, bands[1], atol=5.1e-5)
    assert resolve_product(f"SENTINEL2_L2A:{safe}/MTD_MSIL2A.xml:20m:EPSG_32633").path == product.path
    assert sentinel2_20m_stack(os.path.join(os.path.dirname(safe), "nothing_here.tif")) is None


def test_nodata_and_older_baselines(tmp_path, bands):
    b10 = bands[0].copy()
    outside = np.zeros(b10.shape[1:], bool)
    outside[:3, :5] = True
    old = write_safe(tmp_path / "old", b10, ULX, ULY, baseline="02.09", offsets=False, outside=outside)
    data = io.read_raster(old, fill_invalid=False)
    np.testing.assert_allclose(data.data[:, ~outside], b10[:, ~outside], atol=5.1e-5)  # no offset before 04.00
    np.testing.assert_array_equal(data.valid, ~outside)  # DN 0: nodata
    broken = write_safe(tmp_path / "broken", b10, ULX, ULY, baseline="04.00", offsets=False)
    with pytest.raises(InvalidInputError, match="BOA_ADD_OFFSET"):
        io.raster_info(broken)


def test_clear_errors(safe, tmp_path):
    with pytest.raises(InvalidInputError, match="60m subdataset"):
        io.raster_info(f"SENTINEL2_L2A:{safe}/MTD_MSIL2A.xml:60m:EPSG_32633")
    l1c = tmp_path / "S2B_MSIL1C_20230823T095559_N0509_R122_T33UUP_20230823T120234.SAFE"
    l1c.mkdir()
    (l1c / "MTD_MSIL1C.xml").write_text("<Level-1C_User_Product/>")
    with pytest.raises(InvalidInputError, match="Level-1C.*Level-2A"):
        io.raster_info(str(l1c))
    incomplete = write_safe(tmp_path / "incomplete", np.full((4, 8, 8), 0.1), ULX, ULY)
    os.remove(next(os.path.join(r, f) for r, _, fs in os.walk(incomplete) for f in fs if "_B08_" in f))
    with pytest.raises(InvalidInputError, match="lacks the B08 band at 10 m"):
        io.raster_info(incomplete)


def test_fusion_with_a_safe(make_pair, tmp_path):
    """A SAFE of the scene's 10 m bands as the MSI; the HSI on a 40 m grid over it."""
    s, paths = make_pair(25, size=32, bands=12)
    safe = write_safe(tmp_path, s.msi[[0, 1, 2, 6]], ULX, ULY)
    hsi = str(tmp_path / "hsi.tif")
    with rasterio.open(paths["hsi"]) as src:
        with rasterio.open(hsi, "w", **dict(src.profile, transform=Affine(40, 0, ULX, 0, -40, ULY))) as dst:
            dst.write(src.read())
            dst.update_tags(**src.tags())
    out = tmp_path / "fused.tif"
    outcome = run_fusion(FusionRequest(hsi=hsi, msi=safe, output=str(out), outer_iterations=1, inner_iterations=1,
                                       device="cpu"))
    assert outcome.inputs.scale == 4 and outcome.inputs.pair.msi.data.shape[0] == 4
    assert "Sentinel-2" in outcome.inputs.srf_source
    assert any(m.startswith("MSI: Sentinel-2B L2A") for m in outcome.inputs.messages)  # the log says what was read
    with rasterio.open(out) as f:
        assert f.transform == Affine(10, 0, ULX, 0, -10, ULY) and f.count == 12 and np.isfinite(f.read()).all()


def test_a_safe_brings_its_20m_bands_within_the_hsi_range(make_pair, tmp_path):
    """With its 20 m bands the SAFE gives B5, B6, B7, B8A as a second MSI (sharpened onto the 10 m grid);
    B11 and B12 lie beyond the HSI's 400-1000 nm and are left out."""
    s, paths = make_pair(26, size=32, bands=12)
    msi20 = s.msi[[3, 4, 5, 7, 6, 6]].reshape(6, 16, 2, 16, 2).mean(axis=(2, 4))
    safe = write_safe(tmp_path, s.msi[[0, 1, 2, 6]], ULX, ULY, msi20=msi20)
    hsi = str(tmp_path / "hsi.tif")
    with rasterio.open(paths["hsi"]) as src:
        with rasterio.open(hsi, "w", **dict(src.profile, transform=Affine(40, 0, ULX, 0, -40, ULY))) as dst:
            dst.write(src.read())
            dst.update_tags(**src.tags())
    outcome = run_fusion(FusionRequest(hsi=hsi, msi=safe, output=str(tmp_path / "f.tif"), outer_iterations=1,
                                       inner_iterations=1, device="cpu"))
    assert outcome.inputs.pair.msi.data.shape[0] == 8
    assert any("second MSI" in w and "2 of its bands lie beyond" in w for w in outcome.inputs.warnings)
