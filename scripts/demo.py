#!/usr/bin/env python3
"""The bundled demo: build the synthetic scene (known truth), fuse it with
``qgis_process.bin run hsifusion:blindfusion``, and print the quality against the truth.

    python scripts/demo.py --out demo-output [--size 256] [--scale 4] [--outer 40] [--inner 10]

Outputs in ``--out``: ``scene/`` (truth.tif, hsi.tif, msi.tif, srf.csv, kernel.npy), ``fused.tif``,
``degradation.json``, ``report.html``, ``metrics.json``.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _bootstrap import ROOT, ensure_package, qgis_env  # noqa: E402


def qgis_process():
    exe = shutil.which("qgis_process.bin") or shutil.which("qgis_process")
    if not exe:
        sys.exit("demo: qgis_process.bin not found: install QGIS (make setup)")
    return exe


def main(argv=None):
    ap = argparse.ArgumentParser(description="HSI blind fusion demo on the bundled synthetic scene")
    ap.add_argument("--out", default=os.path.join(ROOT, "demo-output"))
    ap.add_argument("--size", type=int, default=256, help="MSI size in pixels (default 256)")
    ap.add_argument("--scale", type=int, default=4)
    ap.add_argument("--bands", type=int, default=40)
    ap.add_argument("--snr", type=float, default=35.0)
    ap.add_argument("--outer", type=int, default=40)
    ap.add_argument("--inner", type=int, default=10)
    ap.add_argument("--device", default="auto")
    args = ap.parse_args(argv)

    ensure_package()
    import numpy as np
    import torch

    from hsi_blind_fusion.core import io, metrics
    from hsi_blind_fusion.core.operators import upsample
    from hsi_blind_fusion.core.synthetic_scene import make_scene, write_scene

    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    print(f"demo: building the synthetic scene ({args.size}x{args.size} MSI pixels, {args.bands} bands, "
          f"scale {args.scale}, SNR {args.snr:g} dB) in {out}/scene", flush=True)
    scene = make_scene(size=args.size, scale=args.scale, bands=args.bands, snr_db=args.snr)
    paths = write_scene(scene, os.path.join(out, "scene"))

    env = qgis_env()
    exe = qgis_process()
    # Idempotent: qgis_process only loads enabled plugins.
    subprocess.run([exe, "plugins", "enable", "hsi_blind_fusion"], env=env, capture_output=True)
    fused = os.path.join(out, "fused.tif")
    cmd = [exe, "run", "hsifusion:blindfusion", "--",
           f"HSI={paths['hsi']}", f"MSI={paths['msi']}", "SCALE=0",
           f"OUTER_ITERATIONS={args.outer}", f"INNER_ITERATIONS={args.inner}", f"DEVICE={args.device}",
           f"OUTPUT={fused}", f"OUTPUT_DEGRADATION={os.path.join(out, 'degradation.json')}",
           f"REPORT={os.path.join(out, 'report.html')}"]
    print("demo: " + " ".join(cmd), flush=True)
    t0 = time.perf_counter()
    log_path = os.path.join(out, "qgis_process.log")
    with open(log_path, "w") as log:
        # Stream qgis_process's progress to the console and keep the full output in the log.
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for chunk in iter(lambda: os.read(proc.stdout.fileno(), 4096), b""):
            text = chunk.decode("utf-8", "replace")
            log.write(text)
            sys.stdout.write(text)
            sys.stdout.flush()
        proc.wait()
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0 or not os.path.exists(fused):
        sys.exit(f"demo: qgis_process failed (exit code {proc.returncode}); log in {log_path}")

    est = io.read_raster(fused).data
    truth = scene.truth
    with torch.no_grad():
        bicubic = upsample(torch.from_numpy(scene.hsi), args.scale, args.size, args.size).numpy()

    def scores(x):
        return {"PSNR": metrics.psnr(truth, x), "SAM": metrics.sam(truth, x), "SSIM": metrics.ssim(truth, x),
                "ERGAS": metrics.ergas(truth, x, args.scale), "RMSE": metrics.rmse(truth, x)}

    res = {"blind fusion": scores(est), "bicubic upsampling": scores(bicubic)}
    deg = io.read_degradation(os.path.join(out, "degradation.json"))
    extra = {}
    for name in ("kernel_error", "srf_error"):
        fn = getattr(metrics, name, None)
        if fn is not None:
            try:
                extra[name] = fn(scene.kernel if name == "kernel_error" else scene.srf,
                                 deg.kernel if name == "kernel_error" else deg.srf)
            except Exception:  # noqa: BLE001 - informative only
                pass
    print()
    print(f"{'method':<22}{'PSNR dB':>9}{'SAM deg':>9}{'SSIM':>8}{'ERGAS':>8}")
    for name, s in res.items():
        print(f"{name:<22}{s['PSNR']:>9.2f}{s['SAM']:>9.2f}{s['SSIM']:>8.4f}{s['ERGAS']:>8.3f}")
    for k, v in extra.items():
        print(f"{k}: {v:.4g}")
    print(f"\nrun time of qgis_process (blind fusion, {args.outer}x{args.inner} iterations): {elapsed:.1f} s")
    print(f"outputs in {out}: fused.tif, degradation.json, report.html, scene/")
    with open(os.path.join(out, "metrics.json"), "w") as f:
        json.dump({"metrics": res, "degradation_errors": extra, "seconds": elapsed,
                   "settings": vars(args)}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
