"""The BLAS a host program brought along, limited to one thread while torch computes.

``qgis_process`` and QGIS link the system's BLAS (OpenBLAS on Debian) into the executable itself,
so its symbols come first in the process's global scope: torch's own BLAS calls resolve to it
rather than to the MKL torch ships (ELF symbol interposition). That OpenBLAS runs its own thread
pool beside torch's OpenMP threads; on a small machine the two pools take turns on the same cores.
With one OpenBLAS thread, each BLAS call runs on the thread that made it and torch's threads keep
the cores (docs/speed.md measures both).
"""
from __future__ import annotations

import contextlib
import ctypes
import os
from typing import Iterator, Optional

#: libraries a host may have loaded globally that offer ``openblas_set_num_threads``
_CANDIDATES = ("libopenblas.so.0", "libblas.so.3", "libopenblasp.so.0", "libopenblas64_.so.0")


def _loaded_openblas() -> list:
    """The OpenBLAS libraries already loaded into this process (never loads one)."""
    mode = getattr(os, "RTLD_NOLOAD", None)
    if mode is None:                     # not Linux: nothing is interposed this way
        return []
    found = []
    for name in _CANDIDATES:
        try:
            lib = ctypes.CDLL(name, mode=mode)
        except OSError:
            continue
        if hasattr(lib, "openblas_set_num_threads") and hasattr(lib, "openblas_get_num_threads"):
            found.append(lib)
    return found


@contextlib.contextmanager
def host_blas_threads(threads: Optional[int] = 1) -> Iterator[None]:
    """Within the block, every OpenBLAS the host loaded uses ``threads`` threads (None: unchanged);
    afterwards their previous counts are restored."""
    libs = _loaded_openblas() if threads else []
    before = [lib.openblas_get_num_threads() for lib in libs]
    for lib in libs:
        lib.openblas_set_num_threads(int(threads))
    try:
        yield
    finally:
        for lib, n in zip(libs, before):
            lib.openblas_set_num_threads(int(n))
