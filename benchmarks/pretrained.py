#!/usr/bin/env python
"""Ablation of the pre-trained parts (issue 4): initial estimate classical vs backbone, and
reconstruction network weights random vs meta-learned, on the cases of ``benchmarks/quality.py``
(CAVE dev scenes balloons/face, Jasper Ridge x4; same degradations and noise).

For each case and configuration it runs ``fuse(..., settings=FusionSettings(initial=..., meta_init=...))``
and traces the PSNR of the current image every ``--trace-every`` outer iterations (the tracing
time is excluded from the reported seconds). "Steps to random-init final" is the number of network
steps (outer x inner) after which the traced image first reaches the final PSNR of the run with
the same starting image and a randomly initialized network (so for meta-learned weights it is the
number of steps they need to match what random weights reach with all steps), and the seconds of
fusion spent until then.

    python benchmarks/pretrained.py                                   # writes docs/pretrained.md
    python benchmarks/pretrained.py --cases cave_face_x8 --outer 10   # a quicker look
"""
from __future__ import annotations

import argparse
import datetime as _dt
import fnmatch
import importlib.util
import math
import os
import platform
import shlex
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from hsi_blind_fusion.core import fusion, metrics, simulate
from hsi_blind_fusion.core import FusionSettings, Window, fuse

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = (("classical", False), ("classical", True), ("backbone", False), ("backbone", True))
DEFAULT_CASES = "cave_balloons_x8,cave_face_x8,jasper_ridge_x4,cave_balloons_x8_30dB,cave_face_x32"


def _threads(n: int) -> str:
    return f"{n} thread" + ("s" if n != 1 else "")


def _quality_module():
    spec = importlib.util.spec_from_file_location("_quality", ROOT / "benchmarks" / "quality.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["_quality"] = mod
    spec.loader.exec_module(mod)
    return mod


class _Tracer:
    """Records PSNR of the fitter's current image after every few outer iterations."""

    def __init__(self, truth: np.ndarray, every: int):
        self.truth, self.every = truth, every
        self.fitter = None
        self.trace: list[tuple[int, float, float]] = []    # (network steps, fusion seconds, PSNR)
        self.excluded = 0.0
        self.t_fit = None
        self.outer = 0

    def install(self):
        tracer = self
        base = fusion.Fitter

        class TracedFitter(base):
            def __init__(self, *a, **kw):
                super().__init__(*a, **kw)
                tracer.fitter = self

            def run(self):
                tracer.t_fit = time.perf_counter()
                tracer.record(0)
                return super().run()

        fusion.Fitter = TracedFitter
        return base

    def record(self, outer: int) -> None:
        t = time.perf_counter()
        f = self.fitter
        whole = Window.full(*f.obs.hr_shape)
        with torch.no_grad():
            if outer == 0:      # the starting image (before the network)
                s = f.scene
                img = s.x_full if s.cached else s.estimator.region(whole)
            else:
                img = f.image_and_start(whole)[0]
        img = np.maximum(img.cpu().numpy() * f.obs.y_unit, 0)
        p = metrics.psnr(self.truth, img)
        elapsed = t - self.t_fit - self.excluded
        self.trace.append((outer * f.cfg.inner_iterations, elapsed, p))
        self.excluded += time.perf_counter() - t

    def progress(self, fraction: float, message: str) -> None:
        if message.startswith("fusion, outer iteration"):
            k = int(message.split("iteration ")[1].split("/")[0])
            total = int(message.split("/")[1].split(":")[0])
            if k % self.every == 0 or k == total:
                self.record(k)


def run_case(case, outer: int, inner: int, every: int, seed: int):
    x, srf = case.load()
    y, z = simulate(x, case.kernel, srf, case.scale, snr_db=case.snr_db, seed=seed)
    rows = []
    for initial, meta in CONFIGS:
        tracer = _Tracer(x, every)
        original = tracer.install()
        try:
            t = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                r = fuse(y, z, scale=case.scale, outer_iterations=outer, inner_iterations=inner,
                         device="cpu", seed=seed, progress=tracer.progress,
                         settings=FusionSettings(initial=initial, meta_init=meta))
            seconds = time.perf_counter() - t - tracer.excluded
        finally:
            fusion.Fitter = original
        q = metrics.quality_report(x, r.image, case.scale)
        d = r.diagnostics
        row = {"initial": initial, "meta": meta, "used_initial": d.initial_estimate,
               "used_meta": d.meta_initialized, "psnr": q["psnr"], "sam": q["sam"], "ssim": q["ssim"],
               "seconds": seconds, "init_seconds": d.timings["initial_estimate"], "trace": tracer.trace}
        rows.append(row)
        print(f"  {case.name:24s} {initial:9s} meta={meta!s:5s} (used {row['used_initial']}, meta {row['used_meta']}) "
              f"start {tracer.trace[0][2]:6.2f}  final PSNR {q['psnr']:6.2f}  SAM {q['sam']:5.2f}  SSIM {q['ssim']:.4f}  "
              f"{seconds:6.1f} s", flush=True)
    return (x.shape, y.shape, z.shape), rows


def _reach(trace, level):
    for steps, secs, p in trace:
        if p >= level - 1e-6:
            return steps, secs
    return None, None


def _f(v, d):
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{d}f}"


def case_table(case, shapes, rows, outer, inner) -> str:
    ref = rows[0]["psnr"]                        # classical + random: the pipeline without pre-trained parts
    x_shape, y_shape, z_shape = shapes
    lines = [f"### {case.name}", "", f"{case.description}. HR {x_shape[0]}x{x_shape[1]}x{x_shape[2]}, "
             f"LR {y_shape[1]}x{y_shape[2]}, MSI {z_shape[0]} bands; reference PSNR (classical + random, "
             f"{outer}x{inner}) = {ref:.2f} dB.", "",
             "| initial | network init | start PSNR | final PSNR | SAM ° | SSIM | steps to random-init final | s to it | "
             "initial-estimate s | fusion s |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for i, r in enumerate(rows):
        steps, secs = _reach(r["trace"], rows[i - i % 2]["psnr"])
        lines.append(f"| {r['used_initial']} | {'meta-learned' if r['used_meta'] else 'random'} | "
                     f"{_f(r['trace'][0][2], 2)} | {_f(r['psnr'], 2)} | {_f(r['sam'], 2)} | {_f(r['ssim'], 4)} | "
                     f"{'not reached' if steps is None else steps} | {_f(secs, 1)} | {_f(r['init_seconds'], 1)} | "
                     f"{_f(r['seconds'], 1)} |")
    lines += ["", "PSNR trace (network steps: dB): " + "; ".join(
        f"{r['used_initial']}/{'meta' if r['used_meta'] else 'random'}: "
        + ", ".join(f"{s}: {p:.2f}" for s, _, p in r["trace"]) for r in rows), ""]
    return "\n".join(lines)


def _per_case(results, i: int) -> str:
    return ", ".join(f"{c.name} {r[i]['psnr'] - r[0]['psnr']:+.2f}" for c, _, r in results)


def summary(results) -> str:
    keys = [(i, m) for i, m in CONFIGS]
    out = ["## Summary", "", "| case | " + " | ".join(f"{i} / {'meta' if m else 'random'}" for i, m in keys) + " |",
           "|---|" + "---:|" * len(keys)]
    means = {k: [] for k in keys}
    for case, _, rows in results:
        cells = []
        for k, r in zip(keys, rows):
            cells.append(f"{r['psnr']:.2f}")
            means[k].append(r["psnr"])
        out.append(f"| {case.name} | " + " | ".join(cells) + " |")
    out.append("| **mean PSNR** | " + " | ".join(f"**{np.mean(means[k]):.2f}**" for k in keys) + " |")
    starts = {k: [rows[i]["trace"][0][2] for _, _, rows in results] for i, k in enumerate(keys)}
    reach = {k: [_reach(rows[i]["trace"], rows[i - i % 2]["psnr"])[0] for _, _, rows in results] for i, k in enumerate(keys)}
    out.append("| mean start PSNR (before the network) | " + " | ".join(f"{np.mean(starts[k]):.2f}" for k in keys) + " |")
    out.append("| network steps to reach the final PSNR of the random-init run with the same start, per case | " + " | ".join(
        ", ".join("n.r." if v is None else str(v) for v in reach[k]) for k in keys) + " |")
    d_bb = np.mean(means[keys[2]]) - np.mean(means[keys[0]])
    d_bb0 = np.mean(starts[keys[2]]) - np.mean(starts[keys[0]])
    d_meta = np.mean(means[keys[1]]) - np.mean(means[keys[0]])
    out += ["", "Verdict (computed from the table):", "",
            f"- backbone vs classical start (random network init): start PSNR {d_bb0:+.2f} dB, final PSNR {d_bb:+.2f} dB "
            f"-> the backbone {'helps' if d_bb > 0.05 else ('makes no real difference' if d_bb > -0.05 else 'is WORSE')}"
            f" (per case: {_per_case(results, 2)}).",
            f"- meta-learned vs random network init (classical start): final PSNR {d_meta:+.2f} dB "
            f"-> meta-learning {'helps' if d_meta > 0.05 else ('makes no real difference' if d_meta > -0.05 else 'is WORSE')}"
            f" (per case: {_per_case(results, 1)})."]
    best = max(keys, key=lambda k: np.mean(means[k]))
    out += ["", f"Best mean final PSNR: **initial={best[0]}, meta_init={best[1]}** "
            f"({np.mean(means[best]) - np.mean(means[keys[0]]):+.2f} dB vs classical/random).", ""]
    return "\n".join(out)


def models_section() -> str:
    """What is shipped in models/ and how it was trained (from the JSON sidecars)."""
    import json

    lines = ["## Shipped models", "", "| file | bytes |", "|---|---:|"]
    for f in sorted((ROOT / "models").glob("*")):
        if f.suffix in (".pt", ".onnx", ".json"):
            lines.append(f"| models/{f.name} | {f.stat().st_size} |")
    lines.append("")
    bb = ROOT / "models" / "backbone.json"
    if bb.exists():
        j = json.loads(bb.read_text())
        c = j.get("loss_curve", [])
        if c:
            first, last = c[0], c[-1]
            tail = c[-8:]
            lines.append(f"- backbone: {j['parameters']} parameters, {j['steps']} steps in {j['train_seconds'] / 60:.1f} min "
                         f"({_threads(j.get('threads', 1))}); training L1 / classical L1 went from {first['ratio']:.3f} (step {first['step']}) "
                         f"to {np.mean([t['ratio'] for t in tail]):.3f} (mean of the last {len(tail)} logs) "
                         "- below 1 means the backbone improves the classical estimate on training tasks.")
    mi = ROOT / "models" / "meta_init.json"
    if mi.exists():
        j = json.loads(mi.read_text())
        c = j.get("loss_curve", [])
        ev = j.get("evaluation", {})
        if c:
            tail = c[-8:]
            k = j["inner_steps"]
            lines.append(f"- meta-learned init: {j['iterations']} FOMAML iterations in {j['train_seconds'] / 60:.1f} min; "
                         f"supervised L1 at step 0 / classical (last {len(tail)} logs): "
                         f"{np.mean([t['loss_step0'] for t in tail]) / np.mean([t['classical'] for t in tail]):.3f}, "
                         f"after {k} steps: {np.mean([t[f'loss_step{k}'] for t in tail]) / np.mean([t['classical'] for t in tail]):.3f}.")
        if ev:
            rs = ev["record_steps"]
            pick = [i for i, v in enumerate(rs) if v in (0, 10, 50, 100, 200)]
            lines.append(f"- held-out training-distribution draws ({ev['tasks']} tasks), mean PSNR after n adaptation steps, "
                         "random / meta-learned init: " + ", ".join(
                             f"n={rs[i]}: {ev['mean_psnr_random'][i]:.2f} / {ev['mean_psnr_meta'][i]:.2f}" for i in pick)
                         + "; meta-learned init reaches the random init's 100-step PSNR after "
                         f"{ev.get('meta_steps_to_random_psnr_at_100')} steps and its 200-step PSNR after "
                         f"{ev.get('meta_steps_to_random_psnr_at_200')} steps.")
    lines += ["", "Training commands: see `training/README.md` (one command per model).", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", default=DEFAULT_CASES)
    ap.add_argument("--outer", type=int, default=40)
    ap.add_argument("--inner", type=int, default=10)
    ap.add_argument("--trace-every", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(ROOT / "docs" / "pretrained.md"))
    args = ap.parse_args(argv)
    q = _quality_module()
    cases = q.build_cases(q.data_dir(), None)
    pats = [p.strip() for p in args.cases.split(",") if p.strip()]
    cases = [c for p in pats for c in cases if fnmatch.fnmatch(c.name, p)]
    command = "python " + " ".join(shlex.quote(a) for a in [os.path.relpath(sys.argv[0], ROOT)] + sys.argv[1:])
    head = ["# Pre-trained parts: ablation", "", "Generated by `benchmarks/pretrained.py`; do not edit by hand.", "",
            f"- command: `{command}`",
            f"- date: {_dt.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}",
            f"- machine: {os.cpu_count()} CPU cores (shared), {platform.platform(terse=True)}, torch {torch.__version__} "
            f"({torch.get_num_threads()} threads), device cpu",
            f"- iterations {args.outer} x {args.inner} (alternating mode), seed {args.seed}; PSNR traced every "
            f"{args.trace_every} outer iterations (steps = outer x inner network steps)", ""]
    results = []
    t0 = time.perf_counter()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    for case in cases:
        print(f"[{time.perf_counter() - t0:6.0f} s] {case.name}", flush=True)
        shapes, rows = run_case(case, args.outer, args.inner, args.trace_every, args.seed)
        results.append((case, shapes, rows))
        text = "\n".join(head) + "\n" + models_section() + "\n" + summary(results) + "\n## Cases\n\n" + "\n".join(
            case_table(c, s, r, args.outer, args.inner) for c, s, r in results)
        out.write_text(text, encoding="utf-8")
    print(text)
    print(f"written to {out} in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
