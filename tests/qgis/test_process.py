"""qgis_process.bin from a subprocess, with the Makefile's plugin folder and profile."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import rasterio

from helpers.paths import qgis_env

EXE = shutil.which("qgis_process.bin")
pytestmark = pytest.mark.skipif(EXE is None, reason="qgis_process.bin not installed")


def qp(*args, timeout=300):
    return subprocess.run([EXE, *args], env=qgis_env(), capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module", autouse=True)
def enabled():
    r = qp("plugins", "enable", "hsi_blind_fusion")
    assert r.returncode == 0 or "already enabled" in r.stdout + r.stderr, r.stdout + r.stderr


def test_list_and_help():
    r = qp("list")
    for alg in ("blindfusion", "estimatedegradation", "simulateobservations", "fusionquality"):
        assert f"hsifusion:{alg}" in r.stdout
    r = qp("help", "hsifusion:blindfusion")
    assert r.returncode == 0 and "OUTER_ITERATIONS" in r.stdout and "DEGRADATION" in r.stdout


def cli(*args, timeout=300):
    env = dict(qgis_env())
    env.pop("QGIS_PLUGINPATH", None)
    return subprocess.run([sys.executable, "-m", "hsi_blind_fusion", *args], env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_blindfusion_via_qgis_process_equals_the_command_line(scene, tmp_path):
    """qgis_process and ``python -m hsi_blind_fusion fuse`` run one workflow: the same pair and
    parameters give the same raster (to float precision) and the same degradation."""
    s, paths = scene
    out, out_cli = str(tmp_path / "fused.tif"), str(tmp_path / "fused_cli.tif")
    r = qp("run", "hsifusion:blindfusion", "--json", "--", f"HSI={paths['hsi']}", f"MSI={paths['msi']}",
           "OUTER_ITERATIONS=2", "INNER_ITERATIONS=2", "DEVICE=cpu", "MSI_SENSOR=auto", f"OUTPUT={out}",
           f"OUTPUT_DEGRADATION={tmp_path / 'd.json'}")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    results = json.loads(r.stdout[r.stdout.index("{"):])["results"]
    assert results["OUTPUT"] == out and os.path.exists(results["OUTPUT_DEGRADATION"])
    with rasterio.open(out) as f, rasterio.open(paths["msi"]) as m:
        assert f.crs == m.crs and f.transform == m.transform and f.count == s.truth.shape[0]
        assert "wavelength" in f.tags()
        fused = f.read()
    c = cli("fuse", "--hsi", paths["hsi"], "--msi", paths["msi"], "--outer-iterations", "2",
            "--inner-iterations", "2", "--device", "cpu", "--msi-sensor", "auto", "--output", out_cli,
            "--output-degradation", str(tmp_path / "d_cli.json"), "--quiet")
    assert c.returncode == 0, c.stderr[-3000:]
    with rasterio.open(out_cli) as f:
        assert f.profile == rasterio.open(out).profile and f.tags() == rasterio.open(out).tags()
        np.testing.assert_allclose(f.read(), fused, rtol=0, atol=1e-5 * float(np.abs(fused).max()))
    a, b = (json.load(open(tmp_path / n)) for n in ("d.json", "d_cli.json"))
    np.testing.assert_allclose(a["kernel"], b["kernel"], atol=1e-7)
    np.testing.assert_allclose(a["srf"], b["srf"], atol=1e-6)


def test_error_message_via_qgis_process(scene, tmp_path):
    _, paths = scene
    r = qp("run", "hsifusion:estimatedegradation", "--", f"HSI={paths['msi']}", f"MSI={paths['hsi']}",
           f"OUTPUT={tmp_path / 'd.json'}")
    assert r.returncode != 0
    assert "swapped" in (r.stdout + r.stderr)
    assert "Traceback" not in (r.stdout + r.stderr)
