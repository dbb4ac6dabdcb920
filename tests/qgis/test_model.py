"""The graphical model tests/data/estimate_then_fuse.model3 (estimatedegradation -> blindfusion)."""
import json
import os

import numpy as np
import pytest
import rasterio

from helpers.paths import ROOT

pytestmark = pytest.mark.usefixtures("qgis_app")
MODEL = os.path.join(ROOT, "tests", "data", "estimate_then_fuse.model3")


def load_model():
    from qgis.core import QgsProcessingModelAlgorithm

    m = QgsProcessingModelAlgorithm()
    assert m.fromFile(MODEL)
    m.updateDestinationParameters()
    return m


def test_model_chains_estimation_into_fusion(scene, tmp_path):
    import processing

    s, paths = scene
    m = load_model()
    names = {p.name() for p in m.parameterDefinitions()}
    assert {"HSI", "MSI", "OUTER_ITERATIONS", "INNER_ITERATIONS", "estimate:DEGRADATION", "fuse:FUSED"} <= names
    child = m.childAlgorithm("fuse")
    src = child.parameterSources()["DEGRADATION"][0]
    assert src.outputChildId() == "estimate" and src.outputName() == "OUTPUT"
    fused, deg = str(tmp_path / "fused.tif"), str(tmp_path / "deg.json")
    res = processing.run(m, {"HSI": paths["hsi"], "MSI": paths["msi"], "OUTER_ITERATIONS": 2,
                             "INNER_ITERATIONS": 2, "fuse:FUSED": fused, "estimate:DEGRADATION": deg})
    assert res["fuse:FUSED"] == fused and res["estimate:DEGRADATION"] == deg
    with open(deg) as f:
        assert json.load(f)["scale"] == 4
    with rasterio.open(fused) as f, rasterio.open(paths["msi"]) as msi:
        assert f.crs == msi.crs and f.transform == msi.transform and f.count == s.truth.shape[0]
        assert np.isfinite(f.read()).all()
