"""Batch: several HSI/MSI pairs fused in one QGIS session (as the batch dialog runs them)."""
import os

import numpy as np
import pytest
import rasterio

from helpers.paths import FAST

pytestmark = pytest.mark.usefixtures("qgis_app")


def test_batch_of_pairs(make_pair, tmp_path):
    import processing
    from qgis.core import QgsProcessingContext, QgsProcessingFeedback

    context, feedback = QgsProcessingContext(), QgsProcessingFeedback()
    pairs = [make_pair(seed, size=48 if seed % 2 else 64) for seed in (11, 12, 13)]
    outputs = []
    for i, (s, paths) in enumerate(pairs):
        out = str(tmp_path / f"fused_{i}.tif")
        res = processing.run("hsifusion:blindfusion", dict(FAST, HSI=paths["hsi"], MSI=paths["msi"], DEVICE="cpu",
                                                           OUTPUT=out), context=context, feedback=feedback)
        outputs.append((s, paths, res["OUTPUT"]))
    for s, paths, out in outputs:
        with rasterio.open(out) as f, rasterio.open(paths["msi"]) as m:
            assert f.crs == m.crs and f.transform == m.transform
            assert f.count == s.truth.shape[0] and (f.height, f.width) == s.truth.shape[1:]
        from hsi_blind_fusion.core import io

        np.testing.assert_allclose(io.raster_info(out).wavelengths_nm, s.wavelengths_nm, atol=0.01)
    assert len({o for _, _, o in outputs}) == 3 and all(os.path.exists(o) for _, _, o in outputs)


def test_bad_rows_are_refused_before_running(make_pair, tmp_path, monkeypatch):
    """checkParameterValues() runs the workflow's own checks (metadata only): a bad row is refused with
    the run's message before anything runs (processing.run, the dialog, qgis_process); the batch dialog
    of QGIS 3.22, which runs rows without it, gets the same message from the run's first step."""
    import processing
    from qgis.core import QgsApplication, QgsProcessingContext, QgsProcessingException, QgsProcessingFeedback

    import hsi_blind_fusion.core.workflow as workflow

    s, paths = make_pair(11, size=48)
    alg = QgsApplication.processingRegistry().createAlgorithmById("hsifusion:blindfusion")
    good = dict(FAST, HSI=paths["hsi"], MSI=paths["msi"], DEVICE="cpu", OUTPUT=str(tmp_path / "a.tif"))
    rows = [good,
            dict(good, HSI=paths["msi"], MSI=paths["hsi"], OUTPUT=str(tmp_path / "b.tif")),     # swapped
            dict(good, OUTPUT=str(tmp_path / "c.xyz")),                                            # unknown format
            dict(good, OUTPUT=str(tmp_path / "d.bsq"), COG=True),                                 # COG as ENVI
            dict(good, OUTPUT=str(tmp_path / "e.bsq"))]                                            # ENVI: fine
    context = QgsProcessingContext()
    checked = [alg.checkParameterValues(row, context) for row in rows]
    assert [ok for ok, _ in checked] == [True, False, False, False, True], checked
    assert "swapped" in checked[1][1] and ".tif" in checked[2][1] and "Cloud-Optimized" in checked[3][1]

    def must_not_run(tool_id):
        raise AssertionError("the algorithm ran")

    monkeypatch.setattr(workflow, "runner", must_not_run)
    with pytest.raises(QgsProcessingException, match="(?s)Unable to execute algorithm.*swapped"):
        processing.run("hsifusion:blindfusion", rows[1])
    monkeypatch.undo()
    results, ok = alg.run(rows[1], QgsProcessingContext(), QgsProcessingFeedback())   # QGIS 3.22's batch path
    assert not ok and not os.listdir(tmp_path)
