"""HDF5 access for the products stored in it (PRISMA's HDF-EOS5, EMIT's NetCDF-4): h5py, with a
clear error when it is missing, attribute values as plain Python/NumPy values, and the GeoTIFF
profile the converted cubes are written with."""
from __future__ import annotations

import functools
import math
import os
from typing import Optional

import numpy as np

from ...errors import InvalidInputError


def require_h5py():
    """The h5py module, or a clear error saying how to install it."""
    try:
        import h5py
    except ImportError as exc:  # pragma: no cover - installed by scripts/setup.sh
        raise InvalidInputError(
            "reading PRISMA (HE5) and EMIT (NetCDF) products needs the Python package 'h5py': install it "
            "(Debian: apt install python3-h5py; OSGeo4W: the python3-h5py package; elsewhere: python -m pip "
            "install h5py)") from exc
    return h5py


def open_hdf5(path: str, what: str):
    """``h5py.File(path)`` for reading, with a clear error for a missing or corrupt file."""
    h5py = require_h5py()
    if not os.path.isfile(path):
        raise InvalidInputError(f"{what} not found: {path}")
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise InvalidInputError(f"the {what} {path} is unreadable or corrupt ({exc}); check the file (was the "
                                "download complete?)") from exc


def is_hdf5(path: str) -> bool:
    """Whether ``path`` is an HDF5 file (NetCDF-4 included), from its signature."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError:
        return False
    return head == b"\x89HDF\r\n\x1a\n"


def attribute(attrs, name: str, where: str, required: bool = True):
    """An HDF5 attribute as a Python value: str for text, float/int for a scalar, a 1-D float array
    for a list; a clear error when a required one is missing."""
    if name not in attrs:
        if required:
            raise InvalidInputError(f"{where} lacks the attribute '{name}'; is the file a complete product?")
        return None
    v = attrs[name]
    if isinstance(v, bytes):
        return v.decode("utf-8", errors="replace")
    if isinstance(v, np.ndarray):
        if v.dtype.kind in "SO":
            return " ".join(x.decode() if isinstance(x, bytes) else str(x) for x in v.ravel())
        if v.size == 1:
            return v.ravel()[0].item()
        return v.astype(np.float64).ravel()
    if isinstance(v, np.generic):
        return v.item()
    return v


def float_list(value, name: str, where: str) -> np.ndarray:
    """A list attribute (array, or text of numbers) as floats."""
    if isinstance(value, np.ndarray):
        return value.astype(np.float64)
    if isinstance(value, (int, float)):
        return np.array([float(value)])
    try:
        return np.array([float(t) for t in str(value).replace(",", " ").split()], dtype=np.float64)
    except ValueError as exc:
        raise InvalidInputError(f"{where}: the attribute '{name}' is not a list of numbers") from exc


@functools.lru_cache(maxsize=1)
def _compression() -> dict:
    """ZSTD level 1 where GDAL has it (six times faster than DEFLATE on reflectance cubes, as small;
    the file is read only by this process), else DEFLATE level 1."""
    import rasterio.shutil

    from ..reading import open_quietly

    probe = "/vsimem/hsi_blind_fusion_zstd_probe.tif"
    try:
        with open_quietly(probe, "w", driver="GTiff", width=1, height=1, count=1, dtype="uint8", compress="zstd",
                          zstd_level=1) as ds:
            ds.write(np.zeros((1, 1, 1), np.uint8))
        rasterio.shutil.delete(probe)
        return {"compress": "zstd", "zstd_level": 1}
    except Exception:  # noqa: BLE001 - a GDAL without ZSTD
        return {"compress": "deflate", "zlevel": 1}


def cube_profile(bands: int, height: int, width: int, dtype: str, transform, crs, nodata: Optional[float]) -> dict:
    """A tiled, compressed, band-interleaved GeoTIFF (BigTIFF when needed) for a converted cube."""
    block = 256 if max(height, width) > 256 else max(16, int(2 ** math.ceil(math.log2(max(height, width, 16)))))
    profile = dict(driver="GTiff", width=width, height=height, count=bands, dtype=dtype, transform=transform,
                   crs=crs, tiled=True, blockxsize=block, blockysize=block, interleave="band", BIGTIFF="IF_SAFER",
                   num_threads="ALL_CPUS", **_compression())
    if nodata is not None:
        profile["nodata"] = nodata
    if crs is None:
        profile.pop("crs")
    return profile
