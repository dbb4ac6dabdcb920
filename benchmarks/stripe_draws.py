#!/usr/bin/env python
"""What column stripes cost the classical start, over several stripe draws, and how much of it any
destriping could give back.

A third of the bands (random) get per-column offsets, Gaussian with a standard deviation of 1-3
times (uniform per band) the band's noise std, as in ``robustness.stripes`` and
``hsi_noise.corrupt``; each draw picks other bands and other offsets. Per case and draw, with
``fuse(outer_iterations=0)``:

- **clean**: the default on the same pair without stripes;
- **oracle**: the striped HSI with the true offsets' zero-mean part removed (cleaning off). A band's
  offsets have a mean of their own: a calibration bias that no method can tell from the scene
  (its spectrum's mean is unknown), so this is the best a destriping can do;
- **auto**: the default (``hsi_cleaning="auto"``) on the striped HSI.

*cost* = clean − auto; *left* = oracle − auto, what the destriping leaves of what it could remove.
Also: auto − off on the clean pair (auto must not change a clean HSI). Cases: the CAVE scenes
(centre crop 384, x8, motion ``kernel_00``, Nikon response, as robustness.py) and the airborne
scenes with four and with ten Sentinel-2 bands (x4, as hsi_noise.py), 30 dB.

``--ridge`` and ``--auto-min`` sweep ``hsi_cleaning._JOINT_RIDGE`` and
``hsi_cleaning.AUTO_MIN_STRIPE_TO_NOISE`` (training scenes only: they were chosen there).

    python benchmarks/stripe_draws.py --set training                     # about 1 min on 2 cores
    python benchmarks/stripe_draws.py --set training --ridge 0.01,0.03,0.1
    python benchmarks/stripe_draws.py --set dev --out docs/stripe_draws.md
"""
from __future__ import annotations

import argparse
import datetime as _dt
import os
import shlex
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from hsi_blind_fusion.core import FusionSettings, fuse, metrics, simulate
from hsi_blind_fusion.core import hsi_cleaning

sys.path.insert(0, str(Path(__file__).resolve().parent))
import hsi_noise  # noqa: E402  (the airborne cases and noise levels)
import pages  # noqa: E402
from quality import _center_crop, data_dir, nikon_srf, read_cave  # noqa: E402

CROP = 384


def cases(data: Path, subset: str) -> list[tuple]:
    """``(name, load, kernel, scale)`` of ``subset``: CAVE centre crops at x8, airborne at x4 (four
    Sentinel-2 bands)."""
    nikon = nikon_srf(data)
    bank = np.load(data / "srf" / "f_set_12_kernels.npz")
    motion = bank["kernel_00"].astype(np.float64) / bank["kernel_00"].sum()
    out = []
    for c in hsi_noise.build_cases(data):
        if c.subset != subset:
            continue
        if c.name.startswith("cave_"):
            scene = c.name[len("cave_"):-len("_x8")]
            out.append((c.name, lambda s=scene: (_center_crop(read_cave(data, s), CROP, 8), nikon), motion, 8))
        else:
            out.append((c.name, c.load, c.kernel, c.scale))
    return out


def stripes(y: np.ndarray, std: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Column offsets ``(bands, w)`` in a third of the bands, 1-3 noise stds."""
    off = np.zeros((y.shape[0], y.shape[2]))
    for b in rng.choice(y.shape[0], y.shape[0] // 3, replace=False):
        off[b] = rng.uniform(1, 3) * std[b] * rng.standard_normal(y.shape[2])
    return off


def run(name: str, load, kernel: np.ndarray, scale: int, draws: list[int], snr: float) -> list[dict]:
    x, srf = load()
    y, z = simulate(x, kernel, srf, scale, snr_db=snr, seed=0)
    std = hsi_noise.noise_std(y, snr)

    def psnr(hsi: np.ndarray, mode: str = "auto") -> float:
        image = fuse(hsi, z, scale=scale, outer_iterations=0, device="cpu", seed=0,
                     settings=FusionSettings(hsi_cleaning=mode)).image
        return metrics.psnr(x, image)

    clean = psnr(y)
    unchanged = clean - psnr(y, "off")
    rows = []
    for draw in draws:
        off = stripes(y, std, np.random.default_rng(draw))
        striped = (y + off[:, None, :]).astype(y.dtype)
        centred = off - off.mean(axis=1, keepdims=True)
        oracle = psnr((striped - centred[:, None, :]).astype(y.dtype), "off")
        auto = psnr(striped)
        rows.append({"case": name, "draw": draw, "clean": clean, "oracle": oracle, "auto": auto,
                     "auto_minus_off_clean": unchanged})
        print(f"  {name:30s} draw {draw}  clean {clean:6.2f}  oracle {oracle:6.2f}  auto {auto:6.2f}  "
              f"cost {clean - auto:5.2f}  left {oracle - auto:5.2f}", flush=True)
    return rows


def summary(rows: list[dict]) -> str:
    cost = [r["clean"] - r["auto"] for r in rows]
    left = [r["oracle"] - r["auto"] for r in rows]
    bias = [r["clean"] - r["oracle"] for r in rows]
    worst = max(rows, key=lambda r: r["oracle"] - r["auto"])
    return (f"cost mean {np.mean(cost):.3f} dB (worst {max(cost):.3f}); the offsets' means alone "
            f"{np.mean(bias):.3f} dB; left by the destriping mean {np.mean(left):.3f} dB, worst {max(left):.3f} "
            f"({worst['case']} draw {worst['draw']}); clean pairs, auto − off: "
            f"{min(r['auto_minus_off_clean'] for r in rows):+.3f} .. {max(r['auto_minus_off_clean'] for r in rows):+.3f} dB")


def render(rows: list[dict], sweeps: list[tuple[str, str]], meta: dict) -> str:
    lines = ["# Column stripes over several draws: what they cost, what the destriping leaves", "",
             "Generated by `benchmarks/stripe_draws.py`; do not edit by hand. Rows and columns: see its docstring.", "",
             f"- command: `{meta['command']}`", f"- date: {meta['date']} ({meta['seconds']:.0f} s)",
             f"- machine: {meta['machine']}", f"- {meta['set']} scenes, 30 dB, draws {meta['draws']}", "",
             "| case | draw | clean | oracle (true zero-mean offsets removed) | auto | cost | left |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['case']} | {r['draw']} | {r['clean']:.2f} | {r['oracle']:.2f} | {r['auto']:.2f} | "
                     f"{r['clean'] - r['auto']:.2f} | {r['oracle'] - r['auto']:.2f} |")
    lines += ["", "PSNR in dB.", "", "## Summary", "", f"- {summary(rows)}"]
    lines += [f"- {label}: {text}" for label, text in sweeps]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--set", choices=("training", "dev"), default="training")
    ap.add_argument("--draws", default="1,2,3", help="comma-separated stripe seeds")
    ap.add_argument("--snr", type=float, default=30.0)
    ap.add_argument("--ridge", default="", help="comma-separated values of hsi_cleaning._JOINT_RIDGE to sweep")
    ap.add_argument("--auto-min", default="", help="comma-separated values of AUTO_MIN_STRIPE_TO_NOISE to sweep")
    ap.add_argument("--out", default=None, help="Markdown page (also printed)")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    data = data_dir()
    draws = [int(d) for d in args.draws.split(",")]
    chosen = cases(data, args.set)
    t0 = time.perf_counter()
    settings = [("_JOINT_RIDGE", float(v)) for v in args.ridge.split(",") if v] + \
               [("AUTO_MIN_STRIPE_TO_NOISE", float(v)) for v in args.auto_min.split(",") if v]
    sweeps, rows = [], []
    for attr, value in settings or [(None, None)]:
        saved = getattr(hsi_cleaning, attr) if attr else None
        if attr:
            setattr(hsi_cleaning, attr, value)
            print(f"{attr} = {value}", flush=True)
        try:
            these = [r for c in chosen for r in run(*c, draws, args.snr)]
        finally:
            if attr:
                setattr(hsi_cleaning, attr, saved)
        if attr:
            sweeps.append((f"`{attr}` = {value:g}", summary(these)))
        if not attr or value == saved:          # the table shows the code's own settings
            rows = these
    rows = rows or these
    meta = {"command": "python " + " ".join(shlex.quote(a) for a in [os.path.relpath(sys.argv[0])] + sys.argv[1:]),
            "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "seconds": time.perf_counter() - t0, "set": args.set, "draws": args.draws,
            "machine": pages.machine()}
    pages.publish(render(rows, sweeps, meta), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
