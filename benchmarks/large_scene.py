#!/usr/bin/env python
"""Large scenes in bounded memory: peak RSS and time per stage of a streaming fusion.

A synthetic pair (MSI ``N x N x 4``, HSI ``N/8 x N/8 x 100``, scale 8) is generated cheaply
(4 smooth random abundance maps times 4 smooth random spectra; the HR cube itself is never built:
the MSI is ``(P·S)·A`` and the HSI ``S·((A*K)↓8)``, Gaussian kernel 17 x 17, 40 dB noise) and
written as georeferenced GeoTIFFs in a temporary folder by one process. A *fresh* process then
runs the plugin's pipeline on them (``workflow.load_inputs`` + ``workflow.fuse_to_file`` with an
output path: the fused GeoTIFF is written window by window) with few iterations (outer=2,
inner=2: the fitting costs the same per step whatever the scene size, only the initial estimate,
the rendering and the writing grow with the area), and reports per stage: wall time, peak RSS
(``/proc/self/status`` VmRSS sampled every 50 ms, and VmHWM / ``ru_maxrss`` at the end).

    python benchmarks/large_scene.py                          # 1024, 2048, 4096
    python benchmarks/large_scene.py --sizes 1024 --json out.json
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from _bootstrap import ensure_package  # noqa: E402

SCALE, HSI_BANDS, MSI_BANDS, ENDMEMBERS = 8, 100, 4, 4


def make_scene(size: int, folder: Path, seed: int = 0) -> tuple[str, str]:
    """Write ``hsi.tif`` and ``msi.tif`` for an ``size`` x ``size`` MSI into ``folder``."""
    import numpy as np
    import torch
    from affine import Affine
    from rasterio.crs import CRS
    from scipy.ndimage import gaussian_filter, zoom

    from hsi_blind_fusion.core import io
    from hsi_blind_fusion.core.kernels import gaussian_kernel
    from hsi_blind_fusion.core.operators import blur_downsample
    from hsi_blind_fusion.core.responses import gaussian_srf

    rng = np.random.default_rng(seed)
    wl = np.linspace(420.0, 2400.0, HSI_BANDS)
    spectra = np.stack([gaussian_filter(rng.random(HSI_BANDS), 4.0, mode="nearest") for _ in range(ENDMEMBERS)])
    spectra = 0.05 + 0.9 * (spectra - spectra.min(1, keepdims=True)) / np.ptp(spectra, axis=1, keepdims=True)
    # smooth abundances: random fields at 1/16 resolution, cubic zoom, softmax-sharpened
    low = np.stack([gaussian_filter(rng.random((size // 16, size // 16)), 1.5, mode="wrap") for _ in range(ENDMEMBERS)])
    a = np.stack([zoom(m, 16, order=3) for m in low]).astype(np.float32)
    a = np.exp(6.0 * (a - a.mean()) / a.std(), dtype=np.float32)
    a /= a.sum(0, keepdims=True)
    srf = gaussian_srf([490.0, 560.0, 665.0, 842.0], [65.0, 35.0, 30.0, 115.0], wl)   # Sentinel-2 10 m like
    msi = np.einsum("me,ehw->mhw", (srf @ spectra.T).astype(np.float32), a)
    k = torch.as_tensor(gaussian_kernel(2 * SCALE + 1, SCALE / 2.355), dtype=torch.float32)
    a_lr = blur_downsample(torch.from_numpy(a), k, SCALE).numpy()
    del a
    hsi = np.einsum("be,ehw->bhw", spectra.T.astype(np.float32), a_lr)
    for img in (hsi, msi):  # 40 dB
        img += rng.standard_normal(img.shape, dtype=np.float32) * np.float32(np.sqrt((img ** 2).mean() / 1e4))
    crs = CRS.from_epsg(32633)
    t_msi = Affine(10.0, 0, 500000.0, 0, -10.0, 5000000.0)
    t_hsi = t_msi * Affine.scale(SCALE)
    hp, mp = str(folder / "hsi.tif"), str(folder / "msi.tif")
    io.write_raster(hp, hsi, t_hsi, crs, wavelengths_nm=wl)
    io.write_raster(mp, msi, t_msi, crs, descriptions=["B2", "B3", "B4", "B8"])
    return hp, mp


class MemorySampler(threading.Thread):
    """VmRSS every ``period`` s, the maximum kept per stage label (set by the progress callback)."""

    def __init__(self, period: float = 0.05):
        super().__init__(daemon=True)
        self.period, self.stage, self.peaks, self._halt = period, "start", {}, threading.Event()

    @staticmethod
    def status(key: str) -> int:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
        return 0

    def run(self):
        while not self._halt.is_set():
            rss = self.status("VmRSS")
            self.peaks[self.stage] = max(self.peaks.get(self.stage, 0), rss)
            time.sleep(self.period)

    def stop(self):
        self._halt.set()
        self.join()
        rss = self.status("VmRSS")
        self.peaks[self.stage] = max(self.peaks.get(self.stage, 0), rss)


def stage_of(message: str) -> str | None:
    m = message.lower()
    for key, name in (("estimating the blur", "degradation"), ("degradation estimate", "degradation"),
                      ("denoising the multispectral", "MSI denoising"), ("initial estimate", "initial estimate"),
                      ("fusion, outer", "fusion"),
                      ("writing tile", "render + write")):
        if key in m:
            return name
    return None


def sampled_read(hsi: str, msi: str):
    """Start sampling the RSS and read the inputs (stage "read"): (sampler, inputs, t0, read seconds)."""
    from hsi_blind_fusion.core.workflow import load_inputs

    sampler = MemorySampler()
    sampler.start()
    t0 = time.perf_counter()
    sampler.stage = "read"
    inputs = load_inputs(hsi, msi)
    return sampler, inputs, t0, time.perf_counter() - t0


def run_pipeline(hsi: str, msi: str, out: str, outer: int, inner: int, tile: int) -> dict:
    """One streaming fusion in this (fresh) process; figures as a dict."""
    ensure_package()
    import torch

    from hsi_blind_fusion.core import FusionSettings
    from hsi_blind_fusion.core.workflow import fuse_to_file

    sampler, inputs, t0, t_read = sampled_read(hsi, msi)
    last = [None]

    def progress(fraction, message=""):
        s = stage_of(message)
        if s:
            sampler.stage = s
        if s != last[0]:
            last[0] = s
            print(f"  {time.perf_counter() - t0:7.1f} s  {message}", file=sys.stderr, flush=True)

    t1 = time.perf_counter()
    cfg = FusionSettings(outer_iterations=outer, inner_iterations=inner, device="cpu", tile_size=tile or None)
    result = fuse_to_file(inputs, cfg, out, progress)
    t_fuse = time.perf_counter() - t1
    sampler.stop()
    d = result.diagnostics
    return {
        "msi": list(inputs.pair.msi.data.shape), "hsi": list(inputs.pair.hsi.data.shape),
        "output_gb": HSI_BANDS * inputs.pair.msi.data.shape[1] * inputs.pair.msi.data.shape[2] * 4 / 1e9,
        "outer": outer, "inner": inner, "tile_size": d.tile_size, "cached": d.cached,
        "initial_estimate": d.initial_estimate, "device": d.device,
        "torch_threads": torch.get_num_threads(),
        "seconds": {"read": t_read, **{k: float(v) for k, v in d.timings.items()}, "total": t_read + t_fuse},
        "peak_rss_by_stage_gb": {k: v / 1e9 for k, v in sampler.peaks.items()},
        "vmhwm_gb": MemorySampler.status("VmHWM") / 1e9,
        "ru_maxrss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9,
        "image_kept": result.image is not None,
        "output_file_gb": os.path.getsize(out) / 1e9,
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1024, 2048, 4096])
    ap.add_argument("--outer", type=int, default=2)
    ap.add_argument("--inner", type=int, default=2)
    ap.add_argument("--tile-size", type=int, default=0, help="0 = automatic")
    ap.add_argument("--json", help="append one JSON line per size here")
    ap.add_argument("--folder", help="working folder (default: a temporary one, removed at the end)")
    ap.add_argument("--_make", nargs=2, metavar=("SIZE", "FOLDER"), help=argparse.SUPPRESS)
    ap.add_argument("--_run", nargs=3, metavar=("HSI", "MSI", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args._make:
        ensure_package()
        make_scene(int(args._make[0]), Path(args._make[1]))
        return 0
    if args._run:
        print("RESULT " + json.dumps(run_pipeline(*args._run, args.outer, args.inner, args.tile_size)), flush=True)
        return 0

    base = Path(args.folder or tempfile.mkdtemp(prefix="hsi-large-"))
    try:
        for size in args.sizes:
            folder = base / str(size)
            folder.mkdir(parents=True, exist_ok=True)
            t = time.perf_counter()
            subprocess.run([sys.executable, __file__, "--_make", str(size), str(folder)], check=True)
            print(f"[{size}] scene written in {time.perf_counter() - t:.0f} s; load {os.getloadavg()}", flush=True)
            cmd = [sys.executable, __file__, "--_run", str(folder / "hsi.tif"), str(folder / "msi.tif"),
                   str(folder / "fused.tif"), "--outer", str(args.outer), "--inner", str(args.inner),
                   "--tile-size", str(args.tile_size)]
            p = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True)
            line = [ln for ln in p.stdout.splitlines() if ln.startswith("RESULT ")][-1]
            res = json.loads(line[7:])
            res["size"], res["loadavg_end"] = size, os.getloadavg()
            print(json.dumps(res, indent=1), flush=True)
            if args.json:
                with open(args.json, "a") as f:
                    f.write(json.dumps(res) + "\n")
            shutil.rmtree(folder, ignore_errors=True)
    finally:
        if not args.folder:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
