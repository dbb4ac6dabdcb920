"""`make zip`: the plugin zip holds the run-time files only (with the run-time requirements, not the
development ones), and a QGIS with a clean plugin folder and a fresh profile, in a Python environment
that satisfies the zip's requirements-runtime.txt, runs an algorithm from the unpacked zip (not from
the checkout)."""
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile

import numpy as np
import pytest

from helpers.paths import ROOT

sys.path.insert(0, os.path.join(ROOT, "scripts"))
import build_zip  # noqa: E402

EXE = shutil.which("qgis_process.bin")


@pytest.fixture(scope="module")
def plugin_zip(tmp_path_factory):
    return build_zip.build(str(tmp_path_factory.mktemp("dist")))


def test_zip_contents(plugin_zip):
    assert os.path.basename(plugin_zip) == f"hsi_blind_fusion-{build_zip.version()}.zip"
    with zipfile.ZipFile(plugin_zip) as zf:
        names = zf.namelist()
        assert zf.testzip() is None
    assert all(n.startswith("hsi_blind_fusion/") for n in names)
    rel = {n.split("/", 1)[1] for n in names}
    for required in ("metadata.txt", "__init__.py", "plugin.py", "icon.svg", "LICENSE", "provider/provider.py",
                     "algorithms/blind_fusion.py", "core/fusion.py", "core/sensor_presets.py", "core/report/page.py",
                     "core/io/geotiff.py", "core/workflow/fusion.py", "cli.py", "__main__.py",
                     "requirements-runtime.txt", "i18n/hsi_blind_fusion.ts", "algorithms/display.py"):
        assert required in rel, required
    assert "requirements.txt" not in rel                   # the development set (pytest, onnx, pinned torch)
    for n in rel:
        top = n.split("/", 1)[0]
        assert top not in {"tests", "benchmarks", "training", "docs", "scripts", ".venv", ".qgis", "demo-output",
                           "dist", ".git"}, n
        assert "__pycache__" not in n and not n.endswith((".pyc", ".log")), n
    models = os.path.join(ROOT, "models")
    if os.path.isdir(models):
        for m in os.listdir(models):
            if m.endswith((".pt", ".onnx")):
                assert f"models/{m}" in rel, m


@pytest.mark.skipif(EXE is None, reason="qgis_process.bin not installed")
def test_zip_installs_and_runs(plugin_zip, tmp_path):
    import rasterio
    from rasterio.transform import from_origin

    plugins, profile = tmp_path / "plugins", tmp_path / "profile"
    plugins.mkdir()
    with zipfile.ZipFile(plugin_zip) as zf:
        zf.extractall(plugins)
    # A Python environment that sees torch & co. (the checkout's .venv site-packages) but not the checkout
    # itself (whose .pth only the .venv processes): the plugin can only come from the zip.
    venv = tmp_path / "venv"
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--system-site-packages", "--without-pip", str(venv)],
                   check=True, timeout=120)
    dev_site = sysconfig.get_paths()["purelib"]
    site = subprocess.run([str(venv / "bin" / "python3"), "-c",
                           "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    with open(os.path.join(site, "deps.pth"), "w") as fh:
        fh.write(dev_site + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}/usr/bin{os.pathsep}/bin", QT_QPA_PLATFORM="offscreen",
               QGIS_PLUGINPATH=str(plugins), QGIS_CUSTOM_CONFIG_PATH=str(profile))
    r = subprocess.run([str(venv / "bin" / "python3"), "-c", "import hsi_blind_fusion"], env=env,
                       capture_output=True, text=True)
    assert r.returncode != 0, "the checkout is importable: the test would not prove the zip works"
    # The zip's run-time requirements are what this environment has (offline: pip may install nothing)
    requirements = plugins / "hsi_blind_fusion" / "requirements-runtime.txt"
    r = subprocess.run([str(venv / "bin" / "python3"), "-m", "pip", "install", "--no-index", "--dry-run",
                        "--disable-pip-version-check", "-r", str(requirements)], env=env, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0 and "Would install" not in r.stdout, r.stdout[-2000:] + r.stderr[-2000:]
    for line in open(requirements):
        name = line.split("#")[0].strip().split(">")[0].split("=")[0]
        if name:
            assert name in r.stdout, (name, r.stdout)         # "Requirement already satisfied: <name>"

    def qp(*args):
        return subprocess.run([EXE, *args], env=env, capture_output=True, text=True, timeout=300)

    r = qp("plugins", "enable", "hsi_blind_fusion")
    assert r.returncode == 0 or "already enabled" in r.stdout + r.stderr, r.stdout + r.stderr
    r = qp("plugins")
    assert "hsi_blind_fusion" in r.stdout, r.stdout + r.stderr

    rng = np.random.default_rng(0)
    ref = rng.random((3, 16, 16)).astype(np.float32)
    paths = {}
    for name, data in (("ref", ref), ("fused", ref + 0.01)):
        paths[name] = str(tmp_path / f"{name}.tif")
        with rasterio.open(paths[name], "w", driver="GTiff", width=16, height=16, count=3, dtype="float32",
                           crs="EPSG:32633", transform=from_origin(500000, 5000000, 2, 2)) as ds:
            ds.write(data)
    r = qp("run", "hsifusion:fusionquality", "--json", "--", f"REFERENCE={paths['ref']}",
           f"FUSED={paths['fused']}", "SCALE=4", f"OUTPUT_CSV={tmp_path / 'q.csv'}")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    res = json.loads(r.stdout[r.stdout.index("{"):])["results"]
    assert res["RMSE"] == pytest.approx(0.01, rel=1e-3)
    assert os.path.isfile(tmp_path / "q.csv")
