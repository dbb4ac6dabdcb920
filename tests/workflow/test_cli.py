"""``python -m hsi_blind_fusion``: the four tools from a command line without QGIS, with the QGIS
parameters as options, clear errors (exit code 2, no traceback) and nothing half-written."""
import json
import os
import subprocess
import sys

import numpy as np
import rasterio


def cli(*args):
    env = dict(os.environ)
    env.pop("QGIS_PLUGINPATH", None)
    return subprocess.run([sys.executable, "-m", "hsi_blind_fusion", *args], env=env, capture_output=True,
                          text=True, timeout=300)


def test_fuse_estimate_quality(scene, tmp_path):
    s, paths = scene
    out = str(tmp_path / "fused.tif")
    r = cli("fuse", "--hsi", paths["hsi"], "--msi", paths["msi"], "--output", out, "--outer-iterations", "2",
            "--inner-iterations", "2", "--device", "cpu", "--output-degradation", str(tmp_path / "d.json"),
            "--report", str(tmp_path / "r.html"))
    assert r.returncode == 0, r.stderr[-3000:]
    assert "Sentinel-2" in r.stderr          # MSI_SENSOR=auto applied, as in QGIS
    with rasterio.open(out) as f, rasterio.open(paths["msi"]) as m:
        assert f.transform == m.transform and f.crs == m.crs and f.count == s.truth.shape[0]
    assert json.loads((tmp_path / "d.json").read_text())["scale"] == 4
    assert "<img" in (tmp_path / "r.html").read_text(encoding="utf-8")
    r = cli("estimate", "--hsi", paths["hsi"], "--msi", paths["msi"], "--output", str(tmp_path / "e.json"),
            "--msi-sensor", "none", "--quiet")
    assert r.returncode == 0, r.stderr[-3000:]
    assert len(json.loads((tmp_path / "e.json").read_text())["srf"]) == 8
    r = cli("quality", "--reference", paths["truth"], "--fused", out, "--scale", "4")
    assert r.returncode == 0, r.stderr[-3000:]
    values = dict(line.split(": ") for line in r.stdout.splitlines())
    assert set(values) == {"RMSE", "PSNR", "SAM", "SSIM", "ERGAS"} and float(values["PSNR"]) > 30
    r = cli("quality", "--fused", out, "--hsi", paths["hsi"], "--msi", paths["msi"], "--degradation",
            str(tmp_path / "d.json"))                                  # without a reference
    assert r.returncode == 0, r.stderr[-3000:]
    values = dict(line.split(": ") for line in r.stdout.splitlines())
    assert set(values) == {"QNR", "D_LAMBDA", "D_S", "HSI_RESIDUAL", "MSI_RESIDUAL"}
    assert 0.8 < float(values["QNR"]) <= 1


def test_simulate(scene, tmp_path):
    s, paths = scene
    r = cli("simulate", "--input", paths["truth"], "--scale", "2", "--snr-db", "0", "--output-hsi",
            str(tmp_path / "lr.tif"), "--output-msi", str(tmp_path / "hr.tif"), "--quiet")
    assert r.returncode == 0, r.stderr[-3000:]
    with rasterio.open(tmp_path / "lr.tif") as h, rasterio.open(tmp_path / "hr.tif") as m:
        assert (h.width, h.count) == (32, s.truth.shape[0]) and m.count == 8
        assert np.isfinite(h.read()).all()


def test_bad_input_is_a_message(scene, tmp_path):
    _, paths = scene
    r = cli("fuse", "--hsi", paths["msi"], "--msi", paths["hsi"], "--output", str(tmp_path / "x.tif"))
    assert r.returncode == 2 and "swapped" in r.stderr and "Traceback" not in r.stderr
    assert os.listdir(tmp_path) == []
    r = cli("fuse", "--hsi", paths["hsi"], "--msi", paths["msi"], "--output", str(tmp_path / "x.tif"),
            "--msi-sensor", "sentinel2_10m")
    assert r.returncode == 2 and "sentinel2_10m" in r.stderr and os.listdir(tmp_path) == []
    r = cli("fuse", "--hsi", paths["hsi"])          # missing options: argparse's usage error
    assert r.returncode == 2 and "--msi" in r.stderr


def test_options_are_the_qgis_parameters():
    from hsi_blind_fusion.cli import build_parser
    from hsi_blind_fusion.core.workflow.specs import TOOLS

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for tool in TOOLS:
        options = {o for a in sub.choices[tool.command]._actions for o in a.option_strings}
        assert {p.option for p in tool.parameters} <= options
        assert all(p.option == "--" + p.name.lower().replace("_", "-") for p in tool.parameters)
