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

from hsi_blind_fusion.core import metrics
from hsi_blind_fusion.core.backbone import MODELS, backbone_estimate
from hsi_blind_fusion.training.data import TaskSampler


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=14)
    ap.add_argument("--seed", type=int, default=7, help="the training runs drew with seed 0")
    ap.add_argument("--lr-min", type=int, default=32)
    ap.add_argument("--models", default=str(MODELS), help="folder with backbone.onnx / backbone.pt")
    args = ap.parse_args(argv)
    models = Path(args.models)
    sampler = TaskSampler(seed=args.seed, lr_min=args.lr_min)
    gains = []
    for _ in range(args.tasks):
        task = sampler.sample(kernel_mismatch=0.0)
        # the shipped inference path (ONNX, else torch); it rebuilds the task's classical start
        out = backbone_estimate(task.y, task.z, task.kernel, task.srf, task.scale,
                                onnx_path=models / "backbone.onnx", torch_path=models / "backbone.pt")
        if out is None:
            sys.exit(f"no usable backbone in {models}")
        truth = task.x.numpy()
        before, after = metrics.psnr(truth, task.x_base.numpy()), metrics.psnr(truth, out.numpy())
        gains.append(after - before)
        print(f"{task.info:60s} {tuple(task.x.shape)}  classical {before:6.2f}  backbone {after:6.2f}  "
              f"({after - before:+.2f} dB)", flush=True)
    print(f"mean gain over {len(gains)} tasks: {np.mean(gains):+.2f} dB (min {min(gains):+.2f}, max {max(gains):+.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
