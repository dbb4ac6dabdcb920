"""The core is a plain Python library: importing it (and running it) must not load the GIS
desktop's Python bindings. (The test names avoid the word for them, so ``-k "not qgis"`` keeps
them.)"""
from __future__ import annotations

import subprocess
import sys

CHECK = ("import hsi_blind_fusion.core, sys; "
         "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('qgis', 'PyQt5', 'PyQt6', 'processing')); "
         "assert not bad, bad")

RUN = ("import numpy as np, sys; from hsi_blind_fusion.core import fuse, simulate; "
       "from hsi_blind_fusion.core import metrics, kernels, responses, initial_estimate; "
       "x = np.random.default_rng(0).random((6, 32, 32)).astype('float32') + 0.1; "
       "y, z = simulate(x, kernels.gaussian_kernel(5, 1.0), np.eye(2, 6) + 0.1, 4); "
       "fuse(y, z, outer_iterations=1, inner_iterations=1, device='cpu'); "
       "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('qgis', 'PyQt5', 'PyQt6', 'processing')); "
       "assert not bad, bad")


def _run(code):
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_core_import_is_desktop_free():
    _run(CHECK)


def test_core_run_is_desktop_free():
    _run(RUN)
