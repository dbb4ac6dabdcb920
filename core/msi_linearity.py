"""The MSI's radiometric non-linearity: a power law per band, found from the pair and undone.

The observation model is linear (``Z = P·X``); two sensors' radiometry often is not, a band of the
MSI being a slightly curved function of the radiance the HSI sees (a gamma-like response, another
calibration, another date). With few MSI bands the blind estimate then fits K and P to a curved
relation and the kernel bends to absorb it (a realistic pair's kernel correlation 0.82 -> 0.90 once
linearized); the start inherits both.

A power law ``c·x^g`` per MSI band is identifiable from the pair: blurred and downsampled by the
estimated kernel, the linearized MSI band must be a linear combination of the HSI's bands (their
leading principal components). For each band and each exponent on a grid, that least-squares fit
leaves a share of the band's variance unexplained; the exponent that leaves least wins (refined
between grid points). The gain ``c`` needs no estimate: the response P absorbs any per-band factor,
so the curve is pinned at the band's 99.9th percentile and keeps its units. A band is linearized
only where the best exponent explains clearly more than the straight line in both halves of the
window (``MIN_IMPROVEMENT``; on the training scenes' linear pairs it read at most 1.078), where
the exponent is mild (``MAX_EXPONENT``), and only in MSIs of at most ``MAX_MSI_BANDS`` bands: with more bands one band's curve hardly bends the
kernel, the start absorbs it, and the linearization's own error costs more than it gives.
docs/msi_linearity.md has the figures.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from typing import Callable, Optional

import numpy as np
import torch

from .observations import NormalizedPair
from .operators import blur_downsample

#: exponents tried (of the MSI's response, ``z = c·x^g``): ±25 %, evenly in log
EXPONENTS = np.exp(np.linspace(math.log(0.8), math.log(1.25), 19))
#: a band is linearized when the linear fit leaves this many times the best exponent's residual, in
#: both halves of the window (linear training pairs read up to 1.078; realistic ones 1.1-3.5)
MIN_IMPROVEMENT = 1.10
#: the mild curves this corrects: a best exponent beyond this factor either way is taken for noise or
#: misfit, not a response (a small, noisy, striped training pair read 0.853 for a linear band;
#: realistic pairs' exponents 0.92-1.08 read 0.92-1.13; docs/msi_linearity.md)
MAX_EXPONENT = 1.15
#: LR pixels (a side) the curves are fitted on: a centre window, 16 Ki pixels, plenty for one
#: parameter a band (256 took five times as long on a 4096² scene; every benchmark crop is smaller
#: than either)
WINDOW_LR = 128
#: fewer valid LR pixels than this in the window: no fit
MIN_SAMPLES = 256
#: the HSI's principal components the MSI bands are fitted with
MAX_COMPONENTS = 24
#: MSIs with more bands are left as they are (exponents still reported): with many bands one band's
#: curve hardly bends the kernel estimate and the start absorbs it, while the linearization's own
#: error (about 0.01 in an exponent at 40 dB) costs the start more than it gives (docs/msi_linearity.md)
MAX_MSI_BANDS = 4


@dataclass
class MsiLinearity:
    """Per MSI band: the exponent of its response found (``z = c·x^g``; 1: linear), how many times
    more variance the linear fit left unexplained (the smaller figure of the window's two halves), its pivot (99.9th percentile, normalized units),
    and whether the band was linearized."""

    exponents: list[float] = field(default_factory=list)
    improvement: list[float] = field(default_factory=list)
    pivots: list[float] = field(default_factory=list)
    applied: list[bool] = field(default_factory=list)
    samples: int = 0
    seconds: float = 0.0

    @property
    def any_applied(self) -> bool:
        return any(self.applied)

    def summary(self) -> str:
        """One line for the log: which MSI bands were linearized, with their exponents."""
        exponents = ", ".join(f"{g:.3f}" for g in self.exponents)
        if not self.any_applied and len(self.exponents) > MAX_MSI_BANDS:
            return (f"MSI linearization (auto): exponents {exponents} found; with more than {MAX_MSI_BANDS} MSI "
                    "bands the MSI is used as it is")
        if not self.any_applied:
            return f"MSI linearization (auto): the MSI's response is linear (exponents {exponents}); used as it is"
        bands = ", ".join(f"{m + 1} ({g:.3f})" for m, (g, use) in enumerate(zip(self.exponents, self.applied)) if use)
        return f"MSI linearization (auto): band(s) {bands} follow a power law of the HSI's radiance and were linearized"


def fit_linearity(pair: NormalizedPair, kernel: np.ndarray) -> MsiLinearity:
    """Each MSI band's response exponent, from a centre window of the pair (see the module doc)."""
    t0 = time.perf_counter()
    s = pair.scale
    lr_h, lr_w = pair.y.shape[1:]
    side_h, side_w = min(lr_h, WINDOW_LR), min(lr_w, WINDOW_LR)
    r0, c0 = (lr_h - side_h) // 2, (lr_w - side_w) // 2
    pad = kernel.shape[0] // 2 // s + 1                        # the kernel's reach, in LR pixels
    a0, a1 = max(0, r0 - pad), min(lr_h, r0 + side_h + pad)
    b0, b1 = max(0, c0 - pad), min(lr_w, c0 + side_w + pad)
    z = torch.from_numpy(np.ascontiguousarray(pair.z[:, a0 * s:a1 * s, b0 * s:b1 * s], dtype=np.float64))
    y = pair.y[:, a0:a1, b0:b1].astype(np.float64)
    msi_ok = torch.from_numpy(pair.msi_valid[a0 * s:a1 * s, b0 * s:b1 * s]).double()
    ok = pair.hsi_valid[a0:a1, b0:b1].copy()
    ok &= (torch.nn.functional.avg_pool2d(msi_ok[None, None], s)[0, 0] > 0.999).numpy()
    window = np.zeros_like(ok)
    window[r0 - a0:r0 - a0 + side_h, c0 - b0:c0 - b0 + side_w] = True  # its margin only feeds the blur
    ok &= window
    bands = z.shape[0]
    result = MsiLinearity(samples=int(ok.sum()))
    if result.samples < MIN_SAMPLES:
        result.exponents, result.improvement = [1.0] * bands, [1.0] * bands
        result.pivots, result.applied = [1.0] * bands, [False] * bands
        result.seconds = time.perf_counter() - t0
        return result
    hsi = y[:, ok]                                              # bands x n
    hsi = hsi - hsi.mean(axis=1, keepdims=True)
    # the spectra's leading components: the scene's few degrees of freedom, not one regressor per band
    # (with hundreds of bands and few pixels every curve would fit)
    u, _, _ = np.linalg.svd(hsi, full_matrices=False)
    hsi = u[:, : min(MAX_COMPONENTS, hsi.shape[1] // 20)].T @ hsi
    # two halves (alternate pairs of LR columns): a curve must explain more in both, not only where
    # noise or a misfit of the kernel happened to look curved
    cols = np.nonzero(ok)[1]
    parts = [(cols // 2) % 2 == 0, (cols // 2) % 2 == 1]
    # the curves and the blur in float32: torch's float64 convolution is three times slower on a CPU
    # and the fits read the same (exponents within 1e-6 of float64's on the training pairs)
    k = torch.from_numpy(np.asarray(kernel, dtype=np.float32))
    one = int(np.argmin(np.abs(EXPONENTS - 1.0)))
    for m in range(bands):
        values = z[m][msi_ok > 0]
        pivot = float(torch.quantile(values[:: max(1, values.numel() // 100_000)], 0.999)) if values.numel() else 1.0
        pivot = pivot if pivot > 0 else 1.0
        base = (z[m] / pivot).float()
        unexplained = np.zeros((len(EXPONENTS), 3))
        for i, g in enumerate(EXPONENTS):
            w = blur_downsample(_power(base, 1.0 / g)[None], k, s)[0].double().numpy()[ok]
            unexplained[i] = [_unexplained(hsi[:, part], w[part]) for part in (slice(None), *parts)]
        u = np.log(unexplained)
        best = int(np.argmin(u[:, 0]))
        exponent = _refined(best, u[:, 0])
        gains = np.exp(u[one] - u[best])                          # whole window, each half
        result.exponents.append(exponent)
        result.improvement.append(float(min(gains)))
        result.pivots.append(pivot)
        mild = 0.005 < abs(math.log(exponent)) <= math.log(MAX_EXPONENT)
        result.applied.append(bool(min(gains) >= MIN_IMPROVEMENT and mild and bands <= MAX_MSI_BANDS))
    result.seconds = time.perf_counter() - t0
    return result


def linearize_and_estimate(pair: NormalizedPair, deg, estimate: Optional[Callable[[NormalizedPair], object]],
                           report: Optional[Callable[[float, str], None]] = None) -> tuple[NormalizedPair, object]:
    """The pair with its MSI linearized where :func:`fit_linearity` (on ``deg``'s kernel) says so,
    and the degradation estimated again on it by ``estimate`` (the first estimate bent K and P to
    the curved relation; None: ``deg`` stays, e.g. K and P from a file, which describe the linear
    relation). What was found goes into ``deg.diagnostics.msi_linearity``."""
    found = fit_linearity(pair, deg.kernel)
    if found.any_applied:
        if report is not None:
            report(0.0, found.summary() + ("; kernel and response estimated again" if estimate is not None else ""))
        pair = replace(pair, z=linearize(pair.z, found))
        if estimate is not None:
            deg = estimate(pair)
    deg.diagnostics.msi_linearity = found
    return pair, deg


def _unexplained(hsi: np.ndarray, w: np.ndarray) -> float:
    """Share of ``w``'s variance a least-squares fit by the rows of ``hsi`` leaves (both centred)."""
    hsi = hsi - hsi.mean(axis=1, keepdims=True)
    w = w - w.mean()
    gram = hsi @ hsi.T
    gram += 1e-9 * max(np.trace(gram), 1e-30) / gram.shape[0] * np.eye(gram.shape[0])
    proj = hsi @ w
    total = float(w @ w)
    return max(total - float(proj @ np.linalg.solve(gram, proj)), 1e-30 * total, 1e-300) / max(total, 1e-300)


def linearize(z: np.ndarray, found: MsiLinearity) -> np.ndarray:
    """``z`` ``(bands, H, W)`` with each linearized band's power law undone (a new array)."""
    out = z.copy()
    for m, (g, pivot, use) in enumerate(zip(found.exponents, found.pivots, found.applied)):
        if use:
            band = torch.from_numpy(out[m])
            out[m] = (_power(band / pivot, 1.0 / g) * pivot).numpy()
    return out


def _power(t: torch.Tensor, p: float) -> torch.Tensor:
    """``sign(t)·|t|^p``: noise about zero stays symmetric."""
    return torch.sign(t) * t.abs().pow(p)


def _refined(best: int, u: np.ndarray) -> float:
    """The exponent at the minimum of a parabola through the best grid point and its neighbours
    (in log exponent), within their span."""
    logs = np.log(EXPONENTS)
    if best == 0 or best == len(u) - 1:
        return float(EXPONENTS[best])
    a, b, c = u[best - 1], u[best], u[best + 1]
    curvature = a - 2 * b + c
    step = 0.0 if curvature <= 0 else 0.5 * (a - c) / curvature
    return float(math.exp(logs[best] + float(np.clip(step, -1, 1)) * (logs[1] - logs[0])))
