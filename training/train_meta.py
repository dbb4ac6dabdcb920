#!/usr/bin/env python
"""Meta-learn the initial weights of ReconstructionNet(dims=10, width=32, depth=3) with first-order
MAML over fusion tasks that differ in scene, kernel, scale, response and noise.

    .venv/bin/python -m hsi_blind_fusion.training.train_meta --minutes 20

Each task mimics ``fuse()``'s per-scene fitting on one crop: the classical estimate x_base, the
spectral subspace and guidance features of core.reconstruction_net, then ``--inner`` Adam steps
(lr 1e-3) on the unsupervised loss ``mean|(X*K)↓s − Y| + mean|P·X − Z|`` (X = x_base + E·net).
The outer (meta) gradient is that of the supervised loss ``mean|X − X_true|`` at the adapted
weights (first-order: taken w.r.t. the adapted weights, applied to the meta weights; plus the
same loss at the meta weights themselves, so that step 0 is already a good image).
At the end, on held-out tasks (different random draws), it records PSNR after n adaptation steps
from the random (zero last layer) init and from the meta-learned init, and how many steps the
meta-learned init needs to reach the random init's PSNR after 100 and 200 steps.
Writes models/meta_init.pt and models/meta_init.json; logs to training/logs/meta_train.log.
"""
from __future__ import annotations

import argparse
import copy
import datetime as _dt
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

from hsi_blind_fusion.core.operators import blur_downsample, project
from hsi_blind_fusion.core.reconstruction_net import ReconstructionNet, guidance_features, spectral_subspace
from hsi_blind_fusion.training.data import AIRBORNE_TRAIN, CAVE_TRAIN, TaskSampler, open_training_log

ROOT = Path(__file__).resolve().parents[1]
CONFIG = {"dims": 10, "width": 32, "depth": 3}


def prepare(task, dims: int):
    basis = spectral_subspace(task.x_base, dims)
    if basis.shape[1] < dims:
        basis = torch.cat([basis, basis.new_zeros(basis.shape[0], dims - basis.shape[1])], dim=1)
    with torch.no_grad():
        feats = guidance_features(task.x_base, task.y, task.z, task.kernel, task.srf, task.scale, basis)
    return basis, feats


def image(net, task, basis, feats):
    return task.x_base + torch.einsum("cl,lhw->chw", basis, net(feats))


def fit_loss(x, task):
    return (blur_downsample(x, task.kernel, task.scale) - task.y).abs().mean() + (project(x, task.srf) - task.z).abs().mean()


def psnr(x, ref) -> float:
    mse = float(((x - ref) ** 2).mean())
    peak = float(ref.max())
    return 10 * math.log10(peak ** 2 / max(mse, 1e-20))


def adapt(net, task, basis, feats, steps: int, lr: float = 1e-3, record=None):
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    curve = []
    for i in range(steps):
        if record is not None and i in record:
            with torch.no_grad():
                curve.append(psnr(image(net, task, basis, feats), task.x))
        opt.zero_grad(set_to_none=True)
        fit_loss(image(net, task, basis, feats), task).backward()
        opt.step()
    if record is not None and steps in record:
        with torch.no_grad():
            curve.append(psnr(image(net, task, basis, feats), task.x))
    return curve


def evaluate(meta_state, sampler, n_tasks: int, steps: int, seed: int = 1234):
    record = sorted(v for v in {0, 5, 10, 20, 50, 100, steps} | set(range(0, steps + 1, 10)) if v <= steps)
    curves = {"random": [], "meta": []}
    for t in range(n_tasks):
        task = sampler.sample()
        basis, feats = prepare(task, CONFIG["dims"])
        for kind in ("random", "meta"):
            torch.manual_seed(seed + t)
            net = ReconstructionNet(**CONFIG)
            if kind == "meta":
                net.load_state_dict(meta_state)
            curves[kind].append(adapt(net, task, basis, feats, steps, record=record))
    mean = {k: np.mean(v, axis=0) for k, v in curves.items()}

    def steps_to(level):
        hit = np.where(mean["meta"] >= level - 1e-9)[0]
        return int(record[hit[0]]) if hit.size else None

    summary = {"record_steps": record, "mean_psnr_random": [round(float(v), 3) for v in mean["random"]],
               "mean_psnr_meta": [round(float(v), 3) for v in mean["meta"]], "tasks": n_tasks}
    for ref in (100, steps):
        if ref in record:
            level = float(mean["random"][record.index(ref)])
            summary[f"meta_steps_to_random_psnr_at_{ref}"] = steps_to(level)
    return summary


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=20.0, help="meta-training budget (evaluation comes on top)")
    ap.add_argument("--inner", type=int, default=5)
    ap.add_argument("--meta-lr", type=float, default=3e-4)
    ap.add_argument("--eval-tasks", type=int, default=8)
    ap.add_argument("--eval-steps", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(ROOT / "models"))
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    say = open_training_log("meta_train.log")

    sampler = TaskSampler(seed=args.seed + 100, hr_min=96, scales=(4, 8, 16))
    meta = ReconstructionNet(**CONFIG)
    # start the last layer small but non-zero, so its gradient reaches the earlier layers
    with torch.no_grad():
        last = meta.body[-1]
        last.weight.normal_(0, 1e-3)
    meta_opt = torch.optim.Adam(meta.parameters(), lr=args.meta_lr)
    budget = args.minutes * 60
    t0 = time.perf_counter()
    it, hist, curve = 0, [], []
    while time.perf_counter() - t0 < budget:
        task = sampler.sample()
        basis, feats = prepare(task, CONFIG["dims"])
        meta_opt.zero_grad(set_to_none=True)
        # supervised loss at the meta weights (step 0)
        x0 = image(meta, task, basis, feats)
        l0 = (x0 - task.x).abs().mean()
        l0.backward()
        base = float((task.x_base - task.x).abs().mean())
        fast = copy.deepcopy(meta)
        adapt(fast, task, basis, feats, args.inner)
        fast.zero_grad(set_to_none=True)
        lk = (image(fast, task, basis, feats) - task.x).abs().mean()
        lk.backward()
        for p, q in zip(meta.parameters(), fast.parameters()):
            p.grad = p.grad + q.grad
        torch.nn.utils.clip_grad_norm_(meta.parameters(), 1.0)
        meta_opt.step()
        it += 1
        hist.append((float(l0.detach()), float(lk.detach()), base))
        if it % 25 == 0:
            a, b, c = np.mean(hist, axis=0)
            curve.append({"iteration": it, "seconds": round(time.perf_counter() - t0, 1),
                          "loss_step0": float(a), f"loss_step{args.inner}": float(b), "classical": float(c)})
            say(f"meta-it {it:5d}  {time.perf_counter() - t0:7.1f} s  L1 step0 {a:.5f}  step{args.inner} {b:.5f}  "
                f"classical {c:.5f}  ({task.info})")
            hist = []
        if it % 100 == 0:
            torch.save({"config": CONFIG, "weights": meta.state_dict()}, out / "meta_init.pt")
    torch.save({"config": CONFIG, "weights": meta.state_dict()}, out / "meta_init.pt")
    wall = time.perf_counter() - t0
    say(f"meta-training: {it} iterations in {wall:.0f} s; evaluating on {args.eval_tasks} held-out draws")
    ev = evaluate(meta.state_dict(), TaskSampler(seed=args.seed + 999, hr_min=128, scales=(4, 8, 16)),
                  args.eval_tasks, args.eval_steps)
    say(json.dumps(ev))
    info = {
        "files": {"meta_init.pt": "torch {'config': {'dims', 'width', 'depth'}, 'weights': state dict} for "
                  "core.reconstruction_net.ReconstructionNet; all shapes independent of the band counts"},
        "inputs": "4*dims guidance channels (core.reconstruction_net.guidance_features)",
        "outputs": "dims subspace coefficients",
        "config": CONFIG, "inner_steps": args.inner, "inner_lr": 1e-3, "meta_lr": args.meta_lr,
        "algorithm": "first-order MAML, supervised outer loss at step 0 and after the inner steps",
        "training_data": {"cave": list(CAVE_TRAIN), "airborne": [k[:-4] for k in AIRBORNE_TRAIN],
                          "never_used": ["balloons", "face", "jasper_ridge", "aviris_gatorsense_vi_demo"]},
        "iterations": it, "train_seconds": round(wall, 1), "threads": 1, "loss_curve": curve,
        "evaluation": ev,
        "date": _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "command": "python -m hsi_blind_fusion.training.train_meta " + " ".join(sys.argv[1:] if argv is None else argv),
    }
    (out / "meta_init.json").write_text(json.dumps(info, indent=1), encoding="utf-8")
    say(f"done in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
