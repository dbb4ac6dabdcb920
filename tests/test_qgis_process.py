"""qgis_process.bin from a subprocess, with the Makefile's plugin folder and profile."""
import json
import os
import shutil
import subprocess

import pytest
import rasterio

from conftest import qgis_env

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


def test_blindfusion_via_qgis_process(scene, tmp_path):
    s, paths = scene
    out = str(tmp_path / "fused.tif")
    r = qp("run", "hsifusion:blindfusion", "--json", "--", f"HSI={paths['hsi']}", f"MSI={paths['msi']}",
           "OUTER_ITERATIONS=2", "INNER_ITERATIONS=2", "DEVICE=cpu", f"OUTPUT={out}",
           f"OUTPUT_DEGRADATION={tmp_path / 'd.json'}")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    results = json.loads(r.stdout[r.stdout.index("{"):])["results"]
    assert results["OUTPUT"] == out and os.path.exists(results["OUTPUT_DEGRADATION"])
    with rasterio.open(out) as f, rasterio.open(paths["msi"]) as m:
        assert f.crs == m.crs and f.transform == m.transform and f.count == s.truth.shape[0]
        assert "wavelength" in f.tags()


def test_error_message_via_qgis_process(scene, tmp_path):
    _, paths = scene
    r = qp("run", "hsifusion:estimatedegradation", "--", f"HSI={paths['msi']}", f"MSI={paths['hsi']}",
           f"OUTPUT={tmp_path / 'd.json'}")
    assert r.returncode != 0
    assert "swapped" in (r.stdout + r.stderr)
    assert "Traceback" not in (r.stdout + r.stderr)
