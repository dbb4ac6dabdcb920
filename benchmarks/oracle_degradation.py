#!/usr/bin/env python
"""Does the blind degradation estimate limit the fusion? The starting image built with the
estimated K and P against the same start built with the true kernel, and with the true kernel and
response (oracle), on training scenes only (``benchmarks/prior_weight.py``'s cases; the dev and
benchmark scenes are never read here).

If the oracle start is no better than the estimated one, refining K and P against the current
image (the alternation) has nothing left to win: the ``alternating``, ``separate`` and ``joint``
modes can only tie. The first column is ``fuse(outer_iterations=0)`` itself, to show the
script's start is the plugin's. A case is ``name`` or ``name:scale:snr`` (the same scene and kernel at
another scale and noise; the image is cropped to a multiple of the scale).

    python benchmarks/oracle_degradation.py
    python benchmarks/oracle_degradation.py --cases cd_x8_30:32:40
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

from hsi_blind_fusion.core import fuse, metrics, simulate
from hsi_blind_fusion.core.estimation import estimate_normalized
from hsi_blind_fusion.core.observations import normalize_pair
from hsi_blind_fusion.core.initial_estimate import fit_classical
from hsi_blind_fusion.core.msi_denoising import denoise_msi

sys.path.insert(0, str(Path(__file__).resolve().parent))
import prior_weight  # noqa: E402  (the training cases)

DEFAULT_CASES = "paints_x8_30,cd_x8_30,cd_x8_40,samson_x4,paints_x8_30:16:40,paints_x8_30:32:40,cd_x8_30:32:40"


def _centred(kernel: np.ndarray, size: int) -> np.ndarray:
    """``kernel`` zero-padded (or cropped) to ``size`` x ``size``, centred, summing to 1."""
    k = kernel.shape[0]
    if k > size:
        c = (k - size) // 2
        out = kernel[c:c + size, c:c + size].astype(np.float64)
    else:
        o = (size - k) // 2
        out = np.zeros((size, size))
        out[o:o + k, o:o + k] = kernel
    return out / out.sum()


def classical_start(pair, kernel: np.ndarray, srf_n: np.ndarray) -> np.ndarray:
    """The default starting image (MSI denoised, then the classical estimate) built with the given
    kernel and response (normalized units) as ``fuse()`` builds it, in the HSI's units.

    ``fuse(degradation=...)`` cannot serve here: a given degradation only starts the blind
    estimate, which then converges to the same K and P whatever it started from."""
    y, z = torch.from_numpy(pair.y), torch.from_numpy(pair.z.copy())
    k, p = torch.from_numpy(kernel).float(), torch.from_numpy(srf_n).float()
    with torch.no_grad():
        z, _ = denoise_msi(z, y, k, p, pair.scale, inplace=True)
        x = fit_classical(y, z, k, pair.scale, srf=p).whole()
    x = x.numpy() * pair.y_unit
    return np.maximum(x, 0) if pair.y.min() >= 0 else x      # as fuse() writes non-negative inputs' output


def run_case(spec: str) -> None:
    name, *rest = spec.split(":")
    load, kernel, scale, snr = prior_weight.cases()[name]
    if rest:
        scale, snr = int(rest[0]), float(rest[1])
    x, srf = load()
    x = x[:, : x.shape[1] // scale * scale, : x.shape[2] // scale * scale]
    y, z = simulate(x, kernel, srf, scale, snr_db=snr, seed=0)
    pair = normalize_pair(y, z, scale)
    t = time.perf_counter()
    est = estimate_normalized(pair)
    seconds = time.perf_counter() - t
    k_true = _centred(kernel, est.kernel.shape[0])
    p_true_n = srf * pair.y_unit / pair.z_unit       # maps normalized X to normalized Z
    p_est_n = est.diagnostics.srf_normalized_units
    fused = fuse(y, z, scale=scale, outer_iterations=0).image
    starts = {"estimated K, P": (est.kernel, p_est_n), "true K": (k_true, p_est_n), "true K and P": (k_true, p_true_n)}
    cells = [f"fuse(outer=0): {metrics.psnr(x, fused):.2f}"]
    cells += [f"{label}: {metrics.psnr(x, classical_start(pair, k, p)):.2f}" for label, (k, p) in starts.items()]
    corr = metrics.kernel_correlation(kernel, est.kernel)
    p_err = metrics.srf_error(srf, est.srf)
    print(f"{spec:20s} kernel corr. {corr:.3f}  SRF rel. err. {p_err:.3f}  ({seconds:.0f} s)  " + "  |  ".join(cells),
          flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default=DEFAULT_CASES)
    args = ap.parse_args(argv)
    if not (prior_weight.DATA / "cave").is_dir():
        sys.exit(f"shared data not found at {prior_weight.DATA}")
    for spec in args.cases.split(","):
        run_case(spec)
    return 0


if __name__ == "__main__":
    sys.exit(main())
