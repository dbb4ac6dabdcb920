"""Scenes with known truth for the core tests (checked themselves in core/test_scenes.py).

Everything here is QGIS-free.

- :func:`synthetic_cube` needs nothing but NumPy/SciPy: smooth random spectra mixed by smooth,
  fairly sharp abundance maps, so every core test has a variant that runs without shared data.
- :func:`cave_crop` reads a crop of a CAVE *training* scene from the shared data folder (never the
  dev scenes balloons/face); tests using it are marked :data:`needs_data` and skip when the folder
  is absent (a fresh clone). The folder is ``<repo>/../shared/data`` or ``$HSI_SHARED_DATA``.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

WAVELENGTHS = np.arange(400.0, 701.0, 10.0)  # the 31 CAVE bands


def data_dir() -> Path | None:
    """The shared data folder, or None when neither location holds it."""
    candidates = [Path(__file__).resolve().parents[2] / ".." / "shared" / "data"]
    if os.environ.get("HSI_SHARED_DATA"):
        candidates.append(Path(os.environ["HSI_SHARED_DATA"]))
    for c in candidates:
        if (c / "cave").is_dir() and (c / "srf").is_dir():
            return c.resolve()
    return None


DATA = data_dir()
needs_data = pytest.mark.skipif(
    DATA is None, reason="shared data folder not found (expected <repo>/../shared/data or $HSI_SHARED_DATA); "
                         "the synthetic variants of these tests still run")


def synthetic_cube(size: int = 64, bands: int = 31, endmembers: int = 4, seed: int = 0,
                   spectral_smooth: float = 2.0, spatial_smooth: float = 3.0) -> np.ndarray:
    """``(bands, size, size)`` float32 in about [0.1, 0.9]: ``endmembers`` smooth random spectra
    mixed by smooth abundance maps (softmax-sharpened, summing to 1 at each pixel)."""
    rng = np.random.default_rng(seed)
    spectra = np.stack([gaussian_filter(rng.random(bands), spectral_smooth, mode="nearest")
                        for _ in range(endmembers)])
    lo, span = spectra.min(axis=1, keepdims=True), np.ptp(spectra, axis=1, keepdims=True)
    spectra = 0.1 + 0.8 * (spectra - lo) / (span + 1e-9)
    maps = np.stack([gaussian_filter(rng.random((size, size)), spatial_smooth, mode="wrap")
                     for _ in range(endmembers)])
    maps = np.exp(8.0 * (maps - maps.mean()) / maps.std())
    maps /= maps.sum(axis=0, keepdims=True)
    return np.einsum("eb,ehw->bhw", spectra, maps).astype(np.float32)


def synthetic_srf() -> np.ndarray:
    """A 4-band 4 x 31 response (Gaussian bands, FWHM 40 nm) that needs no data file.

    Four well-separated bands: with three broad ones, some random 4-endmember scenes are almost
    rank-deficient in the MSI (nothing can fuse them)."""
    from hsi_blind_fusion.core.responses import gaussian_srf, perturb_srf

    return perturb_srf(gaussian_srf([440.0, 510.0, 580.0, 650.0], [40.0] * 4, WAVELENGTHS), 0.01)


def cave_crop(scene: str = "cd", size: int = 96, row: int = 192, col: int = 192) -> np.ndarray:
    """``(31, size, size)`` float32 in [0, 1] from a CAVE training scene."""
    import rasterio
    from rasterio.windows import Window

    assert scene not in ("balloons", "face"), "dev scenes are for the benchmark only"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # CAVE has no georeferencing
        with rasterio.open(DATA / "cave" / f"{scene}.tif") as ds:
            x = ds.read(window=Window(col, row, size, size))
    return x.astype(np.float32) / 65535.0


def nikon_srf() -> np.ndarray:
    """The Nikon D700 response (3 x 31) perturbed with d = 0.01, as in the benchmark."""
    from hsi_blind_fusion.core.responses import perturb_srf

    return perturb_srf(np.load(DATA / "srf" / "nikon_d700_classic.npz")["srf"].T, 0.01)


def motion_kernel(name: str = "kernel_00") -> np.ndarray:
    return np.load(DATA / "srf" / "f_set_12_kernels.npz")[name].astype(np.float64)


# ---- checks of the scenes themselves -------------------------------------------------------
