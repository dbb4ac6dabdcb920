#!/usr/bin/env python
"""Train the band-wise backbone (core/backbone.py) and export it to models/backbone.{pt,onnx,json}.

    .venv/bin/python -m hsi_blind_fusion.training.train_backbone --minutes 25 --threads 2

(run from the directory above the repository, or with the repository's parent on PYTHONPATH).
Time-limited (one thread unless ``--threads``); logs to stdout and to training/logs/backbone_train.log. Loss: L1 between the
corrected band and the truth, both divided by the band's level (the features' normalization);
"base" is the same L1 for the classical estimate, so loss/base < 1 means the backbone improves it.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

from hsi_blind_fusion.core.backbone import BandNet, band_features, export_onnx
from hsi_blind_fusion.training.data import AIRBORNE_TRAIN, CAVE_TRAIN, TaskSampler, open_training_log

ROOT = Path(__file__).resolve().parents[1]


def _windows(task, args, rng: np.random.Generator) -> list:
    """``windows_per_task`` random (features, target, info) windows of one task, each with its own
    band subset. The features are computed on the whole crop (the start of a scene-sized crop, as
    in a fusion), the network and its loss only see windows of it, so a large crop costs one
    classical start for several steps."""
    with torch.no_grad():
        f, level, x_base = band_features(task.y, task.z, task.kernel, task.srf, task.scale, task.x_base)
        target = (task.x - x_base) / level
    bands, _, height, width = f.shape
    win = min(args.window, height, width)
    out = []
    for _ in range(args.windows_per_task):
        r0, c0 = int(rng.integers(0, height - win + 1)), int(rng.integers(0, width - win + 1))
        idx = torch.from_numpy(rng.choice(bands, size=min(bands, args.bands_per_task), replace=False))
        out.append((f[idx, :, r0:r0 + win, c0:c0 + win].contiguous(),
                    target[idx, r0:r0 + win, c0:c0 + win].contiguous(), task.info))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=20.0)
    ap.add_argument("--width", type=int, default=24)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--tasks-per-step", type=int, default=2)
    ap.add_argument("--bands-per-task", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lr-min", type=int, default=32, help="smallest LR side of a training crop")
    ap.add_argument("--window", type=int, default=128, help="HR side of the windows the loss is taken on")
    ap.add_argument("--windows-per-task", type=int, default=4)
    ap.add_argument("--pool", type=int, default=12, help="windows kept ready (drawn at random, mixing tasks)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(ROOT / "models"))
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    say = open_training_log("backbone_train.log")

    sampler = TaskSampler(seed=args.seed, lr_min=args.lr_min)
    pool: list = []
    net = BandNet(width=args.width)
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    n_params = sum(p.numel() for p in net.parameters())
    say(f"BandNet width {args.width}: {n_params} parameters; {args.minutes} min budget")
    rng = np.random.default_rng(args.seed + 1)
    budget = args.minutes * 60
    t0 = time.perf_counter()
    step, hist = 0, []
    curve = []
    while time.perf_counter() - t0 < budget:
        frac = (time.perf_counter() - t0) / budget
        for g in opt.param_groups:
            g["lr"] = args.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))
        opt.zero_grad(set_to_none=True)
        loss_sum, base_sum = 0.0, 0.0
        for _ in range(args.tasks_per_step):
            while len(pool) < args.pool:
                pool.extend(_windows(sampler.sample(), args, rng))
            f_win, target, info = pool.pop(int(rng.integers(len(pool))))
            r = net(f_win)[:, 0]
            loss = (r - target).abs().mean() / args.tasks_per_step
            loss.backward()
            loss_sum += float(loss.detach()) * args.tasks_per_step
            base_sum += float(target.abs().mean())
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        step += 1
        hist.append((loss_sum / args.tasks_per_step, base_sum / args.tasks_per_step))
        if step % 25 == 0:
            l, b = np.mean(hist, axis=0)
            curve.append({"step": step, "seconds": round(time.perf_counter() - t0, 1), "loss": float(l),
                          "base": float(b), "ratio": float(l / b)})
            say(f"step {step:5d}  {time.perf_counter() - t0:7.1f} s  loss {l:.5f}  classical {b:.5f}  "
                f"ratio {l / b:.3f}  lr {opt.param_groups[0]['lr']:.2e}  ({info})")
            hist = []
        if step % 200 == 0:
            torch.save({"config": {"width": args.width}, "weights": net.state_dict()}, out / "backbone.pt")
    torch.save({"config": {"width": args.width}, "weights": net.state_dict()}, out / "backbone.pt")
    export_onnx(net, out / "backbone.onnx")
    wall = time.perf_counter() - t0
    meta = {
        "files": {"backbone.pt": "torch state dict {'config': {'width': ..}, 'weights': ...} of core.backbone.BandNet",
                  "backbone.onnx": "the same network, ONNX opset 17"},
        "inputs": {"features": "float32 (bands, 6, H, W), dynamic bands/H/W: per HSI band, divided by the band's "
                   "mean level: classical estimate, bicubic up(y), up(LR residual), P⁺ MSI residual, "
                   "P⁺Z high-pass detail, log2(scale)/4 (see core.backbone.band_features)"},
        "outputs": {"correction": "float32 (bands, 1, H, W): residual added to the classical estimate, times the level"},
        "parameters": n_params,
        "training_data": {"cave": list(CAVE_TRAIN), "airborne": [k[:-4] for k in AIRBORNE_TRAIN],
                          "never_used": ["balloons", "face", "jasper_ridge", "aviris_gatorsense_vi_demo"],
                          "degradations": "see training/data.py"},
        "steps": step, "train_seconds": round(wall, 1), "threads": args.threads,
        "loss_curve": curve,
        "date": _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "command": "python -m hsi_blind_fusion.training.train_backbone " + " ".join(sys.argv[1:] if argv is None else argv),
    }
    (out / "backbone.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    say(f"done: {step} steps in {wall:.0f} s; wrote {out / 'backbone.pt'}, {out / 'backbone.onnx'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
