"""Where the rasters made from products go: one temporary folder per process, removed at exit,
and a cache so that each product is converted once per process.

A product that GDAL cannot read as delivered (PRISMA's band-interleaved-by-line HDF5 cubes,
EMIT's swath with its geolocation table) is converted once into a GeoTIFF here; a product GDAL
reads but whose metadata it does not know (EnMAP, Sentinel-2) gets a small VRT here. Files are
written under a temporary name and renamed when complete, so an interrupted conversion never
leaves a file that looks finished.
"""
from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import tempfile
import threading
from typing import Callable, Optional

_lock = threading.RLock()
_folder: Optional[str] = None
_cache: dict = {}


def scratch_folder() -> str:
    """This process's temporary folder for product rasters (created on first use, removed at exit)."""
    global _folder
    with _lock:
        if _folder is None or not os.path.isdir(_folder):
            _folder = tempfile.mkdtemp(prefix="hsi_blind_fusion_products_")
            atexit.register(shutil.rmtree, _folder, True)
        return _folder


def scratch_path(source: str, suffix: str) -> str:
    """A file name in the scratch folder that is stable for ``source`` (so that two products never
    share a file) and ends in ``suffix`` (e.g. ``"_10m.vrt"``)."""
    digest = hashlib.sha1(str(source).encode("utf-8")).hexdigest()[:12]
    stem = os.path.basename(str(source).rstrip("/\\")) or "product"
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in stem)[:60]
    return os.path.join(scratch_folder(), f"{stem}_{digest}{suffix}")


def _signature(path: str) -> tuple:
    """What identifies a version of a file or folder on disk: its real path, size and time."""
    try:
        st = os.stat(path)
        return os.path.realpath(path), st.st_size, st.st_mtime_ns
    except OSError:
        return str(path), None, None


def cached(key_path: str, kind: str, make: Callable[[], object]):
    """``make()``'s result for the file ``key_path`` (and ``kind`` of result), computed once per
    process and again only when the file changes. Conversions run one at a time (QGIS may run
    algorithms in parallel threads)."""
    key = (kind, _signature(key_path))
    with _lock:
        if key in _cache:
            value = _cache[key]
            path = getattr(value, "path", None)
            if path is None or not path.startswith(scratch_folder()) or os.path.exists(path):
                return value
        value = make()
        _cache[key] = value
        return value


def clear_cache() -> None:
    """Forget every conversion (tests; the files stay until exit)."""
    with _lock:
        _cache.clear()
