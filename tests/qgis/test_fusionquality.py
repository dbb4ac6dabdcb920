"""hsifusion:fusionquality through processing.run on GeoTIFFs."""
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


def test_fusionquality(scene, tmp_path):
    s, paths = scene
    from hsi_blind_fusion.core import io

    noisy = str(tmp_path / "noisy.tif")
    with rasterio.open(paths["truth"]) as t:
        io.write_raster(noisy, t.read() * 1.01, t.transform, t.crs)
    res = run("hsifusion:fusionquality", {"REFERENCE": paths["truth"], "FUSED": noisy, "SCALE": 4,
                                          "OUTPUT_CSV": str(tmp_path / "q.csv")})
    assert set(res) == {"RMSE", "PSNR", "SAM", "SSIM", "ERGAS", "OUTPUT_CSV"}
    assert res["RMSE"] > 0 and res["PSNR"] > 30 and res["SAM"] < 0.1 and res["SSIM"] > 0.99
    assert 0 < res["ERGAS"] < 1
    with open(res["OUTPUT_CSV"]) as fh:
        assert "PSNR" in fh.read()
    res = run("hsifusion:fusionquality", {"REFERENCE": paths["truth"], "FUSED": paths["truth"]})
    assert res["RMSE"] == 0 and res["ERGAS"] is None and res["OUTPUT_CSV"] is None
