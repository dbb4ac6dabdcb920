#!/usr/bin/env python3
"""Blind HSI-MSI fusion from a command line, without QGIS.

    python scripts/fuse_cli.py HSI.tif MSI.tif FUSED.tif [--scale 0] [--srf srf.csv]
        [--degradation deg.json] [--outer 40] [--inner 10] [--device auto] [--seed 0]
        [--tile-size 0] [--output-degradation deg.json] [--report report.html] [--estimate-only]

Reads both rasters with ``core.raster_io`` (same checks as the QGIS algorithms), calls
``core.fuse`` and writes a float32 GeoTIFF on the MSI grid, window by window as the tiles are
computed (the fused cube is never held whole in memory). ``--estimate-only`` runs the
degradation estimation alone and writes the JSON given as ``FUSED`` (or ``--output-degradation``).
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _bootstrap import ensure_package  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("hsi", help="low-resolution hyperspectral raster")
    ap.add_argument("msi", help="high-resolution multispectral raster")
    ap.add_argument("output", help="fused GeoTIFF (.tif), or the JSON with --estimate-only")
    ap.add_argument("--scale", type=int, default=0, help="pixel-size ratio (0 = from the pixel sizes)")
    ap.add_argument("--srf", help="starting spectral response CSV")
    ap.add_argument("--degradation", help="starting degradation JSON")
    ap.add_argument("--outer", type=int, default=40, help="outer iterations (default 40)")
    ap.add_argument("--inner", type=int, default=10, help="inner iterations (default 10)")
    ap.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tile-size", type=int, default=0,
                    help="side of the output tiles in MSI pixels (0 = from the available memory); no seams either way")
    ap.add_argument("--output-degradation", help="write the estimated degradation JSON here")
    ap.add_argument("--report", help="write an HTML report here")
    ap.add_argument("--estimate-only", action="store_true", help="estimate the degradation only")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)

    ensure_package()
    from hsi_blind_fusion.core import FusionError, pipeline

    last = [None]

    def progress(fraction, message=""):
        if args.quiet:
            return
        text = f"{100 * fraction:5.1f}% {message}"
        if text != last[0]:
            last[0] = text
            print(text, file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    try:
        inputs = pipeline.load_inputs(args.hsi, args.msi, args.scale, args.srf, args.degradation)
        for w in inputs.warnings:
            print(f"warning: {w}", file=sys.stderr)
        settings = {"HSI": args.hsi, "MSI": args.msi, "SRF": args.srf or "(estimated)", "DEVICE": args.device,
                    "SEED": args.seed}
        if args.estimate_only:
            result = pipeline.run_estimation(inputs, args.device, args.seed, progress)
            pipeline.save_degradation(inputs, result, args.output_degradation or args.output)
            title = "Estimated sensor degradation"
        else:
            result = pipeline.run_fusion(inputs, args.outer, args.inner, args.device, args.seed, progress,
                                         output_path=args.output, tile_size=args.tile_size)
            if args.output_degradation:
                pipeline.save_degradation(inputs, result, args.output_degradation)
            settings.update(OUTER_ITERATIONS=args.outer, INNER_ITERATIONS=args.inner,
                            TILE_SIZE=args.tile_size or "auto")
            title = "Blind HSI-MSI fusion"
        if args.report:
            pipeline.save_report(inputs, result, args.report, title, settings,
                                 {"total": time.perf_counter() - t0})
    except FusionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not args.quiet:
        print(f"done in {time.perf_counter() - t0:.1f} s: {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
