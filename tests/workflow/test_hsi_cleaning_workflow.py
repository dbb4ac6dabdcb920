"""The HSI cleaning in the workflow: what it found and removed is in the log, the report and the
GeoTIFF's metadata; HSI_CLEANING reaches the core's settings."""
import numpy as np
import rasterio

from hsi_blind_fusion.core.synthetic_scene import make_scene, write_scene
from hsi_blind_fusion.core.workflow import FusionRequest, run_fusion
from helpers.feedback import Recording


def _striped_scene(folder):
    """A 128 x 128 scene (x4, 20 bands, 40 dB) whose HSI has column offsets of 2 noise stds in every
    third band."""
    s = make_scene(size=128, scale=4, bands=20, snr_db=40.0, seed=0)
    rng = np.random.default_rng(3)
    sigma = np.sqrt(np.mean(s.hsi.astype(np.float64) ** 2, axis=(1, 2)) / 1e4)
    for b in range(0, s.hsi.shape[0], 3):
        s.hsi[b] += (2.0 * sigma[b] * rng.standard_normal(s.hsi.shape[2])).astype(s.hsi.dtype)[None, :]
    return write_scene(s, str(folder))


def test_cleaning_is_logged_reported_and_tagged(tmp_path):
    paths = _striped_scene(tmp_path / "scene")
    fb = Recording()
    out = run_fusion(FusionRequest(hsi=paths["hsi"], msi=paths["msi"], output=str(tmp_path / "f.tif"),
                                   report=str(tmp_path / "r.html"), outer_iterations=1, inner_iterations=1,
                                   device="cpu"), fb)
    c = out.result.diagnostics.hsi_cleaning
    assert c.mode == "auto" and c.applied and c.striped_bands >= 5, c
    assert [m for m in fb.infos if m.startswith("HSI cleaning (auto): stripes removed in")]
    assert "HSI cleaning (stripes and impulse outliers" in (tmp_path / "r.html").read_text(encoding="utf-8")
    with rasterio.open(tmp_path / "f.tif") as ds:
        assert ds.tags()["FUSION_HSI_CLEANING"].startswith("auto: cleaned HSI")


def test_parameter_reaches_the_settings():
    r = FusionRequest.from_values({"HSI": "h.tif", "MSI": "m.tif", "OUTPUT": "o.tif", "HSI_CLEANING": "off"})
    assert r.settings().hsi_cleaning == "off"
    assert FusionRequest(hsi="h", msi="m", output="o").settings().hsi_cleaning == "auto"
