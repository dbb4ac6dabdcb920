#!/usr/bin/env python
"""Scale-out on Dask distributed (issue 17): a batch of pairs on 1 and 2 workers, the tile farm
on one large scene, and what the measured per-task costs and transfer sizes project for many
(GPU) workers. Writes docs/scale_out.md.

1. **Pairs.** ``--pairs`` synthetic pairs (core/synthetic_scene, ``--pair-size`` MSI pixels,
   40 bands, scale 4) fused by ``workflow.run_batch``: in this process one after another
   (torch on all cores), then on a LocalCluster of 1 and of 2 worker processes (one torch thread
   each). Each configuration writes into a fresh folder.
2. **Tile farm.** One large scene (benchmarks/large_scene.py's generator: MSI N x N x 4, HSI
   N/8 x N/8 x 100), streamed as any scene above the 1 GB cache is, fused three times, each in a
   fresh process (so its peak RSS is its own): on one machine, and with the tiles on 1 and on 2
   Dask workers (the fitting stays in the client). Per stage: wall time; the client's peak RSS;
   per tile: compute seconds on the worker, bytes shipped out and back.
3. **Projection.** From those figures, for W workers: T(W) = serial client part + max(tiles x
   compute per tile / W, tiles x client cost per tile), where the client cost per tile is its
   measured receive-and-write time. Projections are marked as such in the page.

    python benchmarks/scale_out.py                        # 28 minutes on 2 cores at load 5
    python benchmarks/scale_out.py --pairs 4 --pair-size 128 --scene 1024 --out docs/scale_out.md
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "benchmarks"))
from _bootstrap import ensure_package  # noqa: E402

OUTER, INNER = 5, 5          # pairs: enough fitting that a pair is mostly compute, not start-up
FARM_OUTER, FARM_INNER = 2, 2


# ---------------------------------------------------------------------------------------------
# 1. pairs
# ---------------------------------------------------------------------------------------------

def make_pairs(folder: Path, n: int, size: int) -> str:
    """``n`` synthetic pairs in ``folder`` as <name>_hsi.tif / <name>_msi.tif."""
    ensure_package()
    from hsi_blind_fusion.core.synthetic_scene import make_scene, write_scene

    for k in range(n):
        paths = write_scene(make_scene(size=size, scale=4, bands=40, seed=100 + k), str(folder / f"tmp{k}"))
        os.replace(paths["hsi"], folder / f"pair{k}_hsi.tif")
        os.replace(paths["msi"], folder / f"pair{k}_msi.tif")
        shutil.rmtree(folder / f"tmp{k}")
    return str(folder)


def run_pairs(folder: str, out: Path, workers: int) -> dict:
    ensure_package()
    from hsi_blind_fusion.core.cluster import open_cluster
    from hsi_blind_fusion.core.workflow import BatchRequest, run_batch

    request = BatchRequest(output_folder=str(out), folder=folder, outer_iterations=OUTER, inner_iterations=INNER,
                           device="cpu")
    session = None
    t_start = 0.0
    if workers:
        t = time.perf_counter()
        session = open_cluster(workers=workers, threads=1, dashboard_address=None)
        t_start = time.perf_counter() - t
    try:
        t = time.perf_counter()
        outcome = run_batch(request, session=session)
        wall = time.perf_counter() - t
    finally:
        if session is not None:
            session.close()
    seconds = [r.seconds for r in outcome.records]
    return {"workers": workers, "wall_s": wall, "cluster_start_s": t_start, "pair_s": seconds,
            "pair_cpu_s": [r.cpu_seconds for r in outcome.records],
            "done": outcome.count("done"), "workers_used": sorted({r.worker for r in outcome.records})}


# ---------------------------------------------------------------------------------------------
# 2. tile farm (one configuration per fresh process: --child)
# ---------------------------------------------------------------------------------------------

def child(hsi: str, msi: str, out: str, workers: int, tile: int) -> dict:
    """One fusion of the large scene in this fresh process, tiles here (workers=0) or on a farm."""
    ensure_package()
    from large_scene import MemorySampler, stage_of

    from hsi_blind_fusion.core import FusionSettings
    from hsi_blind_fusion.core.workflow import Feedback, FusionRequest, run_fusion

    sampler = MemorySampler()
    sampler.start()

    class Stages(Feedback):
        def progress(self, fraction, message=""):
            s = stage_of(message) or ("render + write" if "Dask workers" in message else None)
            if s:
                sampler.stage = s

    farm = session = None
    t_start = 0.0
    if workers:
        from hsi_blind_fusion.core.cluster import open_cluster
        from hsi_blind_fusion.core.tile_farm import DaskTileFarm

        t = time.perf_counter()
        session = open_cluster(workers=workers, threads=1, dashboard_address=None)
        t_start = time.perf_counter() - t
        farm = DaskTileFarm(session, device="cpu")
    sampler.stage = "read"
    t0 = time.perf_counter()
    try:
        outcome = run_fusion(FusionRequest(hsi=hsi, msi=msi, output=out, outer_iterations=FARM_OUTER,
                                           inner_iterations=FARM_INNER, device="cpu", tile_size=tile),
                             Stages(), settings=FusionSettings(cache_limit_bytes=0), farm=farm)
        wall = time.perf_counter() - t0
        worker_peak = None
        if session is not None:
            import resource

            worker_peak = max(session.client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss).values())
            worker_peak *= 1024
    finally:
        if session is not None:
            session.close()
    sampler.stop()
    d = outcome.result.diagnostics
    res = {"workers": workers, "wall_s": wall, "cluster_start_s": t_start, "read_s": outcome.inputs.read_seconds,
           "timings": {k: v for k, v in d.timings.items() if isinstance(v, (int, float))}, "tile": d.tile_size,
           "peaks_gb": {k: v / 1e9 for k, v in sampler.peaks.items()},
           "vmhwm_gb": MemorySampler.status("VmHWM") / 1e9, "worker_peak_gb": worker_peak and worker_peak / 1e9,
           "output_gb": os.path.getsize(out) / 1e9}
    if farm is not None:
        st = farm.stats
        res["farm"] = {"tiles": st.tiles, "seconds": st.seconds, "renderer_bytes": st.renderer_bytes,
                       "context_bytes": st.context_bytes, "block_bytes": st.block_bytes,
                       "tile_seconds": st.tile_seconds, "tile_cpu_seconds": st.tile_cpu_seconds,
                       "workers": st.workers}
    return res


def run_child(hsi: str, msi: str, out: str, workers: int, tile: int) -> dict:
    r = subprocess.run([sys.executable, __file__, "--child", hsi, msi, out, str(workers), str(tile)],
                       capture_output=True, text=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    if r.returncode:
        raise RuntimeError(r.stderr[-4000:])
    return json.loads(r.stdout.strip().splitlines()[-1])


def write_time(path: str, tile: int) -> float:
    """Seconds the client needs to write one tile of the output (GeoTIFF, DEFLATE), measured by
    rewriting the fused file's first tiles with the plugin's writer."""
    ensure_package()
    import numpy as np
    import rasterio

    from hsi_blind_fusion.core import io
    from hsi_blind_fusion.core.windows import Window

    with rasterio.open(path) as ds:
        bands, height, width = ds.count, ds.height, ds.width
        blocks = [(Window(r, c, tile, tile), ds.read(window=((r, r + tile), (c, c + tile))))
                  for r, c in ((0, 0), (0, tile), (tile, 0), (tile, tile))
                  if r + tile <= height and c + tile <= width]
        transform, crs = ds.transform, ds.crs
    tmp = tempfile.mkdtemp(prefix="scaleout-write-")
    try:
        w = io.WindowWriter(os.path.join(tmp, "w.tif"), bands, height, width, transform, crs)
        t = time.perf_counter()
        for window, block in blocks:
            w(window, np.asarray(block, dtype=np.float32))
        w.close()
        return (time.perf_counter() - t) / max(1, len(blocks))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# the page
# ---------------------------------------------------------------------------------------------

def mean(v):
    return sum(v) / max(1, len(v))


def page(args, pairs: list, farm: list, tile_write_s: float, difference: float, load0, load1, started: str) -> str:
    cores = os.cpu_count()
    L = ["# Scale-out on Dask distributed", "",
         f"Generated by `python benchmarks/scale_out.py --pairs {args.pairs} --pair-size {args.pair_size} "
         f"--scene {args.scene} --tile {args.tile}` on {started}.", "",
         f"- Machine: {cores} logical CPUs, no GPU; dask/distributed {_dask_version()}; every worker a process "
         "with one torch thread, one task at a time; the in-process runs use torch's default threads.",
         f"- Load average (1, 5, 15 min) at start {tuple(round(v, 2) for v in load0)}, at end "
         f"{tuple(round(v, 2) for v in load1)}"
         + (": the CPUs were shared with other jobs, so times are pessimistic and speed-ups understated."
            if load0[0] > 0.5 else "."),
         "- **Measured** figures are from this run; **projected** ones are computed from them with the "
         "assumptions stated next to them.", ""]
    # pairs
    base = next(p for p in pairs if p["workers"] == 0)
    one = next((p for p in pairs if p["workers"] == 1), None)
    L += ["## 1. A batch of pairs (measured)", "",
          f"{args.pairs} pairs of {args.pair_size} x {args.pair_size} MSI pixels (8 bands), 40 HSI bands, scale 4, "
          f"{OUTER} x {INNER} iterations, CPU; `workflow.run_batch` with a fresh output folder each time. "
          "Wall time excludes starting the cluster (given separately).", "",
          "| where | wall time (s) | speed-up vs 1 worker | mean seconds per pair (in its task) | mean CPU seconds "
          "per pair | cluster start (s) | workers used |", "|---|---|---|---|---|---|---|"]
    for p in pairs:
        where = "in this process, one after another" if p["workers"] == 0 else f"{p['workers']} worker(s)"
        sp = f"{one['wall_s'] / p['wall_s']:.2f}" if one and p["workers"] else "-"
        L.append(f"| {where} | {p['wall_s']:.1f} | {sp} | {mean(p['pair_s']):.2f} | {mean(p['pair_cpu_s']):.2f} | "
                 f"{p['cluster_start_s']:.1f} | {len(p['workers_used'])} |")
    L += ["", "A pair's first task on a fresh worker also pays torch's start-up (first backward pass): the in-task "
          "seconds include it. CPU seconds count every thread of the process that ran the pair (the in-process "
          "runs use all cores); with one thread per worker, wall time above CPU time is time the worker waited "
          "for a core (other jobs on the machine).", ""]
    # farm
    single = next(f for f in farm if f["workers"] == 0)
    L += ["## 2. One large scene, tiles on the workers (measured)", "",
          f"MSI {args.scene} x {args.scene} x 4, HSI {args.scene // 8} x {args.scene // 8} x 100 (scale 8), "
          f"streamed (cache_limit_bytes=0, as any scene above the 1 GB cache), {FARM_OUTER} x {FARM_INNER} "
          f"iterations, tiles of {single['tile']} pixels, output {single['output_gb']:.2f} GB float32 GeoTIFF. "
          "Each configuration in a fresh process. 'render + write' is the rendering and writing of every tile "
          "(on a farm: waiting for the workers and writing).", "",
          "| tiles computed | degradation (s) | MSI denoising (s) | initial estimate (s) | fitting (s) | "
          "render + write (s) | total (s) | render speed-up | client peak RSS (GB) | worker peak RSS (GB) |",
          "|---|---|---|---|---|---|---|---|---|---|"]
    for f in farm:
        t = f["timings"]
        where = "in this process" if f["workers"] == 0 else f"on {f['workers']} worker(s)"
        sp = f"{single['timings'].get('write', 0) / t.get('write', 1):.2f}"
        L.append(f"| {where} | {t.get('degradation_estimate', 0):.1f} | {t.get('msi_denoising', 0):.1f} | "
                 f"{t.get('initial_estimate', 0):.1f} | {t.get('fusion', 0):.1f} | {t.get('write', 0):.1f} | "
                 f"{f['wall_s']:.1f} | {sp} | {f['vmhwm_gb']:.2f} | "
                 + (f"{f['worker_peak_gb']:.2f}" if f.get("worker_peak_gb") else "-") + " |")
    farmed = [f for f in farm if f["workers"]]
    st = farmed[-1]["farm"]
    per_tile = mean([s for f in farmed for s in f["farm"]["tile_cpu_seconds"]])
    per_tile_wall = mean([s for f in farmed for s in f["farm"]["tile_seconds"]])
    ctx_mb, blk_mb = mean(st["context_bytes"]) / 1e6, mean(st["block_bytes"]) / 1e6
    serial = sum(single["timings"].get(k, 0) for k in ("validate", "degradation_estimate", "msi_denoising",
                                                        "initial_estimate", "fusion")) + single["read_s"]
    contention = per_tile_wall / max(per_tile, 1e-9)
    L += ["", "Per tile (measured, farm runs): "
          f"{per_tile:.2f} CPU seconds of compute on a one-thread CPU worker ({per_tile_wall:.2f} s wall); "
          f"{ctx_mb:.1f} MB shipped out (the tile's MSI window "
          f"and LR-sized state, with margins) and {blk_mb:.1f} MB back (the finished tile); the renderer (network, K, P, "
          f"basis, start figures) {st['renderer_bytes'] / 1e3:.0f} kB, shipped once. The client writes a tile in "
          f"{tile_write_s:.2f} s (GeoTIFF, DEFLATE; measured separately by rewriting tiles of the output).", ""]
    if contention > 1.3:
        L += [f"A tile's wall time was {contention:.1f} times its CPU time: each one-thread worker got about "
              f"1/{contention:.1f} of a core, the rest went to other jobs on this machine. The wall-time "
              "speed-ups in the tables above measure that contention, not the farm; the projection below uses "
              "the CPU seconds.", ""]
    L += ["The client's peak RSS is what the inputs, their normalized copies and the LR-sized state take (the same "
          "as the single-machine run's before rendering); the farm adds at most two tiles per worker in flight, "
          "never the HR cube, and does not render, so it peaks lower than the single-machine run.", "",
          f"Largest absolute difference between the output with the tiles on 2 workers and the single-machine "
          f"output: {difference:.3g}" + (" (the same raster)." if difference == 0 else "."), ""]
    # projection
    n_tiles = st["tiles"]
    client_tile = tile_write_s + (ctx_mb + blk_mb) / 1000.0      # 1 GB/s network, assumed
    L += ["## 3. Projection to many workers (projected, not measured)", "",
          "Model: T(W) = S + max(n x c / W, n x w), with S the client's serial part (reading, degradation estimate, "
          "MSI denoising, initial estimate, fitting: measured above), n tiles, c the compute per tile on one "
          "worker (its measured CPU seconds: with one thread per worker, the wall time of an idle core), w the client's time per tile (its measured write time plus the tile's transfer at an assumed "
          "1 GB/s, 10 GbE); tasks are independent, so the scheduler's own cost (about a millisecond per task) "
          "does not matter at these tile sizes. For GPU workers c is divided by an assumed factor g (not "
          "measured here: this machine has no GPU).", "",
          f"Measured inputs: S = {serial:.1f} s, n = {n_tiles}, c = {per_tile:.2f} s (CPU, 1 thread), "
          f"w = {client_tile:.3f} s (S and the write time in w are wall times under this run's load: pessimistic).",
          "",
          "| workers W | CPU workers: T (s) | speed-up of the rendering | GPU workers, g = 10: T (s) | "
          "GPU workers, g = 50: T (s) |", "|---|---|---|---|---|"]
    for w in (1, 2, 4, 8, 16, 32, 64):
        t_cpu = serial + max(n_tiles * per_tile / w, n_tiles * client_tile)
        r_cpu = (n_tiles * per_tile) / max(n_tiles * per_tile / w, n_tiles * client_tile)
        t_g10 = serial + max(n_tiles * per_tile / 10 / w, n_tiles * client_tile)
        t_g50 = serial + max(n_tiles * per_tile / 50 / w, n_tiles * client_tile)
        L.append(f"| {w} | {t_cpu:.1f} | {r_cpu:.1f} | {t_g10:.1f} | {t_g50:.1f} |")
    bound = per_tile / client_tile
    gpus = (f"{bound / 10:.0f} GPU workers at g = 10" if bound >= 20 else
            "a single GPU worker at g = 10")
    L += ["", f"The rendering scales with the workers until they produce tiles faster than the client writes them: "
          f"about {bound:.0f} one-thread CPU workers here ({per_tile:.2f} s / {client_tile:.3f} s), or {gpus}. "
          "Past that the one client writing one GeoTIFF is the limit, and the serial part S (the fitting most of "
          "all) remains: it runs once, in the client. A tile's compute includes its margins (the classical "
          "start's reach): larger tiles waste less of it, at more memory per worker.", "",
          "What this means for a Sentinel-2 tile (10980 x 10980 px) with a 224-band EnMAP scene (scale 3), "
          "**projected**: the output is 224 x 10980² x 4 B = 108 GB; at this machine's measured write rate "
          f"({blk_mb / tile_write_s:.0f} MB/s of float32 tiles into DEFLATE) the client alone needs about "
          f"{108e3 / (blk_mb / tile_write_s) / 60:.0f} min to write it, whatever the number of workers; the "
          "workers' share shrinks as 1/W. Writing several outputs (a batch) spreads that cost over the workers, "
          "since each pair's task writes its own file.", "",
          "Batches of pairs have no client bottleneck: each task reads and writes its own files, the client only "
          "receives a small record per pair; the projected time is ceil(N / W) x the time of one pair, plus "
          "each worker's start-up once.", ""]
    return "\n".join(L) + "\n"


def _dask_version() -> str:
    try:
        import distributed

        return distributed.__version__
    except ImportError:
        return "(not installed)"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=4)
    ap.add_argument("--pair-size", type=int, default=128)
    ap.add_argument("--scene", type=int, default=1024, help="MSI side of the large scene (a multiple of 16)")
    ap.add_argument("--tile", type=int, default=256)
    ap.add_argument("--out", default=str(ROOT / "docs" / "scale_out.md"))
    ap.add_argument("--json", help="also write the raw figures here")
    ap.add_argument("--page-from", metavar="JSON", help="only write the page again from the raw figures of a run")
    ap.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        hsi, msi, out, workers, tile = args.child
        print(json.dumps(child(hsi, msi, out, int(workers), int(tile))))
        return 0
    if args.page_from:
        raw = json.loads(Path(args.page_from).read_text())
        for k in ("pairs", "pair_size", "scene", "tile"):
            setattr(args, k, raw["args"][k])
        Path(args.out).write_text(page(args, raw["pairs"], raw["farm"], raw["tile_write_s"], raw["difference"],
                                       *raw["load"], raw["started"]))
        print(f"wrote {args.out}")
        return 0
    ensure_package()
    from large_scene import make_scene as make_large_scene

    started = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    load0 = os.getloadavg()
    print(f"load average at start: {load0}", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="scaleout-"))
    try:
        (tmp / "pairs").mkdir()
        folder = make_pairs(tmp / "pairs", args.pairs, args.pair_size)
        pairs = []
        for workers in (0, 1, 2):
            r = run_pairs(folder, tmp / f"pairs_out_{workers}", workers)
            print(f"pairs on {workers} workers: {r['wall_s']:.1f} s", flush=True)
            pairs.append(r)
        (tmp / "scene").mkdir()
        hsi, msi = make_large_scene(args.scene, tmp / "scene")
        farm = []
        for workers in (0, 1, 2):
            r = run_child(hsi, msi, str(tmp / f"fused_{workers}.tif"), workers, args.tile)
            print(f"scene, tiles on {workers} workers: {r['wall_s']:.1f} s, render+write {r['timings'].get('write'):.1f} s, "
                  f"client VmHWM {r['vmhwm_gb']:.2f} GB", flush=True)
            farm.append(r)
        tile_write_s = write_time(str(tmp / "fused_0.tif"), args.tile)
        import numpy as np
        import rasterio

        with rasterio.open(tmp / "fused_0.tif") as a, rasterio.open(tmp / "fused_2.tif") as b:
            same = float(np.max(np.abs(a.read() - b.read())))
        print(f"largest difference farm vs single: {same}", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    load1 = os.getloadavg()
    Path(args.out).write_text(page(args, pairs, farm, tile_write_s, same, load0, load1, started))
    if args.json:
        Path(args.json).write_text(json.dumps({
            "args": {k: getattr(args, k) for k in ("pairs", "pair_size", "scene", "tile")}, "started": started,
            "pairs": pairs, "farm": farm, "tile_write_s": tile_write_s, "difference": same, "load": [load0, load1]},
            indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
