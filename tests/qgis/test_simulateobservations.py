"""hsifusion:simulateobservations through processing.run on GeoTIFFs."""
import json
import os

import numpy as np
import pytest
import rasterio

from helpers.paths import FAST

pytestmark = pytest.mark.usefixtures("qgis_app")


def run(alg, params):
    import processing

    return processing.run(alg, params)


def wavelengths(path):
    from hsi_blind_fusion.core import io

    return io.raster_info(path).wavelengths_nm


def test_simulateobservations(scene, tmp_path):
    s, paths = scene
    out_h, out_m = str(tmp_path / "lr.tif"), str(tmp_path / "hr.tif")
    res = run("hsifusion:simulateobservations", {
        "INPUT": paths["truth"], "KERNEL_SIZE": 9, "KERNEL_SIGMA": 1.8, "SRF": paths["srf"], "SCALE": 4,
        "SNR_DB": 40, "SEED": 1, "OUTPUT_HSI": out_h, "OUTPUT_MSI": out_m})
    assert set(res) == {"OUTPUT_HSI", "OUTPUT_MSI"}
    with rasterio.open(paths["truth"]) as t, rasterio.open(out_h) as h, rasterio.open(out_m) as m:
        assert h.crs == t.crs == m.crs
        assert m.transform == t.transform
        assert h.transform.c == t.transform.c and h.transform.f == t.transform.f  # origin unchanged
        assert h.transform.a == 4 * t.transform.a and h.transform.e == 4 * t.transform.e
        assert (h.count, h.width, h.height) == (t.count, t.width // 4, t.height // 4)
        assert m.count == s.srf.shape[0] and (m.width, m.height) == (t.width, t.height)
        assert h.tags()["wavelength_units"] == "Nanometers"
    np.testing.assert_allclose(wavelengths(out_h), s.wavelengths_nm, atol=0.01)
    # a kernel file and Sentinel-2 default responses
    np.save(tmp_path / "k.npy", np.ones((3, 3)))
    res = run("hsifusion:simulateobservations", {
        "INPUT": paths["truth"], "KERNEL_FILE": str(tmp_path / "k.npy"), "SCALE": 2, "SNR_DB": 0,
        "OUTPUT_HSI": str(tmp_path / "lr2.tif"), "OUTPUT_MSI": str(tmp_path / "hr2.tif")})
    with rasterio.open(res["OUTPUT_HSI"]) as h:
        assert h.width == 32
