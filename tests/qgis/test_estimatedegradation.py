"""hsifusion:estimatedegradation through processing.run on GeoTIFFs."""
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


def test_estimatedegradation(scene, tmp_path):
    s, paths = scene
    out, rep = str(tmp_path / "deg.json"), str(tmp_path / "deg.html")
    res = run("hsifusion:estimatedegradation", {"HSI": paths["hsi"], "MSI": paths["msi"], "SCALE": 0,
                                                "DEVICE": "cpu", "OUTPUT": out, "REPORT": rep})
    assert set(res) == {"OUTPUT", "REPORT"} and res["OUTPUT"] == out
    with open(out) as fh:
        d = json.load(fh)
    assert d["scale"] == 4
    assert np.asarray(d["srf"]).shape == (8, 20)
    k = np.asarray(d["kernel"])
    assert k.ndim == 2 and k.shape[0] % 2 == 1 and abs(k.sum() - 1) < 1e-6
    np.testing.assert_allclose(d["hsi_wavelengths_nm"], s.wavelengths_nm, atol=0.01)
    assert len(d["msi_wavelengths_nm"]) == 8
    with open(rep) as fh:
        html = fh.read()
    assert "<img" in html and "Blur kernel" in html
