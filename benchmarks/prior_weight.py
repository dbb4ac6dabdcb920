#!/usr/bin/env python
"""Where the deep reconstruction pays, and how heavy its total-variation prior should be.

Training scenes only (the dev scenes balloons/face and the benchmark's airborne scenes Jasper
Ridge / AVIRIS GatorSense are never used here, so nothing is tuned on what the benchmarks
report): CAVE paints, cd, beads at x8 (motion ``kernel_00``, Nikon D700 perturbed d = 0.01) at 30
and 40 dB; airborne San Diego (/10000) and Samson (/max) at x4 (Gaussian 9 x 9, sigma 4/2.355,
Sentinel-2 B2/B3/B4/B8), 40 dB. Rows: the classical start alone (``outer_iterations=0``) and
the alternating fusion with variants of ``FusionSettings`` (TV weight, fewer iterations, lower
network learning rate). Prints one line per run (PSNR, SAM, SSIM, seconds).

    python benchmarks/prior_weight.py                       # the default sweep (~10 min, 2 cores)
    python benchmarks/prior_weight.py --cases cd_x8_30 --variants '[["tv3", {"tv_weight": 3}]]'
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from hsi_blind_fusion.core import metrics, simulate
from hsi_blind_fusion.core import FusionSettings, fuse
from hsi_blind_fusion.core.kernels import gaussian_kernel

sys.path.insert(0, str(Path(__file__).resolve().parent))
import quality  # noqa: E402  (the benchmark cases' loaders)

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
DEFAULT_VARIANTS = [["classical", {"outer": 0}], ["tv1 (default)", {}], ["tv3", {"tv_weight": 3}],
                    ["tv10", {"tv_weight": 10}], ["outer10", {"outer": 10}],
                    ["lr3e-4", {"lr_reconstruction": 3e-4}]]


def _cave(scene: str):
    return quality.read_cave(DATA, scene), quality.nikon_srf(DATA)


def _airborne(file: str, divisor: float | None):
    cube, wavelengths = quality.read_airborne(DATA, file, divisor)
    h, w = cube.shape[1] // 4 * 4, cube.shape[2] // 4 * 4     # top-left crop to the scale
    return cube[:, :h, :w], quality.sentinel2_srf(DATA, wavelengths)


def cases() -> dict:
    motion = np.load(DATA / "srf" / "f_set_12_kernels.npz")["kernel_00"].astype(np.float64)
    gauss = gaussian_kernel(9, 4 / 2.355)
    out = {}
    for scene in ("paints", "cd", "beads"):
        for snr in (30, 40):
            out[f"{scene}_x8_{snr}"] = (lambda s=scene: _cave(s), motion, 8, float(snr))
    out["sandiego_x4"] = (lambda: _airborne("sandiego_airport_ad.npz", 10000.0), gauss, 4, 40.0)
    out["samson_x4"] = (lambda: _airborne("samson.npz", None), gauss, 4, 40.0)
    return out


def run(name: str, case, variants, outer: int, inner: int) -> None:
    load, kernel, scale, snr = case
    x, srf = load()
    y, z = simulate(x, kernel, srf, scale, snr_db=snr, seed=0)
    for label, options in variants:
        options = dict(options)
        o = options.pop("outer", outer)
        t = time.perf_counter()
        r = fuse(y, z, scale=scale, outer_iterations=o, inner_iterations=inner, seed=0,
                 settings=FusionSettings(**options))
        q = metrics.quality_report(x, r.image, scale)
        print(f"{name:14s} {label:16s} PSNR {q['psnr']:6.2f}  SAM {q['sam']:5.2f}  SSIM {q['ssim']:.4f}  "
              f"{time.perf_counter() - t:5.1f} s", flush=True)


def noise_check(names: list[str]) -> None:
    """Ratio of the MSI noise estimates to the true noise standard deviation, at 30 and 40 dB."""
    import torch

    from hsi_blind_fusion.core.noise import flat_block_noise_sigma, noise_sigma

    table = cases()
    for name in names:
        load, kernel, scale, _ = table[name]
        x, srf = load()
        for snr in (30.0, 40.0):
            _, z = simulate(x, kernel, srf, scale, snr_db=snr, seed=0)
            clean = (srf @ x.reshape(x.shape[0], -1)).reshape(z.shape)
            true = float(np.sqrt(((z - clean) ** 2).mean()))
            zt = torch.from_numpy(z)
            whole = float(torch.sqrt((noise_sigma(zt) ** 2).mean())) / true
            flat = float(torch.sqrt((flat_block_noise_sigma(zt) ** 2).mean())) / true
            print(f"{name:14s} {snr:3.0f} dB  whole-image Laplacian x{whole:.2f}  flattest blocks x{flat:.2f}", flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default="paints_x8_30,cd_x8_30,sandiego_x4,samson_x4,paints_x8_40")
    ap.add_argument("--variants", default=json.dumps(DEFAULT_VARIANTS), help="JSON [[label, settings], ...]")
    ap.add_argument("--outer", type=int, default=40)
    ap.add_argument("--inner", type=int, default=10)
    ap.add_argument("--noise-check", action="store_true",
                    help="instead: how well the two MSI noise estimators read the true noise")
    args = ap.parse_args(argv)
    if not (DATA / "cave").is_dir():
        sys.exit(f"shared data not found at {DATA}")
    if args.noise_check:
        noise_check(args.cases.split(","))
        return 0
    table = cases()
    for name in args.cases.split(","):
        run(name, table[name], json.loads(args.variants), args.outer, args.inner)
    return 0


if __name__ == "__main__":
    sys.exit(main())
