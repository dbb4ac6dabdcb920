"""Shared fixtures. QGIS is started once per session, only by tests that ask for ``qgis_app`` (all in
``tests/qgis/``, so ``-k "not qgis"`` runs without QGIS)."""
import os
import sys

import pytest

from helpers.paths import PLUGINS, PROFILE

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QGIS_PLUGINPATH", PLUGINS)
os.environ.setdefault("QGIS_CUSTOM_CONFIG_PATH", PROFILE)
if os.path.isdir(PLUGINS) and PLUGINS not in sys.path:
    sys.path.insert(0, PLUGINS)


@pytest.fixture(scope="session")
def qgis_app():
    """A headless QgsApplication with Processing initialised and the hsifusion provider registered."""
    qgis_core = pytest.importorskip("qgis.core")
    QgsApplication = qgis_core.QgsApplication
    app = QgsApplication.instance()
    if app is None:
        QgsApplication.setPrefixPath("/usr", True)
        app = QgsApplication([], False)
        app.initQgis()
    for p in ("/usr/share/qgis/python/plugins", "/usr/share/qgis/python"):
        if os.path.isdir(p) and p not in sys.path:
            sys.path.append(p)
    from processing.core.Processing import Processing

    Processing.initialize()
    registry = QgsApplication.processingRegistry()
    if registry.providerById("hsifusion") is None:
        from hsi_blind_fusion.plugin import HsiBlindFusionPlugin

        plugin = HsiBlindFusionPlugin(None)
        plugin.initProcessing()
        app._hsifusion_plugin = plugin  # keep it alive
    assert registry.providerById("hsifusion") is not None
    yield app


def _write_scene(folder, size=64, scale=4, bands=20, seed=0):
    from hsi_blind_fusion.core.synthetic_scene import make_scene, write_scene

    scene = make_scene(size=size, scale=scale, bands=bands, snr_db=40.0, seed=seed)
    return scene, write_scene(scene, str(folder))


@pytest.fixture(scope="session")
def scene(tmp_path_factory):
    """A small georeferenced pair (64x64 MSI, 8 bands; 16x16 HSI, 20 bands; scale 4) with its truth."""
    folder = tmp_path_factory.mktemp("scene")
    return _write_scene(folder)


@pytest.fixture(scope="session")
def make_pair(tmp_path_factory):
    def make(seed, size=64, scale=4, bands=20):
        folder = tmp_path_factory.mktemp(f"pair{seed}")
        return _write_scene(folder, size, scale, bands, seed)

    return make
