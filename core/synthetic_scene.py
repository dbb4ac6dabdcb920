"""The bundled default scene: a synthetic, georeferenced HSI/MSI pair with a known truth (QGIS-free).

Materials with smooth spectra (sums of Gaussians and edges over 400-1000 nm) are laid out in a
scene with smooth regions (fields with gradual mixtures), shapes (buildings, round fields, a road,
a river) and textures (a forest), under a smooth illumination. The HR hyperspectral truth is
degraded with :func:`core.simulate`: a Gaussian blur and decimation give the LR-HSI, Gaussian
responses of Sentinel-2's VNIR bands (sensor_bands.py) give the HR-MSI, both with white noise at
a given SNR. No external data.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional

import numpy as np

from .sensor_bands import SENTINEL2_VNIR

#: CRS and grid of the scene: UTM 33N, 2 m MSI pixels.
EPSG = 32633
ORIGIN = (500000.0, 5000000.0)
MSI_PIXEL = 2.0


def _g(wl, c, w, a=1.0):
    return a * np.exp(-0.5 * ((wl - c) / w) ** 2)


def _sigmoid(wl, c, w):
    return 1.0 / (1.0 + np.exp(-(wl - c) / w))


def material_spectra(wl: np.ndarray) -> tuple[list, np.ndarray]:
    """Reflectance spectra (materials x bands) of the scene's materials, in [0.01, 0.9]."""
    names, spectra = [], []

    def add(name, s):
        names.append(name)
        spectra.append(np.clip(s, 0.01, 0.9))

    add("vegetation", 0.03 + _g(wl, 550, 25, 0.07) + 0.45 * _sigmoid(wl, 715, 12) - _g(wl, 960, 20, 0.05))
    add("dry grass", 0.08 + 0.25 * _sigmoid(wl, 640, 60) + 0.15 * _sigmoid(wl, 715, 15))
    add("bare soil", 0.10 + 0.25 * (wl - 400) / 600 + _g(wl, 900, 80, 0.05))
    add("water", 0.06 * np.exp(-(wl - 400) / 120) + 0.01 + _g(wl, 560, 30, 0.02))
    add("concrete", 0.30 + 0.05 * (wl - 400) / 600 - _g(wl, 450, 40, 0.05))
    add("red roof", 0.07 + 0.35 * _sigmoid(wl, 600, 15) - _g(wl, 870, 60, 0.08))
    add("asphalt", 0.07 + 0.03 * (wl - 400) / 600)
    add("blue paint", 0.05 + _g(wl, 460, 35, 0.35) + _g(wl, 900, 60, 0.25))
    add("crop", 0.04 + _g(wl, 555, 20, 0.09) + 0.35 * _sigmoid(wl, 725, 10) + _g(wl, 880, 40, 0.05))
    return names, np.array(spectra, dtype=np.float64)


def _smooth_noise(rng, shape, sigma):
    from scipy.ndimage import gaussian_filter

    f = gaussian_filter(rng.standard_normal(shape), sigma, mode="wrap")
    return (f - f.mean()) / (f.std() + 1e-12)


def abundances(size: int, n_materials: int, seed: int = 0) -> np.ndarray:
    """Abundance maps (materials x size x size), non-negative, summing to 1 per pixel."""
    rng = np.random.default_rng(seed)
    idx = {"vegetation": 0, "dry grass": 1, "bare soil": 2, "water": 3, "concrete": 4,
           "red roof": 5, "asphalt": 6, "blue paint": 7, "crop": 8}
    a = np.zeros((n_materials, size, size))
    # Smooth background: a soft mixture of vegetation, dry grass and soil.
    logits = np.stack([2.0 * _smooth_noise(rng, (size, size), size / 10) for _ in range(3)])
    w = np.exp(logits)
    w /= w.sum(0)
    for j, name in enumerate(("vegetation", "dry grass", "bare soil")):
        a[idx[name]] = w[j]
    yy, xx = np.mgrid[0:size, 0:size] / size

    def paint(mask, name, soft=None):
        m = mask.astype(np.float64) if soft is None else soft
        a[:] *= (1 - m)
        a[idx[name]] += m

    # Textured forest patch (high-frequency canopy texture between vegetation and shadowed soil).
    forest = ((xx - 0.22) ** 2 / 0.03 + (yy - 0.75) ** 2 / 0.02) < 1
    tex = np.clip(0.5 + 0.35 * _smooth_noise(rng, (size, size), 1.2), 0, 1)
    m = forest.astype(np.float64)
    a[:] *= (1 - m)
    a[idx["vegetation"]] += m * tex
    a[idx["crop"]] += m * (1 - tex)
    # Striped crop field (periodic texture) and a round irrigated field.
    field = (xx > 0.55) & (xx < 0.92) & (yy > 0.58) & (yy < 0.9)
    stripes = 0.5 + 0.5 * np.sin(2 * np.pi * (xx + 0.3 * yy) * size / 9.0)
    a[:] *= (1 - field)
    a[idx["crop"]] += field * stripes
    a[idx["bare soil"]] += field * (1 - stripes)
    paint(((xx - 0.75) ** 2 + (yy - 0.28) ** 2) < 0.012, "crop")
    # A meandering river with soft banks.
    centre = 0.45 + 0.08 * np.sin(2 * np.pi * xx * 1.5)
    d = np.abs(yy - centre)
    paint(d < 0.025, "water", soft=np.clip((0.03 - d) / 0.01, 0, 1))
    # A straight road and a cluster of buildings with different roofs.
    paint(np.abs(xx - 0.45 - 0.1 * yy) < 0.012, "asphalt")
    roofs = ["red roof", "concrete", "blue paint", "red roof", "concrete", "red roof"]
    for k in range(6):
        x0 = 0.06 + 0.06 * k + 0.01 * rng.standard_normal()
        y0 = 0.08 + 0.12 * (k % 2)
        paint((xx > x0) & (xx < x0 + 0.045) & (yy > y0) & (yy < y0 + 0.07), roofs[k])
    paint((xx > 0.5) & (xx < 0.62) & (yy > 0.1) & (yy < 0.16), "concrete")
    a = np.clip(a, 0, None)
    return a / a.sum(0, keepdims=True)


@dataclass
class Scene:
    truth: np.ndarray  # (bands, H, W) float32 reflectance
    hsi: np.ndarray  # (bands, H/scale, W/scale)
    msi: np.ndarray  # (msi_bands, H, W)
    wavelengths_nm: np.ndarray
    msi_band_names: list
    msi_centres_nm: np.ndarray
    kernel: np.ndarray
    srf: np.ndarray
    scale: int
    hr_transform: object
    lr_transform: object
    crs: str


def make_scene(size: int = 256, scale: int = 4, bands: int = 40, kernel_sigma: Optional[float] = None,
               kernel_size: Optional[int] = None, snr_db: Optional[float] = 35.0, seed: int = 0) -> Scene:
    """Build the default scene: ``size`` x ``size`` MSI pixels (a multiple of ``scale``)."""
    from affine import Affine

    from .kernels import gaussian_kernel
    from .responses import gaussian_srf
    from .simulation import simulate

    if size % scale:
        raise ValueError(f"size {size} must be a multiple of scale {scale}")
    wl = np.linspace(400.0, 1000.0, bands)
    _, spectra = material_spectra(wl)
    ab = abundances(size, spectra.shape[0], seed)
    x = np.einsum("mb,mhw->bhw", spectra, ab)
    rng = np.random.default_rng(seed + 1)
    shade = 1.0 + 0.1 * _smooth_noise(rng, (size, size), size / 6)
    x = (x * shade[None]).astype(np.float32)
    sigma = kernel_sigma if kernel_sigma is not None else 0.4 * scale + 0.2
    ksize = kernel_size if kernel_size is not None else 2 * scale + 1
    kernel = gaussian_kernel(ksize, sigma)
    names = [b.name for b in SENTINEL2_VNIR]
    centres = np.array([b.centre_nm for b in SENTINEL2_VNIR])
    srf = gaussian_srf(centres, [b.fwhm_nm for b in SENTINEL2_VNIR], wl)
    lr, msi = simulate(x, kernel, srf, scale, snr_db=snr_db, seed=seed)
    hr_t = Affine(MSI_PIXEL, 0.0, ORIGIN[0], 0.0, -MSI_PIXEL, ORIGIN[1])
    return Scene(truth=x, hsi=lr, msi=msi, wavelengths_nm=wl, msi_band_names=names, msi_centres_nm=centres,
                 kernel=kernel, srf=srf, scale=scale, hr_transform=hr_t,
                 lr_transform=hr_t * Affine.scale(scale), crs=f"EPSG:{EPSG}")


def write_scene(scene: Scene, folder: str) -> dict:
    """Write ``truth.tif``, ``hsi.tif``, ``msi.tif``, ``srf.csv`` (table) and ``kernel.npy``."""
    from rasterio.crs import CRS

    from .io import write_raster

    os.makedirs(folder, exist_ok=True)
    crs = CRS.from_string(scene.crs)
    paths = {k: os.path.join(folder, f"{k}.tif") for k in ("truth", "hsi", "msi")}
    write_raster(paths["truth"], scene.truth, scene.hr_transform, crs, wavelengths_nm=scene.wavelengths_nm)
    write_raster(paths["hsi"], scene.hsi, scene.lr_transform, crs, wavelengths_nm=scene.wavelengths_nm)
    write_raster(paths["msi"], scene.msi, scene.hr_transform, crs, wavelengths_nm=scene.msi_centres_nm,
                 descriptions=[f"{n} ({c:.0f} nm)" for n, c in zip(scene.msi_band_names, scene.msi_centres_nm)])
    paths["srf"] = os.path.join(folder, "srf.csv")
    with open(paths["srf"], "w") as f:
        f.write("band," + ",".join(f"{w:.2f}" for w in scene.wavelengths_nm) + "\n")
        for name, row in zip(scene.msi_band_names, scene.srf):
            f.write(name + "," + ",".join(f"{v:.8g}" for v in row) + "\n")
    paths["kernel"] = os.path.join(folder, "kernel.npy")
    np.save(paths["kernel"], scene.kernel)
    return paths
