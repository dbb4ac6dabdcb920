"""The MSI linearization in the workflow: what it found is in the log, the report, the GeoTIFF's
metadata and the degradation JSON; MSI_LINEARIZATION reaches the core's settings."""
import json
from dataclasses import replace

import numpy as np
import rasterio

from hsi_blind_fusion.core.synthetic_scene import make_scene, write_scene
from hsi_blind_fusion.core.workflow import EstimationRequest, FusionRequest, run_fusion
from helpers.feedback import Recording

FOUR = [1, 3, 5, 6]
EXPONENTS = np.array([1.08, 1.0, 0.92, 0.9])


def _curved_scene(folder):
    """A 128 x 128 scene (x4, 40 bands, 40 dB) whose four-band MSI follows a power law in three bands."""
    s = make_scene(size=128, scale=4, bands=40, snr_db=40.0, seed=0)
    z = s.msi[FOUR].astype(np.float64)
    top = np.percentile(z, 99.9, axis=(1, 2))[:, None, None]
    z = (top * np.clip(z / top, 0, None) ** EXPONENTS[:, None, None]).astype(np.float32)
    s = replace(s, msi=z, msi_band_names=[s.msi_band_names[i] for i in FOUR], msi_centres_nm=s.msi_centres_nm[FOUR],
                srf=s.srf[FOUR])
    return write_scene(s, str(folder))


def test_linearization_is_logged_reported_tagged_and_saved(tmp_path):
    paths = _curved_scene(tmp_path / "scene")
    fb = Recording()
    out = run_fusion(FusionRequest(hsi=paths["hsi"], msi=paths["msi"], output=str(tmp_path / "f.tif"),
                                   output_degradation=str(tmp_path / "d.json"), report=str(tmp_path / "r.html"),
                                   outer_iterations=1, inner_iterations=1, device="cpu"), fb)
    found = out.result.diagnostics.estimation.msi_linearity
    assert found.applied == [True, False, True, True], found
    assert [m for m in fb.infos if m.startswith("MSI linearization (auto): band(s) 1 (")]
    assert "MSI linearization (power law per band" in (tmp_path / "r.html").read_text(encoding="utf-8")
    with rasterio.open(tmp_path / "f.tif") as ds:
        assert ds.tags()["FUSION_MSI_LINEARIZATION"].startswith("bands 1:1.0")
    saved = json.loads((tmp_path / "d.json").read_text())
    bands = next(v for k, v in _walk(saved) if k == "msi_linearized_bands")
    assert sorted(bands) == ["1", "3", "4"] and abs(bands["4"] - 0.9) < 0.03


def _walk(d):
    for k, v in d.items():
        yield k, v
        if isinstance(v, dict):
            yield from _walk(v)


def test_parameter_reaches_the_settings():
    r = FusionRequest.from_values({"HSI": "h.tif", "MSI": "m.tif", "OUTPUT": "o.tif", "MSI_LINEARIZATION": "off"})
    assert r.settings().msi_linearization == "off"
    assert FusionRequest(hsi="h", msi="m", output="o").settings().msi_linearization == "auto"
    e = EstimationRequest.from_values({"HSI": "h.tif", "MSI": "m.tif", "OUTPUT": "d.json", "MSI_LINEARIZATION": "off"})
    assert e.msi_linearization == "off"
