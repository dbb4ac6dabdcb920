"""A blur that changes with wavelength (core/chromatic_blur.py): one kernel per group of bands.

Pairs: CAVE crops of 256 px at x8 with the Nikon response, 40 dB. *per-band PSF*: each HSI band
blurred with its own measured PSF of the HiDe camera (``srf/hide_measured_psfs.npz``: six sets of
45 per-band 31 x 31 PSFs; CAVE band i takes HiDe band round(44 i / 30)); the MSI is P·X (the MSI
has its own optics). *common kernel*: the same for f_set kernels 0, 5 and 11 (one kernel for all
bands: the fit must leave them alone), at 40 dB and for kernel 0 at 30 dB. Every pair is fused with
``chromatic_blur`` "off" and "auto" (``outer_iterations=0``, guard on warn). *oracle*: the same
fusion with the true per-band PSFs averaged over the same 8 groups of bands in place of the
estimated groups' kernels (the bound of this model with exact kernels).

    python benchmarks/chromatic_blur.py --set both --out docs/chromatic_blur.md
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

from hsi_blind_fusion.core import FusionSettings, fuse, metrics, simulate
from hsi_blind_fusion.core.chromatic_blur import BandKernels
from hsi_blind_fusion.core.initial_estimate import bicubic_estimate
from hsi_blind_fusion.core.operators import blur_downsample

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pages  # noqa: E402
from guard import CAVE  # noqa: E402  (the same scene sets)
from quality import _center_crop, data_dir, nikon_srf, read_cave  # noqa: E402

PSF_SETS = ("alien", "book", "fruit", "bicycle", "car", "tree")
GROUPS = 8


def per_band_psfs(data: Path, name: str, bands: int) -> np.ndarray:
    p = np.load(data / "srf" / "hide_measured_psfs.npz")[name]
    idx = np.round(np.arange(bands) * (p.shape[2] - 1) / (bands - 1)).astype(int)
    return np.stack([p[:, :, i] / p[:, :, i].sum() for i in idx]).astype(np.float32)


def chromatic_pair(x: np.ndarray, psfs: np.ndarray, srf: np.ndarray, scale: int, snr: float):
    """The pair with each HSI band blurred by its own PSF (the noise drawn as ``simulate`` draws it)."""
    mean = psfs.mean(0)
    y_mean, z = simulate(x, mean, srf, scale, snr_db=snr, seed=0)
    noise = y_mean - blur_downsample(torch.from_numpy(x), torch.from_numpy(mean), scale).numpy()
    y = np.stack([blur_downsample(torch.from_numpy(x[b : b + 1]), torch.from_numpy(psfs[b]), scale).numpy()[0]
                  for b in range(x.shape[0])]) + noise
    return y.astype(np.float32), z


def oracle(y: np.ndarray, z: np.ndarray, psfs: np.ndarray) -> np.ndarray:
    """The same fusion with the true PSFs, averaged over the groups of bands, in place of the groups'
    estimated kernels (the bound of this model with exact kernels)."""
    from hsi_blind_fusion.core import scene_windows

    bounds = [(int(s[0]), int(s[-1]) + 1) for s in np.array_split(np.arange(y.shape[0]), GROUPS)]
    true = BandKernels(bounds, [psfs[a:b].mean(0) for a, b in bounds], np.ones((GROUPS, 4)), 1.0, np.ones(GROUPS))
    found = scene_windows.estimate_band_kernels
    scene_windows.estimate_band_kernels = lambda *args, **kwargs: true
    try:
        return fuse(y, z, scale=8, outer_iterations=0, device="cpu", seed=0,
                    settings=FusionSettings(guard="warn", chromatic_blur="auto")).image
    finally:
        scene_windows.estimate_band_kernels = found


def score(scene: str, case: str, kind: str, y, z, x, psfs=None) -> dict:
    runs = {c: fuse(y, z, scale=8, outer_iterations=0, device="cpu", seed=0,
                    settings=FusionSettings(guard="warn", chromatic_blur=c)) for c in ("off", "auto")}
    with torch.no_grad():
        up = np.maximum(bicubic_estimate(torch.from_numpy(y), 8, x.shape[1], x.shape[2]).numpy(), 0)
    found = runs["auto"].diagnostics.band_kernels
    row = {"scene": scene, "case": case, "kind": kind, "bicubic": metrics.psnr(x, up),
           "off": metrics.psnr(x, runs["off"].image), "auto": metrics.psnr(x, runs["auto"].image),
           "oracle": metrics.psnr(x, oracle(y, z, psfs)) if psfs is not None else float("nan"),
           "groups": 0 if found is None else int(np.any(found.params != 0, axis=1).sum()),
           "gain": 1.0 if found is None else found.gain}
    print(f"  {scene:20s} {case:26s} bicubic {row['bicubic']:6.2f} off {row['off']:6.2f} auto {row['auto']:6.2f} "
          f"({row['auto'] - row['off']:+.2f}) oracle {row['oracle']:6.2f} groups {row['groups']}", flush=True)
    return row


def rows_for(data: Path, subset: str) -> list[dict]:
    nikon = nikon_srf(data)
    bank = np.load(data / "srf" / "f_set_12_kernels.npz")
    rows = []
    for name in CAVE[subset]:
        x = _center_crop(read_cave(data, name), 256, 8)
        for psf in PSF_SETS:
            psfs = per_band_psfs(data, psf, x.shape[0])
            rows.append(score(name, f"per-band PSF {psf}", "per-band PSF", *chromatic_pair(x, psfs, nikon, 8, 40.0),
                              x, psfs))
        for i, snr in ((0, 40.0), (5, 40.0), (11, 40.0), (0, 30.0)):
            k = (bank[f"kernel_{i:02d}"] / bank[f"kernel_{i:02d}"].sum()).astype(np.float32)
            rows.append(score(name, f"f_set kernel_{i:02d} {snr:.0f} dB", "common kernel",
                              *simulate(x, k, nikon, 8, snr_db=snr, seed=0), x))
    return rows


def _f(v: float) -> str:
    return "–" if not np.isfinite(v) else f"{v:.2f}"


def _summary(rows: list[dict]) -> list[str]:
    L = ["| pairs | cases | mean PSNR bicubic / off / auto / oracle | auto − off: mean, worst, best | "
         "pairs with own kernels | below bicubic off / auto |", "|---|---:|---|---|---|---|"]
    for kind in dict.fromkeys(r["kind"] for r in rows):
        sel = [r for r in rows if r["kind"] == kind]
        m = lambda k: float(np.mean([r[k] for r in sel]))  # noqa: E731
        gain = [r["auto"] - r["off"] for r in sel]
        L.append(f"| {kind} | {len(sel)} | {_f(m('bicubic'))} / {_f(m('off'))} / {_f(m('auto'))} / {_f(m('oracle'))} | "
                 f"{np.mean(gain):+.2f}, {min(gain):+.2f}, {max(gain):+.2f} | {sum(r['groups'] > 0 for r in sel)} | "
                 f"{sum(r['off'] < r['bicubic'] - 0.05 for r in sel)} / {sum(r['auto'] < r['bicubic'] - 0.05 for r in sel)} |")
    return L


def _table(rows: list[dict]) -> list[str]:
    L = ["| scene | case | bicubic | off | auto | auto − off | oracle | groups with own kernel | LR residual gain |",
         "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        L.append(f"| {r['scene']} | {r['case']} | {_f(r['bicubic'])} | {_f(r['off'])} | {_f(r['auto'])} | "
                 f"{r['auto'] - r['off']:+.2f} | {_f(r['oracle'])} | {r['groups']} | {r['gain']:.2f} |")
    return L


def render(sections: list[tuple[str, list[dict]]], meta: dict) -> str:
    legend = [
        "- PSNR in dB against the truth of the start (`outer_iterations=0`, guard on warn); *off*: "
        "`chromatic_blur=\"off\"` (one kernel for all bands, the previous behaviour); *auto*: the default; "
        "*oracle*: the same fusion with the true PSFs averaged over the 8 groups of bands in place of the "
        "estimated groups' kernels; *groups*: how many of the 8 "
        "groups got their own kernel; *LR residual gain*: the common kernel's LR residual over the groups' "
        "kernels' (core/chromatic_blur.py; a group keeps its kernel from 1.1, the groups are used from 1.25 together)."]
    return pages.set_page("Chromatic blur: a kernel per group of bands", "chromatic_blur.py",
                          "Pairs: see the script's docstring.", meta, legend, sections, _summary, _table)


def main(argv: list[str] | None = None) -> int:
    data = data_dir()
    return pages.main_by_set("chromatic_blur.py", __doc__, lambda subset: rows_for(data, subset), render, argv)


if __name__ == "__main__":
    sys.exit(main())
