#!/usr/bin/env python
"""PSNR of the shipped backbone against its classical start on fresh draws of the training
distribution (``training/data.py``: training scenes, random kernels, responses, scales and noise;
the exact kernel is given, as a fully accurate blind estimate would give it).

This says whether the backbone learned anything on the tasks it was trained for; the fusion
benchmarks (``benchmarks/pretrained.py``) say whether that carries over to the benchmark cases.

    python -m hsi_blind_fusion.training.evaluate_backbone --tasks 14 --seed 7
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from hsi_blind_fusion.core import metrics
from hsi_blind_fusion.core.backbone import TORCH_FILE, band_features, load_torch_model
from hsi_blind_fusion.training.data import TaskSampler


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=14)
    ap.add_argument("--seed", type=int, default=7, help="the training runs drew with seed 0")
    ap.add_argument("--lr-min", type=int, default=32)
    ap.add_argument("--weights", default=str(TORCH_FILE))
    args = ap.parse_args(argv)
    net = load_torch_model(Path(args.weights))
    if net is None:
        sys.exit(f"no usable backbone weights at {args.weights}")
    sampler = TaskSampler(seed=args.seed, lr_min=args.lr_min)
    gains = []
    for _ in range(args.tasks):
        task = sampler.sample(kernel_mismatch=0.0)
        with torch.no_grad():
            f, level, x_base = band_features(task.y, task.z, task.kernel, task.srf, task.scale, task.x_base)
            out = x_base + net(f)[:, 0] * level
        before, after = metrics.psnr(task.x.numpy(), x_base.numpy()), metrics.psnr(task.x.numpy(), out.numpy())
        gains.append(after - before)
        print(f"{task.info:60s} {tuple(task.x.shape)}  classical {before:6.2f}  backbone {after:6.2f}  "
              f"({after - before:+.2f} dB)", flush=True)
    print(f"mean gain over {len(gains)} tasks: {np.mean(gains):+.2f} dB (min {min(gains):+.2f}, max {max(gains):+.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
