"""HTML report: figures (kernel, responses, previews, residuals, losses), residual values, speed (QGIS-free)."""
import base64
import re
import time
from types import SimpleNamespace

import numpy as np
import pytest

from hsi_blind_fusion.core import report
from hsi_blind_fusion.core.consistency import consistency_residuals
from hsi_blind_fusion.core.kernels import gaussian_kernel
from hsi_blind_fusion.core.synthetic_scene import make_scene


@pytest.fixture(scope="module")
def small_scene():
    return make_scene(size=64, scale=4, bands=20, snr_db=40.0, seed=3)


def _pngs(page):
    imgs = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", page)
    for b in imgs:
        assert base64.b64decode(b)[:8] == b"\x89PNG\r\n\x1a\n"
    return imgs


def test_rgb_bands():
    wl = np.linspace(400, 1000, 31)
    r, g, b = report.rgb_bands(31, wl)
    assert abs(wl[r] - 640) <= 10 and abs(wl[g] - 550) <= 10 and abs(wl[b] - 460) <= 10
    assert report.rgb_bands(31, None) == [30, 15, 0]
    swir = np.linspace(1000, 2500, 50)  # no visible bands: evenly spaced
    assert report.rgb_bands(50, swir) == [49, 25, 0]
    assert report.rgb_bands(1) == [0, 0, 0]


def test_residuals_of_the_truth_are_at_noise_level(small_scene):
    s = small_scene
    res = consistency_residuals(s.hsi, s.msi, s.kernel, s.srf, s.scale, np.ones(s.srf.shape[0]),
                                       fused=s.truth)
    assert res["kind"] == "fused" and res["hsi"][1].shape == (20,) and res["msi"][1].shape == (8,)
    assert np.all(res["hsi"][1] < 3.0) and np.all(res["msi"][1] < 3.0)  # 40 dB noise: about 1 %
    # a wrong kernel, gain or a blurred image shows up
    wrong = consistency_residuals(s.hsi, s.msi, gaussian_kernel(9, 0.5), s.srf, s.scale,
                                         2 * np.ones(8), fused=s.truth)
    assert np.all(wrong["msi"][1] > 50) and wrong["hsi"][1].mean() > res["hsi"][1].mean()
    # a degradation alone: (Z*K)↓s against P·Y
    deg = consistency_residuals(s.hsi, s.msi, s.kernel, s.srf, s.scale)
    assert deg["kind"] == "degradation" and deg["hsi"] is None and np.all(deg["msi"][1] < 3.0)


def test_report_has_all_sections(small_scene, tmp_path):
    s = small_scene
    fused = s.truth.copy()
    fused[:, :4, :4] = np.nan  # nodata in the result does not break the figures
    path = report.write_report(
        str(tmp_path / "r.html"), "Blind fusion", {"OUTER_ITERATIONS": 2, "SRF": "(estimated)"}, s.kernel, s.srf,
        initial_kernel=gaussian_kernel(9, 1.0), initial_srf=np.full_like(s.srf, 1 / s.srf.shape[1]),
        hsi_wavelengths_nm=s.wavelengths_nm, msi_names=s.msi_band_names, timings={"fusion": 1.5},
        device="cpu", warnings=["cropped"], losses={"reconstruction": [1.0, 0.5, 0.25], "degradation": [3, 2]},
        hsi=s.hsi, msi=s.msi, fused=fused, scale=s.scale, msi_gain=np.ones(8),
        msi_wavelengths_nm=s.msi_centres_nm)
    page = open(path, encoding="utf-8").read()
    for heading in ("Settings", "Timings", "Colour previews", "Blur kernel", "Spectral responses",
                    "Quality without a reference", "Consistency residuals", "Losses", "Warnings"):
        assert f"<h2>{heading}" in page, heading
    assert "Device: <b>cpu</b>" in page and "OUTER_ITERATIONS" in page and "1.50 s" in page
    assert "starting kernel" not in page  # titles are inside the PNGs, not the HTML
    assert len(_pngs(page)) == 5
    assert "figure not drawn" not in page


def test_degradation_report_without_image_or_wavelengths(small_scene, tmp_path):
    s = small_scene
    page = report.build_report("Degradation", {}, s.kernel, s.srf, hsi=s.hsi, msi=s.msi, scale=s.scale,
                               losses={"degradation estimate": [3.0, 2.0, 1.5]})
    assert "<h2>Colour previews" in page and "<h2>Consistency residuals" in page
    assert len(_pngs(page)) == 5  # previews, kernel, responses, residuals, losses
    # the minimal call (old API) still works
    page = report.build_report("Minimal", {"a": 1}, s.kernel, s.srf)
    assert len(_pngs(page)) == 2


def test_a_failing_figure_becomes_a_note(small_scene):
    s = small_scene
    page = report.build_report("Bad", {}, s.kernel, s.srf, hsi=s.hsi, msi=s.msi[:, :5, :5], fused=s.truth,
                               scale=s.scale)
    assert "<h1>Bad</h1>" in page and "</html>" in page


def test_report_is_fast_for_512x512x31():
    rng = np.random.default_rng(0)
    fused = rng.random((31, 512, 512), dtype=np.float32)
    hsi = fused.reshape(31, 128, 4, 128, 4).mean((2, 4))
    srf = np.abs(rng.random((4, 31)))
    srf /= srf.sum(1, keepdims=True)
    msi = np.einsum("mc,chw->mhw", srf, fused)
    report.build_report("warm-up", {}, gaussian_kernel(9, 1.8), srf)  # matplotlib import
    t0 = time.perf_counter()
    page = report.build_report(
        "Speed", {}, gaussian_kernel(9, 1.8), srf, initial_kernel=gaussian_kernel(9, 1.0), initial_srf=srf,
        hsi_wavelengths_nm=np.linspace(400, 700, 31), hsi=hsi, msi=msi, fused=fused, scale=4,
        msi_gain=np.ones(4), losses={"reconstruction": list(np.linspace(1, 0.1, 40))})
    elapsed = time.perf_counter() - t0
    assert len(_pngs(page)) == 5
    assert elapsed < 6.0, elapsed  # < 3 s on an idle machine; slack for shared CI cores
    assert len(page) < 1_500_000


def test_workflow_report(scene, tmp_path):
    from hsi_blind_fusion.core.results import EstimationDiagnostics
    from hsi_blind_fusion.core.workflow.inputs import load_inputs
    from hsi_blind_fusion.core.workflow.outputs import save_report

    s, paths = scene
    inputs = load_inputs(paths["hsi"], paths["msi"])
    diagnostics = SimpleNamespace(device="cpu", losses={"reconstruction": [2.0, 1.0]}, timings={"fusion": 0.5},
                                  estimation=EstimationDiagnostics(residuals=[0.3, 0.2, 0.1]))
    result = SimpleNamespace(image=s.truth, kernel=s.kernel, srf=s.srf, msi_gain=np.ones(8),
                             initial_kernel=s.kernel, initial_srf=s.srf, diagnostics=diagnostics)
    out = save_report(inputs, result, str(tmp_path / "p.html"), "Blind HSI-MSI fusion", {"DEVICE": "auto"},
                      {"read": 0.1})
    page = open(out, encoding="utf-8").read()
    assert "<h2>Consistency residuals" in page and "<h2>Colour previews" in page
    assert "degradation estimate" in page or len(_pngs(page)) == 5
    assert "figure not drawn" not in page
    in_memory = re.search(r"D_s \(spatial distortion\)</td><td>([0-9.]+)", page).group(1)

    # an output too large to keep: read back from the written raster (decimated previews, strips)
    from hsi_blind_fusion.core import io

    written = io.write_raster(str(tmp_path / "fused.tif"), s.truth, inputs.pair.msi.transform, inputs.pair.msi.crs,
                              wavelengths_nm=s.wavelengths_nm)
    diagnostics.written_to = written
    result.image = None
    out = save_report(inputs, result, str(tmp_path / "q.html"), "Blind HSI-MSI fusion", {}, {})
    page = open(out, encoding="utf-8").read()
    assert "<h2>Quality without a reference" in page and len(_pngs(page)) == 5 and "figure not drawn" not in page
    assert re.search(r"D_s \(spatial distortion\)</td><td>([0-9.]+)", page).group(1) == in_memory
