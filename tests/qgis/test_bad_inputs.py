"""Issue 6: every bad input answered clearly, through processing.run and qgis_process.bin.

Each case builds its own inputs from one tiny scene (32x32 MSI at scale 4, 12 HSI bands) and checks:
a ``QgsProcessingException`` naming the problem and the fix (or, where the run can go on, a warning in
the log and an output), no traceback in the log, nothing left in the output folder (no output, no
temporary file), and every input file byte-identical afterwards (sha256).
"""
import hashlib
import json
import os
import re
import shutil
import subprocess

import numpy as np
import pytest
import rasterio
from affine import Affine

from helpers.paths import qgis_env
from helpers.qgis_cases import checksums, scene_pair, tif, write_pair

pytestmark = pytest.mark.usefixtures("qgis_app")

FAST = {"OUTER_ITERATIONS": 1, "INNER_ITERATIONS": 1, "DEVICE": "cpu"}
EXE = shutil.which("qgis_process.bin")


# ---------------------------------------------------------------------------------------------
# Scene and helpers
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def base():
    from hsi_blind_fusion.core.synthetic_scene import make_scene

    return make_scene(size=32, scale=4, bands=12, snr_db=40.0, seed=3)


class Log:
    """Records everything an algorithm pushes to its feedback."""

    def __init__(self):
        from qgis.core import QgsProcessingFeedback

        log = self

        class Feedback(QgsProcessingFeedback):
            def pushWarning(self, text):  # noqa: N802
                log.warnings.append(text)
                log.all.append(text)
                super().pushWarning(text)

            def pushInfo(self, text):  # noqa: N802
                log.all.append(text)
                super().pushInfo(text)

            def pushDebugInfo(self, text):  # noqa: N802
                log.all.append(text)
                super().pushDebugInfo(text)

            def reportError(self, text, fatal=False):  # noqa: N802
                log.all.append(text)
                super().reportError(text, fatal)

        self.warnings, self.all = [], []
        self.feedback = Feedback()

    @property
    def text(self):
        return "\n".join(self.all)


def run(alg, params):
    import processing

    log = Log()
    return processing.run(alg, params, feedback=log.feedback), log


def expect_error(alg, params, pattern, inputs, out_dir):
    """The run fails with a message matching ``pattern``; nothing is written, inputs unchanged."""
    from qgis.core import QgsProcessingException

    before = checksums(inputs)
    assert before, "the case has no input files"
    import processing

    log = Log()
    with pytest.raises(QgsProcessingException) as info:
        processing.run(alg, params, feedback=log.feedback)
    msg = str(info.value)
    assert re.search(pattern, msg, re.IGNORECASE | re.DOTALL), msg
    assert "Traceback" not in msg + log.text and "Unexpected error" not in msg, msg + log.text
    if os.path.isdir(out_dir):
        assert os.listdir(out_dir) == [], os.listdir(out_dir)
    assert checksums(inputs) == before
    return msg


def out_folder(tmp_path):
    d = tmp_path / "out"
    d.mkdir()
    return d


# ---------------------------------------------------------------------------------------------
# Cases that must fail: (builder(folder, scene) -> (params, inputs), pattern of the message)
# ---------------------------------------------------------------------------------------------

def case_crs(folder, s):
    """The MSI's coordinates read in the neighbouring UTM zone: another place altogether."""
    return scene_pair(folder, s, msi_crs="EPSG:32634")


def case_ratio_below_1_5(folder, s):
    t = s.hr_transform
    return scene_pair(folder, s, msi_t=Affine(t.a * 3.0, 0, t.c, 0, t.e * 3.0, t.f))


def case_swapped_pixel_sizes(folder, s):
    """HSI-like band counts but the 'MSI' has the larger pixels."""
    t = s.hr_transform
    return scene_pair(folder, s, msi=s.msi[:, :8, :8], msi_t=Affine(t.a * 16, 0, t.c, 0, t.e * 16, t.f))


def case_no_overlap(folder, s):
    return scene_pair(folder, s, msi_t=s.hr_transform * Affine.translation(1000, 0))


def case_non_integer_ratio(folder, s):
    t = s.hr_transform
    return scene_pair(folder, s, msi_t=Affine(t.a * 1.1, 0, t.c, 0, t.e * 1.1, t.f))


def case_not_aligned(folder, s):
    return scene_pair(folder, s, msi_t=s.hr_transform * Affine.translation(0.5, 0.5))


def case_swapped(folder, s):
    p, files = scene_pair(folder, s)
    return {"HSI": p["MSI"], "MSI": p["HSI"]}, files


def case_single_band_hsi(folder, s):
    return scene_pair(folder, s, hsi=s.hsi[:1])


def case_msi_as_many_bands(folder, s):
    return scene_pair(folder, s, msi=np.concatenate([s.msi, s.msi[:4]])[: s.hsi.shape[0]])


def case_smaller_than_scale(folder, s):
    # one HSI pixel (1x1) for a 4x4 MSI: smaller than anything the estimation can work with
    return scene_pair(folder, s, hsi=s.hsi[:, :1, :1], msi=s.msi[:, :4, :4])


def case_smaller_than_kernel(folder, s):
    return scene_pair(folder, s, hsi=s.hsi[:, :2, :2], msi=s.msi[:, :8, :8])


def case_all_nan(folder, s):
    return scene_pair(folder, s, hsi=np.full_like(s.hsi, np.nan))


def case_all_nodata(folder, s):
    return scene_pair(folder, s, msi=np.full_like(s.msi, -9999.0), msi_kw={"nodata": -9999.0})


def _srf_case(text):
    def build(folder, s):
        params, files = scene_pair(folder, s)
        path = os.path.join(folder, "srf.csv")
        with open(path, "w") as f:
            f.write(text(s))
        params["SRF"] = path
        return params, files + [path]

    return build


def _table(s, sign=1.0):
    p = np.abs(np.random.default_rng(0).random((s.msi.shape[0], s.hsi.shape[0]))) * sign
    return "\n".join(",".join(f"{v:.4f}" for v in row) for row in p) + "\n"


case_srf_shape = _srf_case(lambda s: "\n".join(",".join("0.1" for _ in range(5)) for _ in range(3)) + "\n")
case_srf_negative = _srf_case(lambda s: _table(s, -1.0))
case_srf_text = _srf_case(lambda s: _table(s).replace("\n0.", "\nzero.", 2))  # rows 2 and 3 start with text
case_srf_wavelengths = _srf_case(
    lambda s: "\n".join(f"{w}," + ",".join("1" for _ in range(s.msi.shape[0])) for w in (2000, 2100, 2200)) + "\n")


def _deg_case(scale_delta=0, band_delta=0):
    def build(folder, s):
        params, files = scene_pair(folder, s)
        k = np.ones((5, 5)) / 25.0
        p = np.ones((s.msi.shape[0], s.hsi.shape[0] + band_delta)) / (s.hsi.shape[0] + band_delta)
        path = os.path.join(folder, "deg.json")
        with open(path, "w") as f:
            json.dump({"scale": 4 + scale_delta, "kernel": k.tolist(), "srf": p.tolist()}, f)
        params["DEGRADATION"] = path
        return params, files + [path]

    return build


case_degradation_scale = _deg_case(scale_delta=4)
case_degradation_bands = _deg_case(band_delta=-2)


def case_degradation_corrupt(folder, s):
    params, files = scene_pair(folder, s)
    path = os.path.join(folder, "deg.json")
    with open(path, "w") as f:
        f.write('{"scale": 4, "kernel": [[1, 2], ')
    params["DEGRADATION"] = path
    return params, files + [path]


ERRORS = {
    "different-crs": (case_crs, r"do not overlap.*same place"),
    "no-overlap": (case_no_overlap, r"do not overlap.*same place"),
    "ratio-below-1.5": (case_ratio_below_1_5, r"1.33 times finer.*at least 1.5"),
    "pixel-sizes-swapped": (case_swapped_pixel_sizes, r"larger pixels.*swapped"),
    "swapped": (case_swapped, r"swapped"),
    "msi-as-many-bands": (case_msi_as_many_bands, r"more bands than the multispectral.*swapped"),
    "single-band-hsi": (case_single_band_hsi, r"single band.*several bands"),
    "smaller-than-scale": (case_smaller_than_scale, r"too small"),
    "smaller-than-kernel": (case_smaller_than_kernel, r"too small"),
    "all-nan": (case_all_nan, r"no valid pixel"),
    "all-nodata": (case_all_nodata, r"no valid pixel"),
    "srf-wrong-shape": (case_srf_shape, r"3 rows x 5 columns.*expected"),
    "srf-negative": (case_srf_negative, r"negative"),
    "srf-non-numeric": (case_srf_text, r"non-numeric"),
    "srf-wavelengths-not-covering": (case_srf_wavelengths, r"do not cover"),
    "degradation-other-scale": (case_degradation_scale, r"for scale 8.*scale 4"),
    "degradation-other-bands": (case_degradation_bands, r"MSI x HSI bands"),
    "degradation-not-json": (case_degradation_corrupt, r"not valid JSON"),
}


@pytest.mark.parametrize("case", list(ERRORS), ids=list(ERRORS))
def test_bad_input_raises_clear_error(case, base, tmp_path):
    build, pattern = ERRORS[case]
    params, files = build(str(tmp_path / "in"), base)
    out = out_folder(tmp_path)
    expect_error("hsifusion:blindfusion", dict(FAST, OUTPUT=str(out / "fused.tif"),
                                               OUTPUT_DEGRADATION=str(out / "d.json"), **params),
                 pattern, files, out)


@pytest.mark.parametrize("case", ["different-crs", "swapped", "srf-negative"])
def test_bad_input_estimatedegradation(case, base, tmp_path):
    build, pattern = ERRORS[case]
    params, files = build(str(tmp_path / "in"), base)
    params.pop("DEGRADATION", None)
    out = out_folder(tmp_path)
    expect_error("hsifusion:estimatedegradation", dict(OUTPUT=str(out / "d.json"), DEVICE="cpu", **params),
                 pattern, files, out)


# ---------------------------------------------------------------------------------------------
# Outputs: unwritable, unknown extension, one of the inputs, no disk space
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("where,pattern", [
    ("unknown-extension", r"extension '\.xyz'.*\.tif"),
    ("no-extension", r"extension '\(none\)'.*\.tif"),
    ("missing-folder", r"folder of the output OUTPUT does not exist"),
    ("unwritable-folder", r"cannot write in the folder.*choose a folder"),
    ("output-is-hsi", r"also an input.*another file name"),
    ("output-is-msi", r"also an input.*another file name"),
])
def test_bad_output_path(where, pattern, base, tmp_path):
    params, files = scene_pair(str(tmp_path / "in"), base)
    out = out_folder(tmp_path)
    path = {"unknown-extension": str(out / "fused.xyz"), "no-extension": str(out / "fused"),
            "missing-folder": str(out / "missing" / "fused.tif"),
            "unwritable-folder": "/proc/hsifusion-fused.tif",  # not writable, even by root
            "output-is-hsi": params["HSI"], "output-is-msi": params["MSI"]}[where]
    expect_error("hsifusion:blindfusion", dict(FAST, OUTPUT=path, **params), pattern, files, out)
    assert not os.path.exists("/proc/hsifusion-fused.tif")


def test_degradation_output_is_an_input(base, tmp_path):
    params, files = case_degradation_scale(str(tmp_path / "in"), base)
    params["DEGRADATION"] = files[-1]
    with open(files[-1], "w") as f:  # a valid degradation file this time
        json.dump({"scale": 4, "kernel": [[1.0]], "srf": (np.ones((base.msi.shape[0], base.hsi.shape[0]))
                                                         / base.hsi.shape[0]).tolist()}, f)
    out = out_folder(tmp_path)
    expect_error("hsifusion:blindfusion", dict(FAST, OUTPUT=str(out / "f.tif"), OUTPUT_DEGRADATION=files[-1],
                                               **params), r"OUTPUT_DEGRADATION.*also an input", files, out)


def test_not_enough_disk_space(base, tmp_path, monkeypatch):
    params, files = scene_pair(str(tmp_path / "in"), base)
    out = out_folder(tmp_path)
    real = shutil.disk_usage

    def tiny(path):
        u = real(path)
        return type(u)(u.total, u.total - 1000, 1000) if str(path).startswith(str(out)) else u

    monkeypatch.setattr(shutil, "disk_usage", tiny)
    msg = expect_error("hsifusion:blindfusion", dict(FAST, OUTPUT=str(out / "fused.tif"), **params),
                       r"not enough free disk space.*another folder", files, out)
    assert "MB" in msg


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="a CUDA GPU is present")
def test_cuda_without_gpu(base, tmp_path):
    params, files = scene_pair(str(tmp_path / "in"), base)
    out = out_folder(tmp_path)
    expect_error("hsifusion:blindfusion", dict(FAST, DEVICE="cuda", OUTPUT=str(out / "f.tif"), **params),
                 r"cuda", files, out)


# ---------------------------------------------------------------------------------------------
# Cases where the run goes on: a warning (or nodata) and an output
# ---------------------------------------------------------------------------------------------

def run_ok(params, files, tmp_path, alg="hsifusion:blindfusion"):
    before = checksums(files)
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    path = str(out / "fused.tif")
    res, log = run(alg, dict(FAST, OUTPUT=path, **params))
    assert res["OUTPUT"] == path and os.path.exists(path)
    assert os.listdir(out) == ["fused.tif"], os.listdir(out)  # no temporary file left
    assert checksums(files) == before
    assert "Traceback" not in log.text
    with rasterio.open(path) as f:
        return f.read(), f.nodata, log


def test_partial_overlap_crops_with_warning(base, tmp_path):
    s = base
    params, files = scene_pair(str(tmp_path / "in"), s, msi=s.msi[:, :, 8:],
                          msi_t=s.hr_transform * Affine.translation(8, 0))
    data, nodata, log = run_ok(params, files, tmp_path)
    assert data.shape == (s.hsi.shape[0], 32, 24)
    assert any("cropped to the common area" in w for w in log.warnings), log.warnings


@pytest.mark.parametrize("build, why, hsi_pixels", [(case_non_integer_ratio, "not one integer", 8),
                                                     (case_not_aligned, "off the MSI", 7)])
def test_misaligned_msi_is_warped_with_a_warning(base, tmp_path, build, why, hsi_pixels):
    """An MSI on an offset grid or with a non-integer pixel-size ratio is warped onto the grid aligned
    with the HSI's pixels (the output's grid: HSI pixels inside the MSI's footprint, x4), and the
    log says so."""
    params, files = build(str(tmp_path / "in"), base)
    data, nodata, log = run_ok(params, files, tmp_path)
    assert any(why in w and "warped" in w for w in log.warnings), log.warnings
    assert data.shape[1:] == (hsi_pixels * 4, hsi_pixels * 4)
    assert (data != nodata).mean() > 0.9


def test_nan_and_inf_are_nodata(base, tmp_path):
    s = base
    hsi, msi = s.hsi.copy(), s.msi.copy()
    hsi[:, 2, 3] = np.nan       # HSI pixel (2, 3) -> MSI block rows 8..11, cols 12..15
    msi[0, 20, 5] = np.inf
    params, files = scene_pair(str(tmp_path / "in"), s, hsi=hsi, msi=msi)
    data, nodata, log = run_ok(params, files, tmp_path)
    assert (data[:, 8:12, 12:16] == nodata).all() and (data[:, 20, 5] == nodata).all()
    ok = data != nodata
    assert np.isfinite(data).all() and ok.sum() == data.size - data.shape[0] * 17
    assert any("nodata" in w for w in log.warnings), log.warnings


def test_nodata_border_and_hole(base, tmp_path):
    s = base
    hsi = s.hsi.copy()
    hsi[:, 0, :] = -9999.0      # a nodata border row
    hsi[:, 5, 5] = -9999.0      # a hole
    params, files = scene_pair(str(tmp_path / "in"), s, hsi=hsi, hsi_kw={"nodata": -9999.0})
    data, nodata, log = run_ok(params, files, tmp_path)
    assert (data[:, :4, :] == nodata).all() and (data[:, 20:24, 20:24] == nodata).all()
    assert (data[:, 4:20, :] != nodata).all()


def test_constant_bands(base, tmp_path):
    s = base
    hsi, msi = s.hsi.copy(), s.msi.copy()
    hsi[3] = 0.25
    msi[1] = 0.5
    params, files = scene_pair(str(tmp_path / "in"), s, hsi=hsi, msi=msi)
    data, nodata, log = run_ok(params, files, tmp_path)
    assert np.isfinite(data).all() and (data != nodata).all()


def test_integer_rasters_with_scale_and_offset(base, tmp_path):
    """uint16 DN with scale/offset: fused in physical units (the scale/offset applied), like the float pair."""
    s = base
    gain, off = 1e-4, 0.01
    hsi_dn = np.clip(np.round((s.hsi - off) / gain), 0, 65535).astype(np.uint16)
    msi_dn = np.clip(np.round((s.msi - off) / gain), 0, 65535).astype(np.uint16)
    params, files = scene_pair(str(tmp_path / "in"), s, hsi=hsi_dn, msi=msi_dn,
                          hsi_kw={"dtype": "uint16", "scales": [gain] * s.hsi.shape[0],
                                  "offsets": [off] * s.hsi.shape[0]},
                          msi_kw={"dtype": "uint16", "scales": [gain] * s.msi.shape[0],
                                  "offsets": [off] * s.msi.shape[0]})
    data, nodata, log = run_ok(params, files, tmp_path)
    assert np.isfinite(data).all()
    ratio = data.mean() / s.truth.mean()
    assert 0.9 < ratio < 1.1, ratio


@pytest.fixture
def model_files(monkeypatch, tmp_path):
    """Point the backbone at other model files (and forget the loaded one)."""
    backbone = pytest.importorskip("hsi_blind_fusion.core.backbone")
    if not hasattr(backbone, "TORCH_FILE") or not hasattr(backbone, "clear_cache"):
        pytest.skip("core/backbone.py has no model files yet")

    def use(torch_file, onnx_file):
        backbone.clear_cache()
        monkeypatch.setattr(backbone, "TORCH_FILE", torch_file)
        monkeypatch.setattr(backbone, "ONNX_FILE", onnx_file)

    yield use
    backbone.clear_cache()


@pytest.mark.parametrize("kind", ["corrupt", "missing"])
def test_model_file_falls_back_with_warning(kind, model_files, base, tmp_path):
    from pathlib import Path

    folder = Path(tmp_path / "models")
    folder.mkdir()
    if kind == "corrupt":
        (folder / "backbone.pt").write_bytes(b"not a torch file")
        (folder / "backbone.onnx").write_bytes(b"not an onnx file")
    model_files(folder / "backbone.pt", folder / "backbone.onnx")
    params, files = scene_pair(str(tmp_path / "in"), base)
    data, nodata, log = run_ok(params, files, tmp_path)
    # The default start is the classical estimate (docs/network_prior.md): a corrupt or missing
    # backbone must not matter to the run at all (the backbone's own fallback warnings are
    # tested in tests/test_core_backbone.py).
    assert np.isfinite(data).all()
    assert not any("Traceback" in w for w in log.warnings), log.warnings


# ---------------------------------------------------------------------------------------------
# The same answers through qgis_process.bin (a few cases: each call starts QGIS)
# ---------------------------------------------------------------------------------------------

QP_CASES = {
    "different-crs": ("blindfusion", case_crs, r"do not overlap"),
    "srf-wrong-shape": ("blindfusion", case_srf_shape, r"3 rows x 5 columns"),
    "degradation-other-scale": ("blindfusion", case_degradation_scale, r"for scale 8"),
    "output-is-input": ("blindfusion", None, r"also an input"),
    "estimate-ratio-below-1.5": ("estimatedegradation", case_ratio_below_1_5, r"at least 1.5"),
}


@pytest.mark.skipif(EXE is None, reason="qgis_process.bin not installed")
@pytest.mark.parametrize("case", list(QP_CASES), ids=list(QP_CASES))
def test_bad_input_via_qgis_process(case, base, tmp_path):
    alg, build, pattern = QP_CASES[case]
    params, files = (build or scene_pair)(str(tmp_path / "in"), base)
    out = out_folder(tmp_path)
    output = params["HSI"] if case == "output-is-input" else str(out / ("d.json" if alg != "blindfusion"
                                                                        else "fused.tif"))
    args = [f"{k}={v}" for k, v in params.items()] + [f"OUTPUT={output}", "DEVICE=cpu"]
    if alg == "blindfusion":
        args += ["OUTER_ITERATIONS=1", "INNER_ITERATIONS=1"]
    before = checksums(files)
    r = subprocess.run([EXE, "run", f"hsifusion:{alg}", "--", *args], env=qgis_env(), capture_output=True,
                       text=True, timeout=120)
    text = r.stdout + r.stderr
    assert r.returncode != 0, text
    assert re.search(pattern, text, re.IGNORECASE), text
    assert "Traceback" not in text, text
    assert os.listdir(out) == []
    assert checksums(files) == before
