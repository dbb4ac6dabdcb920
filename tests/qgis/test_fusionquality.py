"""hsifusion:fusionquality through processing.run on GeoTIFFs: against a reference, and without one."""
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
    assert set(res) == {"RMSE", "PSNR", "SAM", "SSIM", "ERGAS", "QNR", "D_LAMBDA", "D_S", "HSI_RESIDUAL",
                        "MSI_RESIDUAL", "OUTPUT_CSV"}
    assert res["QNR"] is None                                      # no HSI and MSI given
    assert res["RMSE"] > 0 and res["PSNR"] > 30 and res["SAM"] < 0.1 and res["SSIM"] > 0.99
    assert 0 < res["ERGAS"] < 1
    with open(res["OUTPUT_CSV"]) as fh:
        assert "PSNR" in fh.read()
    res = run("hsifusion:fusionquality", {"REFERENCE": paths["truth"], "FUSED": paths["truth"]})
    assert res["RMSE"] == 0 and res["ERGAS"] is None and res["OUTPUT_CSV"] is None


def test_nodata_counts_neither_as_perfect_nor_as_error(scene, tmp_path):
    """Holes in the reference leave SSIM (and every metric) to the valid pixels: whatever the fused
    image holds there, the scores are those of the valid area."""
    from hsi_blind_fusion.core import io, metrics

    s, paths = scene
    noisy = s.truth + 0.01 * np.random.default_rng(0).standard_normal(s.truth.shape).astype(np.float32)
    valid = np.ones(s.truth.shape[1:], bool)
    valid[20:44, 10:30] = False
    with rasterio.open(paths["truth"]) as t:
        transform, crs = t.transform, t.crs
    ref = io.write_raster(str(tmp_path / "ref.tif"), s.truth, transform, crs, valid=valid)
    scores = []
    for name, inside in (("a", noisy), ("b", np.full_like(noisy, 7.0))):     # plausible values or garbage
        fused = np.where(valid, noisy, inside)
        path = io.write_raster(str(tmp_path / f"{name}.tif"), fused, transform, crs)
        scores.append(run("hsifusion:fusionquality", {"REFERENCE": ref, "FUSED": path, "SCALE": 4}))
    for key in ("RMSE", "PSNR", "SAM", "SSIM", "ERGAS"):
        assert scores[0][key] == pytest.approx(scores[1][key], rel=1e-9), key
    assert scores[0]["SSIM"] == pytest.approx(metrics.ssim(s.truth, noisy, valid=valid), rel=1e-6)
    assert scores[0]["SSIM"] < 0.999


def test_quality_without_reference(make_pair, tmp_path):
    """A fusion of a simulated pair scores a better QNR than bicubic upsampling of its HSI."""
    import torch

    from hsi_blind_fusion.core import io
    from hsi_blind_fusion.core.operators import upsample

    s, paths = make_pair(1)
    fused = str(tmp_path / "fused.tif")
    deg = str(tmp_path / "deg.json")
    run("hsifusion:blindfusion", dict(FAST, HSI=paths["hsi"], MSI=paths["msi"], DEVICE="cpu", OUTPUT=fused,
                                      OUTPUT_DEGRADATION=deg))
    with rasterio.open(paths["msi"]) as m:
        transform, crs = m.transform, m.crs
    bicubic = io.write_raster(str(tmp_path / "bicubic.tif"),
                              upsample(torch.as_tensor(s.hsi), 4, *s.truth.shape[1:]).numpy(), transform, crs,
                              wavelengths_nm=s.wavelengths_nm)
    scores = {}
    for name, path in (("fused", fused), ("bicubic", bicubic)):
        scores[name] = run("hsifusion:fusionquality", {"FUSED": path, "HSI": paths["hsi"], "MSI": paths["msi"],
                                                       "DEGRADATION": deg, "OUTPUT_CSV": str(tmp_path / f"{name}.csv")})
    f, b = scores["fused"], scores["bicubic"]
    assert f["QNR"] > b["QNR"] + 0.03 and f["D_S"] < b["D_S"], scores
    assert f["QNR"] == pytest.approx((1 - f["D_LAMBDA"]) * (1 - f["D_S"]))
    assert 0 < f["HSI_RESIDUAL"] < 5 and 0 < f["MSI_RESIDUAL"] < 5
    assert f["RMSE"] is None and f["SSIM"] is None                 # no reference, no reference metrics
    with open(f["OUTPUT_CSV"]) as fh:
        assert "QNR," in fh.read()
    estimated = run("hsifusion:fusionquality", {"FUSED": fused, "HSI": paths["hsi"], "MSI": paths["msi"],
                                                "REFERENCE": paths["truth"]})   # both kinds; K and P estimated
    assert estimated["QNR"] == pytest.approx(f["QNR"], abs=0.01) and estimated["PSNR"] > 30
    assert estimated["ERGAS"] > 0                                  # SCALE from the pair
