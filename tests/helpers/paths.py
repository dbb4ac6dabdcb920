"""Where things are, and the environment a headless QGIS (``qgis_process``) runs in."""
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLUGINS = os.path.join(ROOT, ".qgis", "plugins")
PROFILE = os.path.join(ROOT, ".qgis", "profile")
SHARED_DATA = os.path.abspath(os.path.join(ROOT, "..", "shared", "data"))

# Tiny scenes keep each fusion run to a few seconds on 2 cores.
FAST = {"OUTER_ITERATIONS": 2, "INNER_ITERATIONS": 2}


def qgis_env():
    env = dict(os.environ)
    env["PATH"] = os.path.join(ROOT, ".venv", "bin") + os.pathsep + env.get("PATH", "")
    env.update(QT_QPA_PLATFORM="offscreen", QGIS_PLUGINPATH=PLUGINS, QGIS_CUSTOM_CONFIG_PATH=PROFILE,
               PYTHONPATH=PLUGINS)
    return env
