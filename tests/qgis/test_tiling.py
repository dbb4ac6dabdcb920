"""Issue 5 through processing.run: TILE_SIZE, and the fused GeoTIFF written window by window."""
import os

import numpy as np
import pytest
import rasterio

from helpers.paths import FAST

pytestmark = pytest.mark.usefixtures("qgis_app")


def test_blindfusion_with_small_tiles_writes_a_valid_output(scene, tmp_path):
    import processing

    s, paths = scene
    out = tmp_path / "fused.tif"
    res = processing.run("hsifusion:blindfusion", dict(HSI=paths["hsi"], MSI=paths["msi"], TILE_SIZE=32,
                                                       DEVICE="cpu", OUTPUT=str(out), **FAST))
    assert res["OUTPUT"] == str(out)
    assert os.listdir(tmp_path) == ["fused.tif"]          # no temporary file left
    with rasterio.open(out) as f, rasterio.open(paths["msi"]) as m:
        assert f.crs == m.crs and f.transform == m.transform and f.count == s.truth.shape[0]
        assert (f.height, f.width) == (m.height, m.width) and f.dtypes[0] == "float32"
        assert "wavelength" in f.tags() and f.profile["tiled"]
        img = f.read(masked=True)
    assert not img.mask.any() and np.all(np.isfinite(img))
    err = np.sqrt(np.mean((img.data - s.truth) ** 2)) / np.sqrt(np.mean(s.truth ** 2))
    assert err < 0.2, err


def test_tile_size_parameter_has_help():
    from qgis.core import QgsApplication

    alg = QgsApplication.processingRegistry().algorithmById("hsifusion:blindfusion")
    p = alg.parameterDefinition("TILE_SIZE")
    assert p is not None and p.defaultValue() == 0 and "automatic" in p.description().lower() and p.help()
