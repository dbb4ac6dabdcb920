"""Issue 6: cancel at any stage (reading, degradation estimate, fusion, writing) stops within 2 s on the
CPU, leaves no output and no temporary file, leaves the inputs as they were, and the next run in the
same QGIS session works."""
import os
import time

import pytest

from helpers.qgis_cases import checksums, scene_pair

pytestmark = pytest.mark.usefixtures("qgis_app")

#: A run long enough that it is still going when the cancel comes (minutes if not cancelled).
LONG = {"OUTER_ITERATIONS": 2000, "INNER_ITERATIONS": 10, "STOP_WHEN_CONVERGED": False, "DEVICE": "cpu"}
FAST = {"OUTER_ITERATIONS": 1, "INNER_ITERATIONS": 1, "DEVICE": "cpu"}
LIMIT_S = 2.0


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    from hsi_blind_fusion.core.synthetic_scene import make_scene

    s = make_scene(size=32, scale=4, bands=12, snr_db=40.0, seed=5)
    params, files = scene_pair(str(tmp_path_factory.mktemp("cancel_in")), s)
    return params, files


def feedback(text=None, after=None):
    """A feedback whose ``isCanceled()`` turns True after ``after`` progress calls, or when a progress
    text containing ``text`` is set (the stage markers of the algorithms and the core)."""
    from qgis.core import QgsProcessingFeedback

    class CancelAt(QgsProcessingFeedback):
        def __init__(self):
            super().__init__()
            self.calls, self.cancelled_at, self.texts = 0, None, []
            self.progressChanged.connect(self._progress)

        def _progress(self, _value):
            self.calls += 1
            if after is not None and self.calls >= after:
                self.trip()

        def setProgressText(self, t):  # noqa: N802
            self.texts.append(t)
            super().setProgressText(t)
            if text and text in t:
                self.trip()

        def trip(self):
            if self.cancelled_at is None:
                self.cancelled_at = time.perf_counter()
                self.cancel()

        def isCanceled(self):  # noqa: N802
            return self.cancelled_at is not None or super().isCanceled()

    return CancelAt()


def cancel_run(alg, params, fb, out_dir, inputs):
    import processing
    from qgis.core import QgsProcessingException

    before = checksums(inputs)
    with pytest.raises(QgsProcessingException, match="cancelled"):
        processing.run(alg, params, feedback=fb)
    stopped = time.perf_counter()
    assert fb.cancelled_at is not None, f"never cancelled; progress texts: {fb.texts[-5:]}"
    assert stopped - fb.cancelled_at < LIMIT_S, f"stopped {stopped - fb.cancelled_at:.2f} s after the cancel"
    assert os.listdir(out_dir) == [], os.listdir(out_dir)
    assert checksums(inputs) == before


def normal_run_works(params, out_dir):
    import processing

    out = str(out_dir / "after.tif")
    res = processing.run("hsifusion:blindfusion", dict(params, OUTPUT=out, **FAST))
    assert os.path.exists(res["OUTPUT"])


STAGES = {
    "reading": {"text": "Reading and checking the inputs"},
    "degradation-estimate": {"text": "degradation estimate, round 2"},
    "initial-estimate": {"text": "building the initial estimate"},
    "fusion": {"text": "fusion, outer iteration 3/"},
    "writing": {"text": "Writing the outputs"},
    "after-1-progress-call": {"after": 1},
    "after-5-progress-calls": {"after": 5},
    "after-40-progress-calls": {"after": 40},
}


@pytest.mark.parametrize("stage", list(STAGES), ids=list(STAGES))
def test_cancel_blindfusion(stage, pair, tmp_path):
    params, files = pair
    out = tmp_path / "out"
    out.mkdir()
    fb = feedback(**STAGES[stage])
    run_params = dict(params, **(FAST if stage == "writing" else LONG))
    cancel_run("hsifusion:blindfusion", dict(run_params, OUTPUT=str(out / "fused.tif"),
                                             OUTPUT_DEGRADATION=str(out / "d.json"), REPORT=str(out / "r.html")),
               fb, out, files)
    normal_run_works(params, out)


def test_cancel_while_the_last_output_is_written(pair, tmp_path, monkeypatch):
    """Cancelled after the image and the JSON are written (to temporary files): none of them is kept."""
    from hsi_blind_fusion.core.workflow import fusion

    params, files = pair
    out = tmp_path / "out"
    out.mkdir()
    fb = feedback()
    real = fusion.save_report

    def save_report_then_cancel(*args, **kwargs):
        path = real(*args, **kwargs)
        fb.trip()
        return path

    monkeypatch.setattr(fusion, "save_report", save_report_then_cancel)
    cancel_run("hsifusion:blindfusion", dict(params, OUTPUT=str(out / "fused.tif"), OUTPUT_DEGRADATION=str(out / "d.json"),
                                             REPORT=str(out / "r.html"), **FAST), fb, out, files)
    monkeypatch.undo()
    normal_run_works(params, out)


@pytest.mark.parametrize("stage", [{"text": "degradation estimate, round 2"}, {"after": 2}])
def test_cancel_estimatedegradation(stage, pair, tmp_path):
    params, files = pair
    out = tmp_path / "out"
    out.mkdir()
    cancel_run("hsifusion:estimatedegradation", dict(params, DEVICE="cpu", OUTPUT=str(out / "d.json"),
                                                     REPORT=str(out / "r.html")), feedback(**stage), out, files)
    normal_run_works(params, out)


def test_cancel_simulateobservations(pair, tmp_path):
    params, files = pair
    out = tmp_path / "out"
    out.mkdir()
    truth = params["HSI"]  # any hyperspectral raster does as the "truth"
    cancel_run("hsifusion:simulateobservations", {"INPUT": truth, "SCALE": 2, "SNR_DB": 0,
                                                  "SRF": "", "OUTPUT_HSI": str(out / "lr.tif"),
                                                  "OUTPUT_MSI": str(out / "hr.tif")}, feedback(after=1), out, files)
    normal_run_works(params, out)
