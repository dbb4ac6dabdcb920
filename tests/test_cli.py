"""scripts/fuse_cli.py: fusion and estimation from a command line without QGIS."""
import json
import os
import subprocess
import sys

import rasterio

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI = os.path.join(ROOT, "scripts", "fuse_cli.py")


def cli(*args):
    env = dict(os.environ)
    env.pop("QGIS_PLUGINPATH", None)
    return subprocess.run([sys.executable, CLI, *args], env=env, capture_output=True, text=True, timeout=300)


def test_cli_fuse_and_estimate(scene, tmp_path):
    s, paths = scene
    out = str(tmp_path / "fused.tif")
    r = cli(paths["hsi"], paths["msi"], out, "--outer", "2", "--inner", "2", "--device", "cpu",
            "--output-degradation", str(tmp_path / "d.json"), "--report", str(tmp_path / "r.html"))
    assert r.returncode == 0, r.stderr[-3000:]
    with rasterio.open(out) as f, rasterio.open(paths["msi"]) as m:
        assert f.transform == m.transform and f.crs == m.crs and f.count == s.truth.shape[0]
    assert json.loads((tmp_path / "d.json").read_text())["scale"] == 4
    r = cli(paths["hsi"], paths["msi"], str(tmp_path / "e.json"), "--estimate-only", "--quiet")
    assert r.returncode == 0, r.stderr[-3000:]
    assert len(json.loads((tmp_path / "e.json").read_text())["srf"]) == 8


def test_cli_reports_bad_input(scene, tmp_path):
    _, paths = scene
    r = cli(paths["msi"], paths["hsi"], str(tmp_path / "x.tif"))
    assert r.returncode == 2 and "swapped" in r.stderr and "Traceback" not in r.stderr
