"""hsifusion:blindfusion through processing.run on GeoTIFFs."""
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

    from hsi_blind_fusion.core import io

    s, paths = scene
    with rasterio.open(paths["msi"]) as m:
        msi, t, crs = m.read(), m.transform, m.crs
    big = np.full((msi.shape[0], msi.shape[1] + 8, msi.shape[2] + 8), io.NODATA, np.float32)
    big[:, 8:, 8:] = msi  # 8 extra MSI pixels (2 HSI pixels) north and west, all nodata
    big[:, 20:24, 30:34] = io.NODATA  # a hole
    big_path = str(tmp_path / "msi_big.tif")
    io.write_raster(big_path, big, t * Affine.translation(-8, -8), crs)

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
        assert f.nodata == io.NODATA
    assert (data[12:16, 22:26] == io.NODATA).all()
    assert (data[:10, :10] != io.NODATA).all()
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
