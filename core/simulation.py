"""Simulate a sensor pair from a known HR hyperspectral image (for tests, tutorials, benchmarks)."""
from __future__ import annotations

import numpy as np
import torch

from .errors import InvalidInputError
from .kernels import kernel_from_array
from .operators import blur_downsample, project


def add_noise(image: np.ndarray, snr_db: float | None, rng: np.random.Generator) -> np.ndarray:
    """White Gaussian noise with the given SNR per band (signal power = mean square of the band)."""
    if snr_db is None or not np.isfinite(snr_db):
        return image
    power = np.mean(image.astype(np.float64) ** 2, axis=(1, 2), keepdims=True)
    sigma = np.sqrt(power / 10.0 ** (snr_db / 10.0))
    return (image + sigma * rng.standard_normal(image.shape)).astype(image.dtype)


def simulate(x_hr: np.ndarray, kernel: np.ndarray, srf: np.ndarray, scale: int,
             snr_db: float | None = None, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(lr_hsi, hr_msi)`` observed from ``x_hr`` ``(bands, H, W)``.

    ``lr_hsi = (x_hr * kernel)↓scale + n`` and ``hr_msi = srf · x_hr + n``, with independent
    white Gaussian noise at ``snr_db`` on each band of each image (``None`` = noise-free).
    """
    x = np.asarray(x_hr, dtype=np.float32)
    if x.ndim != 3:
        raise InvalidInputError(f"x_hr must be (bands, height, width), got shape {x.shape}")
    scale = int(scale)
    if scale < 1:
        raise InvalidInputError(f"scale must be a positive integer, got {scale}")
    if x.shape[1] < scale or x.shape[2] < scale:
        raise InvalidInputError(f"the image ({x.shape[1]}x{x.shape[2]}) is smaller than the scale {scale}")
    p = np.asarray(srf, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != x.shape[0]:
        raise InvalidInputError(f"srf must be (msi_bands, {x.shape[0]}), got shape {p.shape}")
    k = kernel_from_array(kernel)
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        xt = torch.from_numpy(x)
        lr = blur_downsample(xt, torch.from_numpy(k).float(), scale).numpy()
        msi = project(xt, torch.from_numpy(p).float()).numpy()
    return add_noise(lr, snr_db, rng), add_noise(msi, snr_db, rng)
