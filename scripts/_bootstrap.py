"""Make ``import hsi_blind_fusion`` work from a checkout whatever its folder is called (scripts only)."""
import importlib.util
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def ensure_package():
    try:
        import hsi_blind_fusion  # noqa: F401
        return
    except ImportError:
        pass
    spec = importlib.util.spec_from_file_location(
        "hsi_blind_fusion", os.path.join(ROOT, "__init__.py"), submodule_search_locations=[ROOT])
    module = importlib.util.module_from_spec(spec)
    sys.modules["hsi_blind_fusion"] = module
    spec.loader.exec_module(module)


def qgis_env(env=None):
    """The environment the Makefile exports: private plugin folder and profile, headless Qt."""
    env = dict(os.environ if env is None else env)
    venv_bin = os.path.join(ROOT, ".venv", "bin")
    if os.path.isdir(venv_bin) and venv_bin not in env.get("PATH", "").split(os.pathsep):
        env["PATH"] = venv_bin + os.pathsep + env.get("PATH", "")
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    env.setdefault("QGIS_PLUGINPATH", os.path.join(ROOT, ".qgis", "plugins"))
    env.setdefault("QGIS_CUSTOM_CONFIG_PATH", os.path.join(ROOT, ".qgis", "profile"))
    env.setdefault("PYTHONPATH", os.path.join(ROOT, ".qgis", "plugins"))
    return env
