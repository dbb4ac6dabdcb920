#!/usr/bin/env python
"""Why the blind kernel is too spread at 30 dB (training scenes only): a diagnostic, not a method.

The kernel is fitted by least squares on ``A k ≈ ΔP·Y`` where the design ``A`` holds differences
of *noisy* MSI patches. White MSI noise of variance σ² adds about ``σ²·N`` to the Gram matrix
``AᵀA/n`` (``N = 2I`` minus the pairs one LR step apart, averaged over both directions), i.e. a
pull toward small ``||k||²``, which on the simplex means spreading the mass (errors in variables).
This script fits the same kernel (default support, or 3·scale + 1 for the 27 px kernel) with and
without subtracting ``σ²·N``, σ taken from the simulation (an oracle; the plugin would need an
estimate, e.g. ``msi_denoising.msi_noise_level``, which reads 0.94-2.3x the true value).

    OMP_NUM_THREADS=1 python benchmarks/kernel_noise_bias.py
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

from hsi_blind_fusion.core import metrics, simulate
from hsi_blind_fusion.core import estimation as est
from hsi_blind_fusion.core.kernels import gaussian_kernel_for_scale

sys.path.insert(0, str(Path(__file__).resolve().parent))
import quality  # noqa: E402

CASES = (("paints", "kernel_02", 17), ("paints", "kernel_07", 25), ("cd", "kernel_03", 17), ("feathers", "kernel_02", 17))


def noise_gram(size: int, scale: int) -> np.ndarray:
    """Expected Gram of differenced white noise (unit variance) at LR-neighbour distance ``scale``,
    averaged over horizontal and vertical pairs."""
    n = size * size
    idx = np.arange(n).reshape(size, size)
    out = np.zeros((n, n))
    for dr, dc in ((0, scale), (scale, 0)):
        m = 2.0 * np.eye(n)
        a, b = idx[: size - dr, : size - dc].ravel(), idx[dr:, dc:].ravel()
        m[a, b] -= 1.0
        m[b, a] -= 1.0
        out += 0.5 * m
    return out


def main() -> int:
    torch.set_num_threads(1)
    data = quality.data_dir()
    srf = quality.nikon_srf(data)
    bank = np.load(data / "srf" / "f_set_12_kernels.npz")
    s, snr = 8, 30.0
    print("| scene | kernel | support | k. corr. plain | noise-corrected | Σk² plain | corrected | true |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for scene, name, size in CASES:
        x = quality.read_cave(data, scene)
        truth = bank[name].astype(np.float64)
        y, z = simulate(x, truth, srf, s, snr_db=snr, seed=0)
        pair = est.normalize_pair(y, z, s)
        clean = np.einsum("mb,bhw->mhw", srf, x.astype(np.float64))
        sigma2 = float(np.mean(np.mean(clean**2, axis=(1, 2)) / 10 ** (snr / 10))) / pair.z_unit**2
        problem = est._GramProblem(pair, size, np.random.default_rng(0))
        plain_gram = problem.gram_full.copy()
        smooth = est._second_difference(x.shape[0], np.arange(x.shape[0]))
        row = []
        for correction in (0.0, 1.0):
            problem.gram_full = plain_gram - correction * sigma2 * noise_gram(size, s)
            problem.use_size(size)
            k, _ = est._alternate(problem, gaussian_kernel_for_scale(s, size), None, smooth, 30, [], None, None)
            row.append((metrics.kernel_correlation(truth, k), float((k**2).sum())))
        print(f"| {scene} | {name} | {size} | {row[0][0]:.3f} | {row[1][0]:.3f} | {row[0][1]:.4f} | "
              f"{row[1][1]:.4f} | {float((truth**2).sum()):.4f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
