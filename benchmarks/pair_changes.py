#!/usr/bin/env python
"""Changed areas (core/pair_changes.py): pairs whose MSI shows something the HSI does not.

Each pair is fused twice with the default settings (``fuse(outer_iterations=0)``, the guard on
"fallback": what the user gets), with ``changed_areas`` "off" (the previous behaviour) and "auto",
and scored against the HSI's truth beside the bicubic-upsampled HSI: PSNR over the whole image and
outside the changed area (grown by two LR pixels), the kernel's correlation with the true one, the
share written as upsampled HSI.

Cases (CAVE crops of 256 px at x8 with the Nikon response; airborne crops at x4 with the four
10 m Sentinel-2 bands; ``--set training`` or ``dev``):

- *matching*: the MSI is P·X at 40 dB (nothing may change);
- *a quarter of another scene* (40 and 25 dB) and *a sixteenth* (40 dB): the MSI's top-left corner
  from another scene of the set (airborne: the same scene turned by 180 degrees), as an MSI of
  another date would show it;
- *a strip of another scene*: a band across the middle, a third of the height (it crosses every
  quarter of the scene, from which the search starts when the whole-scene estimate was pulled far);
- *a cloud*: a soft disc (a fifth of the side across, 90 % opaque at its centre) of a flat bright
  spectrum in the MSI only.

    python benchmarks/pair_changes.py --set both --out docs/pair_changes.md     # about 6 min on 2 cores
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy.ndimage import binary_dilation, gaussian_filter

from hsi_blind_fusion.core import FusionSettings, fuse, metrics, simulate
from hsi_blind_fusion.core.initial_estimate import bicubic_estimate
from hsi_blind_fusion.core.kernels import gaussian_kernel

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pages  # noqa: E402
from guard import AIRBORNE, CAVE, _neighbour  # noqa: E402
from quality import _center_crop, data_dir, nikon_srf, read_airborne, read_cave, sentinel2_srf  # noqa: E402


def corner(z: np.ndarray, other: np.ndarray, share: float) -> tuple[np.ndarray, np.ndarray]:
    """``z`` with its top-left corner (``share`` of the area) from ``other``, and the changed pixels."""
    side = int(round(z.shape[1] * np.sqrt(share)))
    out, mask = z.copy(), np.zeros(z.shape[1:], bool)
    out[:, :side, :side] = other[:, :side, :side]
    mask[:side, :side] = True
    return out, mask


def strip(z: np.ndarray, other: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``z`` with a horizontal band across its middle (a third of its height) from ``other``: a change
    that crosses every quarter of the scene, and the changed pixels."""
    h = z.shape[1]
    out, mask = z.copy(), np.zeros(z.shape[1:], bool)
    rows = slice(h // 3, 2 * h // 3)
    out[:, rows] = other[:, rows]
    mask[rows] = True
    return out, mask


def cloud(z: np.ndarray, x: np.ndarray, srf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``z`` under a soft bright disc (flat spectrum at the scene's 99th percentile), and where it is
    more than 5 % opaque."""
    h, w = z.shape[1:]
    rows, cols = np.indices((h, w))
    disc = ((rows - 0.6 * h) ** 2 + (cols - 0.4 * w) ** 2 <= (0.1 * h) ** 2).astype(np.float64)
    alpha = 0.9 * np.clip(gaussian_filter(disc, 0.02 * h) / max(gaussian_filter(disc, 0.02 * h).max(), 1e-12), 0, 1)
    bright = srf @ np.full(x.shape[0], float(np.percentile(x, 99)))
    return ((1 - alpha) * z + alpha * bright[:, None, None]).astype(np.float32), alpha > 0.05


def _score(scene: str, case: str, y, z, x, scale: int, kernel: np.ndarray, changed: np.ndarray) -> dict:
    with torch.no_grad():
        up = np.maximum(bicubic_estimate(torch.from_numpy(y), scale, x.shape[1], x.shape[2]).numpy(), 0)
    rest = ~binary_dilation(changed, iterations=2 * scale) if changed.any() else np.ones(changed.shape, bool)
    row = {"scene": scene, "case": case, "bicubic": metrics.psnr(x, up),
           "bicubic_rest": metrics.psnr(x[:, rest], up[:, rest])}
    for setting in ("off", "auto"):
        t = time.perf_counter()
        r = fuse(y, z, scale=scale, outer_iterations=0, device="cpu", seed=0,
                 settings=FusionSettings(changed_areas=setting))
        found = r.diagnostics.estimation.pair_changes
        row[setting] = {"psnr": metrics.psnr(x, r.image), "rest": metrics.psnr(x[:, rest], r.image[:, rest]),
                        "kcorr": metrics.kernel_correlation(kernel, r.kernel), "written": r.diagnostics.written,
                        "upsampled": 0.0 if found is None or not found.applied else found.changed,
                        "gain": None if found is None or not found.rounds else found.fit_gain,
                        "seconds": time.perf_counter() - t}
    a, o = row["auto"], row["off"]
    print(f"  {scene:20s} {case:34s} bicubic {row['bicubic']:6.2f} | off {o['psnr']:6.2f} rest {o['rest']:6.2f} "
          f"k {o['kcorr']:.2f} {o['written']:13s} | auto {a['psnr']:6.2f} rest {a['rest']:6.2f} k {a['kcorr']:.2f} "
          f"{a['written']:13s} upsampled {a['upsampled']:.2f} ({a['seconds']:.1f} s)", flush=True)
    return row


def _cases(name: str, x: np.ndarray, other: np.ndarray, kernel: np.ndarray, srf: np.ndarray, scale: int) -> list[dict]:
    rows = []
    y, z = simulate(x, kernel, srf, scale, snr_db=40.0, seed=0)
    rows.append(_score(name, "matching 40 dB", y, z, x, scale, kernel, np.zeros(z.shape[1:], bool)))
    for snr, share, label in ((40.0, 0.25, "a quarter"), (25.0, 0.25, "a quarter"), (40.0, 1 / 16, "a sixteenth")):
        y, z = simulate(x, kernel, srf, scale, snr_db=snr, seed=0)
        zc, mask = corner(z, simulate(other, kernel, srf, scale, snr_db=snr, seed=0)[1], share)
        rows.append(_score(name, f"{label} of another scene {snr:.0f} dB", y, zc, x, scale, kernel, mask))
    y, z = simulate(x, kernel, srf, scale, snr_db=40.0, seed=0)
    zc, mask = strip(z, simulate(other, kernel, srf, scale, snr_db=40.0, seed=0)[1])
    rows.append(_score(name, "a strip of another scene 40 dB", y, zc, x, scale, kernel, mask))
    zc, mask = cloud(z, x, srf)
    rows.append(_score(name, "a cloud in the MSI 40 dB", y, zc, x, scale, kernel, mask))
    return rows


def cave_rows(data: Path, names: tuple) -> list[dict]:
    nikon = nikon_srf(data)
    bank = np.load(data / "srf" / "f_set_12_kernels.npz")
    k0 = bank["kernel_00"].astype(np.float64) / bank["kernel_00"].sum()
    rows = []
    for n in names:
        x = _center_crop(read_cave(data, n), 256, 8)
        rows += _cases(n, x, _center_crop(read_cave(data, _neighbour(n)), 256, 8), k0, nikon, 8)
    return rows


def airborne_rows(data: Path, entries: tuple) -> list[dict]:
    rows = []
    for n, file, divisor, crop in entries:
        cube, wl = read_airborne(data, file, divisor)
        x = _center_crop(cube, crop, 4)
        turned = np.ascontiguousarray(x[:, ::-1, ::-1])
        rows += _cases(n, x, turned, gaussian_kernel(9, 1.7), sentinel2_srf(data, wl), 4)
    return rows


def _f(v: float) -> str:
    return f"{v:.2f}"


def _table(rows: list[dict]) -> list[str]:
    L = ["| scene | case | bicubic | off: written | off: rest | off: kernel corr. | auto: written | auto: rest | "
         "auto: kernel corr. | auto: upsampled share | auto: fit gain | bicubic: rest |",
         "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        o, a = r["off"], r["auto"]
        mark = lambda d: "" if d["written"] == "fusion" else " (upsampled)"  # noqa: E731
        gain = "" if a["gain"] is None else f"{a['gain']:.3g}"
        L.append(f"| {r['scene']} | {r['case']} | {_f(r['bicubic'])} | {_f(o['psnr'])}{mark(o)} | {_f(o['rest'])} | "
                 f"{_f(o['kcorr'])} | {_f(a['psnr'])}{mark(a)} | {_f(a['rest'])} | {_f(a['kcorr'])} | "
                 f"{a['upsampled']:.2f} | {gain} | {_f(r['bicubic_rest'])} |")
    return L


def _summary(rows: list[dict]) -> list[str]:
    L = ["| case | pairs | mean PSNR off → auto | outside the change off → auto | kernel corr. off → auto | "
         "below bicubic off / auto | a matching pair changed |", "|---|---:|---|---|---|---|---|"]
    for case in dict.fromkeys(r["case"] for r in rows):
        sel = [r for r in rows if r["case"] == case]
        m = lambda k, s: np.mean([r[s][k] for r in sel])  # noqa: E731
        below = lambda s: sum(r[s]["psnr"] < r["bicubic"] - 0.05 for r in sel)  # noqa: E731
        touched = sum(r["auto"]["psnr"] != r["off"]["psnr"] for r in sel) if case.startswith("matching") else ""
        L.append(f"| {case} | {len(sel)} | {_f(m('psnr', 'off'))} → {_f(m('psnr', 'auto'))} | "
                 f"{_f(m('rest', 'off'))} → {_f(m('rest', 'auto'))} | "
                 f"{_f(m('kcorr', 'off'))} → {_f(m('kcorr', 'auto'))} "
                 f"| {below('off')} / {below('auto')} | {touched} |")
    return L


def render(sections: list[tuple[str, list[dict]]], meta: dict) -> str:
    legend = [
        "- PSNR in dB against the truth, over the whole image (*written*: what the default settings write, "
        "*(upsampled)* where the guard replaced the whole fusion) and *outside* the changed area grown by two LR "
        "pixels (*rest*); *off*: `changed_areas=\"off\"` (the previous behaviour); *auto*: the default; "
        "*upsampled share*: the share of the image written as upsampled HSI; *fit gain*: how much better the "
        "final estimate explains the blocks it kept than the first (kept from 2; empty: nothing stood out)."]
    return pages.set_page("Changed areas: the MSI shows something the HSI does not", "pair_changes.py",
                          "Cases: see the script's docstring.", meta, legend, sections, _summary, _table)


def main(argv: list[str] | None = None) -> int:
    data = data_dir()
    return pages.main_by_set("pair_changes.py", __doc__, lambda subset: cave_rows(data, CAVE[subset]) +
                             airborne_rows(data, AIRBORNE[subset]), render, argv)


if __name__ == "__main__":
    sys.exit(main())
