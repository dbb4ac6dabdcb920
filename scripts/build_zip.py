#!/usr/bin/env python3
"""Build the plugin zip for QGIS "Install from ZIP": ``dist/hsi_blind_fusion-<version>.zip``.

The zip has one top folder ``hsi_blind_fusion/`` holding what the plugin needs at run time (metadata,
icon, ``__init__``/``plugin``, the command line (``__main__``/``cli``), ``provider/``, ``algorithms/``,
``core/``, ``models/`` weights, ``i18n/`` when it exists) plus the README, CHANGELOG, LICENSE and the
run-time requirements (``requirements-runtime.txt``: what QGIS's Python needs, not the development
set of ``requirements.txt``); no tests, benchmarks, training, docs, scripts, virtual environments,
QGIS profiles, caches or other development files.

    python scripts/build_zip.py [--out dist]
"""
from __future__ import annotations

import argparse
import configparser
import os
import sys
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLUGIN = "hsi_blind_fusion"
TOP_FILES = ("metadata.txt", "__init__.py", "__main__.py", "cli.py", "plugin.py", "icon.svg", "LICENSE", "README.md",
             "CHANGELOG.md", "requirements-runtime.txt")
#: folders packed whole (those that exist: i18n/ only once a translation template was made)
PACKAGES = ("provider", "algorithms", "core", "i18n")
#: files of models/ that the plugin loads (training logs and checkpoints of other kinds stay out).
MODEL_EXTENSIONS = (".onnx", ".pt", ".json")
SKIP_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".ipynb_checkpoints"}
SKIP_SUFFIXES = (".pyc", ".pyo", ".aux.xml", ".orig", ".rej", ".swp", "~", ".log", ".tmp")


def version() -> str:
    cfg = configparser.ConfigParser()
    cfg.read(os.path.join(ROOT, "metadata.txt"), encoding="utf-8")
    return cfg["general"]["version"].strip()


def plugin_files() -> list:
    """Paths (relative to the repository root) that go into the zip, sorted."""
    files = [f for f in TOP_FILES if os.path.isfile(os.path.join(ROOT, f))]
    for pkg in PACKAGES:
        base = os.path.join(ROOT, pkg)
        if not os.path.isdir(base):
            continue
        for folder, dirs, names in os.walk(base):
            dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
            for n in sorted(names):
                if n.startswith(".") or n.endswith(SKIP_SUFFIXES):
                    continue
                files.append(os.path.relpath(os.path.join(folder, n), ROOT))
    models = os.path.join(ROOT, "models")
    if os.path.isdir(models):
        for n in sorted(os.listdir(models)):
            if n.endswith(MODEL_EXTENSIONS) and os.path.isfile(os.path.join(models, n)):
                files.append(os.path.join("models", n))
    return sorted(files)


def build(out_dir: str) -> str:
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, f"{PLUGIN}-{version()}.zip")
    tmp = path + ".part"
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for rel in plugin_files():
            zf.write(os.path.join(ROOT, rel), f"{PLUGIN}/{rel}".replace(os.sep, "/"))
    os.replace(tmp, path)
    return path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "dist"), help="output folder (default: dist/)")
    args = ap.parse_args(argv)
    path = build(args.out)
    with zipfile.ZipFile(path) as zf:
        n = len(zf.namelist())
    print(f"{path}: {n} files, {os.path.getsize(path) / 1024:.0f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
