#!/usr/bin/env python
"""The guard (core/guard.py) on matching and mismatched pairs: what it writes, and what that costs.

Every pair is fused with the guard on "warn" (``fuse(outer_iterations=0)``: the fusion is always
written, the guard's figures are kept) and scored against its truth beside the bicubic-upsampled
HSI. Each rule then says which of the two it would have written:

- **previous**: the fusion is replaced when the held-out gain of the MSI is below 1.5, or when the
  fused image fits neither input better than upsampling;
- **new** (``ConsistencyCheck.fusion_worse``): replaced when the fused image leaves more than half
  of what upsampling leaves unexplained in the MSI's median band, and more than the MSI's noise (or
  fits neither input better); the held-out gain only warns.

A rule's *loss* on a case is what it wrote below the better of the two images (dB): replacing a
fusion that beat upsampling, or keeping one that did not.

Pairs (CAVE crops of 256 px at x8 with the Nikon response, airborne crops at x4 with Sentinel-2
bands; ``--set training`` or ``dev``):

- *matching*: the MSI is P·X (or the realistic pair of ``robustness.realistic_pair``, airborne: with
  the four 10 m Sentinel-2 bands and with all ten, whose SWIR bands the HSI does not cover): cameras of
  ``cameras52_allR.npz`` down to its rank-deficient ones (28: two equal channels, 51: three equal,
  a one-band camera), white noise 40 to 15 dB, a 35 px motion blur, a broad 48 px blur, column
  stripes, dead and saturated pixels;
- *mismatched*: the MSI of another scene, the MSI flipped upside down, shifted by 4 LR pixels (more
  than any kernel support holds), at 40 and 20 dB;
- *changed*: a quarter of the MSI shows another scene (an acquisition of another date);
- *too small a kernel*: a 35 px motion blur fused with ``kernel_size`` 9 or 17 given by the user.

    python benchmarks/guard.py --set training --out docs/guard.md        # about 7 min on 2 cores
    python benchmarks/guard.py --set both --out docs/guard.md         # about 10 min
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

from hsi_blind_fusion.core import FusionSettings, fuse, metrics, simulate
from hsi_blind_fusion.core.guard import HELD_OUT_DOUBT
from hsi_blind_fusion.core.initial_estimate import bicubic_estimate
from hsi_blind_fusion.core.kernels import gaussian_kernel

sys.path.insert(0, str(Path(__file__).resolve().parent))
import hsi_noise  # noqa: E402
import pages  # noqa: E402
from quality import _center_crop, data_dir, nikon_srf, read_airborne, read_cave, sentinel2_srf  # noqa: E402
from robustness import CAVE_WAVELENGTHS, impulses, realistic_pair, stripes  # noqa: E402

CAVE = {"training": ("beads", "cd", "cloth", "egyptian_statue", "fake_and_real_lemons", "feathers", "glass_tiles",
                     "paints"),
        "dev": ("balloons", "face")}
AIRBORNE = {"training": (("samson", "samson.npz", None, 92), ("sandiego", "sandiego_airport_ad.npz", 10000.0, 92),
                         ("muufl", "muufl_gulfport_sub_gatorsense.npz", None, 48)),
            "dev": (("jasper_ridge", "jasper_ridge.npz", 5000.0, 100),
                    ("aviris_gatorsense", "aviris_gatorsense_vi_demo.npz", 10000.0, 88))}
KINDS = ("matching", "mismatched", "changed", "too small a kernel")


def _score(scene: str, case: str, kind: str, y, z, x, scale: int, kernel_size: int | None = None) -> dict:
    r = fuse(y, z, scale=scale, outer_iterations=0, device="cpu", seed=0, kernel_size=kernel_size,
             settings=FusionSettings(guard="warn"))
    with torch.no_grad():
        up = np.maximum(bicubic_estimate(torch.from_numpy(y), scale, x.shape[1], x.shape[2]).numpy(), 0)
    g = r.diagnostics.guard
    previous = (g.held_out_gain is not None and np.isfinite(g.held_out_gain) and g.held_out_gain < HELD_OUT_DOUBT) \
        or (g.fused_msi >= g.upsampled_msi and g.fused_hsi >= g.upsampled_hsi)
    row = {"scene": scene, "case": case, "kind": kind, "fused": metrics.psnr(x, r.image),
           "bicubic": metrics.psnr(x, up), "msi_ratio": g.msi_ratio,
           "fused_msi": g.fused_msi, "msi_noise": g.msi_noise, "gain": g.held_out_gain,
           "previous": bool(previous), "new": bool(g.fusion_worse)}
    print(f"  {scene:20s} {case:30s} {kind:18s} fused−bicubic {row['fused'] - row['bicubic']:+6.2f}  MSI ratio "
          f"{row['msi_ratio']:.3f} noise {row['msi_noise']:.3f}  gain {row['gain']:7.2f}  replaced: previous "
          f"{'yes' if previous else 'no '} new {'yes' if row['new'] else 'no'}", flush=True)
    return row


def cave_rows(data: Path, names: tuple) -> list[dict]:
    nikon = nikon_srf(data)
    bank = np.load(data / "srf" / "f_set_12_kernels.npz")
    k = lambda i: bank[f"kernel_{i:02d}"].astype(np.float64) / bank[f"kernel_{i:02d}"].sum()  # noqa: E731
    broad = np.load(data / "srf" / "bmhf_blur_kernels20_allC.npz")["kernels"][:, :, 12]
    broad = np.pad(broad, ((0, 1), (0, 1))) / broad.sum()
    cams = np.load(data / "srf" / "cameras52_allR.npz")["srf"]
    cam = lambda c: cams[:, :, c] / cams[:, :, c].sum(axis=1, keepdims=True)  # noqa: E731
    crops = {n: _center_crop(read_cave(data, n), 256, 8) for n in names}
    rows = []
    for n in names:
        x, other = crops[n], crops[_neighbour(n)]
        run = lambda case, kind, y, z, truth=x, **kw: rows.append(_score(n, case, kind, y, z, truth, 8, **kw))  # noqa: E731
        for c in (0, 28, 33, 51):
            run(f"camera {c}", "matching", *simulate(x, k(0), cam(c), 8, snr_db=40.0, seed=0))
        for snr in (40.0, 25.0, 20.0, 15.0):
            run(f"{snr:.0f} dB", "matching", *simulate(x, k(0), nikon, 8, snr_db=snr, seed=0))
        run("35 px motion blur 30 dB", "matching", *simulate(x, k(11), nikon, 8, snr_db=30.0, seed=0))
        run("broad 48 px blur", "matching", *simulate(x, broad, nikon, 8, snr_db=40.0, seed=0))
        y, z = simulate(x, k(0), nikon, 8, snr_db=30.0, seed=0)
        run("column stripes 30 dB", "matching", stripes(y, np.random.default_rng(1), 30.0), z)
        run("dead and saturated pixels", "matching", impulses(y, np.random.default_rng(1), 30.0), z)
        y, z, truth, _, _ = realistic_pair(x, CAVE_WAVELENGTHS, nikon, 8, (420.0, 680.0), 40.0, 0)
        run("realistic pair", "matching", y, z, truth)
        for snr in (40.0, 20.0):
            y, z = simulate(x, k(0), nikon, 8, snr_db=snr, seed=0)
            run(f"another scene's MSI {snr:.0f} dB", "mismatched", y, simulate(other, k(0), nikon, 8, snr_db=snr, seed=0)[1])
            run(f"flipped MSI {snr:.0f} dB", "mismatched", y, np.ascontiguousarray(z[:, ::-1]))
            run(f"MSI shifted 4 LR px {snr:.0f} dB", "mismatched", y, np.ascontiguousarray(np.roll(z, 32, axis=2)))
        y, z = simulate(x, k(0), nikon, 8, snr_db=40.0, seed=0)
        changed = z.copy()
        changed[:, :128, :128] = simulate(other, k(0), nikon, 8, snr_db=40.0, seed=0)[1][:, :128, :128]
        run("a quarter of another scene", "changed", y, changed)
        y, z = simulate(x, k(11), nikon, 8, snr_db=40.0, seed=0)
        for size in (9, 17):
            run(f"35 px blur, kernel_size {size}", "too small a kernel", y, z, kernel_size=size)
    return rows


def _neighbour(name: str) -> str:
    """Another scene of the same set, for the mismatched MSIs."""
    for names in CAVE.values():
        if name in names:
            return names[(names.index(name) + 1) % len(names)]
    raise KeyError(name)


def airborne_rows(data: Path, entries: tuple) -> list[dict]:
    rows = []
    for n, file, divisor, crop in entries:
        cube, wl = read_airborne(data, file, divisor)
        x = _center_crop(cube, crop, 4)
        four, ten = sentinel2_srf(data, wl), hsi_noise.sentinel2_srf(data, wl, hsi_noise.S2_TEN)[0]
        run = lambda case, kind, y, z, truth=x: rows.append(_score(n, case, kind, y, z, truth, 4))  # noqa: E731
        blur = gaussian_kernel(9, 1.7)
        for snr in (40.0, 25.0, 15.0):
            run(f"S2 4 bands {snr:.0f} dB", "matching", *simulate(x, blur, four, 4, snr_db=snr, seed=0))
        run("S2 10 bands 25 dB", "matching", *simulate(x, blur, ten, 4, snr_db=25.0, seed=0))
        y, z, truth, _, _ = realistic_pair(x, wl, four, 4, (470.0, 850.0), 40.0, 0)
        run("realistic pair", "matching", y, z, truth)
        y, z, truth, _, _ = realistic_pair(x, wl, ten, 4, (470.0, 850.0), 40.0, 0)
        run("realistic pair, S2 10 bands", "matching", y, z, truth)
        for snr in (40.0, 20.0):
            y, z = simulate(x, blur, four, 4, snr_db=snr, seed=0)
            run(f"flipped MSI {snr:.0f} dB", "mismatched", y, np.ascontiguousarray(z[:, ::-1]))
            run(f"MSI shifted 4 LR px {snr:.0f} dB", "mismatched", y, np.ascontiguousarray(np.roll(z, 16, axis=2)))
    return rows


def _loss(row: dict, rule: str) -> float:
    """dB written below the better of the fusion and the upsampled HSI."""
    best = max(row["fused"], row["bicubic"])
    return best - (row["bicubic"] if row[rule] else row["fused"])


def _section(title: str, rows: list[dict]) -> list[str]:
    L = [f"## {title}", "",
         "| pairs | cases | fusion − bicubic (dB) | MSI ratio (fused / upsampled residual) | MSI noise | held-out gain "
         "| replaced: previous / new | fusion below bicubic written: previous / new | loss, mean / worst (dB): previous "
         "| new |", "|---|---:|---|---|---|---|---|---|---|---|"]
    for kind in KINDS:
        rs = [r for r in rows if r["kind"] == kind]
        if not rs:
            continue
        d = [r["fused"] - r["bicubic"] for r in rs]
        rng = lambda key: f"{min(r[key] for r in rs):.3g} – {max(r[key] for r in rs):.3g}"  # noqa: E731
        below = lambda rule: sum(1 for r in rs if not r[rule] and r["fused"] < r["bicubic"])  # noqa: E731
        loss = lambda rule: f"{np.mean([_loss(r, rule) for r in rs]):.2f} / {max(_loss(r, rule) for r in rs):.2f}"  # noqa: E731
        L.append(f"| {kind} | {len(rs)} | {min(d):+.2f} – {max(d):+.2f} | {rng('msi_ratio')} | {rng('msi_noise')} | "
                 f"{rng('gain')} | {sum(r['previous'] for r in rs)} / {sum(r['new'] for r in rs)} | "
                 f"{below('previous')} / {below('new')} | {loss('previous')} | {loss('new')} |")
    L += ["", "<details><summary>every case</summary>", "",
          "| scene | case | pairs | fused | bicubic | MSI ratio | MSI noise | held-out gain | replaced: previous | new |",
          "|---|---|---|---:|---:|---:|---:|---:|---|---|"]
    for r in rows:
        L.append(f"| {r['scene']} | {r['case']} | {r['kind']} | {r['fused']:.2f} | {r['bicubic']:.2f} | "
                 f"{r['msi_ratio']:.3f} | {r['msi_noise']:.3f} | {r['gain']:.2f} | {'yes' if r['previous'] else 'no'} | "
                 f"{'yes' if r['new'] else 'no'} |")
    return L + ["", "</details>", ""]


def render(sections: list[tuple[str, list[dict]]], meta: dict) -> str:
    L = ["# The guard: matching and mismatched pairs", "",
         "Generated by `benchmarks/guard.py`; do not edit by hand. Pairs and rules: see the script's docstring.", "",
         f"- command: `{meta['command']}`", f"- date: {meta['date']}", f"- machine: {meta['machine']}",
         "- PSNR in dB against the truth; *MSI ratio*: the fused image's relative residual against the MSI (P·X "
         "vs MSI) over the upsampled HSI's, the median MSI band's; *MSI noise*: the MSI's noise relative to its signal, as the fusion "
         "estimated it; *loss*: dB written below the better of the fusion and the upsampled HSI.", ""]
    for title, rows in sections:
        L += _section(title, rows)
    return "\n".join(L)


def main(argv: list[str] | None = None) -> int:
    data = data_dir()
    return pages.main_by_set("guard.py", __doc__, lambda subset: cave_rows(data, CAVE[subset]) +
                             airborne_rows(data, AIRBORNE[subset]), render, argv)


if __name__ == "__main__":
    sys.exit(main())
