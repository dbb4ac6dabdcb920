"""Outputs loaded into the project as the dialog loads them (processing.runAndLoadResults: the layers to
load on completion, then their post-processors) show in colour from their wavelengths."""
import os

import numpy as np
import pytest

from helpers.paths import FAST

pytestmark = pytest.mark.usefixtures("qgis_app")


def loaded(path):
    from qgis.core import QgsProject

    layers = [lyr for lyr in QgsProject.instance().mapLayers().values() if lyr.source().split("|")[0] == path]
    assert len(layers) == 1, [lyr.source() for lyr in QgsProject.instance().mapLayers().values()]
    return layers[0]


def rgb_wavelengths(layer, wavelengths):
    r = layer.renderer()
    assert r.type() == "multibandcolor"
    return [wavelengths[b - 1] for b in (r.redBand(), r.greenBand(), r.blueBand())]


def test_fused_raster_loads_in_true_colour(scene, tmp_path):
    import processing
    from qgis.core import QgsProject

    from hsi_blind_fusion.core import io

    s, paths = scene
    out = str(tmp_path / "fused.tif")
    processing.runAndLoadResults("hsifusion:blindfusion", dict(FAST, HSI=paths["hsi"], MSI=paths["msi"],
                                                                 DEVICE="cpu", OUTPUT=out))
    try:
        layer = loaded(out)
        wl = io.raster_info(out).wavelengths_nm
        got = rgb_wavelengths(layer, wl)
        assert got == [wl[np.argmin(np.abs(wl - t))] for t in (640, 550, 470)], got
        r = layer.renderer()
        for ce in (r.redContrastEnhancement(), r.greenContrastEnhancement(), r.blueContrastEnhancement()):
            assert ce.contrastEnhancementAlgorithm() == ce.StretchToMinimumMaximum
            assert 0 < ce.minimumValue() < ce.maximumValue() < 1      # a 2-98 % cut of reflectances
        assert r.minMaxOrigin().cumulativeCutLower() == pytest.approx(0.02)
        assert r.minMaxOrigin().cumulativeCutUpper() == pytest.approx(0.98)
    finally:
        QgsProject.instance().removeAllMapLayers()


def test_simulated_envi_hsi_loads_in_colour_and_plain_runs_load_nothing(scene, tmp_path):
    import processing
    from qgis.core import QgsProject

    s, paths = scene
    params = dict(INPUT=paths["truth"], SRF=paths["srf"], SCALE=4, SNR_DB=0,
                  OUTPUT_HSI=str(tmp_path / "lr.bsq"), OUTPUT_MSI=str(tmp_path / "hr.tif"))
    processing.runAndLoadResults("hsifusion:simulateobservations", dict(params))  # (it replaces outputs)
    try:
        assert os.path.exists(tmp_path / "lr.hdr")
        hsi = loaded(params["OUTPUT_HSI"])
        assert rgb_wavelengths(hsi, s.wavelengths_nm) == [
            s.wavelengths_nm[np.argmin(np.abs(s.wavelengths_nm - t))] for t in (640, 550, 470)]
        msi = loaded(params["OUTPUT_MSI"])                  # Sentinel-2-like bands: B4, B3, B2
        assert msi.renderer().type() == "multibandcolor"
    finally:
        QgsProject.instance().removeAllMapLayers()
    processing.run("hsifusion:simulateobservations", dict(params, OUTPUT_HSI=str(tmp_path / "b.tif"),
                                                          OUTPUT_MSI=str(tmp_path / "c.tif")))
    assert not QgsProject.instance().mapLayers()


def test_raster_without_wavelengths_keeps_the_default_renderer(tmp_path):
    from qgis.core import QgsRasterLayer

    from hsi_blind_fusion.algorithms.display import apply_colour_renderer
    from hsi_blind_fusion.core import io
    from helpers.rasters import T_MSI, UTM

    path = io.write_raster(str(tmp_path / "x.tif"), np.random.default_rng(0).random((5, 16, 16)), T_MSI, UTM)
    layer = QgsRasterLayer(path, "x")
    before = layer.renderer().type()
    assert apply_colour_renderer(layer) is None and layer.renderer().type() == before
    composite = apply_colour_renderer(layer, [1000.0, 1100.0, 1200.0, 1300.0, 1400.0])
    assert composite.name == "evenly spaced bands" and layer.renderer().redBand() == 5
