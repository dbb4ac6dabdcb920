"""The package and its core import without QGIS; plugin metadata is complete."""
import configparser
import os
import subprocess
import sys

from helpers.paths import ROOT


def test_import_without_qgis():
    code = ("import sys, hsi_blind_fusion, hsi_blind_fusion.core, hsi_blind_fusion.core.io, hsi_blind_fusion.cli, "
            "hsi_blind_fusion.core.report, hsi_blind_fusion.core.synthetic_scene, hsi_blind_fusion.core.workflow.fusion\n"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('qgis', 'processing')]\n"
            "assert not bad, bad\n"
            "assert callable(hsi_blind_fusion.classFactory)\n")
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, ".qgis", "plugins"))
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_package_root_does_not_import_torch():
    """The plugin lists its algorithms (and says what is missing) on a QGIS without torch: the
    package, the core's public names and the tool specifications load without it."""
    code = ("import sys, hsi_blind_fusion, hsi_blind_fusion.core, hsi_blind_fusion.core.workflow.specs, "
            "hsi_blind_fusion.core.workflow.requests, hsi_blind_fusion.cli; assert 'torch' not in sys.modules")
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, ".qgis", "plugins"))
    assert subprocess.run([sys.executable, "-c", code], env=env).returncode == 0


def test_metadata():
    cp = configparser.ConfigParser()
    cp.read(os.path.join(ROOT, "metadata.txt"))
    g = cp["general"]
    for key in ("name", "qgisMinimumVersion", "description", "about", "version", "author", "repository",
                "tracker", "tags", "experimental", "hasProcessingProvider", "icon", "category"):
        assert g.get(key), key
    assert g["qgisMinimumVersion"] == "3.22" and g["hasProcessingProvider"] == "yes"
    assert g["supportsQt6"] == "True" and g["qgisMaximumVersion"] == "4.99"   # loads on QGIS 4 (Qt6)
    assert g["category"] in ("Raster", "Vector", "Database", "Web", "Mesh")   # a QGIS menu category
    assert "example.org" not in open(os.path.join(ROOT, "metadata.txt")).read()   # no placeholder contact
    assert "plugin_dependencies" not in g                                    # no other QGIS plugin needed
    assert os.path.exists(os.path.join(ROOT, g["icon"]))
    for f in ("LICENSE", "CHANGELOG.md", "README.md"):
        assert os.path.exists(os.path.join(ROOT, f)), f
