"""hsifusion:batchfusion in QGIS: without a scheduler address the pairs run in this QGIS one after
another (no worker process is started), a rerun skips them, Cancel keeps the finished pairs,
canExecute() names dask[distributed] when it is missing."""
import importlib.util
import json
import os
import shutil

import pytest
import rasterio

pytestmark = pytest.mark.usefixtures("qgis_app")

FAST = {"OUTER_ITERATIONS": 1, "INNER_ITERATIONS": 1, "DEVICE": "cpu"}


@pytest.fixture(scope="module")
def folder(make_pair, tmp_path_factory):
    """A folder of two pairs named <name>_hsi.tif / <name>_msi.tif."""
    d = tmp_path_factory.mktemp("batch_in")
    for name, seed in (("north", 31), ("south", 32)):
        _, paths = make_pair(seed, size=32)
        shutil.copy(paths["hsi"], d / f"{name}_hsi.tif")
        shutil.copy(paths["msi"], d / f"{name}_msi.tif")
    return str(d)


def test_pairs_run_in_process(folder, tmp_path):
    import processing
    import psutil

    children = {p.pid for p in psutil.Process().children(recursive=True)}
    out = str(tmp_path / "out")
    res = processing.run("hsifusion:batchfusion", dict(FAST, FOLDER=folder, OUTPUT_FOLDER=out))
    assert res == {"OUTPUT_FOLDER": out, "DONE": 2, "SKIPPED": 0, "FAILED": 0}
    assert {p.pid for p in psutil.Process().children(recursive=True)} <= children   # no worker process
    for name in ("north", "south"):
        with rasterio.open(os.path.join(out, f"{name}_fused.tif")) as ds, \
                rasterio.open(os.path.join(folder, f"{name}_msi.tif")) as msi:
            assert ds.count == 20 and ds.transform == msi.transform
    with open(os.path.join(out, "batch_summary.json")) as f:
        summary = json.load(f)
    assert summary["run"]["where"] == "in-process"
    assert [p["worker"].startswith("in-process") for p in summary["pairs"]] == [True, True]
    res = processing.run("hsifusion:batchfusion", dict(FAST, FOLDER=folder, OUTPUT_FOLDER=out))
    assert (res["DONE"], res["SKIPPED"]) == (0, 2)


def test_cancel_keeps_finished_pairs(folder, tmp_path):
    import processing
    from qgis.core import QgsProcessingException, QgsProcessingFeedback

    class CancelAtSecondPair(QgsProcessingFeedback):
        def setProgressText(self, text):  # noqa: N802
            super().setProgressText(text)
            if "(2/2)" in text:
                self.cancel()

    out = str(tmp_path / "out")
    with pytest.raises(QgsProcessingException, match="cancelled: the pairs finished"):
        processing.run("hsifusion:batchfusion", dict(FAST, FOLDER=folder, OUTPUT_FOLDER=out),
                       feedback=CancelAtSecondPair())
    assert sorted(os.listdir(out)) == ["batch_summary.csv", "batch_summary.json", "north_fused.run.json",
                                       "north_fused.tif"]
    with open(os.path.join(out, "batch_summary.json")) as f:
        statuses = [p["status"] for p in json.load(f)["pairs"]]
    assert statuses == ["done", "cancelled"]


def test_manifest_or_folder(folder, tmp_path):
    import processing
    from qgis.core import QgsProcessingException

    with pytest.raises(QgsProcessingException, match="manifest"):
        processing.run("hsifusion:batchfusion", dict(FAST, OUTPUT_FOLDER=str(tmp_path)))
    manifest = tmp_path / "m.csv"
    manifest.write_text("hsi,msi\nnorth_hsi.tif,north_msi.tif\n")
    with pytest.raises(QgsProcessingException, match="not both"):
        processing.run("hsifusion:batchfusion", dict(FAST, MANIFEST=str(manifest), FOLDER=folder,
                                                     OUTPUT_FOLDER=str(tmp_path)))


def test_can_execute_names_dask(monkeypatch):
    from qgis.core import QgsApplication

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a, **k: None if name.split(".")[0] == "distributed" else real(name, *a, **k))
    registry = QgsApplication.processingRegistry()
    ok, msg = registry.createAlgorithmById("hsifusion:batchfusion").canExecute()
    assert not ok and '"dask[distributed]==2026.8.0"' in msg
    assert registry.createAlgorithmById("hsifusion:blindfusion").canExecute()[0]   # the others need no dask
