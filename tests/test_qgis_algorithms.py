"""Each algorithm through processing.run in a headless QGIS, on GeoTIFFs written in tmp folders."""
import json
import os

import numpy as np
import pytest
import rasterio

from conftest import FAST

pytestmark = pytest.mark.usefixtures("qgis_app")

IDS = ["hsifusion:blindfusion", "hsifusion:estimatedegradation", "hsifusion:simulateobservations",
       "hsifusion:fusionquality"]


def run(alg, params):
    import processing

    return processing.run(alg, params)


def wavelengths(path):
    from hsi_blind_fusion.core import raster_io

    return raster_io.raster_info(path).wavelengths_nm


def test_provider_and_parameters():
    from qgis.core import QgsApplication

    reg = QgsApplication.processingRegistry()
    prov = reg.providerById("hsifusion")
    assert prov.name() == "HSI blind fusion"
    assert sorted(a.id() for a in prov.algorithms()) == sorted(IDS)
    names = lambda i: [p.name() for p in reg.algorithmById(i).parameterDefinitions()]  # noqa: E731
    assert names("hsifusion:blindfusion") == ["HSI", "MSI", "SCALE", "SRF", "MSI_SENSOR", "HSI_SENSOR",
                                              "DEGRADATION", "OUTER_ITERATIONS",
                                              "INNER_ITERATIONS", "TILE_SIZE", "MSI_DENOISING", "DEVICE", "SEED",
                                              "OUTPUT",
                                              "OUTPUT_DEGRADATION", "REPORT"]
    assert names("hsifusion:estimatedegradation") == ["HSI", "MSI", "SCALE", "SRF", "MSI_SENSOR", "HSI_SENSOR",
                                                      "DEVICE", "SEED", "OUTPUT", "REPORT"]
    assert set(names("hsifusion:simulateobservations")) == {
        "INPUT", "KERNEL_SIZE", "KERNEL_SIGMA", "KERNEL_FILE", "SRF", "SCALE", "SNR_DB", "SEED", "OUTPUT_HSI",
        "OUTPUT_MSI"}
    assert names("hsifusion:fusionquality") == ["REFERENCE", "FUSED", "SCALE", "OUTPUT_CSV"]
    for i in IDS:
        alg = reg.algorithmById(i)
        assert alg.shortHelpString() and alg.helpUrl().startswith("https://")
        assert all(p.help() for p in alg.parameterDefinitions()), i
    outs = [o.name() for o in reg.algorithmById("hsifusion:fusionquality").outputDefinitions()]
    assert set(outs) == {"RMSE", "PSNR", "SAM", "SSIM", "ERGAS", "OUTPUT_CSV"}


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


def test_blindfusion(scene, tmp_path):
    s, paths = scene
    out = str(tmp_path / "fused.tif")
    res = run("hsifusion:blindfusion", dict(FAST, HSI=paths["hsi"], MSI=paths["msi"], SCALE=4, DEVICE="cpu",
                                            OUTPUT=out, OUTPUT_DEGRADATION=str(tmp_path / "d.json"),
                                            REPORT=str(tmp_path / "r.html")))
    assert set(res) == {"OUTPUT", "OUTPUT_DEGRADATION", "REPORT"}
    assert os.path.exists(res["OUTPUT_DEGRADATION"]) and os.path.exists(res["REPORT"])
    with rasterio.open(out) as f, rasterio.open(paths["msi"]) as m:
        assert f.crs == m.crs and f.transform == m.transform and (f.width, f.height) == (m.width, m.height)
        assert f.count == s.truth.shape[0] and f.dtypes[0] == "float32" and f.nodata is not None
        data = f.read()
    np.testing.assert_allclose(wavelengths(out), s.wavelengths_nm, atol=0.01)
    assert np.isfinite(data).all()
    assert not [p for p in os.listdir(tmp_path) if ".part" in p]


def test_blindfusion_msi_denoising_can_be_turned_off(scene, tmp_path):
    from hsi_blind_fusion.core import metrics

    s, paths = scene
    psnr = {}
    for strength in (0.0, 0.85):
        out = str(tmp_path / f"fused_{strength}.tif")
        run("hsifusion:blindfusion", dict(FAST, HSI=paths["hsi"], MSI=paths["msi"], DEVICE="cpu",
                                          MSI_DENOISING=strength, OUTPUT=out))
        with rasterio.open(out) as f:
            psnr[strength] = metrics.psnr(s.truth, f.read())
    assert psnr[0.85] > psnr[0.0] + 0.3, psnr          # the scene's MSI carries 35 dB noise


def test_blindfusion_from_degradation_and_srf(scene, tmp_path):
    s, paths = scene
    deg = str(tmp_path / "deg.json")
    run("hsifusion:estimatedegradation", {"HSI": paths["hsi"], "MSI": paths["msi"], "OUTPUT": deg})
    res = run("hsifusion:blindfusion", dict(FAST, HSI=paths["hsi"], MSI=paths["msi"], SRF=paths["srf"],
                                            DEGRADATION=deg, OUTPUT=str(tmp_path / "f.tif")))
    assert res["OUTPUT_DEGRADATION"] is None and res["REPORT"] is None
    assert os.path.exists(res["OUTPUT"])


def test_fusionquality(scene, tmp_path):
    s, paths = scene
    from hsi_blind_fusion.core import raster_io

    noisy = str(tmp_path / "noisy.tif")
    with rasterio.open(paths["truth"]) as t:
        raster_io.write_raster(noisy, t.read() * 1.01, t.transform, t.crs)
    res = run("hsifusion:fusionquality", {"REFERENCE": paths["truth"], "FUSED": noisy, "SCALE": 4,
                                          "OUTPUT_CSV": str(tmp_path / "q.csv")})
    assert set(res) == {"RMSE", "PSNR", "SAM", "SSIM", "ERGAS", "OUTPUT_CSV"}
    assert res["RMSE"] > 0 and res["PSNR"] > 30 and res["SAM"] < 0.1 and res["SSIM"] > 0.99
    assert 0 < res["ERGAS"] < 1
    with open(res["OUTPUT_CSV"]) as fh:
        assert "PSNR" in fh.read()
    res = run("hsifusion:fusionquality", {"REFERENCE": paths["truth"], "FUSED": paths["truth"]})
    assert res["RMSE"] == 0 and res["ERGAS"] is None and res["OUTPUT_CSV"] is None


def test_swapped_inputs_are_reported(scene, tmp_path):
    from qgis.core import QgsProcessingException

    _, paths = scene
    with pytest.raises(QgsProcessingException, match="swapped"):
        run("hsifusion:blindfusion", dict(FAST, HSI=paths["msi"], MSI=paths["hsi"], OUTPUT=str(tmp_path / "x.tif")))
    assert not os.path.exists(tmp_path / "x.tif")


def test_blindfusion_partial_overlap_and_nodata(scene, tmp_path):
    """An MSI larger than the HSI (cropped, with a warning) with a nodata hole (nodata in the output)."""
    from affine import Affine
    from qgis.core import QgsProcessingFeedback

    from hsi_blind_fusion.core import raster_io

    s, paths = scene
    with rasterio.open(paths["msi"]) as m:
        msi, t, crs = m.read(), m.transform, m.crs
    big = np.full((msi.shape[0], msi.shape[1] + 8, msi.shape[2] + 8), raster_io.NODATA, np.float32)
    big[:, 8:, 8:] = msi  # 8 extra MSI pixels (2 HSI pixels) north and west, all nodata
    big[:, 20:24, 30:34] = raster_io.NODATA  # a hole
    big_path = str(tmp_path / "msi_big.tif")
    raster_io.write_raster(big_path, big, t * Affine.translation(-8, -8), crs)

    messages = []

    class Feedback(QgsProcessingFeedback):
        def pushWarning(self, text):  # noqa: N802
            messages.append(text)
            super().pushWarning(text)

    import processing

    out = str(tmp_path / "fused.tif")
    processing.run("hsifusion:blindfusion", dict(FAST, HSI=paths["hsi"], MSI=big_path, DEVICE="cpu", OUTPUT=out),
                   feedback=Feedback())
    with rasterio.open(out) as f:
        assert f.transform == t and (f.height, f.width) == msi.shape[1:]  # cropped to the HSI extent
        data = f.read(1)
        assert f.nodata == raster_io.NODATA
    assert (data[12:16, 22:26] == raster_io.NODATA).all()
    assert (data[:10, :10] != raster_io.NODATA).all()
    assert any("cropped" in m for m in messages)


def test_cancel_stops_and_writes_nothing(scene, tmp_path):
    from qgis.core import QgsProcessingException, QgsProcessingFeedback

    _, paths = scene

    class CancelOnFirstProgress(QgsProcessingFeedback):
        pass

    fb = CancelOnFirstProgress()
    fb.progressChanged.connect(lambda p: fb.cancel() if p > 25 else None)
    import processing

    out = str(tmp_path / "fused.tif")
    with pytest.raises(QgsProcessingException, match="cancelled"):
        processing.run("hsifusion:blindfusion", dict(FAST, HSI=paths["hsi"], MSI=paths["msi"], DEVICE="cpu",
                                                     OUTPUT=out), feedback=fb)
    assert not os.listdir(tmp_path)
