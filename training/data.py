"""Training tasks for the pre-trained parts (issue 4): random crops of the training scenes under
random degradations, normalized exactly as ``fuse()`` normalizes its inputs.

Scenes (from ``../shared/data`` or ``$HSI_SHARED_DATA``; never committed):

- CAVE training scenes (31 bands, 400..700 nm, /65535): beads, cd, cloth, egyptian_statue,
  fake_and_real_lemons, feathers, glass_tiles, paints. The dev scenes balloons and face are never
  read here.
- airborne: samson, muufl_gulfport_sub_gatorsense, sandiego_airport_ad (each /its 99.9th
  percentile). jasper_ridge and aviris_gatorsense are held out (they are benchmark scenes) and
  moffett_field has no wavelengths.

Degradations per task: blur = Gaussian (size 5..15, sigma 0.5..2), Gaussian with FWHM = scale, or
one of the 12 motion kernels; scale in {2, 4, 8, 16}; response = one of the 52 camera responses
(CAVE only), Sentinel-2A or Landsat-8 OLI bands overlapping the scene's range, or 3..8 random
Gaussian bands; every response perturbed as ``(P + d)/(rowsum + n d)``, d in [0.005, 0.008];
white noise 30..50 dB on both images.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from hsi_blind_fusion.core.initial_estimate import regression_estimate
from hsi_blind_fusion.core.kernels import gaussian_kernel, gaussian_kernel_for_scale
from hsi_blind_fusion.core.msi_denoising import denoise_msi
from hsi_blind_fusion.core.operators import blur_downsample, project
from hsi_blind_fusion.core.responses import normalize_rows, perturb_srf
from hsi_blind_fusion.core.simulation import add_noise

ROOT = Path(__file__).resolve().parents[1]
CAVE_TRAIN = ("beads", "cd", "cloth", "egyptian_statue", "fake_and_real_lemons", "feathers", "glass_tiles", "paints")
CAVE_DEV = ("balloons", "face")                      # never used for training
AIRBORNE_TRAIN = {"samson.npz": None, "muufl_gulfport_sub_gatorsense.npz": None, "sandiego_airport_ad.npz": None}
SCALES = (2, 4, 8, 16)


def data_dir() -> Path:
    for c in (ROOT / ".." / "shared" / "data", Path(os.environ.get("HSI_SHARED_DATA", "/nonexistent"))):
        if (c / "cave").is_dir():
            return c.resolve()
    raise SystemExit("shared data not found: expected <repo>/../shared/data or $HSI_SHARED_DATA")


@dataclass
class Scene:
    name: str
    cube: np.ndarray            # (bands, H, W) float32, about [0, 1]
    wavelengths: np.ndarray     # nm
    camera_ok: bool             # 31 bands at 400..700 nm: the 52 camera responses apply


@dataclass
class Task:
    x: torch.Tensor             # truth, normalized by the LR-HSI's unit (bands, H, W)
    y: torch.Tensor             # normalized LR-HSI
    z: torch.Tensor             # normalized MSI
    kernel: torch.Tensor        # the kernel given to the model (k, k)
    srf: torch.Tensor           # the response in normalized units (msi_bands, bands)
    scale: int
    x_base: torch.Tensor        # the classical estimate with that kernel
    info: str


def load_scenes(data: Path) -> list[Scene]:
    import rasterio

    scenes = []
    for name in CAVE_TRAIN:
        assert name not in CAVE_DEV
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with rasterio.open(data / "cave" / f"{name}.tif") as ds:
                cube = ds.read().astype(np.float32) / 65535.0
        scenes.append(Scene(name, cube, np.arange(400.0, 701.0, 10.0), True))
    for file in AIRBORNE_TRAIN:
        d = np.load(data / "real" / file)
        cube = np.nan_to_num(d["cube"].astype(np.float32))
        cube = np.clip(cube / float(np.percentile(cube, 99.9)), 0.0, None)
        wl = np.asarray(d["wavelengths_nm"], np.float64)
        scenes.append(Scene(file[:-4], cube, wl, False))
    return scenes


class Responses:
    def __init__(self, data: Path):
        self.cameras = np.load(data / "srf" / "cameras52_allR.npz")["srf"].astype(np.float64)   # 3 x 31 x 52
        s2 = np.genfromtxt(data / "srf" / "sentinel2a_msi_srf.csv", delimiter=",", names=True)
        l8 = np.genfromtxt(data / "srf" / "landsat8_oli_srf.csv", delimiter=",", names=True)
        self.tables = []
        for t, drop in ((s2, ("B10",)), (l8, ("cirrus", "pan"))):
            names = [n for n in t.dtype.names[1:] if not any(n.endswith(x) for x in drop)]
            self.tables.append((t[t.dtype.names[0]], np.stack([t[n] for n in names], axis=1)))

    def sample(self, scene: Scene, rng: np.random.Generator) -> tuple[np.ndarray, str]:
        wl = scene.wavelengths
        kinds = ["camera", "s2", "l8", "gauss"] if scene.camera_ok else ["s2", "l8", "gauss", "gauss"]
        kind = kinds[rng.integers(len(kinds))]
        p = None
        if kind == "camera":
            p = self.cameras[:, :, rng.integers(self.cameras.shape[2])]
        elif kind in ("s2", "l8"):
            cw, curves = self.tables[0 if kind == "s2" else 1]
            full = np.stack([np.interp(wl, cw, curves[:, j], left=0.0, right=0.0) for j in range(curves.shape[1])])
            peak = curves.max(0) * 0.3
            keep = (full.max(1) > peak) & (full.sum(1) > 0)
            if keep.sum() >= 2:
                idx = np.where(keep)[0]
                if len(idx) > 3 and rng.random() < 0.5:
                    idx = np.sort(rng.choice(idx, size=rng.integers(3, len(idx) + 1), replace=False))
                p = full[idx]
        if p is None:
            kind = "gauss"
            m = int(rng.integers(3, 9))
            lo, hi = float(np.nanmin(wl)), float(np.nanmax(wl))
            centres = np.sort(rng.uniform(lo, hi, m))
            fwhm = rng.uniform(0.04, 0.25, m) * (hi - lo)
            p = np.exp(-4.0 * np.log(2.0) * (wl[None] - centres[:, None]) ** 2 / fwhm[:, None] ** 2)
            p = p[p.sum(1) > 1e-3]
        p = normalize_rows(np.clip(p, 0, None))
        return perturb_srf(p, float(rng.uniform(0.005, 0.008))), kind


def sample_kernel(scale: int, motion: list[np.ndarray], rng: np.random.Generator) -> tuple[np.ndarray, str]:
    u = rng.random()
    if u < 0.4:
        size = int(rng.choice([5, 7, 9, 11, 13, 15]))
        sigma = float(rng.uniform(0.5, 2.0))
        return gaussian_kernel(size, sigma), f"gauss{size}/{sigma:.2f}"
    if u < 0.6:
        return gaussian_kernel_for_scale(scale), "gauss-fwhm-scale"
    i = int(rng.integers(len(motion)))
    return motion[i], f"motion{i:02d}"


class TaskSampler:
    """Draws random tasks; ``hr_min`` is the smallest HR crop side (rounded up to the scale) and
    ``lr_min`` the smallest LR side: the classical start on a crop of a few LR pixels is much
    worse than on a scene, and a model trained to correct it over-corrects real starts."""

    def __init__(self, data: Path | None = None, seed: int = 0, hr_min: int = 64, scales=SCALES,
                 lr_min: int = 0):
        data = data or data_dir()
        self.scenes = load_scenes(data)
        self.responses = Responses(data)
        mk = np.load(data / "srf" / "f_set_12_kernels.npz")
        self.motion = [mk[k].astype(np.float64) for k in sorted(mk.files) if k.startswith("kernel_")]
        self.rng = np.random.default_rng(seed)
        self.hr_min = hr_min
        self.lr_min = lr_min
        self.scales = scales

    def sample(self, kernel_mismatch: float = 0.5) -> Task:
        rng = self.rng
        # CAVE scenes are 512², airborne ones ~100²: weigh them 3:1
        cave = [s for s in self.scenes if s.camera_ok]
        air = [s for s in self.scenes if not s.camera_ok]
        scene = cave[rng.integers(len(cave))] if rng.random() < 0.75 else air[rng.integers(len(air))]
        bands, height, width = scene.cube.shape
        scales = [s for s in self.scales if s * 4 <= min(height, width)]
        scale = int(rng.choice(scales))
        side = scale * max(int(np.ceil(self.hr_min / scale)), self.lr_min)
        if rng.random() < 0.3:
            side *= 2
        side = min(side, (min(height, width) // scale) * scale)
        r0, c0 = int(rng.integers(0, height - side + 1)), int(rng.integers(0, width - side + 1))
        x = scene.cube[:, r0:r0 + side, c0:c0 + side].copy()
        if rng.random() < 0.5:
            x = x[:, ::-1]
        if rng.random() < 0.5:
            x = np.ascontiguousarray(np.rot90(x, axes=(1, 2)))
        x = np.ascontiguousarray(x) * float(rng.uniform(0.5, 1.5))
        kernel, kname = sample_kernel(scale, self.motion, rng)
        srf, pname = self.responses.sample(scene, rng)
        snr = float(rng.uniform(30.0, 50.0))
        xt = torch.from_numpy(x.astype(np.float32))
        with torch.no_grad():
            y = blur_downsample(xt, torch.from_numpy(kernel).float(), scale).numpy()
            z = project(xt, torch.from_numpy(srf).float()).numpy()
        y, z = add_noise(y, snr, rng), add_noise(z, snr, rng)
        y_unit = float(np.percentile(np.abs(y), 99.9)) or 1.0
        z_unit = float(np.percentile(np.abs(z), 99.9)) or 1.0
        srf_n = srf * y_unit / z_unit
        # the model sees an estimated K and P: a slightly wrong kernel width, a slightly wrong response
        k_model = kernel
        if rng.random() < kernel_mismatch:
            k_model = _jitter_kernel(kernel, rng)
        p_model = srf_n * (1.0 + 0.03 * rng.standard_normal(srf_n.shape)).clip(0.5, 1.5)
        yt = torch.from_numpy(y / y_unit).float()
        zt = torch.from_numpy(z / z_unit).float()
        kt = torch.from_numpy(k_model).float()
        pt = torch.from_numpy(p_model).float()
        with torch.no_grad():
            zt, _ = denoise_msi(zt, yt, kt, pt, scale)     # as fuse() does before the start and the fitting
            x_base = regression_estimate(yt, zt, kt, scale, srf=pt)   # as backbone.band_features builds it
        return Task(torch.from_numpy(x / y_unit).float(), yt, zt, kt, pt,
                    scale, x_base, f"{scene.name} x{scale} {kname} {pname}({srf.shape[0]}) {snr:.0f}dB")


def _jitter_kernel(k: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A slightly wider or narrower version of ``k`` (blurred with a small Gaussian, or sharpened)."""
    from scipy.ndimage import convolve

    g = gaussian_kernel(3, float(rng.uniform(0.3, 0.7)))
    out = convolve(k, g, mode="constant")
    if rng.random() < 0.5:
        out = np.clip(2 * k - out, 0, None)
    return out / out.sum()


def open_training_log(name: str):
    """``say(msg)``: print and append to ``training/logs/<name>`` (one log per training run)."""
    from pathlib import Path

    logs = Path(__file__).resolve().parent / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log = open(logs / name, "w")

    def say(msg: str) -> None:
        print(msg, flush=True)
        log.write(msg + "\n")
        log.flush()

    return say
