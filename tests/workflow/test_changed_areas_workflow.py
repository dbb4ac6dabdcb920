"""Changed areas in the workflow: the log warns that part of the output is the upsampled HSI, and
the report, the GeoTIFF's metadata and the degradation JSON say how much; CHANGED_AREAS reaches
the core's settings."""
import json
from dataclasses import replace

import rasterio

from hsi_blind_fusion.core.synthetic_scene import make_scene, write_scene
from hsi_blind_fusion.core.workflow import EstimationRequest, FusionRequest, run_estimation, run_fusion
from hsi_blind_fusion.core.workflow.batch import written_share
from helpers.feedback import Recording


def _changed_scene(folder):
    """A 128 x 128 scene (x4, 40 bands, 40 dB) whose MSI's top-left quarter shows another scene."""
    a = make_scene(size=128, scale=4, bands=40, snr_db=40.0, seed=0)
    b = make_scene(size=128, scale=4, bands=40, snr_db=40.0, seed=7)
    z = a.msi.copy()
    z[:, :64, :64] = b.msi[:, :64, :64]
    return write_scene(replace(a, msi=z), str(folder))


def test_changed_areas_are_warned_reported_tagged_and_saved(tmp_path):
    paths = _changed_scene(tmp_path / "scene")
    fb = Recording()
    out = run_fusion(FusionRequest(hsi=paths["hsi"], msi=paths["msi"], output=str(tmp_path / "f.tif"),
                                   output_degradation=str(tmp_path / "d.json"), report=str(tmp_path / "r.html"),
                                   outer_iterations=1, inner_iterations=1, device="cpu"), fb)
    found = out.result.diagnostics.estimation.pair_changes
    assert found.applied and 0.25 <= found.changed <= 0.5, found
    assert out.result.diagnostics.written == "fusion"
    assert written_share(out.result) == ("fusion", round(100 * found.changed, 2))      # the batch summary's columns
    assert [w for w in fb.warnings if w.startswith("changed areas: ") and "upsampled HSI is written there" in w]
    assert not [m for m in fb.infos if m.startswith("changed areas: ")]       # said once, as a warning
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "Changed areas (the images disagree" in page                  # the table
    assert "<h2>Changed areas</h2>" in page and "alt='changed areas'" in page    # the map
    with rasterio.open(tmp_path / "f.tif") as ds:
        assert "written as upsampled HSI" in ds.tags()["FUSION_CHANGED_AREAS"]
    saved = json.loads((tmp_path / "d.json").read_text())
    section = saved.get("changed_areas") or saved.get("extra", {}).get("changed_areas")
    assert section["applied"] and abs(section["share_written_upsampled"] - found.changed) < 1e-3, section


def test_the_estimation_tool_leaves_the_changed_quarter_out(tmp_path):
    paths = _changed_scene(tmp_path / "scene")
    fb = Recording()
    run_estimation(EstimationRequest(hsi=paths["hsi"], msi=paths["msi"], output=str(tmp_path / "d.json")), fb)
    assert [w for w in fb.warnings if w.startswith("changed areas: ")]


def test_parameter_reaches_the_settings():
    r = FusionRequest.from_values({"HSI": "h.tif", "MSI": "m.tif", "OUTPUT": "o.tif", "CHANGED_AREAS": "off"})
    assert r.settings().changed_areas == "off"
    assert FusionRequest(hsi="h", msi="m", output="o").settings().changed_areas == "auto"
    e = EstimationRequest.from_values({"HSI": "h.tif", "MSI": "m.tif", "OUTPUT": "d.json", "CHANGED_AREAS": "off"})
    assert e.changed_areas == "off"
