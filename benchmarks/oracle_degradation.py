#!/usr/bin/env python
"""Does the blind degradation estimate limit the fusion? The starting image built with the
estimated K and P against the same start built with the true kernel, and with the true kernel and
response (oracle), on training scenes only (``benchmarks/prior_weight.py``'s cases; the dev and
benchmark scenes are never read here).

If the oracle start is no better than the estimated one, refining K and P against the current
image (the alternation) has nothing left to win: the ``alternating``, ``separate`` and ``joint``
modes can only tie. A case is ``name`` or ``name:scale:snr`` (the same scene and kernel at
another scale and noise; the image is cropped to a multiple of the scale).

    python benchmarks/oracle_degradation.py
    python benchmarks/oracle_degradation.py --cases cd_x8_30:32:40 --initial classical,backbone
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from hsi_blind_fusion.core import metrics, simulate
from hsi_blind_fusion.core.estimation import Degradation
from hsi_blind_fusion.core.fusion import FusionSettings, fuse

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


def run_case(spec: str, initials: list[str]) -> None:
    name, *rest = spec.split(":")
    load, kernel, scale, snr = prior_weight.cases()[name]
    if rest:
        scale, snr = int(rest[0]), float(rest[1])
    x, srf = load()
    x = x[:, : x.shape[1] // scale * scale, : x.shape[2] // scale * scale]
    y, z = simulate(x, kernel, srf, scale, snr_db=snr, seed=0)
    t = time.perf_counter()
    est = fuse(y, z, scale=scale, outer_iterations=0)
    seconds = time.perf_counter() - t
    k_true = _centred(kernel, est.kernel.shape[0])
    p_true = srf / srf.sum(1, keepdims=True)
    oracles = {
        "estimated K, P": None,
        "true K": Degradation(kernel=k_true, srf=est.srf, scale=scale, msi_gain=est.msi_gain,
                              initial_kernel=k_true, initial_srf=est.srf),
        "true K and P": Degradation(kernel=k_true, srf=p_true, scale=scale, msi_gain=srf.sum(1),
                                    initial_kernel=k_true, initial_srf=p_true),
    }
    corr = metrics.kernel_correlation(kernel, est.kernel)
    p_err = metrics.srf_error(p_true, est.srf)
    cells = []
    for initial in initials:
        for label, deg in oracles.items():
            r = fuse(y, z, scale=scale, outer_iterations=0, degradation=deg,
                     settings=FusionSettings(initial=initial))
            cells.append(f"{initial} / {label}: {metrics.psnr(x, r.image):.2f}")
    print(f"{spec:20s} kernel corr. {corr:.3f}  SRF rel. err. {p_err:.3f}  ({seconds:.0f} s)  " + "  |  ".join(cells),
          flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default=DEFAULT_CASES)
    ap.add_argument("--initial", default="classical", help="comma-separated starting images: classical, backbone")
    args = ap.parse_args(argv)
    if not (prior_weight.DATA / "cave").is_dir():
        sys.exit(f"shared data not found at {prior_weight.DATA}")
    for spec in args.cases.split(","):
        run_case(spec, args.initial.split(","))
    return 0


if __name__ == "__main__":
    sys.exit(main())
