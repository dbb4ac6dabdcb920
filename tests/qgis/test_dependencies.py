"""canExecute() names a missing dependency and the exact install command; nothing runs without it.
onnxruntime is optional (the backbone falls back to torch)."""
import importlib.util

import pytest

pytestmark = pytest.mark.usefixtures("qgis_app")


@pytest.fixture
def no_torch(monkeypatch):
    real = importlib.util.find_spec

    def fake(name, *args, **kwargs):
        if name.split(".")[0] == "torch":
            return None
        return real(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", fake)


def test_can_execute_reports_missing_torch(no_torch):
    from qgis.core import QgsApplication

    alg = QgsApplication.processingRegistry().createAlgorithmById("hsifusion:blindfusion")
    ok, msg = alg.canExecute()
    assert not ok
    assert "torch" in msg and "pip install" in msg and "torch==2.13.0" in msg


def test_run_refuses_without_torch(no_torch, scene, tmp_path):
    import processing
    from qgis.core import QgsProcessingException

    _, paths = scene
    with pytest.raises(QgsProcessingException, match="torch"):
        processing.run("hsifusion:estimatedegradation", {"HSI": paths["hsi"], "MSI": paths["msi"],
                                                         "OUTPUT": str(tmp_path / "d.json")})
    assert not (tmp_path / "d.json").exists()


@pytest.fixture
def hide(monkeypatch):
    real = importlib.util.find_spec

    def hide_modules(*names):
        monkeypatch.setattr(importlib.util, "find_spec",
                            lambda name, *a, **k: None if name.split(".")[0] in names else real(name, *a, **k))

    return hide_modules


def test_every_import_is_checked(hide):
    """scikit-image for Fusion quality, matplotlib for the reports; onnxruntime only optional."""
    from qgis.core import QgsApplication

    reg = QgsApplication.processingRegistry()
    hide("skimage")
    ok, msg = reg.createAlgorithmById("hsifusion:fusionquality").canExecute()
    assert not ok and "scikit-image" in msg and "pip install" in msg, msg
    assert reg.createAlgorithmById("hsifusion:blindfusion").canExecute()[0]
    hide("matplotlib")
    for alg_id in ("hsifusion:blindfusion", "hsifusion:estimatedegradation"):
        ok, msg = reg.createAlgorithmById(alg_id).canExecute()
        assert not ok and "matplotlib" in msg, msg
    hide("onnxruntime")
    assert all(alg.canExecute()[0] for alg in reg.providerById("hsifusion").algorithms())


def test_all_algorithms_registered_and_executable():
    from qgis.core import QgsApplication

    for alg in QgsApplication.processingRegistry().providerById("hsifusion").algorithms():
        assert alg.canExecute()[0], alg.canExecute()[1]


def test_install_command_per_platform():
    from hsi_blind_fusion.algorithms.base import install_command

    win = install_command(["torch", "onnxruntime"], "win32")
    assert "OSGeo4W Shell" in win and "python -m pip install torch==2.13.0" in win and "onnxruntime" in win
    assert "download.pytorch.org/whl/cpu" in win
    mac = install_command(["torch"], "darwin")
    assert "/Applications/QGIS.app/Contents/MacOS/bin/python3 -m pip install" in mac
    lin = install_command(["onnxruntime"], "linux")
    assert "python3 -m pip install" in lin and "onnxruntime" in lin and "torch" not in lin


def test_provider_loads_without_torch(tmp_path):
    """With torch unimportable, the provider still registers every algorithm and canExecute explains."""
    import os
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['torch'] = None; sys.modules['onnxruntime'] = None\n"
        "import importlib.util as u; real = u.find_spec\n"
        "u.find_spec = lambda n, *a, **k: None if n.split('.')[0] in ('torch', 'onnxruntime') else real(n, *a, **k)\n"
        "from qgis.core import QgsApplication\n"
        "app = QgsApplication([], False); app.initQgis()\n"
        "from hsi_blind_fusion.plugin import HsiBlindFusionPlugin\n"
        "p = HsiBlindFusionPlugin(None); p.initProcessing()\n"
        "prov = QgsApplication.processingRegistry().providerById('hsifusion')\n"
        "algs = prov.algorithms(); assert len(algs) == 5, algs\n"
        "ok, msg = QgsApplication.processingRegistry().algorithmById('hsifusion:blindfusion').canExecute()\n"
        "assert not ok and 'torch==2.13.0' in msg and 'onnxruntime' not in msg, msg\n"
        "print('OK')\n")
    r = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, QT_QPA_PLATFORM="offscreen"),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "OK" in r.stdout, r.stdout + r.stderr
